"""Metrics that read no features (memorization in pixels, throughput, modes...): a command of those
alone builds no feature extractor and extracts nothing. Auditing one's own samples for memorization
against a folder of images stopped on a machine without Inception's weights (the folder's default
features), which nothing read, and the result's protocol named Inception features."""

from __future__ import annotations

import json
import re
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import folder_and_samples, run_args, single_line_error

from genbench.data import download
from genbench.features import inception
from genbench.results import find_results, load_result


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No Inception weights anywhere, and no download possible: a machine offline."""

    def unreachable(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.delenv(inception.ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torch.hub's cache: none there
    monkeypatch.setattr(download, "_open_url", unreachable)


def _eval(samples: Path, folder: Path, tmp_path: Path, *extra: str) -> list[str]:
    """`genbench eval` against a folder of images in its default features (Inception)."""
    return [
        "eval", "--samples", str(samples), "--dataset", str(folder), "--out", str(tmp_path / "runs"),
        "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-figures", *extra,
    ]  # fmt: skip


def _result(out: Path) -> dict:
    (path,) = [p for p in out.rglob("seed*.json") if p.stem[4:].isdigit()]
    return json.loads(path.read_text())


def test_memorization_of_samples_against_a_folder_needs_no_inception_weights(cli, tmp_path, offline):
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    r = cli(*_eval(samples, folder, tmp_path, "--metrics", "memorization"))
    assert r.exit_code == 0, r.output
    result = _result(tmp_path / "runs")
    assert result["status"] == "ok" and "memorization_rate" in result["metrics"], result
    # no extractor was built, and none is claimed: not Inception, which measured nothing
    assert result["protocol"]["features"] is None
    assert not any(k.startswith("features_") for k in result["environment"]), result["environment"]
    assert "features_s" not in result["timings"]
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("protocol: ")]
    assert "no features (no metric reads any)" in line and "inception" not in line, line
    assert line.endswith("; memorization against the train split, in pixels"), line
    # and the board says no features either
    report = cli("report", "--out", str(tmp_path / "runs"))
    assert report.exit_code == 0, report.output
    (board,) = (tmp_path / "runs" / "leaderboards").glob("*.md")
    text = board.read_text()
    assert "memorization_rate" in text and "inception" not in text and "features:" not in text, text


def test_a_run_of_copy_against_a_folder_scores_memorization_offline(cli, tmp_path, offline):
    """`genbench run` too: the reference features (Inception over the folder) were extracted before
    any training, and failed; the copy control's samples are the folder's images, each memorized."""
    folder, _, _, _ = folder_and_samples(tmp_path, 30, 8, 0)
    args = ["--models", "copy", "--dataset", str(folder), "--metrics", "memorization,throughput"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args, "--no-figures"))
    assert r.exit_code == 0, r.output
    (path,) = find_results(tmp_path / "runs")
    result = load_result(path)
    assert result.status == "ok", result.error
    assert result.metrics["memorization_rate"] == 1.0 and result.metrics["authpct"] == 0.0
    assert result.metrics["samples_per_s"] > 0
    assert result.protocol["features"] is None


def test_features_given_for_no_metric_that_reads_them_are_named_unused(cli, tmp_path, offline):
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    args = _eval(samples, folder, tmp_path, "--metrics", "memorization", "--features", "raw")
    r = cli(*args)
    assert r.exit_code == 0, r.output
    said = "warning: --features raw is not used: none of the metrics (memorization) reads features"
    assert said in r.stderr, r.stderr
    assert _result(tmp_path / "runs")["protocol"]["features"] is None


def test_memorization_in_features_still_needs_them_and_the_error_names_raw(cli, tmp_path, offline):
    """``memorization.space=features`` reads them: the offline error is one line naming the fix."""
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    space = ["--metrics", "memorization", "--metric-option", "memorization.space=features"]
    line = single_line_error(cli(*_eval(samples, folder, tmp_path, *space)))
    assert "cannot get the Inception-v3 weights" in line and "--features raw ('ref' has no classes" in line
    assert not find_results(tmp_path / "runs")
    r = cli(*_eval(samples, folder, tmp_path, *space, "--features", "raw"))
    assert r.exit_code == 0, r.output
    assert _result(tmp_path / "runs")["protocol"]["features"]["name"] == "raw"


def test_a_result_without_features_is_replaced_by_one_that_adds_a_metric_of_them(cli, tmp_path, offline):
    """Its values were of no extractor: the same samples scored again with fid beside memorization
    replace it (it was "another protocol", features none against raw)."""
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    assert cli(*_eval(samples, folder, tmp_path, "--metrics", "memorization")).exit_code == 0
    before = _result(tmp_path / "runs")["metrics"]
    r = cli(*_eval(samples, folder, tmp_path, "--metrics", "memorization,fid", "--features", "raw"))
    assert r.exit_code == 0, r.output
    after = _result(tmp_path / "runs")
    assert after["protocol"]["features"]["name"] == "raw" and "fid" in after["metrics"]
    assert {k: after["metrics"][k] for k in before} == before  # pixels either way, bit for bit


def test_memorization_is_the_same_with_and_without_an_extractor(cli, tmp_path, cache_dir):
    """On digits (classifier features): memorization alone, without the classifier, gives the values
    it gives beside fid, which reads the features."""
    values = []
    for i, metrics in enumerate(["memorization", "memorization,fid"]):
        args = ["--models", "gaussian", "--dataset", "digits", "--samples", "200", "--metrics", metrics]
        r = cli(*run_args(tmp_path / f"runs{i}", cache_dir, *args, "--no-figures"))
        assert r.exit_code == 0, r.output
        (path,) = find_results(tmp_path / f"runs{i}")
        values.append(load_result(path))
    alone, beside = values
    assert alone.protocol["features"] is None and beside.protocol["features"]["name"] == "classifier"
    assert {k: beside.metrics[k] for k in alone.metrics} == alone.metrics
    assert np.isfinite(alone.metrics["memorization_rate"])


def test_a_seed_scored_without_features_shares_its_row_with_one_scored_in_them(cli, tmp_path, cache_dir):
    """The board keeps a run that read no features in the dataset's one extractor's protocol: its
    numbers do not depend on features, and a row "copy (features=none)" beside "copy
    (features=classifier)" would split seeds whose memorization values are alike comparable."""
    out = tmp_path / "runs"
    for seed, metrics in (("0", "memorization"), ("1", "memorization,fid")):
        args = ["--models", "copy", "--dataset", "digits", "--samples", "100", "--seeds", seed]
        r = cli(*run_args(out, cache_dir, *args, "--metrics", metrics, "--no-figures"))
        assert r.exit_code == 0, r.output
    features = {load_result(p).seed: load_result(p).protocol["features"] for p in find_results(out)}
    assert features[0] is None and features[1]["name"] == "classifier", features
    r = cli("report", "--out", str(out))
    assert r.exit_code == 0, r.output
    board = next((out / "leaderboards").glob("*.md")).read_text()
    assert "features=" not in board, board
    rows = [ln for ln in board.splitlines() if ln.startswith("|") and "| copy " in ln]
    # one row a table; memorization_rate the mean of both seeds' (1 ± 0), not of one seed each
    assert len(rows) == len(set(rows)) and any(re.search(r"\|\s+1 ± 0\s+\|", ln) for ln in rows), rows


def test_the_offline_error_of_fid_beside_memorization_says_memorization_runs_alone(cli, tmp_path, offline):
    """Inception's weights missing where fid reads them: the one line names the weights' fix and that
    `--metrics memorization` alone needs none (it said only how to get the weights)."""
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    line = single_line_error(cli(*_eval(samples, folder, tmp_path, "--metrics", "fid,memorization")))
    assert "cannot get the Inception-v3 weights" in line and "--inception-weights PATH" in line, line
    assert line.endswith("; memorization reads no features: --metrics memorization alone runs without them")
    # a weights file given that is not there: the same hint after its own fix
    args = ["--metrics", "memorization,fid,throughput", "--inception-weights", str(tmp_path / "no.pth")]
    line = single_line_error(cli(*_eval(samples, folder, tmp_path, *args)))
    assert line.startswith(f"error: Inception weights {tmp_path / 'no.pth'} not found; pass "), line
    assert line.endswith(
        "; memorization and throughput read no features: --metrics memorization,throughput alone runs "
        "without them"
    ), line
    # where every metric reads features there is nothing to add
    line = single_line_error(cli(*_eval(samples, folder, tmp_path, "--metrics", "fid")))
    assert "reads no features" not in line and "alone runs" not in line, line
    assert not find_results(tmp_path / "runs")


def test_a_weights_file_for_no_metric_that_reads_features_is_named_unused_with_the_fix(
    cli, tmp_path, offline
):
    """The warning where no metric reads features names what to do, as the error where one does."""
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    given = ["--features", "inception", "--inception-weights", str(tmp_path / "no.pth")]
    r = cli(*_eval(samples, folder, tmp_path, "--metrics", "memorization", *given))
    assert r.exit_code == 0, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if "is not used" in ln or "are not used" in ln]
    assert line == (
        f"warning: --features inception and --inception-weights {tmp_path / 'no.pth'} are not used: none "
        "of the metrics (memorization) reads features, so none are extracted; drop --features and "
        "--inception-weights, or add a metric that reads features to --metrics"
    ), line


def test_without_metrics_named_the_offline_error_adds_no_hint(cli, tmp_path, offline):
    """The default set's metrics that read no features (throughput, and memorization) are no choice
    of the user's: the error of a command without --metrics stays the weights' alone."""
    folder, samples, _, _ = folder_and_samples(tmp_path, 8, 8, 0)
    line = single_line_error(cli(*_eval(samples, folder, tmp_path)))
    assert "cannot get the Inception-v3 weights" in line and "alone runs without them" not in line, line
