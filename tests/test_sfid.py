"""sFID (ADM's spatial FID): the ``inception-spatial`` features' tap, the ``sfid`` metric as FID on
them, ADM's reference statistics, and the errors.

Nothing downloads: the network is torch-fidelity's Inception on random weights
(``random_inception_weights``), so the tests check the definition (which tensor, in which order,
which distance), not ADM's published numbers. Inception runs about 12 images/s on the CPU: a few
8 x 8 images, with ``--batch-size`` their count so that no batch is padded to 64 rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import folder_and_samples, listed  # tests/ is on the path

import genbench.progress
from genbench import registry
from genbench.data.digits import Digits
from genbench.features.inception import Inception
from genbench.features.inception_spatial import DIM, InceptionSpatial
from genbench.metrics.fid import frechet_distance, gaussian_statistics
from genbench.progress import Progress
from genbench.resolve import build_metrics

#: images in the reference folder and in the samples (the batch size too)
N = 16


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return Digits(cache_dir=tmp_path_factory.mktemp("cache"))


def metric_error(r) -> str:
    """The `error:` line of a metric's input error (exit 2, no traceback; the other metrics written)."""
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    return line


def tap_by_hand(net: torch.nn.Module, u8: torch.Tensor) -> torch.Tensor:
    """``Mixed_6d.branch1x1``'s output, the network run layer by layer up to it (as torch-fidelity's
    forward runs them), channels [:7] in TF's N x H x W x C order, flattened."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = interpolate_bilinear_2d_like_tensorflow1x(u8.float(), size=(299, 299), align_corners=False)
    x = (x - 128) / 128
    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1"):
        x = getattr(net, name)(x)
    for name in ("Conv2d_4a_3x3", "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a"):
        x = getattr(net, name)(x)
    x = net.Mixed_6c(net.Mixed_6b(x))
    spatial = net.Mixed_6d.branch1x1(x)  # the TF graph's mixed_6/conv: 192 channels on 17 x 17
    assert spatial.shape[1:] == (192, 17, 17)
    return spatial[:, :7].permute(0, 2, 3, 1).reshape(len(u8), -1)


@pytest.mark.parametrize("size, channels", [(8, 1), (32, 3)])
def test_features_are_mixed_6d_branch1x1_channels_0_to_6(
    random_inception_weights, digits, tmp_path, size, channels
):
    """At any input size (resized to 299 inside): 2023 numbers, those of the tap in ADM's order."""
    x = torch.rand(3, channels, size, size, generator=torch.Generator().manual_seed(size)) * 2 - 1
    inception = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=3)
    spatial = InceptionSpatial(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=3)
    got = spatial.extract(x)
    assert got.features.shape == (3, DIM) == (3, 2023) == (3, spatial.feature_dim())
    from genbench.features.inception import to_uint8

    with torch.no_grad():
        want = tap_by_hand(spatial.model, to_uint8(x)).double().numpy()
    np.testing.assert_allclose(got.features, want, rtol=1e-5, atol=1e-6)
    # the logits are Inception's own (IS is the same under either features)
    np.testing.assert_array_equal(got.logits, inception.extract(x).logits)
    # run beside the inception extractor: its network object, the same features, no hook left on it
    beside = InceptionSpatial.beside(inception)
    np.testing.assert_array_equal(beside.extract(x).features, got.features)
    assert beside.model is inception.model
    assert not any(m._forward_hooks for m in inception.model.modules())


def test_fingerprint_names_the_tap_and_covers_the_weights(random_inception_weights, digits, tmp_path):
    """The reference cache keys the spatial features apart from pool3's, and apart per weights file."""
    other = tmp_path / "other.pth"
    state = torch.load(random_inception_weights, weights_only=True)
    state["Mixed_6d.branch1x1.conv.weight"] = state["Mixed_6d.branch1x1.conv.weight"] + 1e-3
    torch.save(state, other)

    def fingerprint(cls, weights):
        return cls(digits, cache_dir=tmp_path, weights=weights).checked_fingerprint()

    spatial = fingerprint(InceptionSpatial, random_inception_weights)
    assert spatial != fingerprint(Inception, random_inception_weights)
    assert spatial != fingerprint(InceptionSpatial, other)
    assert "mixed_6/conv" in spatial
    inception = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights)
    assert InceptionSpatial.beside(inception).checked_fingerprint() == spatial


def test_frechet_distance_is_invariant_under_one_permutation_of_both_sets():
    """Why the tap's flattening order does not matter between two sets of this extractor's features,
    and why it does against ADM's statistics (``mu_s``, ``sigma_s`` of N x H x W x C flattened): the
    same permutation of both sets keeps the distance, a permutation of one set alone does not."""
    rng = np.random.default_rng(0)
    # two samples of one Gaussian whose coordinates differ in scale and mean, as the tap's channels do
    scale, shift = np.linspace(0.5, 3, 12), np.linspace(-2, 2, 12)
    a, b = (rng.normal(size=(300, 12)) * scale + shift for _ in range(2))
    order = rng.permutation(12)
    both = frechet_distance(*gaussian_statistics(a), *gaussian_statistics(b))
    permuted = frechet_distance(*gaussian_statistics(a[:, order]), *gaussian_statistics(b[:, order]))
    assert permuted == pytest.approx(both, rel=1e-10)
    one = frechet_distance(*gaussian_statistics(a[:, order]), *gaussian_statistics(b))
    assert one > 10 * both


def test_sfid_is_opt_in_and_listed(cli):
    """Not in a run without --metrics (a second Inception pass); computed when named; listed."""
    quiet = Progress(enabled=False)
    assert "sfid" not in [m.name for m in build_metrics(None, "image", quiet)]
    assert [m.name for m in build_metrics(["fid", "sfid"], "image", quiet)] == ["fid", "sfid"]
    assert registry.features.get("inception-spatial") is InceptionSpatial
    assert "mixed_6/conv" in listed("metrics")["sfid"]
    r = cli("list", "features")
    assert r.exit_code == 0 and "inception-spatial" in r.output, r.output


def test_sfid_needs_the_inception_features(cli, tmp_path, cache_dir):
    """Under the classifier (or raw) features there is no Inception network to tap: the command fails
    in one line before any work, `eval` before scoring and `run` before training (it was an error
    once every model had trained)."""
    samples = tmp_path / "s.npz"
    x = Digits(cache_dir=cache_dir).load("test")[0][:40]
    np.savez(samples, samples=((x[:, 0] + 1) * 127.5).round().to(torch.uint8).numpy())
    args = ["eval", "--samples", samples, "--dataset", "digits", "--out", tmp_path / "runs"]
    r = cli(*args, "--cache-dir", cache_dir, "--no-progress", "--no-figures", "--metrics", "fid,sfid")
    line = metric_error(r)
    assert "sfid needs --features inception" in line and "'classifier'" in line, line
    assert not list((tmp_path / "runs").rglob("*.json"))  # nothing scored in vain
    # the run fails before the VAE is trained or loaded: no result, not even the other metrics'
    cache = tmp_path / "fresh"
    args = ["run", "--models", "vae", "--dataset", "digits", "--out", tmp_path / "runs", "--cache-dir", cache]
    r = cli(*args, "--no-progress", "--metrics", "fid,sfid", "--features", "raw")
    line = metric_error(r)
    assert "sfid needs --features inception" in line and "'raw'" in line, line
    assert not list((tmp_path / "runs").rglob("*.json"))


# -- end to end: `genbench eval` on a folder of images, random Inception weights ------------------
@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """(reference folder, samples .npz, samples of the reference images themselves): N 8 x 8 RGB each."""
    root = tmp_path_factory.mktemp("sfid")
    folder, samples, ref, _ = folder_and_samples(root, N, 8, seed=0)
    np.savez(root / "copies.npz", samples=ref)
    return folder, samples, root / "copies.npz"


def _eval(
    cli, samples: Path, folder: Path, out: Path, cache: Path, weights: Path, *extra: object, progress=False
):
    r = cli(
        "eval", "--samples", samples, "--dataset", folder, "--out", out, "--cache-dir", cache,
        "--inception-weights", weights, "--batch-size", N, "--device", "cpu", "--no-figures",
        *([] if progress else ["--no-progress"]), *extra,
    )  # fmt: skip
    return r


def _result(out: Path, name: str) -> dict:
    (path,) = out.glob(f"*/{name}/seed0.json")
    return json.loads(path.read_text())


@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_eval_sfid_is_fid_of_the_spatial_features(
    cli, tmp_path, images, random_inception_weights, monkeypatch
):
    """`--metrics sfid` under inception gives the fid of `--features inception-spatial` on the same
    samples (one definition), records what it measured, and is 0 for the reference images themselves.
    (Each Fréchet distance in 2023 or 2048 dimensions takes seconds on the CPU: one per command.)"""
    folder, samples, copies = images
    out, cache = tmp_path / "runs", tmp_path / "cache"
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)  # a log file's lines from the start
    r = _eval(
        cli, samples, folder, out, cache, random_inception_weights, "--metrics", "sfid,is", progress=True
    )
    assert r.exit_code == 0, r.output
    # progress shown (a log file's lines): the spatial features come from the run's own passes over
    # the reference split and the samples, which the bars name (a second pass of each was 70 minutes
    # for 50000 images on a CPU)
    assert f"reference features of ref train (inception, inception-spatial): {N}/{N}" in r.output
    assert f"features of samples (inception, inception-spatial): {N}/{N}" in r.output, r.output
    assert "inception-spatial features of samples" not in r.output, r.output
    res = _result(out, "samples")
    assert res["metrics"]["sfid"] > 0
    measured = res["protocol"]["metric_features"]["sfid"]
    assert measured["name"] == "inception-spatial" and "Mixed_6d.branch1x1" in measured["tap"]
    assert measured["fingerprint"].startswith(res["protocol"]["features"]["fingerprint"] + ";tap=")
    assert res["protocol"]["metric_versions"]["sfid"] == 1

    spatial = tmp_path / "spatial"
    r = _eval(cli, samples, folder, spatial, cache, random_inception_weights,
              "--features", "inception-spatial", "--metrics", "fid,is")  # fmt: skip
    assert r.exit_code == 0, r.output
    again = _result(spatial, "samples")
    assert again["metrics"]["fid"] == pytest.approx(res["metrics"]["sfid"], rel=1e-9)
    assert again["metrics"]["is"] == res["metrics"]["is"]  # the same logits

    r = _eval(cli, copies, folder, out, cache, random_inception_weights, "--metrics", "sfid")
    assert r.exit_code == 0, r.output
    assert _result(out, "copies")["metrics"]["sfid"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.filterwarnings("ignore:.*covariance is singular")
def test_reference_stats_give_sfid_their_mu_s_and_sigma_s(
    cli, tmp_path, images, random_inception_weights, digits
):
    """ADM's reference batches hold mu_s and sigma_s beside mu and sigma: sfid compares with those
    (statistics of the samples themselves give 0); a file without them is a one-line error."""
    folder, samples, _ = images
    from genbench.data.folder import load_samples

    x = load_samples(samples)
    inception = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=N)
    mu_s, sigma_s = gaussian_statistics(InceptionSpatial.beside(inception).extract(x).features)
    mu, sigma = np.zeros(2048), np.eye(2048)  # FID's pool3 statistics, which sfid does not read
    adm = tmp_path / "VIRTUAL_tiny.npz"
    np.savez(adm, mu=mu, sigma=sigma, mu_s=mu_s, sigma_s=sigma_s)
    out, cache = tmp_path / "runs", tmp_path / "cache"
    r = _eval(cli, samples, folder, out, cache, random_inception_weights,
              "--metrics", "sfid", "--reference-stats", adm)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert _result(out, "samples")["metrics"]["sfid"] == pytest.approx(0.0, abs=1e-6)

    plain = tmp_path / "plain.npz"
    np.savez(plain, mu=mu, sigma=sigma)
    r = _eval(cli, samples, folder, tmp_path / "plain", cache, random_inception_weights,
              "--metrics", "sfid,is", "--reference-stats", plain)  # fmt: skip
    line = metric_error(r)
    assert f"reference statistics {plain} lack mu_s, sigma_s" in line, line
    assert "ADM reference batch" in line, line
    assert "is" in _result(tmp_path / "plain", "samples")["metrics"]  # the other metrics are written
