"""Statistics files written by other FID libraries' own writers, read by `--reference-stats`:
torch-fidelity's cached ``*-stat-fid-*.pt`` (a torch.save zip) and clean-fid's ``make_custom_stats``
``.npz``, whose name says its mode (:mod:`genbench.features.library_stats`)."""

from __future__ import annotations

import json
import pickle
import types

import numpy as np
import pytest
import torch
from test_reference_stats import eval_cmd, plugins  # noqa: F401 (a fixture; tests/ is on the path)

from genbench.features.reference_stats import stats_identity

SHIFT = 0.3


def _samples_and_features() -> tuple[np.ndarray, np.ndarray]:
    samples = np.random.default_rng(0).uniform(-1, 1, (300, 1, 4, 4)).astype(np.float32)
    return samples, samples.mean(axis=(2, 3))  # the test-channel-means features, float32


def fidelity_stats(tmp_path, feats: np.ndarray, extractor: str):
    """torch-fidelity's own cache writer: ``{input}-{extractor}-stat-fid-{layer}.pt``."""
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached

    fx = types.SimpleNamespace(get_name=lambda: extractor)
    root = tmp_path / "fidelity_cache"
    args = ({"2048": torch.from_numpy(feats)}, "mydata-train", fx, "2048")
    fid_featuresdict_to_statistics_cached(*args, cache=True, cache_root=str(root), verbose=False)
    (path,) = root.glob("*.pt")
    return path


def test_torch_fidelity_s_cached_statistics_give_the_closed_form_fid(cli, tmp_path, plugins):  # noqa: F811
    samples, feats = _samples_and_features()
    path = fidelity_stats(tmp_path, feats + np.float32(SHIFT), "test-channel-means")
    assert path.name == "mydata-train-test-channel-means-stat-fid-2048.pt"
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 0, r.output
    result = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())
    assert result["metrics"]["fid"] == pytest.approx(SHIFT**2, rel=1e-6)  # same covariance, |d|^2
    assert result["protocol"]["reference_stats"] == stats_identity(path)


def test_torch_fidelity_s_inception_statistics_refuse_other_features(cli, tmp_path, plugins):  # noqa: F811
    samples, feats = _samples_and_features()
    path = fidelity_stats(tmp_path, feats, "inception-v3-compat")
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "torch-fidelity's statistics of its inception-v3-compat features" in line, line
    assert line.endswith("pass --features inception"), line


@pytest.mark.parametrize(
    "saved",
    [
        {"mu": torch.zeros(1), "sigma": torch.eye(1)},  # tensors: a persistent load, refused
        [np.zeros(1), np.eye(1)],
        {"mu": np.zeros(1), "sigma": types.SimpleNamespace},  # names a callable: refused unloaded
    ],
)
def test_a_torch_save_file_that_is_not_torch_fidelity_s_statistics_is_one_line(cli, tmp_path, plugins, saved):  # noqa: F811
    samples, _ = _samples_and_features()
    path = tmp_path / "stats.pt"
    torch.save(saved, path)
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert f"reference statistics {path}" in line and "data.pkl" not in line, line


def cleanfid_stats(tmp_path, monkeypatch, feats: np.ndarray, mode: str):
    """clean-fid's own ``make_custom_stats``, its folder moved under ``tmp_path`` and its network
    replaced by ``feats``."""
    import cleanfid
    import cleanfid.fid as cf

    monkeypatch.setattr(cleanfid, "__file__", str(tmp_path / "cleanfid" / "__init__.py"))
    monkeypatch.setattr(cf, "build_feature_extractor", lambda mode, device: None)
    monkeypatch.setattr(cf, "get_folder_features", lambda *a, **k: feats)
    cf.make_custom_stats("mydata", str(tmp_path), mode=mode, device="cpu", verbose=False)
    return tmp_path / "cleanfid" / "stats" / f"mydata_{mode}_custom_na.npz"


@pytest.mark.parametrize(
    ("mode", "needs"), [("clean", "clean-inception"), ("legacy_tensorflow", "inception")]
)
def test_clean_fid_statistics_of_another_mode_are_warned_of(cli, tmp_path, plugins, monkeypatch, mode, needs):  # noqa: F811
    samples, feats = _samples_and_features()
    path = cleanfid_stats(tmp_path, monkeypatch, feats + np.float32(SHIFT), mode)
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 0, r.output
    assert f"clean-fid's {mode!r} mode statistics, which are of --features {needs}" in r.stderr, r.stderr
    result = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())
    assert result["metrics"]["fid"] == pytest.approx(SHIFT**2, rel=1e-6)


def test_clean_fid_statistics_of_the_run_s_mode_are_not_warned_of(tmp_path, monkeypatch):
    from genbench.features.library_stats import cleanfid_mode_warning

    _, feats = _samples_and_features()
    path = cleanfid_stats(tmp_path, monkeypatch, feats, "clean")
    assert cleanfid_mode_warning(path, "clean-inception") is None
    assert cleanfid_mode_warning(tmp_path / "cifar10-train.npz", "inception") is None
    # make_custom_stats(..., model_name="clip_vit_b_32"): CLIP's statistics, of no Inception mode
    assert cleanfid_mode_warning(tmp_path / "mydata_clean_clip_vit_b_32_custom_na.npz", "clip") is None


def test_statistics_of_one_feature_saved_as_np_cov_gives_them_are_read(cli, tmp_path, plugins, monkeypatch):  # noqa: F811
    """np.cov of one feature is 0-d: clean-fid's writer saves sigma of shape (), which its own
    frechet_distance reads through np.atleast_2d; so does genbench."""
    samples, feats = _samples_and_features()
    written = cleanfid_stats(tmp_path, monkeypatch, feats + np.float32(SHIFT), "clean")
    with np.load(written) as npz:
        assert npz["sigma"].shape == ()
    path = written.rename(tmp_path / "mydata.npz")  # no mode in the name: nothing to warn of
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 0 and "clean-fid" not in r.stderr, r.output
    result = json.loads((tmp_path / "runs/test-unreadable/mine/seed0.json").read_text())
    assert result["metrics"]["fid"] == pytest.approx(SHIFT**2, rel=1e-6)


@pytest.mark.parametrize(
    ("mu", "sigma", "said"),
    [
        (
            np.zeros(1) + 1j,
            np.eye(1, dtype=complex),
            "mu (complex128) and sigma (complex128) not of real numbers",
        ),
        (np.array(["0.5"]), np.array([["1.0"]]), "mu (<U3) and sigma (<U3) not of real numbers"),
        (np.zeros(1, bool), np.eye(1, dtype=bool), "mu (bool) and sigma (bool) not of real numbers"),
    ],
)
def test_statistics_that_are_not_real_numbers_are_one_line(cli, tmp_path, plugins, mu, sigma, said):  # noqa: F811
    """Complex statistics lost their imaginary part (numpy's ComplexWarning) and strings were parsed:
    FID came out of numbers the file does not hold."""
    samples, _ = _samples_and_features()
    path = tmp_path / "stats.npz"
    np.savez(path, mu=mu, sigma=sigma)
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert said in line, line


def test_a_pickled_dict_of_mu_and_sigma_is_named_as_no_edm2_file(cli, tmp_path, plugins):  # noqa: F811
    samples, _ = _samples_and_features()
    path = tmp_path / "stats.pkl"
    path.write_bytes(pickle.dumps({"mu": np.zeros(1), "sigma": np.eye(1)}))
    r = eval_cmd(cli, tmp_path, "test-unreadable", samples, "--reference-stats", path, "--metrics", "fid")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "are a pickled dict of mu, sigma, not EDM2's statistics by metric" in line, line
    assert "pass the --features an entry needs" not in line, line
