"""`genbench run --save-samples`: each run's samples beside its result, which `genbench eval` scores to the
same numbers, and never a samples file beside a result that did not score it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from cli_helpers import run_args  # tests/ is on the path: pytest puts it there
from cli_models import Flaky

from genbench import RunConfig, registry
from genbench.metrics.base import Metric
from genbench.results import find_results, load_result

#: what only a run measures: its sampling and training (an evaluation is given its samples)
RUN_ONLY = {"samples_per_s", "peak_memory_mb", "nfe", "train_s"}


@pytest.mark.parametrize(
    ("dataset", "models", "shape"),
    [("digits", ["gaussian", "vae"], (200, 1, 8, 8)), ("ring8", ["gaussian"], (200, 2))],
)
def test_eval_of_a_runs_saved_samples_gives_its_numbers_to_the_bit(
    cli, tmp_path, cache_dir, dataset, models, shape
):
    """A run scored its samples in memory and kept a grid of 64: there was no way to score them
    again with other metrics or features, or to hand them to clean-fid."""
    out = tmp_path / "runs"
    args = ["--models", ",".join(models), "--dataset", dataset, "--samples", "200"]
    args += ["--set", "vae.steps=20"] if "vae" in models else []
    r = cli(*run_args(out, cache_dir, *args, "--save-samples"))
    assert r.exit_code == 0, r.output
    runs = [load_result(p) for p in find_results(out)]
    assert sorted(run.model for run in runs) == models
    for run in runs:
        saved = run.path(out).with_name("seed0.samples.npz")
        assert run.samples_file["name"] == saved.name
        with np.load(saved) as npz:
            assert list(npz) == ["samples"]
            assert npz["samples"].dtype == np.float32 and npz["samples"].shape == shape
        name = f"again-{run.model}"
        e = cli(
            "eval", "--samples", saved, "--dataset", dataset, "--name", name, "--out", out,
            "--cache-dir", cache_dir, "--no-progress", "--no-figures",
        )  # fmt: skip
        assert e.exit_code == 0, e.output
        again = load_result(out / dataset / name / "seed0.json")
        assert again.metrics and set(again.metrics) == set(run.metrics) - RUN_ONLY
        assert again.metrics == {k: run.metrics[k] for k in again.metrics}, run.label
        assert again.flags == run.flags
        assert again.protocol["samples"]["sha256"] == run.samples_file["sha256"]
    boards = tmp_path / "boards"
    assert cli("report", "--out", out, "--leaderboards", boards).exit_code == 0
    assert not [c for c in pd.read_csv(boards / f"{dataset}.csv").columns if "samples_file" in c]


def _ring8(out: Path, cache_dir: Path, *extra: str) -> list[str]:
    args = ["--models", "test-flaky", "--dataset", "ring8", "--samples", "50", "--metrics", "fid"]
    return run_args(out, cache_dir, *args, "--no-figures", *extra)


def test_a_rerun_keeps_a_samples_file_only_while_it_holds_its_results_samples(
    cli, tmp_path, cache_dir, monkeypatch
):
    """A rerun without --save-samples keeps the file when it sampled the same values (the same
    checkpoint and seed), recording it; a file of other samples, or a rerun that sampled nothing
    (diverged), would sit beside a result that did not score it: removed, with a warning."""
    out = tmp_path / "runs"
    result = out / "ring8/test-flaky/seed0.json"
    saved = result.with_name("seed0.samples.npz")
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 0
    kept, recorded = saved.read_bytes(), load_result(result).samples_file

    r = cli(*_ring8(out, cache_dir))
    assert r.exit_code == 0 and "removed" not in r.stderr
    assert saved.read_bytes() == kept and load_result(result).samples_file == recorded

    np.savez(saved, samples=np.zeros((50, 2), np.float32))  # not what the result scored
    r = cli(*_ring8(out, cache_dir))
    assert r.exit_code == 0 and not saved.exists() and load_result(result).samples_file == {}
    assert f"removed {saved}" in " ".join(r.stderr.split())

    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 0
    monkeypatch.setattr(Flaky, "outcome", "diverge")
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 1
    assert load_result(result).status == "diverged" and not saved.exists()


def test_a_failed_or_refused_rerun_leaves_the_results_samples_alone(cli, tmp_path, cache_dir, monkeypatch):
    """A failure kept beside an ok result (seed0.failed.json) had no samples to keep, and a rerun refused
    before any work writes nothing; the next ok run rewrites the samples and drops the failure."""
    out = tmp_path / "runs"
    folder = out / "ring8/test-flaky"
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 0
    kept = (folder / "seed0.samples.npz").read_bytes()
    before = sorted(p.name for p in folder.iterdir())

    monkeypatch.setattr(Flaky, "outcome", "raise")
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "seed0.failed.json"])
    assert (folder / "seed0.samples.npz").read_bytes() == kept

    monkeypatch.setattr(Flaky, "outcome", "ok")
    refused = cli(*_ring8(out, cache_dir, "--save-samples", "--samples", "60"))
    assert refused.exit_code == 2
    assert (folder / "seed0.samples.npz").read_bytes() == kept

    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == before


def test_ctrl_c_while_the_samples_are_written_leaves_the_earlier_result_and_samples(
    cli, tmp_path, cache_dir, monkeypatch
):
    out = tmp_path / "runs"
    folder = out / "ring8/test-flaky"
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 0
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}

    real = np.savez

    def interrupted(fh, *args, **arrays):
        if "samples" not in arrays:  # the feature cache's
            return real(fh, *args, **arrays)
        fh.write(b"PK\x03\x04")  # part of the zip went out
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 130
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == kept  # no temp file either


def _intruder(target: Path, source: Path) -> type[Metric]:
    """A metric that, as another process would, writes ``source``'s result and samples into ``target``
    while the run is scoring."""

    class Intruder(Metric):
        higher_is_better: ClassVar[dict[str, bool]] = {}

        def compute(self, ctx):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            shutil.copyfile(source.with_name("seed0.samples.npz"), target.with_name("seed0.samples.npz"))
            return {"intruder": 1.0}

    return Intruder


def test_a_result_written_aside_keeps_its_samples_beside_it_under_its_stem(
    register, tmp_path, cache_dir, capsys
):
    """... and its warning names them: its fix, an --out of its own, moves them too."""
    from genbench import run

    def config(out: Path, samples: int, metrics: list[str]) -> RunConfig:
        return RunConfig(
            models=["gaussian"], dataset="ring8", samples=samples, metrics=metrics, out=out,
            cache_dir=cache_dir, device="cpu", figures=False, progress=False, save_samples=True,
        )  # fmt: skip

    other = run(config(tmp_path / "other", 100, ["fid"]))[0]
    source, target = other.path(tmp_path / "other"), other.path(tmp_path / "runs")
    register(registry.metrics, "test-intruder", _intruder(target, source))
    mine = run(config(tmp_path / "runs", 200, ["fid", "test-intruder"]))[0]
    (aside,) = target.parent.glob("seed0.aside-*.json")
    assert target.read_bytes() == source.read_bytes()
    assert (
        target.with_name("seed0.samples.npz").read_bytes()
        == source.with_name("seed0.samples.npz").read_bytes()
    )
    beside = aside.with_name(f"{aside.stem}.samples.npz")
    assert json.loads(aside.read_text())["samples_file"] == mine.samples_file
    assert mine.samples_file["name"] == beside.name
    with np.load(beside) as npz:
        assert npz["samples"].shape == (200, 2)
    assert f"its samples to {beside} (move both)" in " ".join(capsys.readouterr().err.split())


def test_samples_that_cannot_be_written_lose_no_metric(cli, tmp_path, cache_dir, monkeypatch):
    """A full disk while the samples are written is no reason to lose the run's numbers: the result
    is written without them, and a warning says so."""
    import errno

    real = np.savez

    def full(file, *args, **arrays):  # the samples' file only (the feature cache writes .npz too)
        if "samples" in arrays:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(file, *args, **arrays)

    monkeypatch.setattr(np, "savez", full)
    out = tmp_path / "runs"
    r = cli(*_ring8(out, cache_dir, "--save-samples"))
    assert r.exit_code == 0, r.output
    (path,) = find_results(out)
    assert load_result(path).metrics["fid"] >= 0 and load_result(path).samples_file == {}
    assert [p.name for p in path.parent.iterdir()] == ["seed0.json"]
    assert "its samples were not saved: cannot write" in " ".join(r.stderr.split())


def test_eval_of_another_seeds_saved_samples_takes_its_seed_unless_told(cli, tmp_path, cache_dir):
    """KID's subsets and IS's splits are drawn from the seed: `genbench eval` of seed1.samples.npz at its
    default --seed 0 gave other KID and IS values than the run's (with a warning to pass --seed 1),
    where a researcher expects a run's own samples to score to its numbers. An explicit --seed wins,
    and is named when it is not the run's."""
    out = tmp_path / "runs"
    args = ["--models", "gaussian", "--dataset", "digits", "--samples", "200", "--seeds", "0,1"]
    assert cli(*run_args(out, cache_dir, *args, "--metrics", "kid,is", "--save-samples")).exit_code == 0
    run = load_result(out / "digits/gaussian/seed1.json")
    saved = out / "digits/gaussian/seed1.samples.npz"

    def evaluate(name: str, *seed: str, scored_as: int):
        r = cli(
            "eval", "--samples", saved, "--dataset", "digits", "--name", name, "--metrics", "kid,is",
            "--out", out, "--cache-dir", cache_dir, "--no-progress", "--no-figures", *seed,
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        return " ".join(r.stderr.split()), load_result(out / "digits" / name / f"seed{scored_as}.json")

    said, unseeded = evaluate("unseeded", scored_as=1)
    assert "--seed" not in said
    assert unseeded.seed == 1 and unseeded.metrics == run.metrics
    said, as_zero = evaluate("as-seed-0", "--seed", "0", scored_as=0)
    assert as_zero.metrics["kid"] != run.metrics["kid"]  # why it must be said
    assert f"{saved} holds the samples of gaussian seed 1" in said and "pass --seed 1" in said
    # a file that is no run's saved samples (no result beside it) is scored as seed 0, as before
    foreign = tmp_path / "mine.npz"
    shutil.copyfile(saved, foreign)
    r = cli(
        "eval", "--samples", foreign, "--dataset", "digits", "--metrics", "kid", "--out", out,
        "--cache-dir", cache_dir, "--no-progress", "--no-figures",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert load_result(out / "digits/mine/seed0.json").metrics["kid"] == as_zero.metrics["kid"]


def test_an_evaluation_written_where_a_runs_samples_were_left_keeps_them_only_if_it_scored_them(
    cli, tmp_path, cache_dir
):
    """A run's result deleted by hand, as eval's refusal to replace it advises, left its samples file,
    and the evaluation written there sat beside samples it had not scored."""
    out = tmp_path / "runs"
    assert cli(*_ring8(out, cache_dir, "--save-samples")).exit_code == 0
    result = out / "ring8/test-flaky/seed0.json"
    saved = result.with_name("seed0.samples.npz")
    kept = tmp_path / "kept.npz"
    shutil.copyfile(saved, kept)
    other = tmp_path / "other.npz"
    np.savez(other, samples=np.zeros((50, 2), np.float32))

    def evaluate(samples: Path):
        result.unlink()
        r = cli(
            "eval", "--samples", samples, "--dataset", "ring8", "--name", "test-flaky", "--metrics", "fid",
            "--out", out, "--cache-dir", cache_dir, "--no-progress", "--no-figures",
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        return " ".join(r.stderr.split()), load_result(result)

    said, same = evaluate(kept)  # the very samples: kept, and recorded as an evaluation of them
    assert saved.exists() and same.samples_file["sha256"] == same.protocol["samples"]["sha256"]
    said, evaluated = evaluate(other)
    assert not saved.exists() and evaluated.samples_file == {}
    assert f"removed {saved}" in said and "--save-samples" not in said


def test_eval_of_a_runs_saved_samples_is_named_after_its_run(cli, tmp_path, cache_dir):
    """Without --name, each seed's file was a row of its own named after the file ("seed0.samples",
    "seed1.samples"), which no reader of the board could place. It is the run's row with -eval: one
    row of the run's seeds, apart from the run's own, which stays as it was. A file that is not a
    run's kept samples is still named after the file."""
    out = tmp_path / "runs"
    args = [
        "--models",
        "gaussian",
        "--dataset",
        "ring8",
        "--samples",
        "100",
        "--seeds",
        "0,1",
        "--metrics",
        "fid",
    ]
    assert cli(*run_args(out, cache_dir, *args, "--save-samples", "--no-figures")).exit_code == 0
    runs = {p: p.read_bytes() for p in find_results(out)}

    def evaluate(samples: Path, seed: int) -> None:
        r = cli(
            "eval", "--samples", samples, "--dataset", "ring8", "--metrics", "fid", "--seed", str(seed),
            "--out", out, "--cache-dir", cache_dir, "--no-progress", "--no-figures",
        )  # fmt: skip
        assert r.exit_code == 0, r.output

    for seed in (0, 1):
        evaluate(out / f"ring8/gaussian/seed{seed}.samples.npz", seed)
    evaluated = sorted(p for p in find_results(out) if p not in runs)
    assert evaluated == [out / f"ring8/gaussian-eval/seed{seed}.json" for seed in (0, 1)]
    assert {load_result(p).label for p in evaluated} == {"gaussian-eval"}
    assert all(p.read_bytes() == text for p, text in runs.items())
    foreign = tmp_path / "mine" / "seed0.samples.npz"  # no run's result beside it
    foreign.parent.mkdir()
    shutil.copyfile(out / "ring8/gaussian/seed0.samples.npz", foreign)
    evaluate(foreign, 0)
    assert load_result(out / "ring8/seed0.samples/seed0.json").label == "seed0.samples"


def _npy_v2(path: Path, values: np.ndarray) -> None:
    """An .npz whose samples carry a version-2.0 .npy header (another numpy's writer)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive, archive.open("samples.npy", "w") as fh:
        np.lib.format.write_array(fh, values, version=(2, 0))


def test_a_rerun_decides_whether_to_keep_a_samples_file_without_loading_it(tmp_path):
    """A rerun without --save-samples loaded the old file whole to compare it with its samples (614 MB
    at CIFAR-10 scale, beside the rerun's own). Its values' sha256 is now taken as they stream out of
    the file; a file of the same float32 values written otherwise (compressed, another header
    version, Fortran order) holds the same samples and is kept, as before; any other is removed."""
    import tracemalloc

    import torch

    from genbench.results import Result
    from genbench.saved_samples import write_with_samples

    x = np.random.default_rng(0).standard_normal((1000, 3, 16, 16)).astype(np.float32)  # 3 MB
    path = tmp_path / "seed0.json"
    beside = tmp_path / "seed0.samples.npz"
    writers = {
        "savez": (lambda: np.savez(beside, samples=x), True),
        "compressed": (lambda: np.savez_compressed(beside, samples=x), True),
        "header 2.0": (lambda: _npy_v2(beside, x), True),
        "fortran order": (lambda: np.savez(beside, samples=np.asfortranarray(x)), True),  # loaded: rare
        "float64": (lambda: np.savez(beside, samples=x.astype(np.float64)), False),
        "other values": (lambda: np.savez(beside, samples=x + 1), False),
    }
    for what, (write, kept) in writers.items():
        write()
        warned: list[str] = []
        tracemalloc.start()
        try:
            write_with_samples(Result("m", "ring8", 0), path, torch.from_numpy(x), False, warned.append)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert beside.exists() == kept and bool(load_result(path).samples_file) == kept, what
        assert bool(warned) != kept, what
        if what in ("savez", "compressed", "header 2.0"):
            assert peak < x.nbytes / 2, (what, peak)  # streamed, not loaded whole


@pytest.mark.parametrize("name", ["x/seed0.samples.npz", "..", "/"])
def test_skip_done_reruns_a_result_whose_samples_name_is_no_file_name(cli, tmp_path, cache_dir, name):
    """A result whose recorded samples name is a path (hand-edited, or another's folder) keeps no
    samples beside it: `--skip-done --save-samples` runs it again. Its ``with_name`` raised
    ValueError, a traceback where the run should go on."""
    out = tmp_path / "runs"
    args = run_args(out, cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "200")
    assert cli(*args, "--save-samples").exit_code == 0
    path = out / "ring8" / "gaussian" / "seed0.json"
    data = json.loads(path.read_text())
    data["samples_file"]["name"] = name
    path.write_text(json.dumps(data))
    r = cli(*args, "--save-samples", "--skip-done")
    assert r.exit_code == 0, r.output
    assert "its samples were not kept (--save-samples)" in r.output
    assert load_result(path).samples_file["name"] == "seed0.samples.npz"
