"""Feature extractors: the digits classifier (shipped weights, held-out accuracy, determinism,
caching, stacked channels), raw features, torch-fidelity's Inception on local random weights, clean-fid's
preprocessing, reference-feature caching, and user reference statistics.

Nothing downloads: the Inception tests write their own weights, the offline tests make the
network calls fail.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest
import torch
from cli_helpers import flip_a_tensor_byte  # tests/ is on the path: pytest puts it there
from torch import nn

from genbench import registry
from genbench.data import download
from genbench.data.digits import Digits
from genbench.data.stacked_digits import StackedDigits
from genbench.data.toy2d import Ring8
from genbench.errors import GenbenchError, MetricInputError
from genbench.features import classifier as clf_mod
from genbench.features import clean_inception, inception
from genbench.features.base import FeatureExtractor
from genbench.features.classifier import Classifier, ClassifierConfig, train_classifier
from genbench.features.clean_inception import CleanInception, clean_resize
from genbench.features.inception import Inception, to_uint8
from genbench.features.raw import Raw
from genbench.features.reference import cache_path, reference_features
from genbench.features.reference_stats import load_reference_stats, save_reference_stats
from genbench.features.ship_classifier import ship

#: examples in ring8's train split
N_RING8 = 10_000


def test_registered_names():
    for name, cls in {
        "classifier": Classifier,
        "raw": Raw,
        "inception": Inception,
        "clean-inception": CleanInception,
    }.items():
        assert registry.features.get(name) is cls


# -- classifier ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def digits(cache):
    return Digits(cache_dir=cache)


@pytest.fixture(scope="module")
def clf(digits, cache):
    """The default digits classifier: the weights that ship with genbench."""
    return Classifier(digits, cache_dir=cache)


#: a config with no shipped weights: trains on first use (about a second) and is cached
SMALL = ClassifierConfig(width=4, feature_dim=16, examples=1500)


@pytest.fixture(scope="module")
def local(digits, cache):
    return Classifier(digits, cache_dir=cache, config=SMALL)


def test_classifier_held_out_accuracy(clf, digits):
    info = clf.info()
    xt, yt = digits.load("test")
    pred = clf.predict(xt)
    acc = float((pred == yt.numpy()).mean())
    print(f"digits classifier held-out accuracy: {acc:.4f} on {len(yt)} test images")
    assert acc > 0.97
    assert info["test_accuracy"] == pytest.approx(acc)  # what the shipped file says is what it does
    assert info["trained_on"] == "digits" and info["train_examples"] == 1437
    assert info["weights"] == "shipped with genbench" and info["made_on"]["cpu"]
    # the dataset's mode labels are the classifier's predictions
    np.testing.assert_array_equal(digits.label_modes(xt), pred)


def test_classifier_features_and_logits(clf, digits):
    x = digits.load("test")[0][:50]
    f = clf.extract(x)
    assert f.features.shape == (50, 128) and f.logits.shape == (50, 10)
    assert clf.feature_dim() == 128  # known before any extraction (fid_inf's min_size is checked by it)
    assert clf.logits_dim() == 10  # as is_inf's default min_size is
    assert f.features.dtype == np.float64 and np.isfinite(f.features).all()
    assert f.features.std(0).max() > 0


def test_classifier_batch_size_independent(clf, digits, cache):
    x = digits.load("test")[0][:100]
    small = Classifier(digits, cache_dir=cache, batch_size=7).extract(x)
    big = Classifier(digits, cache_dir=cache, batch_size=256).extract(x)
    np.testing.assert_allclose(small.features, big.features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(small.logits, big.logits, rtol=1e-5, atol=1e-5)


def test_classifier_cached_on_disk_and_in_memory(local, digits, cache, monkeypatch):
    assert not local.shipped_path.exists()  # no weights ship for this config: trained here
    assert local.model is not None  # trained (or loaded) by now
    assert local.path.exists() and local.path.parent == cache / "classifiers"
    assert local.path.stem == local.weights_key()
    assert local.info()["weights"] == "trained on this machine"
    assert local.info()["made_on"] == clf_mod.made_on()
    x = digits.load("test")[0][:20]
    before = local.extract(x).features
    # with the memory cache emptied, a new instance loads the file instead of training
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    monkeypatch.setattr(clf_mod, "train_classifier", lambda *a, **k: pytest.fail("retrained despite cache"))
    again = Classifier(digits, cache_dir=cache, config=SMALL)
    np.testing.assert_array_equal(again.extract(x).features, before)
    assert Classifier.for_dataset(digits) is Classifier.for_dataset(digits)


def test_classifier_key_changes_with_config(digits, cache):
    base = Classifier(digits, cache_dir=cache)
    other = Classifier(digits, cache_dir=cache, config=ClassifierConfig(seed=1))
    assert base.weights_key() != other.weights_key()
    assert base.weights_key() == Classifier(digits, cache_dir=cache).weights_key()
    assert base.fingerprint().startswith(f"classifier-{base.weights_key()}-")


def _elsewhere(clf: Classifier, cache_dir):
    """Write weights another CPU could have trained from ``clf``'s config into ``cache_dir``."""
    clf.fingerprint()  # trains or loads the weights: a test run alone (or first on an xdist worker) has neither
    payload = torch.load(clf._source, weights_only=True)
    payload["state_dict"] = {k: v + 1e-6 for k, v in payload["state_dict"].items()}
    (cache_dir / "classifiers").mkdir()
    torch.save(payload, cache_dir / "classifiers" / clf.path.name)


def test_classifier_fingerprint_names_the_weights_not_only_the_config(local, digits, tmp_path, monkeypatch):
    """One config trained other weights on another CPU (98.6% vs 99.2% test accuracy), under one
    fingerprint: results from the two classifiers looked like one protocol."""
    _elsewhere(local, tmp_path)
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    elsewhere = Classifier(digits, cache_dir=tmp_path, config=SMALL)
    assert elsewhere.weights_key() == local.weights_key()
    assert elsewhere.fingerprint() != local.fingerprint()
    assert elsewhere.info()["fingerprint"] == elsewhere.fingerprint()


def test_cached_classifier_weights_whose_bytes_changed_on_disk_are_retrained(
    local, digits, tmp_path, monkeypatch
):
    """torch.load checks no CRC-32: a bit flipped in the cached weights' bytes loaded other weights,
    whose features (under a fingerprint of their own) were scored as the classifier's. The archive's
    CRCs are checked: the damaged file is retrained, as an unreadable one is."""
    local.fingerprint()  # trains or loads the weights
    (tmp_path / "classifiers").mkdir()
    damaged = tmp_path / "classifiers" / local.path.name
    damaged.write_bytes(local.path.read_bytes())
    flip_a_tensor_byte(damaged)
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    with pytest.warns(
        UserWarning, match=f"retraining the classifier: {re.escape(str(damaged))} is unreadable"
    ):
        again = Classifier(digits, cache_dir=tmp_path, config=SMALL)
        assert again.fingerprint() == local.fingerprint()


def test_shipped_digits_classifier_wins_over_one_trained_here(clf, digits, tmp_path, monkeypatch):
    """Every machine extracts digits features with the shipped weights, even where an older genbench
    cached weights this CPU trained from the same config; ``shipped=False`` uses those."""
    _elsewhere(clf, tmp_path)
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    monkeypatch.setattr(clf_mod, "train_classifier", lambda *a, **k: pytest.fail("trained despite shipped"))
    here = Classifier(digits, cache_dir=tmp_path)
    assert here.fingerprint() == clf.fingerprint()
    assert here.info()["weights"] == "shipped with genbench"
    own = Classifier(digits, cache_dir=tmp_path, shipped=False)
    assert own.weights_key() == clf.weights_key() and own.fingerprint() != clf.fingerprint()
    assert own.info()["weights"] == "trained on this machine"


def test_shipped_weights_match_todays_config_and_data(clf):
    """A change to the classifier's config or to the digits data changes the weights key: without
    remade weights (``python -m genbench.features.ship_classifier``) digits would silently train per
    machine again. Exactly one file ships, the default config's."""
    assert sorted(p.name for p in clf_mod.SHIPPED_DIR.glob("*.pt")) == [f"{clf.weights_key()}.pt"]


def test_unreadable_shipped_weights_are_an_install_error(digits, tmp_path, monkeypatch):
    """A damaged shipped file is not replaced by weights trained here (another feature extractor)."""
    shipped = tmp_path / "weights"
    shipped.mkdir()
    (shipped / f"{Classifier(digits, cache_dir=tmp_path).weights_key()}.pt").write_bytes(b"not a torch file")
    monkeypatch.setattr(clf_mod, "SHIPPED_DIR", shipped)
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    monkeypatch.setattr(clf_mod, "train_classifier", lambda *a, **k: pytest.fail("trained a stand-in"))
    with pytest.raises(GenbenchError, match="shipped with genbench are unreadable.*reinstall genbench"):
        Classifier(digits, cache_dir=tmp_path).fingerprint()


def test_missing_shipped_weights_are_said_not_replaced_silently(digits, tmp_path, monkeypatch):
    """An install without the shipped file (or digits data that differ here) trained a classifier on
    this machine without a word: another feature extractor, numbers no published board shares."""
    monkeypatch.setattr(clf_mod, "SHIPPED_DIR", tmp_path / "not-installed")
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    with pytest.warns(UserWarning, match=r"no classifier weights ship .*digits.*reinstall genbench"):
        here = Classifier(digits, cache_dir=tmp_path)
        assert here.info()["weights"] == "trained on this machine"
    # a config of the user's own, or weights asked to train here, ship nowhere: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Classifier(digits, cache_dir=tmp_path, config=SMALL).fingerprint()
        Classifier(digits, cache_dir=tmp_path, shipped=False).fingerprint()


def test_made_on_tells_apart_cpus_of_one_name_whose_kernels_round_differently(clf, monkeypatch):
    """One model name ("AMD EPYC") covers CPUs with and without AVX-512, whose torch kernels train
    other weights: the shipped weights' bit-for-bit check failed on an AVX-512 EPYC as "made here"."""
    here = clf_mod.made_on()
    assert here["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    other = "AVX2" if here["cpu_capability"] != "AVX2" else "AVX512"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: other)
    assert clf_mod.made_on() == {**here, "cpu_capability": other} != here
    # the shipped weights say which kernels made them: where they differ, bit for bit is not expected
    assert clf.info()["made_on"]["cpu_capability"] == "AVX2"


def test_ship_classifier_remakes_the_shipped_weights(clf, cache, tmp_path, monkeypatch):
    """The remaking command trains the default recipe into a file the classifier then ships. Its
    weights equal the shipped ones only on the CPU and torch they were made with (float kernels
    round differently elsewhere), so bit-for-bit reproduction is checked there and accuracy
    everywhere."""
    facts = ship("digits", cache, out_dir=tmp_path)
    made_on = clf.info()["made_on"]
    assert facts["path"] == str(tmp_path / clf.shipped_path.name)
    assert facts["test_accuracy"] > 0.97 and facts["made_on"] == clf_mod.made_on()
    monkeypatch.setattr(clf_mod, "SHIPPED_DIR", tmp_path)
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    remade = Classifier(Digits(cache_dir=cache), cache_dir=cache)
    assert remade.fingerprint() == facts["fingerprint"]
    assert remade.info()["test_accuracy"] == pytest.approx(facts["test_accuracy"])
    if made_on == clf_mod.made_on():
        assert facts["fingerprint"] == clf.fingerprint()


def test_classifier_training_is_deterministic(digits):
    x, y = digits.load("train")
    cfg = ClassifierConfig(width=4, feature_dim=16, examples=1500, seed=3)
    a, b = (train_classifier(x, y, 10, cfg).state_dict() for _ in range(2))
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = train_classifier(
        x, y, 10, ClassifierConfig(width=4, feature_dim=16, examples=1500, seed=4)
    ).state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_stacked_classifier_per_channel(clf, cache):
    stacked = StackedDigits(cache_dir=cache)
    sclf = Classifier(stacked, cache_dir=cache)
    assert sclf.weights_key() == clf.weights_key()  # the digits classifier, not a new one
    assert sclf.fingerprint() != clf.fingerprint()
    xt, yt = stacked.load("test")
    f = sclf.extract(xt[:64])
    assert f.features.shape == (64, 3 * 128) and f.logits.shape == (64, 1000)
    assert sclf.feature_dim() == 3 * 128 and sclf.logits_dim() == 1000
    # logits are log joint probabilities: they normalise, and factor over the channels
    np.testing.assert_allclose(np.logaddexp.reduce(f.logits, axis=1), 0, atol=1e-6)
    per_channel = [clf.predict(xt[:64, c : c + 1]) for c in range(3)]
    np.testing.assert_array_equal(
        sclf.predict(xt[:64]), 100 * per_channel[0] + 10 * per_channel[1] + per_channel[2]
    )
    for c in range(3):  # channel c's features at columns 128 c to 128 (c + 1), in the labels' order
        np.testing.assert_allclose(
            f.features[:, 128 * c : 128 * (c + 1)],
            clf.extract(xt[:64, c : c + 1]).features,
            rtol=1e-6,
            atol=1e-6,
        )
    # the joint held-out accuracy is what three independent >97% channel predictions allow
    info = sclf.info()
    assert info["channel_test_accuracy"] > 0.97
    assert info["test_accuracy"] > 0.97**3
    np.testing.assert_array_equal(stacked.label_modes(xt[:64]), sclf.predict(xt[:64]))


def test_classifier_rejects_points(tmp_path):
    with pytest.raises(GenbenchError, match="--features raw"):
        Classifier(Ring8(cache_dir=tmp_path), cache_dir=tmp_path)


# -- raw -----------------------------------------------------------------------------------------
def test_raw_features(tmp_path):
    ds = Ring8(cache_dir=tmp_path)
    x = ds.load("test")[0]
    f = Raw(ds, cache_dir=tmp_path, batch_size=7).extract(x)
    np.testing.assert_array_equal(f.features, x.double().numpy())
    assert f.logits is None
    assert Raw(ds, cache_dir=tmp_path).feature_dim() == 2
    digits = Digits(cache_dir=tmp_path)
    assert Raw(digits, cache_dir=tmp_path).feature_dim() == 64  # 1 x 8 x 8 pixels
    img = torch.rand(5, 1, 8, 8)
    np.testing.assert_array_equal(
        Raw(ds, cache_dir=tmp_path).extract(img).features, img.reshape(5, -1).double().numpy()
    )


def test_extract_holds_the_features_once(tmp_path):
    """The batches' features were kept in a list and joined at the end, two copies of every feature at
    once (2.5 GB at 50000 raw CIFAR-10 samples, the peak of the evaluation). tracemalloc traces
    numpy's allocations, not torch's: this extractor's batches are numpy's."""
    import tracemalloc

    class NumpyRaw(Raw):
        def _extract_batch(self, x):
            return torch.from_numpy(x.reshape(len(x), -1).double().numpy().copy()), None

    ds = Ring8(cache_dir=tmp_path)
    img = torch.rand(2000, 3, 8, 8)
    one_copy = img.numel() * 8  # float64
    extractor = NumpyRaw(ds, cache_dir=tmp_path, batch_size=50)
    extractor.extract(img[:3])  # the modules it imports on first use are not traced
    tracemalloc.start()
    try:
        f = extractor.extract(img)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(f.features, img.reshape(len(img), -1).double().numpy())
    assert one_copy <= peak < 1.3 * one_copy, peak / one_copy


# -- Inception (torch-fidelity) -------------------------------------------------------------------
def test_to_uint8_matches_png_saving(tmp_path):
    from PIL import Image
    from torchvision.utils import save_image

    x = torch.linspace(-1, 1, 3 * 64).reshape(1, 3, 8, 8)
    save_image((x[0] + 1) / 2, tmp_path / "x.png")
    png = torch.from_numpy(np.asarray(Image.open(tmp_path / "x.png")).copy()).permute(2, 0, 1)
    assert torch.equal(to_uint8(x)[0], png)
    grey = to_uint8(x[:, :1])
    assert grey.shape == (1, 3, 8, 8) and torch.equal(grey[:, 0], grey[:, 2])


def test_inception_local_weights(random_inception_weights, digits, tmp_path, monkeypatch):
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

    assert inception.URL == URL_INCEPTION_V3
    x = digits.load("test")[0][:2]  # Inception on the CPU is slow: two images
    ext = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=1)
    f = ext.extract(x)  # two batches of one
    assert f.features.shape == (2, 2048) and f.logits.shape == (2, 1008)
    assert ext.feature_dim() == 2048 and ext.logits_dim() == 1008  # as declared, for is_inf's early check
    assert np.isfinite(f.features).all() and f.features.std(0).max() > 1e-3
    # the same numbers as calling torch-fidelity directly on the uint8 images, in one batch of 2
    ref = FeatureExtractorInceptionV3(
        "inception-v3-compat",
        ["2048", "logits_unbiased"],
        feature_extractor_weights_path=str(random_inception_weights),
    ).eval()  # as torch-fidelity's own metrics use it (0.3 builds it in training mode)
    with torch.no_grad():
        rf, rl = ref(to_uint8(x))
    np.testing.assert_allclose(f.features, rf.double().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(f.logits, rl.double().numpy(), rtol=1e-4, atol=1e-5)
    # the environment variable works as the argument does, with the same fingerprint
    monkeypatch.setenv(inception.ENV, str(random_inception_weights))
    assert Inception(digits, cache_dir=tmp_path).fingerprint() == ext.fingerprint()


def test_inception_features_do_not_depend_on_the_batch(
    random_inception_weights, digits, tmp_path, monkeypatch
):
    """torch-fidelity 0.3 (the declared floor) builds its Inception in training mode, and genbench
    used it so: BatchNorm normalised by each batch's statistics, so an image's features depended on
    the batch size and on the other images in its batch. Simulated here on a newer torch-fidelity."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    real_init = tfi.FeatureExtractorInceptionV3.__init__

    def init_in_training_mode(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.train()

    monkeypatch.setattr(tfi.FeatureExtractorInceptionV3, "__init__", init_in_training_mode)
    x = digits.load("test")[0][:2]
    ext = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=2)
    assert not ext.model.training
    one = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=1).extract(x)
    np.testing.assert_allclose(ext.extract(x).features, one.features, rtol=1e-4, atol=1e-5)


def test_inception_offline_message(digits, tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.delenv(inception.ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torch.hub's cache: none there
    monkeypatch.setattr(download, "_open_url", offline)
    with pytest.raises(GenbenchError) as e:
        Inception(digits, cache_dir=tmp_path).extract(digits.load("test")[0][:1])
    msg = str(e.value)
    for part in (
        inception.FILENAME,
        inception.URL,
        "pt_inception-2015-12-05-6726825d.pth",
        "--inception-weights PATH",
        "GENBENCH_INCEPTION_WEIGHTS",
        "--features classifier",  # what a machine without the weights can score with instead
    ):
        assert part in msg


def _offline_hub(tmp_path, monkeypatch):
    """torch.hub's checkpoints folder under ``tmp_path``, empty, and no download possible."""

    def offline(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.delenv(inception.ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(download, "_open_url", offline)
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def test_inception_reads_pytorch_fids_copy_of_the_file(
    digits, tmp_path, monkeypatch, random_inception_weights
):
    """pytorch-fid's download of the same file, under its own name in torch.hub's folder, is used
    offline once its sha256 starts with the digits both names carry (here the test file's own digits:
    the real file is a download the tests never make)."""
    from genbench.io import file_sha256

    folder = _offline_hub(tmp_path, monkeypatch)
    copy = folder / inception.PYTORCH_FID_FILENAME
    copy.write_bytes(random_inception_weights.read_bytes())
    monkeypatch.setattr(inception, "DIGEST", f"sha256:{file_sha256(copy)[:8]}")
    x = digits.load("test")[0][:2]
    got = Inception(digits, cache_dir=tmp_path, batch_size=2).extract(x)
    want = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=2).extract(x)
    np.testing.assert_array_equal(got.features, want.features)
    assert not (folder / inception.FILENAME).exists()  # read in place, not copied or downloaded


def test_inception_does_not_trust_pytorch_fids_name_alone(
    digits, tmp_path, monkeypatch, random_inception_weights
):
    """A file under pytorch-fid's name whose sha256 does not start with its name's digits is another
    file (pytorch-fid never checks them): the download is tried, and offline its error is raised."""
    folder = _offline_hub(tmp_path, monkeypatch)
    (folder / inception.PYTORCH_FID_FILENAME).write_bytes(random_inception_weights.read_bytes())
    with pytest.raises(GenbenchError, match="cannot get the Inception-v3 weights"):
        Inception(digits, cache_dir=tmp_path).extract(digits.load("test")[0][:1])


@pytest.mark.parametrize("extractor", ["inception", "clean-inception", "dinov2", "clip"])
def test_a_folder_given_as_weights_is_said_to_be_one(digits, tmp_path, monkeypatch, extractor):
    """The hub cache's checkpoints/ folder given instead of the file in it: it exists, and "not found"
    sent the user looking for a typo."""
    for env in (inception.ENV, clean_inception.ENV, "GENBENCH_DINOV2_WEIGHTS", "GENBENCH_CLIP_WEIGHTS"):
        monkeypatch.delenv(env, raising=False)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    ext = registry.features.get(extractor)(digits, cache_dir=tmp_path, weights=folder)
    with pytest.raises(GenbenchError, match=r"checkpoints is a folder, not a file; "):
        ext.fingerprint()


def test_inception_bad_weights(digits, tmp_path):
    with pytest.raises(GenbenchError, match="not found"):
        Inception(digits, cache_dir=tmp_path, weights=tmp_path / "missing.pth").fingerprint()
    bad = tmp_path / "bad.pth"
    torch.save({"fc.weight": torch.zeros(3)}, bad)
    with pytest.raises(GenbenchError, match="not torch-fidelity's Inception-v3 weights"):
        Inception(digits, cache_dir=tmp_path, weights=bad).extract(torch.zeros(1, 1, 8, 8))


# -- clean-fid's Inception --------------------------------------------------------------------------
def test_clean_resize_matches_cleanfid(tmp_path):
    from cleanfid.utils import ResizeDataset
    from torchvision.utils import save_image

    x = torch.rand(2, 3, 32, 32) * 2 - 1
    grey = torch.rand(1, 1, 8, 8) * 2 - 1
    files = []
    for i, img in enumerate([*x, *grey]):
        files.append(tmp_path / f"{i}.png")
        save_image((img + 1) / 2, files[-1])
    theirs = ResizeDataset([str(f) for f in files], mode="clean")  # what clean-fid does to image files
    ours = torch.cat([clean_resize(x), clean_resize(grey)])
    assert ours.shape == (3, 3, 299, 299) and ours.dtype == torch.float32
    for i in range(3):
        torch.testing.assert_close(ours[i], theirs[i], rtol=0, atol=0)


class _StandIn(nn.Module):
    """A tiny network with the interface of clean-fid's TorchScript (``layers``, ``output``)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(3, 2048, 3, stride=50), nn.AdaptiveAvgPool2d(1))
        self.output = nn.Linear(2048, 1008)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_clean_inception_pipeline_with_stand_in_network(digits, tmp_path, monkeypatch):
    monkeypatch.delenv(clean_inception.ENV, raising=False)
    assert clean_inception.URL == __import__("cleanfid.downloads_helper").downloads_helper.inception_url
    torch.manual_seed(0)
    net = _StandIn().eval()
    path = tmp_path / "standin.pt"
    torch.jit.script(net).save(str(path))
    x = digits.load("test")[0][:3]
    ext = CleanInception(digits, cache_dir=tmp_path, weights=path, batch_size=2)
    f = ext.extract(x)
    with torch.no_grad():
        expected = net.layers((clean_resize(x) - 128) / 128).view(3, 2048)
    np.testing.assert_allclose(f.features, expected.double().numpy(), rtol=1e-5, atol=1e-5)
    assert ext.feature_dim() == f.features.shape[1]
    with torch.no_grad():
        logits = expected @ net.output.weight.T
    np.testing.assert_allclose(f.logits, logits.double().numpy(), rtol=1e-4, atol=1e-5)
    assert "cleanfid-clean" in ext.fingerprint()
    # its own environment variable wins over --inception-weights (torch-fidelity's file, usually)
    monkeypatch.setenv(clean_inception.ENV, str(path))
    assert CleanInception(digits, cache_dir=tmp_path, weights=tmp_path / "other.pth").weights_path() == path


def test_the_inception_weights_variables_expand_a_home_folder(digits, tmp_path, monkeypatch):
    """``GENBENCH_INCEPTION_WEIGHTS=~/w.pth`` was read as a folder named "~" (GENBENCH_DATA and
    GENBENCH_CACHE expanded it, as the flags do)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "w.pth").write_bytes(b"")  # the clean-fid extractor checks that it exists
    for module, cls in ((inception, Inception), (clean_inception, CleanInception)):
        monkeypatch.setenv(module.ENV, "~/w.pth")
        assert cls(digits, cache_dir=tmp_path).weights_path() == tmp_path / "w.pth"
        monkeypatch.delenv(module.ENV)


def test_clean_inception_offline_and_bad_file(digits, tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.delenv(clean_inception.ENV, raising=False)
    monkeypatch.setattr(clean_inception, "CLEANFID_CACHE_DIRS", [tmp_path / "cleanfid"])
    monkeypatch.setattr(download, "_open_url", offline)
    with pytest.raises(GenbenchError) as e:
        CleanInception(digits, cache_dir=tmp_path).fingerprint()
    msg = str(e.value)
    assert (
        clean_inception.FILENAME in msg
        and clean_inception.URL in msg
        and "GENBENCH_CLEAN_INCEPTION_WEIGHTS" in msg
        and "--features classifier" in msg
    )
    assert not list((tmp_path / "weights").glob("**/*.pt"))  # no partial download left behind
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not torchscript")
    with pytest.raises(GenbenchError, match="not clean-fid's Inception TorchScript"):
        CleanInception(digits, cache_dir=tmp_path, weights=bad).extract(torch.zeros(1, 1, 8, 8))
    # a missing file named by the variable: passing --inception-weights, which it wins over, cannot help
    monkeypatch.setenv(clean_inception.ENV, str(tmp_path / "missing.pt"))
    with pytest.raises(GenbenchError, match=r"missing.pt not found; fix or unset \$GENBENCH_CLEAN_INCEPTION"):
        CleanInception(digits, cache_dir=tmp_path, weights=bad).weights_path()
    monkeypatch.delenv(clean_inception.ENV)
    with pytest.raises(GenbenchError, match=r"missing.pt not found; pass it with --inception-weights PATH"):
        CleanInception(digits, cache_dir=tmp_path, weights=tmp_path / "missing.pt").weights_path()


# -- reference features and statistics -------------------------------------------------------------
def test_reference_features_cached(tmp_path, monkeypatch):
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    first = reference_features(ds, ext, "train", tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    assert path.exists() and path.parent == tmp_path / "features"
    np.testing.assert_array_equal(first.features, ds.load("train")[0].double().numpy())
    # a second call reads the file and does not extract again
    monkeypatch.setattr(Raw, "extract", lambda self, x: pytest.fail("cache missed"))
    second = reference_features(ds, ext, "train", tmp_path)
    np.testing.assert_array_equal(second.features, first.features)
    assert second.logits is None


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a float64 beyond float32's range: no cast warning
def test_reference_cache_keeps_each_extractors_precision_in_half_the_disk(clf, digits, tmp_path, monkeypatch):
    """The features and logits of a float32 network (the classifier, raw pixels) were cached as the
    float64 that ``extract`` upcasts them to: twice the disk for no precision. They are cached as
    float32 and read back as the same float64 values; a plugin's genuinely float64 features keep
    every digit; an entry cached as float64 before still reads the same."""
    ring = Ring8(cache_dir=tmp_path)

    class Thirds(FeatureExtractor):
        supported_kinds = ("points",)
        takes_weights = False

        def fingerprint(self) -> str:
            return "thirds"

        def _extract_batch(self, x):
            beyond_float32 = torch.full((len(x), 1), 1e40, dtype=torch.float64)
            return torch.cat([x.double() / 3, beyond_float32], 1), None

    cases = [
        (digits, clf, np.float32),
        (ring, Raw(ring, cache_dir=tmp_path), np.float32),
        (ring, Thirds(ring, cache_dir=tmp_path), np.float64),
    ]
    for ds, ext, on_disk in cases:
        made = reference_features(ds, ext, "train", tmp_path)
        path = cache_path(ds, ext, "train", tmp_path)
        with np.load(path) as npz:  # beside the record of the key's inputs (tests/test_feature_key_record.py)
            arrays = {k: npz[k] for k in npz.files if k in ("features", "logits")}
        assert {k: a.dtype for k, a in arrays.items()} == dict.fromkeys(arrays, np.dtype(on_disk)), ext.name
        monkeypatch.setattr(type(ext), "extract", lambda self, x: pytest.fail("cache missed"))
        for entry in (arrays, {k: a.astype(np.float64) for k, a in arrays.items()}):  # new, and as before
            np.savez(path, **entry)
            read = reference_features(ds, ext, "train", tmp_path)
            assert read.features.dtype == np.float64
            np.testing.assert_array_equal(read.features, made.features)
            assert (read.logits is None) == (made.logits is None)
            if made.logits is not None:
                assert read.logits.dtype == np.float64
                np.testing.assert_array_equal(read.logits, made.logits)


def test_a_cache_hit_removes_what_a_killed_write_of_the_entry_left(tmp_path):
    """A cache entry is written once: the temp file of a write killed before the entry existed (as
    large as the features: 1.2 GB for CIFAR-10's train split in raw pixels) was never removed. A hit
    removes one a day old (a fresh one may be another process's write in progress)."""
    import os
    import time

    from genbench.io import STALE_TEMP_S

    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    reference_features(ds, ext, "train", tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    stale, fresh = path.parent / f".{path.name}.k1ll3d.tmp", path.parent / f".{path.name}.wr1t1ng.tmp"
    for f in (stale, fresh):
        f.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    reference_features(ds, ext, "train", tmp_path)
    assert not stale.exists() and fresh.exists()


def _held_by_another_process(lock_path, write):
    """Hold ``lock_path`` as another process does while it makes a cache entry: from a thread (flock
    locks of two open files conflict within one process too), which calls ``write`` half a second
    after the caller has started waiting, then releases. Returns the thread."""
    import threading
    import time

    from filelock import FileLock

    held = threading.Event()

    def other():
        with FileLock(lock_path):
            held.set()
            time.sleep(0.5)
            write()

    thread = threading.Thread(target=other)
    thread.start()
    held.wait()
    return thread


def test_processes_sharing_a_cache_extract_reference_features_once(tmp_path, monkeypatch):
    """Two jobs sharing a cache each extracted the reference features (hours for CIFAR-10's Inception
    features on a CPU), the last writer's replacing the first's; the second now waits, then reads."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    path.parent.mkdir(parents=True)
    theirs = ds.load("train")[0].double().numpy() + 1  # what the other process's extraction gave
    thread = _held_by_another_process(f"{path}.lock", lambda: np.savez(path, features=theirs))
    monkeypatch.setattr(Raw, "extract", lambda self, x: pytest.fail("extracted again"))
    with pytest.warns(
        UserWarning, match=r"train features of ring8 \(raw\): another genbench process is extract"
    ):
        feats = reference_features(ds, ext, "train", tmp_path)
    thread.join()
    np.testing.assert_array_equal(feats.features, theirs)


def test_processes_sharing_a_cache_train_a_classifier_once(local, digits, tmp_path, monkeypatch):
    """Two jobs sharing a cache each trained the classifier; on two machines the last writer's
    weights replaced the first's, and their results landed in two protocol rows. The second now
    waits, then loads the first's weights."""
    _elsewhere(local, tmp_path)  # the weights the other process trains, ready to be written
    weights = tmp_path / "classifiers" / local.path.name
    theirs = weights.read_bytes()
    weights.unlink()
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    monkeypatch.setattr(clf_mod, "train_classifier", lambda *a, **k: pytest.fail("trained again"))
    here = Classifier(digits, cache_dir=tmp_path, config=SMALL)
    thread = _held_by_another_process(f"{weights}.lock", lambda: weights.write_bytes(theirs))
    with pytest.warns(UserWarning, match="the digits classifier: another genbench process is training it"):
        fingerprint = here.fingerprint()
    thread.join()
    assert fingerprint != local.fingerprint()  # theirs (the +1e-6 weights), loaded, not trained


def held_until_waited_for(lock_path, owner, monkeypatch, attr="_warn", until="waiting for it"):
    """Hold ``lock_path`` from a thread, as another process killed before it wrote anything does:
    released, nothing written, once ``owner.attr`` (a module's ``_warn``, or ``Progress.warn``) said
    ``until`` (that this one waits). Returns the thread."""
    import threading

    from filelock import FileLock

    held, waiting = threading.Event(), threading.Event()
    warn = getattr(owner, attr)

    def said(*args):  # (text) for a module's function, (self, text) for a method
        if until in args[-1]:
            waiting.set()
        return warn(*args)

    monkeypatch.setattr(owner, attr, said)

    def other():
        with FileLock(lock_path):
            held.set()
            waiting.wait(timeout=60)

    thread = threading.Thread(target=other)
    thread.start()
    held.wait()
    return thread


def test_a_process_that_waited_for_an_extraction_never_cached_says_it_extracts_them(tmp_path, monkeypatch):
    """The process it waited for ended without caching the features (killed): this one extracted
    them having said only "waiting for it". It now says it extracts them itself."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    path.parent.mkdir(parents=True)
    from genbench.features import reference

    thread = held_until_waited_for(f"{path}.lock", reference, monkeypatch)
    with pytest.warns(UserWarning) as said:
        feats = reference_features(ds, ext, "train", tmp_path)
    thread.join()
    assert [str(w.message) for w in said if "ended without" in str(w.message)] == [
        "train features of ring8 (raw): the genbench process it waited for ended without caching them "
        "(killed or failed); extracting them here"
    ]
    assert path.exists() and len(feats.features) == len(ds.load("train")[0])


def test_a_process_that_waited_for_a_classifier_never_saved_says_it_trains_it(
    local, digits, tmp_path, monkeypatch
):
    """The same for the classifier trained on first use: the process it waited for saved nothing."""
    weights = tmp_path / "classifiers" / local.path.name
    weights.parent.mkdir()
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    here = Classifier(digits, cache_dir=tmp_path, config=SMALL)
    thread = held_until_waited_for(f"{weights}.lock", clf_mod, monkeypatch)
    with pytest.warns(UserWarning) as said:
        here.fingerprint()
    thread.join()
    assert [str(w.message) for w in said if "ended without" in str(w.message)] == [
        "the digits classifier: the genbench process it waited for ended without saving it (killed or "
        "failed); training it here"
    ]
    assert weights.exists()


def _disk_full(path, write, **kwargs):
    raise GenbenchError(
        f"cannot write to {path.parent} (No space left on device); choose a writable directory"
    )


def test_reference_features_that_cannot_be_cached_are_used(tmp_path, monkeypatch):
    """A full disk when the reference features were cached threw away the features just extracted
    (hours for CIFAR-10's Inception features on a CPU) and stopped the run; they are used, uncached."""
    from genbench.features import reference

    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    monkeypatch.setattr(reference, "atomic_write", _disk_full)
    with pytest.warns(
        UserWarning, match=r"train features of ring8 \(raw\) are used but not cached: .*No space"
    ):
        feats = reference_features(ds, ext, "train", tmp_path)
    np.testing.assert_array_equal(feats.features, ds.load("train")[0].double().numpy())
    assert not cache_path(ds, ext, "train", tmp_path).exists()


def test_a_classifier_that_cannot_be_cached_is_used(digits, tmp_path, monkeypatch):
    """The same for a classifier trained on first use; weights written to ship still fail loudly."""
    monkeypatch.setattr(clf_mod, "_TRAINED", {})
    monkeypatch.setattr(clf_mod, "atomic_write", _disk_full)
    here = Classifier(digits, cache_dir=tmp_path, config=SMALL)
    with pytest.warns(UserWarning, match="the digits classifier is used but not cached: .*No space"):
        here.fingerprint()
    assert here.info()["weights"] == "trained on this machine" and not here.path.exists()
    with pytest.raises(GenbenchError, match="No space"):
        here.train_to(tmp_path / "to-ship.pt")


@pytest.mark.parametrize(
    "arrays, why",
    [
        # ``genbench eval --batch-size=-1`` once cached features of shape (0, 0); every later run on
        # that dataset then failed its metrics with "reference has 0 rows" until the cache was deleted
        ({"features": np.zeros((0, 0))}, "features of shape \\(0, 0\\)"),
        # the rest were used as they were: NaN features cached before extractors' output was checked
        # failed every metric "N of M reference feature rows hold NaN or inf; check the model's samples"
        ({"features": np.full((N_RING8, 2), np.nan)}, "features or logits holding NaN or inf"),
        ({"features": np.zeros((N_RING8, 2)), "logits": np.full((N_RING8, 3), np.inf)}, "NaN or inf"),
        ({"features": np.zeros((5, 2))}, f"5 feature rows for {N_RING8} examples"),
        ({"features": np.zeros((N_RING8, 2)), "logits": np.zeros((5, 3))}, "logits of shape \\(5, 3\\)"),
    ],
    ids=["empty", "nan-features", "inf-logits", "too-few-rows", "logits-rows"],
)
def test_a_damaged_cached_reference_is_recomputed(tmp_path, arrays, why):
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    path.parent.mkdir(parents=True)
    np.savez(path, **arrays)
    with pytest.warns(UserWarning, match=f"recomputing reference features.*{why}"):
        feats = reference_features(ds, ext, "train", tmp_path)
    np.testing.assert_array_equal(feats.features, ds.load("train")[0].double().numpy())
    assert feats.logits is None


def test_reference_cache_key_covers_every_knob(digits, cache, tmp_path):
    base = cache_path(digits, Raw(digits, cache_dir=cache), "train", tmp_path)
    assert base == cache_path(Digits(cache_dir=cache), Raw(digits, cache_dir=cache), "train", tmp_path)
    others = [
        cache_path(digits, Raw(digits, cache_dir=cache), "test", tmp_path),  # split (and sample count)
        cache_path(
            StackedDigits(cache_dir=cache), Raw(digits, cache_dir=cache), "train", tmp_path
        ),  # dataset
        cache_path(digits, Classifier(digits, cache_dir=cache), "train", tmp_path),  # extractor
        cache_path(
            digits, Classifier(digits, cache_dir=cache, config=ClassifierConfig(seed=9)), "train", tmp_path
        ),
    ]
    assert len({base, *others}) == 5


class _ReadsItsWeightsFile(FeatureExtractor):
    """A plugin as docs/plugins.md's contract lets one be written: it reads ``self.weights`` (the
    ``--inception-weights`` file) and its fingerprint is a name and a version, not the file."""

    supported_kinds = ("points",)

    def fingerprint(self) -> str:
        return "reads-weights-v1"

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x * float(self.weights.read_text()), None


def test_a_plugins_weights_file_keys_its_cached_features_and_names_them_in_the_protocol(tmp_path):
    """A plugin extractor whose fingerprint does not name the --inception-weights file it reads had
    the reference features of one file's network reused for another's samples (FID 0.005 -> 1.8 on
    a plugin dataset), under one protocol that pooled both into one board row."""
    ds = Ring8(cache_dir=tmp_path)
    (tmp_path / "a.pt").write_text("1")
    (tmp_path / "b.pt").write_text("3")
    (tmp_path / "renamed.pt").write_text("1")
    a, b, renamed = (
        _ReadsItsWeightsFile(ds, cache_dir=tmp_path, weights=tmp_path / f)
        for f in ("a.pt", "b.pt", "renamed.pt")
    )
    reference_features(ds, a, "train", tmp_path)
    tripled = (ds.load("train")[0] * 3.0).double().numpy()
    np.testing.assert_array_equal(reference_features(ds, b, "train", tmp_path).features, tripled)
    assert a.info()["fingerprint"] != b.info()["fingerprint"]
    assert a.info()["fingerprint"].startswith("reads-weights-v1")
    # by content: the same file under another name keeps its cached features and its protocol
    assert cache_path(ds, renamed, "train", tmp_path) == cache_path(ds, a, "train", tmp_path)
    assert renamed.info() == a.info()
    # the built-in Inception's fingerprint names its file already, and is left as it is
    (tmp_path / "w.pt").write_bytes(b"weights")
    inc = Inception(ds, cache_dir=tmp_path, weights=tmp_path / "w.pt")
    assert inc.checked_fingerprint() == inc.fingerprint()
    gone = _ReadsItsWeightsFile(ds, cache_dir=tmp_path, weights=tmp_path / "gone.pt")
    with pytest.raises(GenbenchError, match=r"cannot read --inception-weights .*gone.pt for the "):
        gone.checked_fingerprint()


def test_reference_cache_key_covers_the_arithmetic(digits, cache, tmp_path, monkeypatch):
    """Features cached on a GPU (in TF32, PyTorch's default for cuDNN) were reused on the CPU."""
    cpu = cache_path(digits, Raw(digits, cache_dir=cache), "train", tmp_path)
    cuda = cache_path(digits, Raw(digits, cache_dir=cache, device="cuda"), "train", tmp_path)
    assert cuda != cpu
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", not torch.backends.cudnn.allow_tf32)
    assert cache_path(digits, Raw(digits, cache_dir=cache, device="cuda"), "train", tmp_path) != cuda
    assert cache_path(digits, Raw(digits, cache_dir=cache), "train", tmp_path) == cpu


def test_reference_cache_key_covers_the_cpus_instruction_set(digits, cache, tmp_path, monkeypatch):
    """A cache shared by a cluster's nodes gave an AVX2 node the reference features an AVX-512 node
    had computed, whose kernels round otherwise (6e-6 in the classifier's features): the samples and
    the reference were two arithmetics, and the ``copy`` control's exact ties went with the node."""
    here = cache_path(digits, Raw(digits, cache_dir=cache), "train", tmp_path)
    other = "AVX2" if torch.backends.cpu.get_cpu_capability() != "AVX2" else "AVX512"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: other)
    assert cache_path(digits, Raw(digits, cache_dir=cache), "train", tmp_path) != here
    cuda = cache_path(digits, Raw(digits, cache_dir=cache, device="cuda"), "train", tmp_path)
    monkeypatch.undo()
    assert cache_path(digits, Raw(digits, cache_dir=cache, device="cuda"), "train", tmp_path) == cuda


@pytest.mark.parametrize(
    "setting, conv, matmul",
    [
        ("", True, False),  # PyTorch's defaults: cuDNN in TF32, matmuls in IEEE
        ("torch.backends.cuda.matmul.fp32_precision = 'tf32'", True, True),
        ("torch.backends.cudnn.conv.fp32_precision = 'ieee'", False, False),
        ("torch.backends.fp32_precision = 'tf32'", True, True),
        ("torch.backends.cuda.matmul.allow_tf32 = True", True, True),
        ("torch.backends.cudnn.allow_tf32 = False", False, False),
    ],
)
def test_the_arithmetic_reads_tf32_whichever_api_set_it(setting, conv, matmul):
    """Once anything set PyTorch's newer ``fp32_precision`` (a plugin, at import), reading the old
    ``allow_tf32`` flags raised, so every reference-feature cache key on CUDA was a traceback. In a
    fresh process: the settings are global, and mixing the two APIs is what raised."""
    import subprocess
    import sys

    if not hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        pytest.skip("this torch has only the allow_tf32 flags")
    code = (
        f"import torch; {setting or 'pass'}; from genbench.features.reference import arithmetic;"
        "print(arithmetic(torch.device('cuda')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"cuda,tf32-conv={conv},tf32-matmul={matmul}"


def test_reference_logits_roundtrip_and_corrupt_cache(clf, digits, cache, tmp_path):
    first = reference_features(digits, clf, "test", tmp_path)
    assert first.logits.shape == (360, 10)
    path = cache_path(digits, clf, "test", tmp_path)
    again = reference_features(digits, clf, "test", tmp_path)
    np.testing.assert_array_equal(again.logits, first.logits)
    path.write_bytes(b"truncated")
    with pytest.warns(UserWarning, match="recomputing"):
        rebuilt = reference_features(digits, clf, "test", tmp_path)
    np.testing.assert_allclose(rebuilt.features, first.features)


def test_reference_stats_roundtrip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    mu, a = rng.normal(size=4), rng.normal(size=(4, 4))
    sigma = a @ a.T
    save_reference_stats(tmp_path / "s.npz", mu, sigma)
    got_mu, got_sigma = load_reference_stats(tmp_path / "s.npz")
    np.testing.assert_array_equal(got_mu, mu)
    np.testing.assert_array_equal(got_sigma, sigma)  # was after `and`: never ran (the first returns None)
    assert got_mu.dtype == np.float64
    with pytest.raises(MetricInputError, match="dimension 4 but the features have 2048"):
        load_reference_stats(tmp_path / "s.npz", dim=2048)
    with pytest.raises(MetricInputError, match="not found"):
        load_reference_stats(tmp_path / "missing.npz")
    np.savez(tmp_path / "keys.npz", mean=mu, cov=sigma)
    with pytest.raises(MetricInputError, match=r"lack mu, sigma \(has mean, cov\).*save an .npz with mu"):
        load_reference_stats(tmp_path / "keys.npz")
    np.savez(tmp_path / "shape.npz", mu=mu, sigma=sigma[:3])
    with pytest.raises(MetricInputError, match=r"expected \(D,\) and \(D, D\)"):
        load_reference_stats(tmp_path / "shape.npz")
    bad = sigma.copy()
    bad[0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", mu=mu, sigma=bad)
    with pytest.raises(MetricInputError, match="NaN or inf"):
        load_reference_stats(tmp_path / "nan.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")  # numpy: "pickled data ... allow_pickle=True"
    with pytest.raises(MetricInputError, match=r"cannot read .*junk.npz \(not an .npz archive\)"):
        load_reference_stats(tmp_path / "junk.npz")
    (tmp_path / "empty.npz").write_bytes(b"")  # numpy: EOFError
    with pytest.raises(MetricInputError, match=r"cannot read .*empty.npz \(not an .npz archive\)"):
        load_reference_stats(tmp_path / "empty.npz")
    with pytest.raises(MetricInputError, match="is a directory, not an .npz file"):  # was "not found"
        load_reference_stats(tmp_path)
    with pytest.raises(MetricInputError):
        save_reference_stats(tmp_path / "x.npz", mu, sigma[:, :2])


def test_reference_stats_refuse_a_sigma_that_is_no_covariance_matrix(tmp_path):
    """A negated, asymmetric or shifted sigma is refused in one line: FID against it came out 0
    (clipped), exit 0, for any samples. A real covariance saved in float32, or one of fewer samples
    than dimensions (eigenvalues a rounding below 0), still loads."""
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(20, 64))  # fewer samples than dimensions: singular
    mu, sigma = feats.mean(0), np.cov(feats, rowvar=False)
    assert np.linalg.eigvalsh(sigma).min() < 0  # rounding, not a bad matrix
    np.savez(tmp_path / "f32.npz", mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    assert load_reference_stats(tmp_path / "f32.npz")[1].shape == (64, 64)
    asymmetric = sigma.copy()
    asymmetric[0, 1] += 0.5
    shifted = sigma - 0.5 * np.linalg.eigvalsh(sigma).max() * np.eye(64)
    for name, bad, why in [
        ("negated", -sigma, "negative eigenvalues"),
        ("shifted", shifted, "negative eigenvalues"),
        ("asymmetric", asymmetric, "not symmetric"),
    ]:
        np.savez(tmp_path / f"{name}.npz", mu=mu, sigma=bad)
        with pytest.raises(
            MetricInputError,
            match=f"{why}.*no covariance matrix; make one with `genbench stats .*, or save an .npz with mu",
        ):
            load_reference_stats(tmp_path / f"{name}.npz")
    with pytest.raises(MetricInputError, match="negative eigenvalues"):
        save_reference_stats(tmp_path / "x.npz", mu, -sigma)


def test_inception_takes_at_most_64_rows_a_call_on_the_cpu_to_the_same_features(
    random_inception_weights, digits, tmp_path, monkeypatch
):
    """On the CPU a call of --batch-size 500 Inception inputs held 7.7 GB (2.0 GB in calls of 64) and
    ran slower: the Inceptions take 64 rows a call there, to the same features bit for bit as one
    call of them all; elsewhere (CUDA) the batch size stands."""
    from genbench.features.clean_inception import CleanInception

    assert Inception.cpu_rows == CleanInception.cpu_rows == 64
    calls = []
    real = Inception._extract_batch
    monkeypatch.setattr(Inception, "_extract_batch", lambda self, b: calls.append(len(b)) or real(self, b))
    x = digits.load("train")[0][:70]
    capped = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=500)
    assert capped.rows_per_call == 64
    got = capped.extract(x)
    assert calls == [64, 64]  # the last 6 rows padded to 64, as any short batch
    whole = Inception(digits, cache_dir=tmp_path, weights=random_inception_weights, batch_size=500)
    monkeypatch.setattr(whole, "cpu_rows", None)
    calls.clear()
    want = whole.extract(x)
    assert calls == [70]
    assert np.array_equal(got.features, want.features) and np.array_equal(got.logits, want.logits)
    capped.device = torch.device("cuda")  # constructed, not used: no GPU needed
    assert capped.rows_per_call == 500


def test_an_extractor_below_its_cpu_rows_or_the_fewest_rows_keeps_its_batch(digits, tmp_path):
    """``cpu_rows`` caps the rows a call, never below ``MIN_BATCH_ROWS`` (fewer take other kernels),
    nor above the batch size."""
    from genbench.features.base import MIN_BATCH_ROWS
    from genbench.features.raw import Raw

    class Capped(Raw):
        cpu_rows = 8

    assert Capped(digits, cache_dir=tmp_path, batch_size=500).rows_per_call == MIN_BATCH_ROWS
    assert Capped(digits, cache_dir=tmp_path, batch_size=32).rows_per_call == 32
    assert Raw(digits, cache_dir=tmp_path, batch_size=500).rows_per_call == 500
