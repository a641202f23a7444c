"""A dataset or feature extractor plugin's bug, or wrong data or features it returns, fails the run
in one line naming that plugin and the fix (the run stands on both); a built-in's bug is genbench's.
In-process plugins, registered for one test only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from plugin_helpers import (  # tests/ is on the path: pytest puts it there
    _PluginStop,
    read_strict,
)

from genbench import registry
from genbench.data.base import Dataset
from genbench.errors import DataError


def _points_dataset(load):
    from genbench.data.base import Dataset

    return type("PluginData", (Dataset,), {"kind": "points", "default_features": "raw", "_load": load})


def _image_dataset(load):
    from genbench.data.base import Dataset

    return type("PluginImages", (Dataset,), {"kind": "image", "default_features": "raw", "_load": load})


def _points(n=300):
    return torch.from_numpy(np.random.default_rng(0).standard_normal((n, 2)).astype(np.float32))


@pytest.mark.parametrize(
    "cls, expected",
    [
        # numpy arrays: an AttributeError traceback from the dataset's fingerprint
        (_points_dataset(lambda self, split: (_points().numpy(), None)), "returned x of type ndarray"),
        (_points_dataset(lambda self, split: _points()), "returned Tensor from _load('train')"),
        (
            _points_dataset(lambda self, split: (_points().double(), None)),
            "returned x of dtype torch.float64",
        ),
        (
            _points_dataset(lambda self, split: (_points()[:, :, None], None)),
            "returned x of shape (300, 2, 1)",
        ),
        (_points_dataset(lambda self, split: (_points(), [0] * 300)), "returned labels of type list"),
        (
            _points_dataset(lambda self, split: (_points().fill_(float("nan")), None)),
            "returned x holding NaN or inf",
        ),
        # images in [0, 255] were accepted, and every model trained and was scored on them
        (
            _image_dataset(lambda self, split: (torch.rand(300, 1, 4, 4) * 255, None)),
            "(as [0, 255]: x / 127.5 - 1, or keep them uint8)",
        ),
        # images in [0, 1] were accepted, and every model trained on them failed, blamed for its samples
        (
            _image_dataset(lambda self, split: (torch.rand(300, 1, 4, 4), None)),
            "none below 0, as images made in [0, 1] are (x * 2 - 1)",
        ),
        # and with a black pixel, 0 itself, as torchvision's ToTensor gives most images
        (
            _image_dataset(lambda self, split: (torch.linspace(0, 1, 300 * 16).reshape(300, 1, 4, 4), None)),
            "returned images in [0, 1], none below 0, as images made in [0, 1] are (x * 2 - 1)",
        ),
        # channels last were taken as 8 channels of 8 x 3 pixels, without a word
        (
            _image_dataset(lambda self, split: (torch.rand(300, 8, 8, 3) * 2 - 1, None)),
            "returned x of shape (300, 8, 8, 3), which looks N x H x W x C (images are N x C x H x W: "
            "x.permute(0, 3, 1, 2))",
        ),
        (
            _image_dataset(lambda self, split: (torch.zeros(300, 8, 8, 1, dtype=torch.uint8), None)),
            "returned x of shape (300, 8, 8, 1), which looks N x H x W x C",
        ),
    ],
)
def test_a_dataset_plugin_returning_the_wrong_data_fails_in_one_line_naming_it(
    register, cli, tmp_path, cache_dir, cls, expected
):
    register(registry.datasets, "test-bad-data", cls)
    args = ["--models", "copy", "--dataset", "test-bad-data", "--samples", "100", "--metrics", "fid"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert "dataset 'test-bad-data' " in error and expected in error, error
    assert not (tmp_path / "runs" / "test-bad-data").exists()  # failed before any work


def _the_one_error_line(cli, tmp_path, cache_dir, *args: str) -> str:
    """`genbench run` with ``args`` fails with exit 2 and one `error:` line, no traceback: that line."""
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def _extractor(extract):
    from genbench.features.base import FeatureExtractor

    body = {"supported_kinds": ("points",), "fingerprint": lambda self: "test", "_extract_batch": extract}
    return type("PluginFeatures", (FeatureExtractor,), body)


@pytest.mark.parametrize(
    "cls, expected",
    [
        # numpy features: an AttributeError traceback ('numpy.ndarray' object has no attribute 'double')
        (_extractor(lambda self, x: (x.cpu().numpy(), None)), "returned features of type ndarray"),
        (_extractor(lambda self, x: x), "returned Tensor from _extract_batch"),
        (_extractor(lambda self, x: (x[:, 0], None)), "returned features of shape"),
        # N x 0 features: FID 0 and PRDC 0 (the metrics now refuse them too, blaming no one)
        (_extractor(lambda self, x: (x[:, :0], None)), "returned features of shape (500, 0) for 500 inputs"),
        (_extractor(lambda self, x: (x, x.cpu().numpy())), "returned logits of type ndarray"),
    ],
)
def test_a_feature_extractor_plugin_returning_the_wrong_values_fails_in_one_line_naming_it(
    register, cli, tmp_path, cache_dir, cls, expected
):
    register(registry.features, "test-bad-features", cls)
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--features", "test-bad-features"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert "feature extractor 'test-bad-features' " in error and expected in error, error


class _LoadRaises(Dataset):
    kind = "points"
    default_features = "raw"

    def _load(self, split):
        raise RuntimeError("a bug in _load")


class _InitRaises(_LoadRaises):
    def __init__(self, data_dir=None, cache_dir=None):
        raise RuntimeError("a bug in __init__")


def _raises(self, *a, **k):
    raise RuntimeError("a bug in the extractor")


def _exits(self, *a, **k):
    raise SystemExit(3)


def _stops(self, *a, **k):
    raise _PluginStop("the plugin's own stop")


@pytest.mark.parametrize(
    "kind, cls, expected",
    [
        (
            "dataset",
            _LoadRaises,
            "dataset plugin 'test-buggy' from genbench-test-plugin raised RuntimeError "
            "loading its train split: a bug in _load; fix or uninstall genbench-test-plugin",
        ),
        (
            "dataset",
            _InitRaises,
            "dataset plugin 'test-buggy' from genbench-test-plugin failed to start: "
            "RuntimeError: a bug in __init__; fix or uninstall genbench-test-plugin",
        ),
        (
            "features",
            type("F", (_extractor(_raises),), {"__init__": _raises}),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin failed to start: RuntimeError: "
            "a bug in the extractor; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
        (
            "features",
            _extractor(_raises),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin raised RuntimeError extracting "
            "features: a bug in the extractor; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
        (
            "features",
            type("F", (_extractor(lambda self, x: (x, None)),), {"fingerprint": _raises}),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin raised RuntimeError computing "
            "its fingerprint: a bug in the extractor; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
        # sys.exit and a plugin's own BaseException escaped: the run ended silently (exit 3) or in a traceback
        (
            "dataset",
            type("D", (_LoadRaises,), {"_load": _exits}),
            "dataset plugin 'test-buggy' from genbench-test-plugin raised SystemExit "
            "loading its train split: 3; fix or uninstall genbench-test-plugin",
        ),
        (
            "features",
            _extractor(_stops),
            "feature extractor plugin 'test-buggy' from genbench-test-plugin raised _PluginStop extracting "
            "features: the plugin's own stop; fix or uninstall genbench-test-plugin, or pass --features raw",
        ),
    ],
    ids=[
        "dataset-load",
        "dataset-init",
        "features-init",
        "features-extract",
        "features-fingerprint",
        "dataset-load-exits",
        "features-extract-stops",
    ],
)
def test_a_dataset_or_feature_extractor_plugin_bug_is_one_line_naming_it(
    register, cli, tmp_path, cache_dir, kind, cls, expected
):
    """Their bugs were tracebacks (exit 1) that named no plugin; the run stands on both, so it stops."""
    register(getattr(registry, "datasets" if kind == "dataset" else "features"), "test-buggy", cls)
    where = (
        ["--dataset", "test-buggy"]
        if kind == "dataset"
        else ["--dataset", "ring8", "--features", "test-buggy"]
    )
    error = _the_one_error_line(cli, tmp_path, cache_dir, "--models", "copy", "--samples", "100", *where)
    assert error == f"error: {expected}", error


class _LoadsWeights(_extractor(lambda self, x: (x, None))):
    """An extractor plugin that opens the weights file it is given in its constructor, as most do."""

    def __init__(self, dataset, **kw):
        super().__init__(dataset, **kw)
        if self.weights is not None:
            torch.load(self.weights, weights_only=True)


def test_a_weights_file_given_to_an_extractor_plugin_is_named_when_missing_or_unreadable(
    register, cli, tmp_path, cache_dir
):
    """A mistyped --inception-weights said "failed to start: FileNotFoundError ...; fix or uninstall
    genbench-test-plugin", the user's typo blamed on the plugin (resolve.build_extractor now checks
    the path first); a file it cannot load named no file ("KeyError: 174812789")."""
    register(registry.features, "test-weighted", _LoadsWeights)
    args = ("--models", "copy", "--samples", "100", "--dataset", "ring8", "--features", "test-weighted")
    missing = tmp_path / "missing.pt"
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args, "--inception-weights", missing)
    assert error == (
        f"error: --inception-weights {missing} not found (the test-weighted features read it); pass an "
        "existing weights file"
    ), error
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args, "--inception-weights", junk)
    assert error.startswith(
        f"error: feature extractor plugin 'test-weighted' from genbench-test-plugin failed to start with "
        f"--inception-weights {junk}: "
    ), error


def test_a_bug_in_a_built_in_is_reported_as_genbench_s_not_a_plugin_s(cli, tmp_path, cache_dir, monkeypatch):
    """An unexpected raise in genbench's own dataset (the digits loader here) said "dataset plugin
    'digits' from genbench ...; fix or uninstall genbench", a fix no user can make."""
    from genbench.data.toy2d import Ring8

    monkeypatch.setattr(Ring8, "_load", _LoadRaises._load)
    error = _the_one_error_line(
        cli, tmp_path, cache_dir, "--models", "copy", "--samples", "100", "--dataset", "ring8"
    )
    assert error == (
        "error: genbench's dataset 'ring8' raised RuntimeError loading its train split: a bug in _load; "
        "a genbench bug: please report it with `genbench --version`'s output"
    ), error


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"kind": "pointz"}, r"declares kind = 'pointz'; use 'image' or 'points'; did you mean 'points'\?"),
        ({"kind": ("points",)}, "declares kind = "),
        ({"default_features": ("raw",)}, r"declares default_features = \('raw',\); name a registered"),
        ({"default_features": ""}, "declares default_features = ''"),
    ],
)
def test_a_dataset_declaring_an_unknown_kind_or_features_fails_at_registration(declared, message):
    """A dataset plugin of kind "pointz" registered, then failed in every run far from its cause."""
    from genbench.data.base import Dataset
    from genbench.errors import RegistrationError

    Declared = type(
        "Declared", (Dataset,), {"_load": lambda self, split: (torch.zeros(4, 2), None), **declared}
    )
    fresh = registry.Registry("dataset", "genbench.test-none", registry._dataset_base, "datasets")
    with pytest.raises(RegistrationError, match=f"dataset 'test-declared' {message}"):
        fresh.add("test-declared", Declared)
    assert "test-declared" not in fresh
    fresh.add("test-fine", type("Fine", (Declared,), {"kind": "points", "default_features": "raw"}))


def test_a_dataset_whose_default_features_is_not_registered_fails_naming_it_when_used(
    register, cli, tmp_path, cache_dir
):
    """A dataset plugin's ``default_features = "rawz"`` was "unknown feature extractor 'rawz'", naming
    neither the dataset plugin that declared it nor the fix. It registers (its extractor may be
    another plugin's, registered later) and fails when its extractor is looked up."""
    from genbench.errors import UnknownNameError

    load = _points_dataset(lambda self, split: (_points(), None))
    register(registry.datasets, "test-typo-features", type("Typo", (load,), {"default_features": "rawz"}))
    args = ["--models", "copy", "--dataset", "test-typo-features", "--samples", "100", "--metrics", "fid"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert error == (
        "error: dataset plugin 'test-typo-features' from genbench-test-plugin declares default_features = "
        "'rawz', which is no registered feature extractor (did you mean 'raw'?); fix or uninstall "
        "genbench-test-plugin, or pass --features raw (see `genbench list features`)"
    )
    assert not (tmp_path / "runs" / "test-typo-features").exists()  # failed before any work
    ok = cli(
        "run",
        "--out",
        tmp_path / "runs",
        "--cache-dir",
        cache_dir,
        "--no-progress",
        *args,
        "--features",
        "raw",
    )
    assert ok.exit_code == 0, ok.output
    with pytest.raises(UnknownNameError, match="^unknown feature extractor 'rawzz'"):  # declared by none
        registry.features.get("rawzz")

    # an extractor registered after the dataset that names it (another plugin's module) is found
    register(
        registry.datasets, "test-late-features", type("Late", (load,), {"default_features": "test-late"})
    )
    raw = registry.features.get("raw")
    register(registry.features, "test-late", type("LateRaw", (raw,), {}))
    assert (
        registry.features.get(registry.datasets.get("test-late-features").default_features).__name__
        == "LateRaw"
    )


class _TrainOnly(Dataset):
    """A plugin dataset of one split: every example its train split."""

    kind = "points"
    default_features = "raw"
    has_test_split = False

    def _load(self, split):
        from genbench.errors import DataError

        if split != "train":
            raise DataError("test-train-only has no test split")
        return _points(), None


def test_a_dataset_plugin_of_one_split_runs_against_its_train_split(register, cli, tmp_path, cache_dir):
    """Its fingerprint read the test split too: a plugin with none failed every run, even against the
    train split (the default reference), in its own "no test split" line."""
    register(registry.datasets, "test-train-only", _TrainOnly)
    r = cli(
        "run",
        *("--models", "copy", "--dataset", "test-train-only", "--samples", "100", "--metrics", "fid"),
        *("--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress"),
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "runs" / "test-train-only" / "copy" / "seed0.json").is_file()


def test_a_metric_reading_the_missing_test_split_is_not_told_to_change_the_reference_split(
    register, cli, tmp_path, cache_dir
):
    """memorization's held-out rate reads the test split: of a run against the train split (the
    default), its warning said "only --reference-split train (the default) applies", the reference
    split the run had. That fix is said where it applies, of --reference-split test alone."""
    register(registry.datasets, "test-train-only", _TrainOnly)
    run = ["--models", "copy", "--dataset", "test-train-only", "--samples", "100"]
    r = cli("run", *run, "--metrics", "memorization", "--out", tmp_path / "runs", "--cache-dir", cache_dir)
    assert r.exit_code == 0, r.output
    (warned,) = [ln for ln in r.stderr.splitlines() if "memorization: ct omitted" in ln]
    assert "dataset 'test-train-only' has no test split (it declares has_test_split = False)" in warned
    assert "--reference-split" not in warned, warned
    error = _the_one_error_line(
        cli, tmp_path, cache_dir, *run, "--metrics", "fid", "--reference-split", "test"
    )
    assert error == (
        "error: dataset 'test-train-only' has no test split (it declares has_test_split = False); "
        "pass --reference-split train (the default)"
    )


def test_a_dataset_plugin_of_one_split_says_what_it_is_in_its_own_words(register, cli, tmp_path, cache_dir):
    """``test_split_refusal()`` is the line that refuses the test split (an image folder names its
    path in it): a plugin that overrides it is refused in its words, to a metric and to
    --reference-split test alike, the fix said of the latter alone."""
    words = "test-train-only is every recording of the session, with no held-out part"
    own = type("OwnWords", (_TrainOnly,), {"test_split_refusal": lambda self: words})
    register(registry.datasets, "test-train-only", own)
    with pytest.raises(DataError, match=f"^{words}$"):
        own().load("test")
    run = ["--models", "copy", "--dataset", "test-train-only", "--samples", "100", "--metrics", "fid"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *run, "--reference-split", "test")
    assert error == f"error: {words}; pass --reference-split train (the default)"


def test_a_dataset_plugin_without_a_test_split_that_declares_one_is_told_how_to_say_so(
    register, cli, tmp_path, cache_dir
):
    register(
        registry.datasets, "test-train-only", type("Undeclared", (_TrainOnly,), {"has_test_split": True})
    )
    args = ["--models", "copy", "--dataset", "test-train-only", "--samples", "100", "--metrics", "fid"]
    error = _the_one_error_line(cli, tmp_path, cache_dir, *args)
    assert "test-train-only has no test split" in error and "declares has_test_split = False" in error, error


class _TrainOnlyImages(Dataset):
    kind = "image"
    default_features = "classifier"
    has_test_split = False

    def _load(self, split):
        g = torch.Generator().manual_seed(0)
        return torch.rand(200, 1, 8, 8, generator=g) * 2 - 1, torch.arange(200) % 2


def test_a_dataset_plugin_of_one_split_trains_its_classifier_without_a_held_out_accuracy(
    register, cli, tmp_path, cache_dir
):
    """The classifier's training read the test split for its held-out accuracy: the same error."""
    register(registry.datasets, "test-train-only-images", _TrainOnlyImages)
    r = cli(
        "run",
        *("--models", "copy", "--dataset", "test-train-only-images", "--samples", "100", "--metrics", "fid"),
        *("--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress"),
    )
    assert r.exit_code == 0, r.output
    result = read_strict(tmp_path / "runs" / "test-train-only-images" / "copy" / "seed0.json")
    assert result["protocol"]["features"]["test_accuracy"] is None


class _ModesUnlabelled(Dataset):
    kind = "points"
    default_features = "raw"
    num_modes = 3

    def _load(self, split):
        return _points(), torch.arange(300) % 3


def test_a_dataset_plugin_declaring_modes_without_labelling_them_is_told_to_override_label_modes(
    register, cli, tmp_path, cache_dir
):
    """It was told it had "no mode labels" (its _load returns them), not what labels a sample's mode."""
    register(registry.datasets, "test-unlabelled-modes", _ModesUnlabelled)
    r = cli(
        "run",
        *("--models", "copy", "--dataset", "test-unlabelled-modes", "--samples", "100", "--metrics", "modes"),
        *("--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress"),
    )
    warned = [ln for ln in r.stderr.splitlines() if "modes: dataset 'test-unlabelled-modes'" in ln]
    assert len(warned) == 1 and "it declares num_modes = 3, but its label_modes(x) gives None" in warned[0], (
        r.stderr
    )
