"""EDM2's reference statistics pickles (``calculate_metrics.py ref``, its ``dataset-refs/img512.pkl``) as
``--reference-stats``: the entry of the run's features is read (``fd_dinov2`` under ``dinov2``, ``fid``
under ``inception``), a pickle is loaded without running anything it names, and a file without the
entry, or no pickle at all, is one line naming what it has.

Nothing downloads: the files are written here in EDM2's structure, and ``dinov2`` is a small ViT of
the official layout on random weights (as in test_dinov2.py).
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import test_dinov2
from test_dinov2 import TINY

from genbench.data.folder import load_samples
from genbench.errors import MetricInputError
from genbench.features.dinov2 import Dinov2
from genbench.features.reference_stats import (
    SPATIAL_KEYS,
    load_reference_stats,
    made_reference,
    save_reference_stats,
    stats_identity,
    stats_made,
)
from genbench.metrics.fid import frechet_distance, gaussian_statistics

N = 16  # samples, and rows per extraction call
DIM = TINY["embed_dim"]


def gaussian(seed: int, dim: int) -> dict[str, np.ndarray]:
    """An entry as EDM2 writes one: float64 mu and a (positive definite) sigma."""
    a = np.random.default_rng(seed).normal(size=(4 * dim, dim))
    return {"mu": a.mean(0), "sigma": np.cov(a, rowvar=False)}


def write_pickle(path: Path, data: object) -> Path:
    with open(path, "wb") as fh:
        pickle.dump(data, fh)  # Python's default protocol, as EDM2's save_stats
    return path


@pytest.fixture
def edm2(tmp_path) -> Path:
    """An EDM2-style file: both entries at the tiny network's width, of different values."""
    data = {"num_images": 50000, "fid": gaussian(1, DIM), "fd_dinov2": gaussian(2, DIM)}
    return write_pickle(tmp_path / "img512.pkl", data)


tiny_dinov2 = test_dinov2.tiny_dinov2  # the fixture: a tiny random checkpoint, the builder patched


def _eval(cli, tmp_path: Path, weights: Path, stats: Path):
    """`genbench eval --features dinov2 --reference-stats STATS --metrics fid` of N random 12 x 12 samples
    (FID compares with the file alone; the folder gives the samples' shape)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "samples.npz", samples=rng.integers(0, 256, (N, 12, 12, 3), dtype=np.uint8))
    folder = tmp_path / "ref"
    folder.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(folder / "0.png")
    return cli(
        "eval", "--samples", tmp_path / "samples.npz", "--dataset", folder, "--out", tmp_path / "runs",
        "--cache-dir", tmp_path / "cache", "--features", "dinov2", "--dinov2-weights", weights,
        "--reference-stats", stats, "--metrics", "fid", "--batch-size", N, "--device", "cpu",
        "--no-figures", "--no-progress",
    )  # fmt: skip


def error_line(r) -> str:
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    return line


@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_fd_dinov2_is_against_the_fd_dinov2_entry(cli, tmp_path, edm2, tiny_dinov2):
    """Under --features dinov2, fid is the Fréchet distance of the samples' features to the file's
    ``fd_dinov2`` entry (not its ``fid`` one), and the protocol names the file as it does an .npz."""
    r = _eval(cli, tmp_path, tiny_dinov2, edm2)
    assert r.exit_code == 0, r.output
    (path,) = (tmp_path / "runs").glob("*/samples/seed0.json")
    res = json.loads(path.read_text())
    ext = Dinov2(dataset=None, cache_dir=tmp_path, weights=tiny_dinov2, batch_size=N)
    feats = ext.extract(load_samples(tmp_path / "samples.npz")).features
    ref = pickle.loads(edm2.read_bytes())["fd_dinov2"]
    expected = frechet_distance(*gaussian_statistics(feats), ref["mu"], ref["sigma"])
    assert res["metrics"]["fid"] == pytest.approx(expected, rel=1e-6)
    assert res["protocol"]["reference_stats"] == stats_identity(edm2)
    # the file's num_images: recorded as unknown (None) before, a number without its reference size
    assert res["protocol"]["num_reference"] == 50000 and res["protocol"]["reference_split"] is None
    assert f"against reference statistics {stats_identity(edm2)} (50000 examples)" in " ".join(
        r.output.split()
    )


@pytest.mark.parametrize(
    "count, recorded",
    [(1281167, 1281167), (np.int64(70000), 70000), (None, None), (True, None), (1, None), ("50000", None)],
)
def test_num_images_is_the_protocol_s_reference_size_where_valid(tmp_path, count, recorded):
    """EDM2's ``num_images`` (an int >= 2, as its calculate_metrics asserts) is the reference size a
    result records; a file without one, or with a value no count can be, records it unknown."""
    data = {"fid": gaussian(1, DIM)} | ({} if count is None else {"num_images": count})
    made = stats_made(write_pickle(tmp_path / "ref.pkl", data))
    assert made_reference(made, "any-dataset")["num_reference"] == recorded


def test_the_entry_of_the_run_s_features_is_read(tmp_path, edm2):
    data = pickle.loads(edm2.read_bytes())
    for features, entry in (("dinov2", "fd_dinov2"), ("inception", "fid")):
        mu, sigma = load_reference_stats(edm2, dim=DIM, features=features)
        np.testing.assert_array_equal(mu, data[entry]["mu"])
        np.testing.assert_array_equal(sigma, data[entry]["sigma"])
    # sfid's spatial statistics: EDM2 has none, and the error says which entry lacks them
    with pytest.raises(
        MetricInputError, match=r"entry for --features inception\) lack mu_s, sigma_s \(has mu, sigma\)"
    ):
        load_reference_stats(edm2, keys=SPATIAL_KEYS, features="inception")
    with pytest.raises(MetricInputError, match="pass the features they are to be compared in"):
        load_reference_stats(edm2)  # from the API, without the features: which entry is not guessed
    # an .npz named .pkl is read as the .npz it is
    npz = tmp_path / "renamed.pkl"
    save_reference_stats(npz, np.zeros(3), np.eye(3))
    np.testing.assert_array_equal(load_reference_stats(npz, features="raw")[1], np.eye(3))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_and_numpy_1_s_module_names_load(tmp_path, protocol):
    """numpy arrays pickle through other globals by protocol (5: ``_frombuffer``; 2: ``_codecs.encode``
    for their bytes), and EDM2's published files were written under numpy 1, whose module is
    ``numpy.core`` where numpy 2 writes ``numpy._core``: each loads, under either numpy."""
    entry = gaussian(3, 4)
    blob = pickle.dumps({"num_images": 7, "fd_dinov2": entry}, protocol=protocol)
    variants = [blob]
    if protocol == 2:  # GLOBAL names the module as text: numpy 1's name in place of numpy 2's, or back
        other = (b"numpy._core", b"numpy.core") if b"numpy._core" in blob else (b"numpy.core", b"numpy._core")
        variants.append(blob.replace(*other))
    for i, b in enumerate(variants):
        path = tmp_path / f"p{protocol}-{i}.pkl"
        path.write_bytes(b)
        mu, sigma = load_reference_stats(path, dim=4, features="dinov2")
        np.testing.assert_array_equal(mu, entry["mu"])
        np.testing.assert_array_equal(sigma, entry["sigma"])


class RunsACommand:
    """What a malicious pickle holds: loading it calls os.system."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_calls_anything_else_is_refused_unloaded(cli, tmp_path, tiny_dinov2):
    marker = tmp_path / "ran"
    evil = write_pickle(tmp_path / "evil.pkl", {"fd_dinov2": {"mu": RunsACommand(marker), "sigma": 0}})
    line = error_line(_eval(cli, tmp_path, tiny_dinov2, evil))
    assert not marker.exists()  # never called
    assert (
        f"{evil} is a pickle that calls {os.system.__module__}.system when loaded, so it was not loaded"
        in line
    )
    # whatever its suffix: a pickle is known by its first byte
    renamed = tmp_path / "evil.npz"
    renamed.write_bytes(evil.read_bytes())
    with pytest.raises(MetricInputError, match="calls .*system when loaded"):
        load_reference_stats(renamed, features="dinov2")
    assert not marker.exists()


def test_a_file_without_the_run_s_entry_names_the_entries_it_has(cli, tmp_path, tiny_dinov2):
    only_fid = write_pickle(tmp_path / "fid_only.pkl", {"num_images": 10, "fid": gaussian(1, DIM)})
    line = error_line(_eval(cli, tmp_path, tiny_dinov2, only_fid))
    assert (
        f"reference statistics {only_fid} have no 'fd_dinov2' entry, the one of --features dinov2; "
        "they have fid (--features inception)"
    ) in line, line
    # features with no EDM2 entry: every entry is named with the --features it needs
    both = write_pickle(tmp_path / "both.pkl", {"fid": gaussian(1, 3), "fd_dinov2": gaussian(2, 3)})
    with pytest.raises(
        MetricInputError,
        match=r"EDM2's, of features fid \(--features inception\), fd_dinov2 \(--features dinov2\), none of them --features clean-inception's",
    ):
        load_reference_stats(both, features="clean-inception")


@pytest.mark.parametrize("content", [b"", b"mu,sigma\n1,2\n", b"\x80\x04\x95"])
def test_a_pkl_that_is_no_pickle_is_one_line(cli, tmp_path, tiny_dinov2, content):
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(content)
    line = error_line(_eval(cli, tmp_path, tiny_dinov2, junk))
    assert f"cannot read reference statistics {junk} (not a readable pickle: " in line, line
    # a pickle of something else than a dict of entries
    listed = write_pickle(tmp_path / "list.pkl", [1, 2])
    with pytest.raises(MetricInputError, match="hold a pickled list, not EDM2's dict"):
        load_reference_stats(listed, features="dinov2")
