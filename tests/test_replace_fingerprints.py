"""A rerun never replaces a result measured in other features or on other data of the same name:
the replace check compared the feature extractor by name only and the dataset not at all, so other
``--inception-weights`` (another features fingerprint) or a re-downloaded dataset (another dataset
fingerprint) silently replaced a result whose numbers are on another scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_args, single_line_error  # tests/ is on the path: pytest puts it there
from test_concurrency import _intruding_metric

from genbench import registry
from genbench.config import RunConfig
from genbench.data.base import Dataset
from genbench.errors import GenbenchError
from genbench.features.base import FeatureExtractor

FAST = ("--models", "gaussian", "--metrics", "fid", "--no-figures", "--samples", "100")


def _extractor() -> type[FeatureExtractor]:
    """Points features whose weights are ``trained_on`` (set it to change them), as other
    --inception-weights or a retrained classifier give features of the same name."""

    class Weighted(FeatureExtractor):
        supported_kinds = ("points", "image")
        takes_weights = False
        trained_on = "v1"

        def fingerprint(self) -> str:
            return f"test-weighted-{self.trained_on}"

        def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
            scale = 1.0 if self.trained_on == "v1" else 3.0  # other weights: numbers on another scale
            return x.reshape(len(x), -1).float() * scale, None

    return Weighted


def _dataset() -> type[Dataset]:
    """Points whose content is ``scale`` times a fixed draw (set it to change the data), as a
    re-downloaded dataset of the same name."""

    class Redownloaded(Dataset):
        kind = "points"
        default_features = "raw"
        scale = 1.0

        def _load(self, split: str) -> tuple[torch.Tensor, None]:
            g = torch.Generator().manual_seed(0 if split == "train" else 1)
            return torch.randn(200, 2, generator=g) * self.scale, None

    return Redownloaded


def test_a_rerun_in_features_of_other_weights_does_not_replace_the_result(cli, register, tmp_path, cache_dir):
    out = tmp_path / "runs"
    features = register(registry.features, "test-weighted", _extractor())
    args = run_args(out, cache_dir, *FAST, "--dataset", "ring8", "--features", "test-weighted")
    assert cli(*args).exit_code == 0
    path = out / "ring8/gaussian/seed0.json"
    kept = path.read_bytes()
    features.trained_on = "v2"
    line = single_line_error(cli(*args))
    assert (
        f"{path} holds a result at test-weighted features test-weighted-v1, which this run at "
        "test-weighted features test-weighted-v2 would replace (the features' weights or preprocessing "
        "changed); pass --out" in line
    )
    assert path.read_bytes() == kept
    # a result that records no fingerprint (an older file) is replaced, as is a failed one
    for edit in (
        lambda d: d["protocol"]["features"].pop("fingerprint"),
        lambda d: d.update(status="failed", error="out of memory", metrics={}),
    ):
        data = json.loads(kept)
        edit(data)
        path.write_text(json.dumps(data))
        assert cli(*args).exit_code == 0
        assert json.loads(path.read_text())["protocol"]["features"]["fingerprint"] == "test-weighted-v2"
    assert cli(*args).exit_code == 0  # the same fingerprint: a rerun of the same protocol


def test_a_rerun_on_changed_data_does_not_replace_the_result(cli, register, tmp_path, cache_dir):
    out = tmp_path / "runs"
    data = register(registry.datasets, "test-redownloaded", _dataset())
    args = run_args(out, cache_dir, *FAST, "--dataset", "test-redownloaded")
    assert cli(*args).exit_code == 0
    path = out / "test-redownloaded/gaussian/seed0.json"
    kept = path.read_bytes()
    was = json.loads(kept)["protocol"]["dataset_fingerprint"]
    data.scale = 3.0
    line = single_line_error(cli(*args))
    assert (
        f"{path} holds a result at dataset fingerprint {was}, which this run at dataset fingerprint " in line
    )
    assert "would replace (the dataset's content changed); pass --out" in line
    assert path.read_bytes() == kept
    data.scale = 1.0  # the same data again: the same protocol
    assert cli(*args).exit_code == 0


@pytest.mark.parametrize("digest", [None, "0123456789abcdef"])
def test_a_fingerprint_that_older_code_recorded_is_not_said_to_be_changed_data(
    cli, register, tmp_path, cache_dir, digest
):
    """A result of genbench before 2 December recorded a fingerprint of the data's first 256 rows;
    its rerun on the same ring8 was refused as of "the dataset's content changed", which it had
    not. Of a result that other genbench code wrote, the refusal says the fingerprint may have been
    computed another way (the same code's difference is still the data's alone, as above)."""
    out = tmp_path / "runs"
    register(registry.datasets, "test-redownloaded", _dataset())
    args = run_args(out, cache_dir, *FAST, "--dataset", "test-redownloaded")
    assert cli(*args).exit_code == 0
    path = out / "test-redownloaded/gaussian/seed0.json"
    data = json.loads(path.read_text())
    data["protocol"]["dataset_fingerprint"] = "7e2d11af59e6a38a"  # an older genbench's hash
    data["environment"].pop("source_digest")
    if digest is not None:
        data["environment"]["source_digest"] = digest
    path.write_text(json.dumps(data))
    line = single_line_error(cli(*args))
    assert (
        "would replace (the dataset's content changed, or the other genbench code that wrote it "
        "computed its fingerprints another way); pass --out" in line
    )


def test_an_evaluation_in_features_of_other_weights_does_not_replace_the_result(
    register, tmp_path, cache_dir
):
    from genbench import evaluate

    features = register(registry.features, "test-weighted", _extractor())
    config = RunConfig(
        dataset="ring8", features="test-weighted", metrics=["fid"], out=tmp_path, cache_dir=cache_dir
    )
    config.figures = config.progress = False
    x = np.random.default_rng(0).standard_normal((150, 2)).astype(np.float32)
    evaluate(x, config, name="mine")
    path = tmp_path / "ring8/mine/seed0.json"
    kept = path.read_bytes()
    features.trained_on = "v2"
    with pytest.raises(GenbenchError) as e:
        evaluate(x, config, name="mine")
    assert "which this evaluation at test-weighted features test-weighted-v2 would replace" in str(e.value)
    assert "pass --name" in str(e.value)
    assert path.read_bytes() == kept


def test_a_result_in_other_features_written_during_a_run_is_not_replaced(
    register, tmp_path, cache_dir, capsys
):
    """Another process's result written while this run ran, in features of other weights: no result
    was there when the plan checked, so only the check at the write can tell them apart."""
    from genbench import run
    from genbench.results import load_result

    features = register(registry.features, "test-weighted", _extractor())

    def config(out: Path, metrics: list[str]) -> RunConfig:
        return RunConfig(
            models=["gaussian"],
            dataset="ring8",
            features="test-weighted",
            samples=100,
            metrics=metrics,
            out=out,
            cache_dir=cache_dir,
            figures=False,
            progress=False,
        )

    other = run(config(tmp_path / "other", ["fid"]))[0]
    source, target = other.path(tmp_path / "other"), other.path(tmp_path / "runs")
    register(registry.metrics, "test-intruder", _intruding_metric(target, source))
    features.trained_on = "v2"
    capsys.readouterr()
    mine = run(config(tmp_path / "runs", ["fid", "test-intruder"]))[0]
    assert target.read_bytes() == source.read_bytes()  # the other process's result, untouched
    (aside,) = target.parent.glob("seed0.aside-*.json")
    assert load_result(aside).metrics == mine.metrics
    err = " ".join(capsys.readouterr().err.split())
    assert "the features' weights or preprocessing changed" in err and f"is written to {aside}" in err


def test_a_refusal_for_an_evaluation_in_the_way_computes_no_fingerprint(cli, register, tmp_path, cache_dir):
    """An evaluation in the way is refused before any work: the refusal came only after the features'
    fingerprint (a dataset classifier's trains it) and the dataset's (a hash of both splits), which
    it does not compare."""
    features = register(registry.features, "test-weighted", _extractor())
    calls: list[str] = []

    def fingerprint(self: FeatureExtractor) -> str:
        calls.append(self.name)
        return "test-weighted-v1"

    features.fingerprint = fingerprint
    out = tmp_path / "runs"
    args = run_args(out, cache_dir, *FAST, "--dataset", "ring8", "--features", "test-weighted")
    assert cli(*args).exit_code == 0
    path = out / "ring8/gaussian/seed0.json"
    data = json.loads(path.read_text())
    data["protocol"]["samples"] = {"path": "/elsewhere/mine.npz", "sha256": "0" * 64}  # genbench eval's
    path.write_text(json.dumps(data))
    calls.clear()
    assert "holds the evaluation of /elsewhere/mine.npz" in single_line_error(cli(*args))
    assert calls == []
