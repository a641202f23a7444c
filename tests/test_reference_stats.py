"""`genbench eval` against precomputed reference statistics (clean-fid's and torch-fidelity's way of
scoring CIFAR-10 samples): with --reference-stats and metrics that need nothing else of the data
(FID, IS), the dataset is never read, so a downloaded one need not be there. Nor for IS alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genbench import registry
from genbench.data.base import Dataset
from genbench.features.base import FeatureExtractor
from genbench.features.reference_stats import save_reference_stats, stats_identity
from genbench.metrics.base import Metric


class ChannelMeans(FeatureExtractor):
    """Per-channel means as features and two logits made from them: cheap, so FID and IS run in
    milliseconds where Inception on the CPU would take minutes."""

    supported_kinds = ("image",)

    def fingerprint(self) -> str:
        return "channel-means-v1"

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = x.mean(dim=(2, 3))
        return f, torch.stack([f.sum(1), -f.sum(1)], dim=1)


class Unreadable(Dataset):
    """A dataset that declares its example shape and must never be read."""

    kind, default_features = "image", "test-channel-means"
    example_shape = (1, 4, 4)

    def _load(self, split):
        raise AssertionError(f"the {split} split was read")


@pytest.fixture
def plugins(monkeypatch):
    for reg in (registry.datasets, registry.features):
        reg.discover()
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
    registry.features.add("test-channel-means", ChannelMeans, source="genbench-test-plugin")
    registry.datasets.add("test-unreadable", Unreadable, source="genbench-test-plugin")


@pytest.fixture
def offline(monkeypatch):
    from genbench.data import download

    def refuse(*a, **k):  # the downloader's one network call (urllib.request.urlopen is not it)
        raise OSError("network is unreachable")

    monkeypatch.setattr(download, "_open_url", refuse)


def eval_cmd(cli, tmp_path: Path, dataset: str, samples: np.ndarray, *extra: object):
    np.savez(tmp_path / "mine.npz", samples=samples)
    return cli(
        "eval",
        "--samples",
        tmp_path / "mine.npz",
        "--dataset",
        dataset,
        "--out",
        tmp_path / "runs",
        "--cache-dir",
        tmp_path / "cache",
        "--data-dir",
        tmp_path / "data",  # empty: nothing to read, nothing can be downloaded
        "--no-progress",
        "--no-figures",
        *extra,
    )


def error_line(r) -> str:
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    return line


def test_fid_against_stats_alone_never_reads_the_data_and_is_the_closed_form(cli, tmp_path, plugins):
    """Same covariance, means d apart: FID = |d|^2 exactly. The protocol names the statistics as the
    reference and records no split, size or fingerprint of data that was not read."""
    samples = np.random.default_rng(0).uniform(-1, 1, (300, 1, 4, 4)).astype(np.float32)
    feats = samples.mean(axis=(2, 3)).astype(np.float64)  # ChannelMeans, 1 channel
    shift = np.array([0.3])
    stats = tmp_path / "stats.npz"
    save_reference_stats(stats, feats.mean(0) + shift, np.cov(feats, rowvar=False).reshape(1, 1))
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", stats, "--metrics", "fid")
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())
    assert result["metrics"]["fid"] == pytest.approx(0.09, rel=1e-6)  # features in float32
    protocol = result["protocol"]
    assert protocol["reference_stats"] == stats_identity(stats)
    assert protocol["reference_split"] is None and protocol["num_reference"] is None
    assert protocol["dataset_fingerprint"] is None and protocol["num_samples"] == 300
    # the board reads such results
    assert cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards").exit_code == 0
    assert "mine" in (tmp_path / "boards/test-unreadable.md").read_text()


def test_cifar10_samples_get_fid_and_is_against_stats_without_the_archive(cli, tmp_path, plugins, offline):
    samples = np.random.default_rng(1).uniform(-1, 1, (40, 3, 32, 32)).astype(np.float32)
    stats = tmp_path / "cifar10_train.npz"
    save_reference_stats(stats, np.zeros(3), np.eye(3))
    args = ["--reference-stats", stats, "--metrics", "fid,is", "--features", "test-channel-means"]
    r = eval_cmd(cli, tmp_path, "cifar10", samples, *args)
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "runs/cifar10/mine/seed0.json").read_text())
    assert {"fid", "is"} <= set(result["metrics"]) and not result["metric_errors"]
    assert not (tmp_path / "data").exists()  # no download was even tried
    # the declared shape still checks the samples, naming the one expected
    line = error_line(eval_cmd(cli, tmp_path, "cifar10", samples[:, :, :16, :16], *args))
    assert "have shape (3, 16, 16) per example but 'cifar10' expects (3, 32, 32)" in line, line


def test_metrics_that_read_the_data_still_need_it_and_the_error_says_what_to_drop(
    cli, tmp_path, plugins, offline
):
    samples = np.zeros((40, 3, 32, 32), np.float32)
    stats = tmp_path / "stats.npz"
    save_reference_stats(stats, np.zeros(3), np.eye(3))
    args = ["--reference-stats", stats, "--metrics", "fid,kid", "--features", "test-channel-means"]
    line = error_line(eval_cmd(cli, tmp_path, "cifar10", samples, *args))
    assert "cifar-10-python.tar.gz" in line  # the download's own fix comes first
    assert line.endswith("drop the metrics that read it (kid), e.g. --metrics fid"), line
    # mifid compares with the file too, but its distance reads the train split: not one to keep
    args[3] = "fid,mifid"
    line = error_line(eval_cmd(cli, tmp_path, "cifar10", samples, *args))
    assert line.endswith("drop the metrics that read it (mifid), e.g. --metrics fid"), line
    # without --reference-stats nothing is suggested: every metric needs the data then
    line = error_line(eval_cmd(cli, tmp_path, "cifar10", samples, "--metrics", "fid"))
    assert "cifar-10-python.tar.gz" in line and "--reference-stats" not in line, line


def test_a_declared_example_shape_is_checked_at_registration_and_against_the_data():
    class Bad(Dataset):
        kind, example_shape = "image", (32, 32)

        def _load(self, split):
            raise AssertionError

    assert "declares example_shape = (32, 32); give image data's shape" in Bad.declaration_problem()

    class Lying(Dataset):
        kind, example_shape = "image", (3, 32, 32)

        def _load(self, split):
            return torch.zeros(5, 1, 28, 28), None

    from genbench.errors import PluginOutputError

    with pytest.raises(PluginOutputError, match=r"examples of shape \(1, 28, 28\) \(it declares"):
        Lying().load("train")


def test_builtin_datasets_declare_the_shape_their_data_has():
    """The declared shapes of the downloaded datasets are checked against files in the tests that
    parse them (tests/test_data.py); here those of the embedded ones, read for real."""
    for name in ("digits", "stacked-digits", "ring8", "grid25"):
        ds = registry.datasets.get(name)()
        assert ds.example_shape == tuple(ds.load("train")[0].shape[1:]), name
    for name, shape in (("cifar10", (3, 32, 32)), ("mnist", (1, 28, 28)), ("fashion-mnist", (1, 28, 28))):
        assert registry.datasets.get(name).example_shape == shape


def test_a_metric_declaring_an_unknown_reference_is_refused_at_registration():
    class Odd(Metric):
        higher_is_better = {"odd": True}  # noqa: RUF012
        reference = "dataset"

        def compute(self, ctx):
            return {}

    assert Odd.declaration_problem() == (
        "declares reference = 'dataset'; use one of 'features', 'stats', 'none'"
    )
    from genbench.metrics.fid import FID
    from genbench.metrics.kid import KID

    assert not FID().uses_reference_features(have_stats=True) and FID().uses_reference_features(False)
    assert KID().uses_reference_features(have_stats=True)


def test_is_alone_reads_no_data_and_extracts_no_reference_features(cli, tmp_path, plugins):
    """IS scores the samples' logits alone: reading the dataset and extracting its features (hours
    of Inception on a CPU for CIFAR-10) was work for no number."""
    samples = np.random.default_rng(2).uniform(-1, 1, (60, 1, 4, 4)).astype(np.float32)
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--metrics", "is", "--reference-split", "test")
    assert r.exit_code == 0, r.output
    assert "warning: --reference-split test is not used: no metric compares with a split" in r.stderr
    result = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())
    assert "is" in result["metrics"] and result["protocol"]["dataset_fingerprint"] is None
    assert not list((tmp_path / "cache").glob("features/*.npz"))


def test_a_run_names_a_reference_split_no_metric_compares_with(cli, tmp_path):
    """`genbench eval --metrics is --reference-split test` warned that the split was not used, but
    `genbench run` said nothing, so its results looked measured against the test split."""
    run = ["run", "--models", "gaussian", "--dataset", "ring8", "--samples", "100"]
    run += ["--reference-split", "test"]
    run += ["--out", tmp_path / "ran", "--cache-dir", tmp_path / "cache", "--no-progress", "--no-figures"]
    r = cli(*run, "--metrics", "throughput")
    assert r.exit_code == 0, r.output
    assert "warning: --reference-split test is not used: no metric compares with a split of ring8" in r.stderr
    assert (
        json.loads((tmp_path / "ran/ring8/gaussian/seed0.json").read_text())["protocol"]["reference_split"]
        is None
    )
    # a rerun measured against the split would replace a result that was not: refused, and named
    r = cli(*run, "--metrics", "throughput,fid")
    assert (
        r.exit_code == 2 and "holds a result at reference none, which this run at reference test" in r.stderr
    )
    r = cli(*run, "--metrics", "throughput,fid", "--out", tmp_path / "fid")  # FID reads the split: no warning
    assert r.exit_code == 0 and "is not used" not in r.stderr, r.output
    assert (
        json.loads((tmp_path / "fid/ring8/gaussian/seed0.json").read_text())["protocol"]["reference_split"]
        == "test"
    )


def test_statistics_no_metric_compares_with_are_named_unused_and_not_recorded(cli, tmp_path, plugins):
    """``--metrics is --reference-stats s.npz`` recorded the file in the protocol though no FID used
    it, so the board's caption named FID against it: the file is now set aside with a warning."""
    samples = np.random.default_rng(3).uniform(-1, 1, (60, 1, 4, 4)).astype(np.float32)
    stats = tmp_path / "stats.npz"
    save_reference_stats(stats, np.zeros(1), np.eye(1))
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--metrics", "is", "--reference-stats", stats)
    assert r.exit_code == 0, r.output
    assert f"warning: --reference-stats {stats} is not used: none of the metrics (is) compares" in r.stderr
    protocol = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())["protocol"]
    assert protocol["reference_stats"] is None and protocol["reference_split"] is None
    # a run: the same, and the result shares its row with one made without the file
    run = ["run", "--models", "gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "throughput"]
    run += ["--out", tmp_path / "ran", "--cache-dir", tmp_path / "cache", "--no-progress", "--no-figures"]
    r = cli(*run, "--reference-stats", stats)
    assert r.exit_code == 0, r.output
    assert "--reference-stats" in r.stderr and "is not used" in r.stderr
    protocol = json.loads((tmp_path / "ran/ring8/gaussian/seed0.json").read_text())["protocol"]
    assert protocol["reference_stats"] is None
    assert cli(*run).exit_code == 0  # the same protocol: a rerun without the file replaces it
    # FID among the metrics: the file is used, and recorded
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--metrics", "is,fid", "--reference-stats", stats)
    assert r.exit_code == 0 and "is not used" not in r.stderr, r.output
    protocol = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())["protocol"]
    assert protocol["reference_stats"] == stats_identity(stats)


# -- `genbench stats`: statistics made where the data is, used where it is not ----------------------


def test_stats_writes_the_split_statistics_that_fid_uses_and_how_they_were_made(cli, tmp_path, cache_dir):
    from genbench.features.reference_stats import load_reference_stats, stats_made
    from genbench.metrics.fid import gaussian_statistics

    path = tmp_path / "ring8-test.npz"
    args = ["--dataset", "ring8", "--reference-split", "test", "--cache-dir", cache_dir, "--no-progress"]
    r = cli("stats", "--out", path, *args)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # it is asked for a file: what it says goes to stderr, as `report`'s does
    assert r.stderr.startswith(f"wrote {path}: mu and sigma of 2000 ring8 test examples in raw features")
    ring8 = registry.datasets.get("ring8")()
    mu, sigma = load_reference_stats(path)
    want_mu, want_sigma = gaussian_statistics(ring8.load("test")[0].numpy())  # raw features: the points
    np.testing.assert_allclose(mu, want_mu, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sigma, want_sigma, rtol=1e-6, atol=1e-9)
    made = stats_made(path)
    assert made["dataset"] == "ring8" and made["split"] == "test" and made["num_examples"] == 2000
    assert made["dataset_fingerprint"] == ring8.fingerprint() and made["features"]["name"] == "raw"
    # clean-fid reads the file as its own (np.load, keys mu and sigma)
    with np.load(path) as npz:
        assert npz["mu"].shape == (2,) and npz["sigma"].shape == (2, 2)
    line = error_line(cli("stats", "--out", tmp_path / "s.txt", *args))
    assert "does not end in .npz" in line
    (tmp_path / "afile").write_text("")  # its fix named a directory, which --out refuses next
    line = error_line(cli("stats", "--out", tmp_path / "afile/s.npz", *args))
    assert line.endswith("is a file, not a directory; pass --out an .npz path in a writable directory")


def stderr_of_run(cli, tmp_path: Path, run: list, stats: Path, *more: str) -> str:
    """The stderr, on one line, of ``run`` against the statistics ``stats`` (one ``--out`` per
    statistics file and extra flags: one protocol each)."""
    out = tmp_path / f"runs-{stats.stem}{''.join(more)}"
    r = cli(*run, "--reference-stats", stats, "--out", out, *more)
    assert r.exit_code == 0, r.output
    return " ".join(r.stderr.split())


def test_statistics_made_at_another_batch_size_below_64_rows_are_named(cli, tmp_path, cache_dir):
    """Calls of 1 to 3 rows take other CPU kernels: statistics made with `genbench stats --batch-size 2`
    gave a default run an FID in the ninth digit away from that against its own reference features,
    and the file did not record the batch size to tell. It records the rows per call, and a run at
    other rows below 64 is told; a file that records none (an older genbench's) loads as before."""
    from genbench.features.reference_stats import load_reference_stats, stats_made

    args = ["--dataset", "digits", "--cache-dir", cache_dir, "--no-progress"]
    small, default = tmp_path / "b2.npz", tmp_path / "b500.npz"
    assert cli("stats", "--out", small, "--batch-size", "2", *args).exit_code == 0
    assert cli("stats", "--out", default, *args).exit_code == 0
    assert stats_made(small)["batch_rows"] == 2 and stats_made(default)["batch_rows"] == 64
    older = tmp_path / "older.npz"  # as an older genbench wrote it: everything but the rows
    made = {k: v for k, v in stats_made(small).items() if k != "batch_rows"}
    save_reference_stats(older, *load_reference_stats(small), made=made)
    run = ["run", "--models", "gaussian", "--samples", "200", "--metrics", "fid", "--no-figures", *args]

    def said(stats: Path, *more: str) -> str:
        return stderr_of_run(cli, tmp_path, run, stats, *more)

    warned = said(small)
    assert f"reference statistics {small} were made from features extracted 2 rows at a time" in warned
    assert "this command's 64 or more rows at a time (--batch-size 500)" in warned
    assert "--batch-size 500 --device cpu --out PATH` on this machine makes matching statistics" in warned
    assert "extracted" not in said(default) and "extracted" not in said(older)
    assert "extracted" not in said(small, "--batch-size", "2")
    assert "extracted 64 or more rows at a time, this command's 2 rows" in said(default, "--batch-size", "2")


def test_statistics_made_in_other_arithmetic_are_named(cli, tmp_path, cache_dir, monkeypatch):
    """The feature cache keys the arithmetic (device type, the CPU's instruction set, TF32 on CUDA)
    apart, but a stats file did not record it: statistics made on an AVX-512 CPU (or a GPU) and used
    on an AVX2 CPU differed from the run's own reference features with nothing said. The file records
    the arithmetic that `genbench stats` computed in; a run in another is told, in the one warning
    that names the rows too when both differ. The CPU's instruction set is what is faked: both sides
    are computed by the real :func:`~genbench.features.reference.arithmetic`."""
    import torch

    from genbench.features.reference import arithmetic
    from genbench.features.reference_stats import load_reference_stats, stats_made

    real = torch.backends.cpu.get_cpu_capability()
    other = "AVX512" if real != "AVX512" else "AVX2"
    args = ["--dataset", "digits", "--cache-dir", cache_dir, "--no-progress", "--device", "cpu"]
    made_elsewhere, here = tmp_path / "elsewhere.npz", tmp_path / "here.npz"
    with monkeypatch.context() as m:  # `genbench stats` on a node with another instruction set
        m.setattr(torch.backends.cpu, "get_cpu_capability", lambda: other)
        assert cli("stats", "--out", made_elsewhere, *args).exit_code == 0
    assert cli("stats", "--out", here, *args).exit_code == 0
    assert stats_made(made_elsewhere)["arithmetic"] == f"cpu,{other}"
    assert stats_made(here)["arithmetic"] == arithmetic(torch.device("cpu")) == f"cpu,{real}"
    older = tmp_path / "older.npz"  # as an older genbench wrote it: no arithmetic
    made = {k: v for k, v in stats_made(made_elsewhere).items() if k != "arithmetic"}
    save_reference_stats(older, *load_reference_stats(made_elsewhere), made=made)
    bare = tmp_path / "bare.npz"  # clean-fid's: mu and sigma alone
    save_reference_stats(bare, *load_reference_stats(made_elsewhere))
    run = ["run", "--models", "gaussian", "--samples", "200", "--metrics", "fid", "--no-figures", *args]

    def said(stats: Path, *more: str) -> str:
        return stderr_of_run(cli, tmp_path, run, stats, *more)

    warned = said(made_elsewhere)
    assert (
        f"reference statistics {made_elsewhere} were made from features computed in cpu,{other} "
        f"arithmetic, this command's computed in cpu,{real} arithmetic (--device cpu)"
    ) in warned
    assert "--batch-size 500 --device cpu --out PATH` on this machine makes matching statistics" in warned
    assert "rows" not in warned.split("reference statistics")[1]
    for quiet in (here, older, bare):
        assert "arithmetic" not in said(quiet)
    # both differ: one warning, naming both and the one command that matches them
    both = said(made_elsewhere, "--batch-size", "2")
    assert both.count(f"reference statistics {made_elsewhere} were made") == 1
    assert (
        f"extracted 64 or more rows at a time and computed in cpu,{other} arithmetic, this command's "
        f"2 rows at a time (--batch-size 2) and computed in cpu,{real} arithmetic (--device cpu)"
    ) in both
    assert "--batch-size 2 --device cpu --out PATH` on this machine makes matching" in both


@pytest.mark.parametrize("features", [[], ["--features", "raw"]], ids=["default-features", "raw"])
def test_the_stats_command_a_warning_names_makes_statistics_it_does_not_warn_of(
    cli, tmp_path, cache_dir, monkeypatch, features
):
    """The warning named only the flag of what differed, and `genbench stats` takes its defaults
    for the rest (500 rows per call, --device auto): statistics made elsewhere at --batch-size 2,
    used at --batch-size 2 here, were to be made again with `genbench stats --device cpu`, whose
    64-row statistics the next run warned of in turn. Nor did it name the dataset, split, features
    or --out: as given it failed ("Missing option '--out'"), and completed by hand it described the
    train split (the row then recorded another reference than the file's test split, with nothing
    said) in the dataset's default features (refused by the next run). The command named, run as
    given (its PATH filled in), makes statistics that the same run is not warned of, of the same
    split and features."""
    import shlex

    from genbench.features.reference_stats import stats_made

    real = torch.backends.cpu.get_cpu_capability()
    here = ["--cache-dir", cache_dir, "--no-progress"]  # the user's environment, not the command's
    args = ["--dataset", "digits", *features, *here]
    elsewhere, remade = tmp_path / "elsewhere.npz", tmp_path / "remade.npz"
    with monkeypatch.context() as m:  # a node with another instruction set
        m.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512" if real != "AVX512" else "AVX2")
        made = cli("stats", "--out", elsewhere, "--batch-size", "2", "--reference-split", "test", *args)
        assert made.exit_code == 0, made.output
    run = ["run", "--models", "gaussian", "--samples", "200", "--metrics", "fid", "--no-figures", *args]
    run += ["--device", "cpu", "--batch-size", "2"]

    def said(stats: Path) -> str:
        r = cli(*run, "--reference-stats", stats, "--out", tmp_path / f"runs-{stats.stem}")
        assert r.exit_code == 0, r.output
        return " ".join(r.stderr.split())

    warned = said(elsewhere)
    command = shlex.split(warned.split("; `")[1].split("`")[0])
    assert command[:2] == ["genbench", "stats"] and command[-2:] == ["--out", "PATH"], warned
    r = cli(*command[1:-1], str(remade), *here)
    assert r.exit_code == 0, r.output
    assert "were made from features" not in said(remade)
    assert stats_made(remade)["split"] == "test"
    assert stats_made(remade)["features"]["name"] == stats_made(elsewhere)["features"]["name"]


def test_fid_against_genbench_stats_shares_the_protocol_of_a_run_against_them(cli, tmp_path, cache_dir):
    """An evaluation that reads no data takes the split and dataset fingerprint from the stats file,
    so it is one row with a run scored against the same file. And the file holds the statistics
    FID computes from the split itself: a run against it gives the FID of a run without it."""
    stats = tmp_path / "ring8-train.npz"
    assert cli("stats", "--out", stats, "--dataset", "ring8", "--cache-dir", cache_dir).exit_code == 0
    out = tmp_path / "runs"
    base = ["--dataset", "ring8", "--metrics", "fid", "--no-figures", "--no-progress"]
    base += ["--cache-dir", cache_dir]
    common = [*base, "--reference-stats", stats, "--out", out]
    gaussian = ["run", "--models", "gaussian", "--samples", "500"]
    r = cli(*gaussian, *common)
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output
    run_result = json.loads((out / "ring8/gaussian/seed0.json").read_text())
    assert cli(*gaussian, *base, "--out", tmp_path / "plain").exit_code == 0
    without = json.loads((tmp_path / "plain/ring8/gaussian/seed0.json").read_text())
    assert without["protocol"]["reference_stats"] is None
    assert run_result["metrics"]["fid"] == pytest.approx(without["metrics"]["fid"], rel=1e-12, abs=1e-15)
    samples = tmp_path / "gaussian-samples.npz"
    np.savez(samples, samples=np.random.default_rng(0).standard_normal((500, 2)).astype(np.float32))
    r = cli("eval", "--samples", samples, *common)
    assert r.exit_code == 0, r.output
    evaluated = json.loads((out / "ring8/gaussian-samples/seed0.json").read_text())
    for field in ("reference_split", "num_reference", "dataset_fingerprint", "reference_stats", "features"):
        assert evaluated["protocol"][field] == run_result["protocol"][field], field
    assert cli("report", "--out", out).exit_code == 0
    board = pd.read_csv(out / "leaderboards/ring8.csv")
    assert sorted(board["label"]) == ["gaussian", "gaussian-samples"]
    assert board["protocol"].isna().all()  # one protocol: no row is labelled by what sets it apart


def test_stats_made_with_other_features_fail_fid_naming_the_features(cli, tmp_path, cache_dir):
    """Inception's and clean-fid's Inception both give 2048 numbers: a dimension check cannot tell
    their statistics apart, the file's record can."""
    from genbench.features.reference_stats import save_reference_stats, stats_made

    stats = tmp_path / "digits-raw.npz"
    args = ["--dataset", "digits", "--cache-dir", cache_dir, "--no-progress"]
    assert cli("stats", "--out", stats, "--features", "raw", *args).exit_code == 0
    made = stats_made(stats)
    # the same numbers, recorded as another extractor's with the classifier's dimension
    forged = tmp_path / "forged.npz"
    made["features"] = {"name": "inception", "fingerprint": "inception-abc"}
    save_reference_stats(forged, np.zeros(128), np.eye(128), made=made)
    samples = tmp_path / "mine.npz"
    np.savez(samples, samples=np.zeros((40, 8, 8), np.uint8))
    r = cli(
        "eval",
        "--samples",
        samples,
        "--metrics",
        "fid",
        "--reference-stats",
        forged,
        "--out",
        tmp_path,
        *args,
    )
    line = error_line(r)
    assert (
        f"reference statistics {forged} were computed with features 'inception' (inception-abc), not "
        "'classifier'" in line
    ), line
    assert "pass --features inception or recompute them with `genbench stats --features classifier`" in line


def test_unusable_statistics_with_no_other_metric_fail_before_any_work_and_write_nothing(
    cli, tmp_path, cache_dir
):
    """`genbench eval --metrics fid --reference-stats <another extractor's statistics>`: the samples'
    features were extracted (minutes of Inception) into an "ok" result without a value, which then
    refused the fix the error names (--features raw: "holds a result at features inception").
    Fails on the old runner.load_stats, which only warned whatever metrics were left."""
    stats = tmp_path / "digits-raw.npz"
    args = ["--dataset", "digits", "--cache-dir", cache_dir, "--no-progress"]
    assert cli("stats", "--out", stats, "--features", "raw", *args).exit_code == 0
    samples = tmp_path / "mine.npz"
    np.savez(samples, samples=np.random.default_rng(0).integers(0, 256, (40, 8, 8), np.uint8))
    out = tmp_path / "e"
    command = ["eval", "--samples", samples, "--metrics", "fid", "--reference-stats", stats]
    command += ["--out", out, *args]
    r = cli(*command)
    line = error_line(r)
    assert "were computed with features 'raw' (raw-v1), not 'classifier'" in line and "--features raw" in line
    assert "warning" not in r.stderr and "ok " not in r.stderr, r.output  # no "FID will not be computed"
    assert not list(out.rglob("*.json"))  # nothing written (the old code: seed0.json without a metric)
    r = cli(*command, "--features", "raw")  # the fix the line names
    assert r.exit_code == 0, r.output
    assert "fid" in json.loads((out / "digits/mine/seed0.json").read_text())["metrics"]


def test_statistics_of_the_same_features_with_other_weights_name_a_fix_that_works(cli, tmp_path, cache_dir):
    """Statistics of the features in use, made before their weights changed (a plugin extractor
    retrained, its fingerprint another): the error's fix was "pass --features raw", the features
    already in use, which could never work."""
    from genbench.features.reference_stats import save_reference_stats, stats_made

    stats = tmp_path / "ring8-raw.npz"
    args = ["--dataset", "ring8", "--cache-dir", cache_dir, "--no-progress"]
    assert cli("stats", "--out", stats, *args).exit_code == 0
    made = stats_made(stats)
    made["features"]["fingerprint"] = "raw-v0"  # as made by the features' earlier weights
    stale = tmp_path / "stale.npz"
    save_reference_stats(stale, np.zeros(2), np.eye(2), made=made)
    samples = tmp_path / "mine.npz"
    np.savez(samples, samples=np.zeros((40, 2), np.float32))
    r = cli(
        "eval", "--samples", samples, "--metrics", "fid", "--reference-stats", stale, "--out", tmp_path, *args
    )
    line = error_line(r)
    assert "were computed with features 'raw' (raw-v0), not 'raw' (raw-v1)" in line, line
    assert "pass --features raw" not in line, line
    assert (
        "the raw features' weights or preprocessing changed since: recompute them with "
        "`genbench stats --features raw`" in line
    ), line


def test_statistics_of_another_split_or_dataset_are_named_in_a_warning(cli, tmp_path, cache_dir):
    stats = tmp_path / "ring8-test.npz"
    args = ["--cache-dir", cache_dir, "--no-progress"]
    assert (
        cli("stats", "--out", stats, "--dataset", "ring8", "--reference-split", "test", *args).exit_code == 0
    )
    run = ["run", "--models", "gaussian", "--samples", "300", "--metrics", "fid,kid", "--no-figures"]
    run += ["--reference-stats", stats, "--out", tmp_path / "runs", *args]
    r = cli(*run, "--dataset", "ring8")  # KID compares with the train split
    assert r.exit_code == 0, r.output
    assert f"warning: reference statistics {stats} describe ring8 test (fingerprint " in r.stderr
    assert "not ring8 train (fingerprint" in r.stderr
    r = cli(*run, "--dataset", "grid25", "--reference-split", "test")
    assert r.exit_code == 0 and f"{stats} describe ring8 test" in r.stderr and "not grid25 test" in r.stderr
    # FID alone reads no split: only the dataset's name is compared with the file's
    alone = ["run", "--models", "gaussian", "--samples", "300", "--metrics", "fid", "--no-figures"]
    alone += ["--reference-stats", stats, "--out", tmp_path / "alone", *args]
    r = cli(*alone, "--dataset", "ring8")
    assert r.exit_code == 0 and "describe" not in r.stderr, r.output
    r = cli(*alone, "--dataset", "grid25")
    assert r.exit_code == 0, r.output
    assert f"{stats} describe ring8 test (fingerprint " in r.stderr and "not grid25 (not read)" in r.stderr


def test_a_run_whose_metrics_need_no_reference_features_extracts_none(cli, tmp_path):
    """`genbench run --dataset cifar10 --metrics fid --reference-stats ...` extracted Inception
    features of all 50000 training images (hours on a CPU) that no metric read. Its protocol is then
    an evaluation's against the same file: one row on the board, whoever made the samples."""
    from genbench.features.reference_stats import save_reference_stats

    stats = tmp_path / "stats.npz"  # as clean-fid's: no record of how it was made
    save_reference_stats(stats, np.zeros(2), np.eye(2))
    cache, out = tmp_path / "cache", tmp_path / "runs"
    common = ["--dataset", "ring8", "--no-figures", "--no-progress", "--cache-dir", cache, "--out", out]
    run = ["run", "--models", "gaussian", "--samples", "300", *common]
    r = cli(*run, "--metrics", "fid", "--reference-stats", stats)
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output
    assert not list(cache.glob("features/*"))
    np.savez(tmp_path / "mine.npz", samples=np.zeros((300, 2), np.float32))
    r = cli(
        "eval", "--samples", tmp_path / "mine.npz", "--metrics", "fid", "--reference-stats", stats, *common
    )
    assert r.exit_code == 0, r.output
    ran, evaluated = (json.loads((out / f"ring8/{m}/seed0.json").read_text()) for m in ("gaussian", "mine"))
    for field in (
        "reference_split",
        "num_reference",
        "dataset_fingerprint",
        "reference_stats",
        "num_samples",
    ):
        assert ran["protocol"][field] == evaluated["protocol"][field], field
    assert ran["protocol"]["reference_split"] is None
    assert cli("report", "--out", out).exit_code == 0
    assert pd.read_csv(out / "leaderboards/ring8.csv")["protocol"].isna().all()
    # KID compares with the train split's features: extracted, and recorded as that split's
    r = cli(*run, "--metrics", "fid,kid", "--reference-stats", stats)
    assert (
        r.exit_code == 2 and "holds a result at reference none, which this run at reference train" in r.stderr
    )
    assert cli(*run[:-1], tmp_path / "kid", "--metrics", "fid,kid", "--reference-stats", stats).exit_code == 0
    assert list(cache.glob("features/ring8-train-*"))
    protocol = json.loads((tmp_path / "kid/ring8/gaussian/seed0.json").read_text())["protocol"]
    assert protocol["num_reference"] == 10000 and protocol["reference_split"] == "train"


def test_an_evaluation_is_not_replaced_by_one_against_other_statistics(cli, tmp_path, cache_dir):
    """Re-evaluating the same samples with a mistyped --reference-stats path replaced a good FID with
    that path's error, and other statistics or features replaced it silently: refused now, as
    `genbench run` refuses a rerun of another protocol."""
    stats = tmp_path / "digits-train.npz"
    common = ["--dataset", "digits", "--cache-dir", cache_dir, "--no-progress"]
    assert cli("stats", "--out", stats, *common).exit_code == 0
    np.savez(tmp_path / "mine.npz", samples=np.random.default_rng(0).integers(0, 256, (50, 8, 8), np.uint8))
    args = ["eval", "--samples", tmp_path / "mine.npz", "--metrics", "fid", "--out", tmp_path, "--no-figures"]
    assert cli(*args, *common, "--reference-stats", stats).exit_code == 0
    path = tmp_path / "digits/mine/seed0.json"
    good = path.read_text()
    line = error_line(cli(*args, *common, "--reference-stats", tmp_path / "digits-trian.npz"))
    # the typo is said before the result it would replace (tests/test_reference_stats_missing.py)
    assert f"{tmp_path / 'digits-trian.npz'} not found" in line and "genbench stats" in line
    other = tmp_path / "digits-test.npz"
    assert cli("stats", "--out", other, "--reference-split", "test", *common).exit_code == 0
    line = error_line(cli(*args, *common, "--reference-stats", other))
    assert f"{path} holds a result at reference train, reference stats digits-train.npz sha256:" in line
    assert "which this evaluation at reference test, reference stats digits-test.npz sha256:" in line, line
    line = error_line(cli(*args, *common, "--reference-stats", stats, "--features", "raw"))
    assert "holds a result at features classifier" in line and "pass --name" in line, line
    assert path.read_text() == good
    assert cli(*args, *common, "--reference-stats", stats).exit_code == 0  # the same protocol: rerun


def test_a_run_shows_statistics_of_the_wrong_dimension_before_training(cli, tmp_path, cache_dir):
    """Without reference features (no metric compared with them) the dimension was checked only when
    FID ran, after the training: hours for a CIFAR-10 DDPM. Two examples' features check it first."""
    from genbench.features.reference_stats import save_reference_stats

    save_reference_stats(tmp_path / "wide.npz", np.zeros(5), np.eye(5))  # ring8's raw features: 2-D
    args = ["run", "--models", "gaussian", "--dataset", "ring8", "--samples", "100", "--metrics"]
    args += ["fid", "--reference-stats", tmp_path / "wide.npz", "--out", tmp_path, "--no-figures"]
    r = cli(*args, "--cache-dir", tmp_path / "cache", "--no-progress")
    # FID is the only metric: fatal at the start, before the model trains, and nothing written
    line = error_line(r)
    assert "have dimension 5 but the features have 2; compute them with the same" in line
    assert "warning" not in r.stderr and not list(tmp_path.rglob("seed0*.json")), r.output  # old: both


def test_stats_edge_cases_are_one_line_errors_or_warnings(cli, tmp_path, cache_dir, monkeypatch):
    class Few(Dataset):
        kind, default_features = "points", "raw"

        def _load(self, split):
            return torch.arange(12, dtype=torch.float32).reshape(3, 4) ** 1.5, None

    registry.datasets.discover()
    monkeypatch.setattr(registry.datasets, "_entries", dict(registry.datasets._entries))
    registry.datasets.add("test-few", Few, source="genbench-test-plugin")
    monkeypatch.chdir(tmp_path)  # the statistics' folder is the output: no ./runs is made
    args = ["stats", "--dataset", "test-few", "--cache-dir", cache_dir]
    r = cli(*args, "--out", tmp_path / "few.npz")
    assert r.exit_code == 0, r.output
    assert "warning: 3 examples for 4-dimensional features: the covariance is singular" in r.stderr
    assert not (tmp_path / "runs").exists()
    (tmp_path / "dir.npz").mkdir()
    line = error_line(cli(*args, "--out", tmp_path / "dir.npz"))
    assert (
        line
        == f"error: {tmp_path / 'dir.npz'} is a directory; name the statistics file, e.g. {tmp_path / 'dir.npz' / 'stats.npz'}"
    )
    import genbench

    with pytest.raises(genbench.GenbenchError, match="the statistics path must be a str or a Path, got int"):
        genbench.stats(3, genbench.RunConfig(dataset="test-few", cache_dir=cache_dir, progress=False))


def test_stats_never_writes_over_images_or_samples(cli, tmp_path, cache_dir):
    """`genbench stats --dataset ref.npz --out ref.npz` replaced the reference images with their
    statistics (exit 0), as --out samples.npz did someone's samples; a statistics file is replaced
    (statistics.check_statistics_replaceable)."""
    images = np.random.default_rng(0).integers(0, 256, (20, 4, 4), dtype=np.uint8)
    ref = tmp_path / "ref.npz"
    np.savez(ref, samples=images)
    args = ["stats", "--dataset", ref, "--features", "raw", "--cache-dir", cache_dir, "--no-progress"]
    line = error_line(cli(*args, "--out", ref))
    fix = "pass --out a new .npz path, or delete the file to write there"
    assert (
        line
        == f"error: {ref} holds samples beside any statistics (images or samples, which writing statistics there would delete); {fix}"
    )
    with np.load(ref) as npz:  # untouched
        assert list(npz.keys()) == ["samples"] and np.array_equal(npz["samples"], images)
    adm = tmp_path / "adm.npz"  # ADM's reference batch: images and statistics in one file
    np.savez(adm, images, mu=np.zeros(16), sigma=np.eye(16))
    assert "adm.npz holds arr_0 beside any statistics" in error_line(cli(*args, "--out", adm))
    (tmp_path / "text.npz").write_text("not a zip")
    assert error_line(cli(*args, "--out", tmp_path / "text.npz")) == (
        f"error: {tmp_path / 'text.npz'} exists and is no .npz of reference statistics; {fix}"
    )
    stats = tmp_path / "stats.npz"  # a statistics file is an output like any: a rerun replaces it
    save_reference_stats(stats, np.ones(16), np.eye(16))
    assert cli(*args, "--out", stats).exit_code == 0
    with np.load(stats) as npz:
        assert npz["mu"].tolist() != [1.0] * 16 and "genbench" in npz
    assert cli(*args, "--out", stats).exit_code == 0  # its own file again


def test_features_made_from_the_data_say_so_when_it_is_missing(cli, tmp_path, offline):
    """MNIST's default features are a classifier trained on MNIST: without the files, even IS or FID
    against statistics cannot be computed in them, and the error names the features that can."""
    samples = np.zeros((40, 28, 28), np.uint8)
    line = error_line(eval_cmd(cli, tmp_path, "mnist", samples, "--metrics", "is"))
    assert "train-images-idx3-ubyte.gz" in line  # the download's own fix comes first
    assert line.endswith(
        "the 'classifier' features are made from the data: pass --features inception, clean-inception "
        "or raw to score without it"
    ), line
    from genbench.features.reference_stats import save_reference_stats

    save_reference_stats(tmp_path / "stats.npz", np.zeros(784), np.eye(784))
    args = ["--metrics", "fid", "--features", "raw", "--reference-stats", tmp_path / "stats.npz"]
    r = eval_cmd(cli, tmp_path, "mnist", samples, *args)  # the data is still missing
    assert r.exit_code == 0, r.output
    assert "fid" in json.loads((tmp_path / "runs/mnist/mine/seed0.json").read_text())["metrics"]
    # statistics of the classifier's features: the features that need no data cannot use them
    r = eval_cmd(
        cli, tmp_path, "mnist", samples, "--metrics", "fid", "--reference-stats", tmp_path / "stats.npz"
    )
    assert error_line(r).endswith(
        "pass --features inception, clean-inception or raw to score without it, with statistics of "
        f"those features in place of {tmp_path / 'stats.npz'}"
    ), error_line(r)


@pytest.mark.parametrize("features", ["inception", "clean-inception"])
def test_inception_offline_with_statistics_names_no_features_that_cannot_use_them(
    cli, tmp_path, offline, monkeypatch, features
):
    """Offline without the Inception weights, the error named --features classifier or raw as what to
    score with instead; with --reference-stats of 2048-d Inception statistics neither can compare
    with them, so the file must be dropped too, and the error says so."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torch.hub's cache: no weights there
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.delenv("GENBENCH_CLEAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setattr("genbench.features.clean_inception.CLEANFID_CACHE_DIRS", [tmp_path / "cleanfid"])
    save_reference_stats(tmp_path / "cifar10_train.npz", np.zeros(2048), np.eye(2048))
    samples = np.zeros((20, 32, 32, 3), np.uint8)
    args = ["--features", features, "--metrics", "fid", "--reference-stats", tmp_path / "cifar10_train.npz"]
    line = error_line(eval_cmd(cli, tmp_path, "cifar10", samples, *args))
    assert "--inception-weights PATH" in line, line  # the fix that keeps the command
    assert line.endswith(
        "(or score without it and without --reference-stats cifar10_train.npz, statistics of Inception "
        "features: --features classifier (a CNN trained here on the train split) or raw, whose FIDs do "
        "not compare with published Inception ones)"
    ), line
    line = error_line(eval_cmd(cli, tmp_path, "cifar10", samples, "--features", features, "--metrics", "is"))
    assert "reference-stats" not in line and line.endswith(  # no file given: none to drop
        "(or score without it: --features classifier (a CNN trained here on the train split) or raw, "
        "whose FIDs do not compare with published Inception ones)"
    ), line


def test_the_statistics_file_is_hashed_once_per_run_and_per_evaluation(cli, tmp_path, monkeypatch):
    """The plan's replacement check hashed ``--reference-stats`` (a full read: 33 MB for Inception's),
    then the results hashed it again; they record the plan's hash now. A run of two seeds and an
    evaluation each read it once."""
    import genbench.features.reference_stats as reference_stats

    stats = tmp_path / "stats.npz"
    cli("stats", "--out", stats, "--dataset", "ring8", "--cache-dir", tmp_path / "cache", "--no-progress")
    hashed: list[Path] = []
    identity = reference_stats.stats_identity
    monkeypatch.setattr(reference_stats, "stats_identity", lambda p: hashed.append(p) or identity(p))
    common = ["--dataset", "ring8", "--metrics", "fid", "--reference-stats", stats, "--no-progress"]
    common += ["--cache-dir", tmp_path / "cache", "--out", tmp_path / "runs", "--no-figures"]
    r = cli("run", "--models", "gaussian", "--samples", "100", "--seeds", "0,1", *common)
    assert r.exit_code == 0 and len(hashed) == 1, (r.output, hashed)
    np.savez(tmp_path / "s.npz", samples=np.zeros((100, 2), np.float32))
    assert cli("eval", "--samples", tmp_path / "s.npz", *common).exit_code == 0 and len(hashed) == 2
    recorded = {
        json.loads(p.read_text())["protocol"]["reference_stats"]
        for p in (tmp_path / "runs").rglob("seed*.json")
    }
    assert recorded == {identity(stats)}


def test_a_result_without_fid_against_a_mistyped_stats_path_is_replaced_when_no_data_is_read(
    cli, tmp_path, cache_dir
):
    """With metrics that read no data (``--metrics fid,is``) the reference split is the one the
    statistics file records: a mistyped path recorded none, and the corrected command was refused as
    "a result at reference none", though that result held no FID (docs/metrics.md: replaced). So was the
    same command again when the file was made with other features (FID failed, split recorded none)."""
    stats = tmp_path / "digits-train.npz"
    common = ["--dataset", "digits", "--cache-dir", cache_dir, "--no-progress"]
    assert cli("stats", "--out", stats, *common).exit_code == 0
    raw = tmp_path / "digits-raw.npz"
    assert cli("stats", "--out", raw, "--features", "raw", *common).exit_code == 0
    np.savez(tmp_path / "mine.npz", samples=np.random.default_rng(0).integers(0, 256, (50, 8, 8), np.uint8))
    args = ["eval", "--samples", tmp_path / "mine.npz", "--metrics", "fid,is", "--no-figures", *common]
    path = tmp_path / "e/digits/mine/seed0.json"
    for wrong in (tmp_path / "digits-trian.npz", raw):
        out = ["--out", tmp_path / "e"]
        assert cli(*args, *out, "--reference-stats", wrong).exit_code == 2  # FID failed, IS is kept
        assert "fid" not in json.loads(path.read_text())["metrics"]
        if wrong == raw:  # the same command again: the same protocol
            r = cli(*args, *out, "--reference-stats", wrong)
            assert r.exit_code == 2 and "holds a result at" not in r.stderr, r.output
        r = cli(*args, *out, "--reference-stats", stats)
        assert r.exit_code == 0, r.output
        result = json.loads(path.read_text())
        assert "fid" in result["metrics"] and result["protocol"]["reference_split"] == "train"
        path.unlink()
    # `genbench run` the same
    run = ["run", "--models", "gaussian", "--samples", "50", "--metrics", "fid,is", "--no-figures", *common]
    run += ["--out", tmp_path / "r"]
    assert cli(*run, "--reference-stats", tmp_path / "digits-trian.npz").exit_code == 2
    r = cli(*run, "--reference-stats", stats)
    assert r.exit_code == 0, r.output
    assert "fid" in json.loads((tmp_path / "r/digits/gaussian/seed0.json").read_text())["metrics"]
    # a result that holds an FID is still kept from one at other statistics
    r = cli(*run, "--reference-stats", tmp_path / "digits-trian.npz")
    assert r.exit_code == 2 and "holds a result at reference train, reference stats" in r.stderr


def test_what_compares_with_the_statistics_and_what_with_the_split_is_said(cli, tmp_path, plugins):
    """With --reference-stats and a metric that reads the data (prdc: ADM's precision and recall
    against its reference batch's images), the protocol line and the board name the metrics that
    compared with the statistics beside the split the others compared with: they said the split
    alone (the line), or named FID alone where fid_inf compared with the file too (the board)."""
    samples = np.random.default_rng(0).uniform(-1, 1, (200, 1, 8, 8)).astype(np.float32)
    stats = tmp_path / "stats.npz"
    save_reference_stats(stats, np.zeros(1), np.eye(1))
    r = eval_cmd(cli, tmp_path, "digits", samples, "--reference-stats", stats,
                 "--features", "test-channel-means", "--metrics", "fid,fid_inf,prdc")  # fmt: skip
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert (
        "examples), fid, fid_inf against reference statistics "
        + stats_identity(stats)
        + ", in test-channel-means"
    ) in said, said
    assert cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards").exit_code == 0
    board = (tmp_path / "boards/digits.md").read_text()
    assert "split; `fid`, `fid_inf` against the reference statistics `stats.npz`;" in board, board
