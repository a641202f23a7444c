"""``--dataset FILE.npz``: samples scored against an ``.npz`` or ``.npy`` of real images, as
guided-diffusion's evaluator (ADM's) scores them against a reference batch
(``evaluator.py VIRTUAL_imagenet256_labeled.npz samples.npz``), with no dataset plugin to write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import png_folder as _folder
from cli_helpers import raw_eval_args, single_line_error

import genbench
from genbench.config import RunConfig
from genbench.resolve import build_dataset


def _images(seed: int, n: int = 40, size: int = 8) -> np.ndarray:
    """``n`` random uint8 RGB images, N x H x W x 3."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _args(samples: Path, dataset: str | Path, out: Path, cache_dir: Path, *extra: object) -> list[str]:
    return raw_eval_args(samples, dataset, out, cache_dir, "--no-figures", *extra)


def _result(out: Path, name: str = "gen") -> dict:
    (path,) = out.glob(f"*/{name}/seed0.json")
    return json.loads(path.read_text())


def _stats(dim: int) -> dict[str, np.ndarray]:
    """Statistics as an ADM reference batch holds them beside its images (values beside the point)."""
    return {"mu": np.zeros(dim), "sigma": np.eye(dim), "mu_s": np.zeros(3), "sigma_s": np.eye(3)}


def _save(path: Path, layout: str, images: np.ndarray) -> Path:
    """``images`` in one of the layouts a samples file may have, with what else such files hold."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if (
        layout == "adm"
    ):  # np.savez(f, images, labels) as guided-diffusion saves, plus a reference batch's stats
        np.savez(path, images, np.arange(len(images)), **_stats(images[0].size))
    elif layout == "samples":  # the key samples files use, beside `genbench stats`'s mu and sigma
        np.savez(path, samples=images, mu=np.zeros(3), sigma=np.eye(3))
    elif layout == "named":  # its one array, under any name
        np.savez(path, images=images)
    else:
        np.save(path, images)
    return path


@pytest.mark.parametrize(
    ("layout", "file"),
    [("adm", "VIRTUAL_tiny.npz"), ("samples", "Ref Set.npz"), ("named", "ref.npz"), ("npy", "ref.npy")],
)
def test_an_archive_scores_as_the_folder_of_its_images(tmp_path, cache_dir, layout, file):
    """An archive's numbers are those of a folder of its very images (one pixel pipeline), whatever
    else the file holds: a reference batch's mu and sigma are no part of its split."""
    real = _images(0)
    archive = _save(tmp_path / "data" / file, layout, real)
    folder = _folder(tmp_path / "folder", real)
    gen = _folder(tmp_path / "gen", _images(1))

    def scored(dataset: Path, out: str) -> genbench.Result:
        config = RunConfig(
            dataset=dataset, features="raw", metrics=["fid", "prdc"], out=tmp_path / out,
            cache_dir=cache_dir, progress=False, figures=False,
        )  # fmt: skip
        return genbench.evaluate(gen, config)

    mine, theirs = scored(archive, "archive"), scored(folder, "folder")
    assert mine.status == "ok" and mine.dataset == {"adm": "virtual_tiny", "samples": "ref-set"}.get(
        layout, "ref"
    )
    assert mine.metrics == theirs.metrics and "fid" in mine.metrics and "precision" in mine.metrics
    assert mine.protocol["num_reference"] == len(real) and mine.protocol["reference_stats"] is None


def test_archives_are_fingerprinted_by_their_pixels(tmp_path, cache_dir):
    """Two files of one stem and other pixels are two datasets under one name; the same pixels in an
    .npz and an .npy are one."""
    config = RunConfig(dataset="", cache_dir=cache_dir)
    one = build_dataset(_save(tmp_path / "a/ref.npz", "named", _images(0)), config)
    other = build_dataset(_save(tmp_path / "b/ref.npz", "named", _images(2)), config)
    same = build_dataset(_save(tmp_path / "c/ref.npy", "npy", _images(0)), config)
    assert one.name == other.name == same.name == "ref"
    assert one.fingerprint() != other.fingerprint()
    assert one.fingerprint() == same.fingerprint()


def test_an_archive_is_trained_on_and_described(cli, tmp_path, cache_dir, monkeypatch):
    """`genbench run` trains on the archive's images (copy: FID 0 to them) and `genbench stats`
    describes them; a bare file name in the working directory names the file."""
    _save(tmp_path / "ref.npz", "adm", _images(0))
    monkeypatch.chdir(tmp_path)
    r = cli("run", "--models", "copy", "--dataset", "ref.npz", "--features", "raw", "--metrics", "fid",
            "--out", "runs", "--cache-dir", cache_dir, "--no-progress", "--no-figures")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert _result(Path("runs"), "copy")["metrics"]["fid"] == pytest.approx(0, abs=1e-6)
    r = cli("stats", "--out", "stats.npz", "--dataset", "ref.npz", "--features", "raw",
            "--cache-dir", cache_dir, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load("stats.npz") as npz:
        assert npz["mu"].shape == (8 * 8 * 3,)


def _not_a_zip(path: Path) -> Path:
    path.write_text("not an archive")
    return path


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda d: d / "nowhere.npz", "--dataset nowhere.npz: no such file; pass an existing"),
        (lambda d: _not_a_zip(d / "notes.txt"), "neither a folder nor an .npz/.npy image archive"),
        (lambda d: _not_a_zip(d / "fake.npz"), "not an .npz (zip) file; save the images with numpy.savez"),
        (
            lambda d: np.savez(d / "stats.npz", mu=np.zeros(3), sigma=np.eye(3)) or d / "stats.npz",
            "holds reference statistics (mu, sigma) and no images; pass it as --reference-stats",
        ),
        (
            lambda d: np.savez(d / "points.npz", samples=np.zeros((5, 2), np.float32)) or d / "points.npz",
            "holds an array of shape (5, 2), not images",
        ),
    ],
)
def test_what_is_no_image_archive_is_refused_in_one_line(cli, tmp_path, cache_dir, monkeypatch, make, said):
    gen = _save(tmp_path / "gen.npz", "named", _images(1))
    monkeypatch.chdir(tmp_path)
    dataset = make(Path("."))  # as typed: a bare file name
    error = single_line_error(cli(*_args(gen, str(dataset), Path("runs"), cache_dir)))
    assert said in error, error


def test_an_archive_has_no_test_split(cli, tmp_path, cache_dir):
    archive = _save(tmp_path / "ref.npz", "named", _images(0))
    gen = _save(tmp_path / "gen.npz", "named", _images(1))
    error = single_line_error(
        cli(*_args(gen, archive, tmp_path / "runs", cache_dir, "--reference-split", "test"))
    )
    assert "is an image archive" in error and "no test split" in error and "--reference-split train" in error


def test_statistics_in_the_archive_are_named_not_used(cli, tmp_path, cache_dir):
    """FID against an archive that holds ADM's statistics compares with its images, and says how to
    compare with the file's statistics instead (never switched to them silently); with that flag
    the file's statistics are what FID compares with, and nothing is said."""
    archive = _save(tmp_path / "VIRTUAL_tiny.npz", "adm", _images(0))
    gen = _save(tmp_path / "gen.npz", "named", _images(1))
    r = cli(*_args(gen, archive, tmp_path / "plain", cache_dir, "--metrics", "fid"))
    assert r.exit_code == 0, r.output
    assert (
        "VIRTUAL_tiny.npz holds reference statistics (mu, sigma, mu_s, sigma_s), which are not used: fid "
        f"compares with the statistics of its images; to compare with the file's statistics, as ADM's "
        f"evaluator does, pass --reference-stats {archive}"
    ) in " ".join(r.stderr.split()), r.stderr
    plain = _result(tmp_path / "plain")
    assert plain["protocol"]["reference_stats"] is None and plain["protocol"]["num_reference"] == 40

    r = cli(
        *_args(gen, archive, tmp_path / "stats", cache_dir, "--metrics", "fid", "--reference-stats", archive)
    )
    assert r.exit_code == 0, r.output
    assert "holds reference statistics" not in r.stderr
    stats = _result(tmp_path / "stats")
    assert stats["protocol"]["reference_stats"].startswith("VIRTUAL_tiny.npz sha256:")
    assert stats["metrics"]["fid"] != plain["metrics"]["fid"]


#: images in the ADM-style reference batch and in the samples (the batch size too: no padded batch)
#: the fewest IS takes (a split of one, 10 splits): each image is a 299 x 299 Inception pass
N = 10


@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_adms_evaluator_is_one_command(cli, tmp_path, cache_dir, random_inception_weights):
    """`evaluator.py VIRTUAL.npz samples.npz` as one `genbench eval`: FID and sFID against the
    reference batch's mu/sigma and mu_s/sigma_s (statistics of the samples themselves here, so both
    are 0, where the batch's images give neither), precision and recall (k = 3, ADM's) against its
    images, IS; the protocol and the board name what each was measured against. Random Inception
    weights: the workflow, not ADM's numbers."""
    from genbench.data.digits import Digits
    from genbench.data.folder import load_samples
    from genbench.features.inception import Inception
    from genbench.features.inception_spatial import InceptionSpatial
    from genbench.features.same_pass import extract_beside
    from genbench.metrics.fid import gaussian_statistics

    samples = tmp_path / "samples.npz"
    np.savez(samples, _images(1, N), np.arange(N))  # as ADM's sampling script saves class-conditional ones
    inception = Inception(Digits(cache_dir=cache_dir), cache_dir=cache_dir, weights=random_inception_weights,
                          batch_size=N)  # fmt: skip
    x = load_samples(samples)
    pool3, tapped = extract_beside(inception, [InceptionSpatial.beside(inception)], x)  # one pass
    (spatial,) = tapped.values()
    mu, sigma = gaussian_statistics(pool3.features)
    mu_s, sigma_s = gaussian_statistics(spatial.features)
    adm = tmp_path / "VIRTUAL_tiny.npz"
    np.savez(adm, _images(0, N), mu=mu, sigma=sigma, mu_s=mu_s, sigma_s=sigma_s)
    out = tmp_path / "runs"
    r = cli(
        "eval", "--samples", samples, "--dataset", adm, "--reference-stats", adm, "--features", "inception",
        "--metrics", "fid,sfid,is,prdc", "--inception-weights", random_inception_weights, "--batch-size", N,
        "--device", "cpu", "--out", out, "--cache-dir", cache_dir, "--no-progress", "--no-figures",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    result = _result(out, "samples")
    metrics, protocol = result["metrics"], result["protocol"]
    assert metrics["fid"] == pytest.approx(0, abs=1e-6) and metrics["sfid"] == pytest.approx(0, abs=1e-6)
    assert {"is", "precision", "recall"} <= set(metrics) and not result["metric_errors"]
    assert result["dataset"] == "virtual_tiny" and protocol["metric_options"]["prdc"]["k_pr"] == 3
    stats = protocol["reference_stats"]
    assert stats.startswith("VIRTUAL_tiny.npz sha256:") and protocol["num_reference"] == N
    assert protocol["reference_split"] == "train" and protocol["dataset_fingerprint"]
    said = " ".join(r.output.split())
    assert f"against the train split ({N} examples), fid, sfid against reference statistics {stats}" in said
    assert "holds reference statistics" not in said  # they are used: nothing to point at
    assert cli("report", "--out", out).exit_code == 0
    board = (out / "leaderboards/virtual_tiny.md").read_text()
    assert (
        "vs the **train** split; `fid`, `sfid` against the reference statistics `VIRTUAL_tiny.npz`" in board
    )
