"""sfid's spatial features taken from the run's own Inception pass (:mod:`genbench.features.same_pass`)
rather than a second pass over the samples and the reference split, and `genbench stats`' ``mu_s``,
``sigma_s``. The values must be those of the ``inception-spatial`` extractor's own pass bit for bit,
cached under its key. torch-fidelity's Inception on random weights (``random_inception_weights``), a
few 8 x 8 images with ``--batch-size`` their count (no batch padded to 64 rows).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import folder_and_samples  # tests/ is on the path
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from genbench.config import RunConfig
from genbench.data.digits import Digits
from genbench.features.inception import Inception
from genbench.features.inception_spatial import DIM, TAP, InceptionSpatial
from genbench.features.reference import KEY_RECORD, cache_path, key_inputs
from genbench.features.same_pass import extract_beside, same_pass
from genbench.metrics.fid import frechet_distance, gaussian_statistics
from genbench.resolve import build_dataset

pytestmark = pytest.mark.filterwarnings("ignore:.*covariance is singular")

#: images in the reference folder and in the samples (the batch size too): the fewest IS takes (one
#: a split, 10 splits); each of them is a 299 x 299 Inception pass, most of these tests' time
N = 10


@pytest.fixture
def passes(monkeypatch) -> list[tuple[int, bool]]:
    """Every forward pass of torch-fidelity's Inception: (rows, whether a hook was on the tap)."""
    calls: list[tuple[int, bool]] = []
    forward = FeatureExtractorInceptionV3.forward

    def counted(self, x):
        calls.append((len(x), bool(self.get_submodule(TAP)._forward_hooks)))
        return forward(self, x)

    monkeypatch.setattr(FeatureExtractorInceptionV3, "forward", counted)
    return calls


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """(reference folder, samples .npz, the reference images, the samples): N 8 x 8 RGB each."""
    return folder_and_samples(tmp_path_factory.mktemp("one_pass"), N, 8, seed=1)


def nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def two_pass(weights: Path, x: torch.Tensor, tmp_path: Path) -> tuple:
    """x's pool3 and spatial features as two extractors of their own give them (two networks loaded,
    a pass each): what the one pass must reproduce."""
    digits = Digits(cache_dir=tmp_path)
    kwargs = {"cache_dir": tmp_path, "weights": weights, "batch_size": N}
    return Inception(digits, **kwargs).extract(x), InceptionSpatial(digits, **kwargs).extract(x)


def test_one_pass_gives_both_extractors_values_bit_for_bit(random_inception_weights, tmp_path, passes):
    """A pass per batch (the short last batch padded as ever), the pool3 features and logits and the
    spatial features each equal to what their own extractor's pass gives, no hook left behind."""
    digits = Digits(cache_dir=tmp_path)
    kwargs = {"cache_dir": tmp_path, "weights": random_inception_weights, "batch_size": 3}
    inception = Inception(digits, **kwargs)
    spatial = InceptionSpatial.beside(inception)
    assert same_pass(inception, [None, spatial, InceptionSpatial.beside(inception)]) == [spatial]
    # not beside this network (its own), or not the inception extractor: extracted as ever
    assert same_pass(inception, [InceptionSpatial(digits, **kwargs)]) == []
    assert same_pass(spatial, [InceptionSpatial.beside(spatial)]) == []
    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for given in (x, ((x + 1) * 127.5).round().to(torch.uint8)):  # eval's samples are uint8
        passes.clear()
        feats, tapped = extract_beside(inception, [spatial], given)
        assert passes == [(3, True), (3, True)]  # 5 rows in calls of 3: the last padded
        (got,) = tapped.values()
        assert got.features.shape == (5, DIM)
        want = Inception(digits, **kwargs).extract(given)
        want_spatial = InceptionSpatial(digits, **kwargs).extract(given)
        np.testing.assert_array_equal(feats.features, want.features)
        np.testing.assert_array_equal(feats.logits, want.logits)
        np.testing.assert_array_equal(got.features, want_spatial.features)
        np.testing.assert_array_equal(got.logits, want_spatial.logits)
    assert not any(m._forward_hooks for m in inception.model.modules())


def _eval(cli, samples, dataset, out, cache, weights, *extra):
    r = cli(
        "eval", "--samples", samples, "--dataset", dataset, "--out", out, "--cache-dir", cache,
        "--inception-weights", weights, "--batch-size", N, "--device", "cpu", "--no-figures",
        "--no-progress", *extra,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (path,) = Path(out).glob("*/samples/seed0.json")
    return json.loads(path.read_text())["metrics"]


def test_eval_with_sfid_makes_one_pass_over_each_set(cli, tmp_path, images, random_inception_weights, passes):
    """`--metrics fid,sfid` passes once over the reference split and once over the samples (it was
    twice each), to the values of two passes, and caches the split's spatial features under the key
    `--features inception-spatial` reads them by; without sfid no hook is ever put on the tap."""
    folder, samples, ref, sample_images = images
    cache, weights = tmp_path / "cache", random_inception_weights
    got = _eval(cli, samples, folder, tmp_path / "a", cache, weights, "--metrics", "fid,sfid,is")
    assert passes == [(N, True), (N, True)]  # the reference split's, then the samples'

    pool3, spatial = two_pass(weights, nchw(ref), tmp_path)
    sample_pool3, sample_spatial = two_pass(weights, nchw(sample_images), tmp_path)
    s = gaussian_statistics(sample_spatial.features), gaussian_statistics(spatial.features)
    assert got["sfid"] == frechet_distance(*s[0], *s[1])
    # the cache entries: where the two extractors' own passes put them, holding their values
    dataset = build_dataset(folder, RunConfig(models=[], dataset=str(folder), cache_dir=cache))
    inception = Inception(dataset, cache_dir=cache, weights=weights, batch_size=N)
    for extractor, want in ((inception, pool3), (InceptionSpatial.beside(inception), spatial)):
        with np.load(cache_path(dataset, extractor, "train", cache)) as npz:
            np.testing.assert_array_equal(npz["features"], want.features)
            np.testing.assert_array_equal(npz["logits"], want.logits)
            # each records its own key's inputs, the one written beside the other's pass too
            assert json.loads(str(npz[KEY_RECORD][()])) == key_inputs(dataset, extractor, "train")
    assert len(list((cache / "features").glob("*.npz"))) == 2

    passes.clear()  # fid and is as a command without sfid gives them; no hook on the network
    alone = _eval(cli, samples, folder, tmp_path / "b", cache, weights, "--metrics", "fid,is")
    assert passes == [(N, False)]  # the samples only: the reference from the cache
    assert (alone["fid"], alone["is"]) == (got["fid"], got["is"])
    p3 = gaussian_statistics(sample_pool3.features), gaussian_statistics(pool3.features)
    assert got["fid"] == frechet_distance(*p3[0], *p3[1])

    passes.clear()  # the spatial features' own extractor finds its cache entry
    spatial_fid = _eval(cli, samples, folder, tmp_path / "c", cache, weights,
                        "--features", "inception-spatial", "--metrics", "fid")  # fmt: skip
    assert passes == [(N, True)]  # the samples only (its own tap)
    assert spatial_fid["fid"] == got["sfid"]


def test_stats_write_mu_s_and_sigma_s_for_sfid(cli, tmp_path, images, random_inception_weights, passes):
    """`genbench stats --features inception` writes sfid's spatial statistics from its one pass, and
    sfid against the file is sfid against the split; `--no-spatial` leaves them out, and `--spatial`
    under other features is one line naming the fix."""
    folder, samples, _, _ = images
    cache, weights, stats = tmp_path / "cache", random_inception_weights, tmp_path / "ref.npz"
    common = ["--dataset", folder, "--cache-dir", cache, "--inception-weights", weights, "--batch-size", N,
              "--device", "cpu", "--no-progress"]  # fmt: skip
    r = cli("stats", "--out", stats, "--features", "inception", *common)
    assert r.exit_code == 0, r.output
    assert "mu, sigma, mu_s and sigma_s" in r.output, r.output
    assert passes == [(N, True)]
    with np.load(stats) as npz:
        assert npz["mu_s"].shape == (DIM,) and npz["sigma_s"].shape == (DIM, DIM)
        made = json.loads(str(npz["genbench"]))
    assert made["spatial_features"]["name"] == "inception-spatial"

    # (fid against the file is tested elsewhere: each 2048-d Fréchet distance takes seconds here)
    split = _eval(cli, samples, folder, tmp_path / "a", cache, weights, "--metrics", "sfid")
    by_file = _eval(cli, samples, folder, tmp_path / "b", cache, weights, "--metrics", "sfid",
                    "--reference-stats", stats)  # fmt: skip
    assert by_file["sfid"] == pytest.approx(split["sfid"], rel=1e-9)

    plain = tmp_path / "plain.npz"
    r = cli("stats", "--out", plain, "--features", "inception", "--no-spatial", *common)
    assert r.exit_code == 0 and ": mu and sigma of" in r.output, r.output
    with np.load(plain) as npz:
        assert "mu_s" not in npz.files and "sigma_s" not in npz.files

    r = cli("stats", "--out", plain, "--features", "raw", "--spatial", *common)
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    assert "--spatial needs --features inception" in r.output, r.output
