"""A feature extractor or dataset plugin whose output breaks the contract in ways the type and
shape checks miss (a width that changes, NaN features, data that requires grad): its bug is one
message naming it, never a traceback, and never an input error sent back to the user."""

from __future__ import annotations

import json

import pytest
import torch

from genbench import GenerativeModel, RunConfig, registry, run
from genbench.data.base import Dataset
from genbench.features.base import FeatureExtractor


def _extractor(name: str, extract):
    """An extractor of points; the fingerprint is its own, so no test reuses another's cached features."""
    body = {
        "supported_kinds": ("points",),
        "takes_weights": False,
        "fingerprint": lambda self: name,
        "_extract_batch": extract,
    }
    return type("PluginFeatures", (FeatureExtractor,), body)


def _run(cli, tmp_path, *args: str):
    return cli(
        "run", "--models", "gaussian,copy", "--samples", "100", "--metrics", "fid,prdc",
        "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache", "--no-progress", "--no-figures",
        *args,
    )  # fmt: skip


def _errors(r) -> list[str]:
    assert "Traceback" not in r.output and (r.exception is None or isinstance(r.exception, SystemExit)), (
        repr(r.exception),
        r.output,
    )
    return [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]


def _wider_every_other_call(self, x):
    self.calls = getattr(self, "calls", 0) + 1
    f = x.reshape(len(x), -1)
    return (f if self.calls % 2 else torch.cat([f, f[:, :1]], 1)), None


def _nan_features(self, x):
    f = x.reshape(len(x), -1).clone()
    f[0, 0] = float("nan")
    return f, None


@pytest.mark.parametrize(
    "extract, expected",
    [
        # np.concatenate's ValueError traceback, naming no plugin
        (
            _wider_every_other_call,
            "returned features of width 3 where earlier inputs of shape (2,) gave 2; "
            "return features (and logits) of one width for every input",
        ),
        # each metric: "N of M reference feature rows hold NaN or inf; check the model's samples"
        (
            _nan_features,
            "returned features holding NaN or inf in 1 of 500 rows for finite inputs; return finite features",
        ),
    ],
    ids=["width-between-batches", "nan"],
)
def test_an_extractor_plugin_breaking_the_contract_on_the_reference_stops_the_run_in_one_line(
    register, cli, tmp_path, extract, expected
):
    """The reference features, which every model is compared with, come first: the run stops as for
    an extractor plugin that raises (one line naming it, the fix), before any model is trained."""
    register(registry.features, "test-features", _extractor(extract.__name__, extract))
    r = _run(cli, tmp_path, "--dataset", "ring8", "--features", "test-features")
    assert r.exit_code == 2 and _errors(r) == [f"error: feature extractor 'test-features' {expected}"], (
        r.output
    )
    assert not (tmp_path / "runs" / "ring8").exists()


def _flat(self, x):
    return x.reshape(len(x), -1), None


def _flat_with_logits(self, x):
    f = x.reshape(len(x), -1)
    return f, f


@pytest.mark.parametrize(
    "declared, extract, expected",
    [
        (
            True,
            _flat,
            "returned no logits though it declares gives_logits = True; declare gives_logits = False",
        ),
        (
            False,
            _flat_with_logits,
            "returned logits though it declares gives_logits = False; declare gives_logits = None or True",
        ),
    ],
    ids=["declared-but-none", "undeclared-but-given"],
)
def test_an_extractor_plugin_giving_other_logits_than_it_declares_is_its_bug(
    register, cli, tmp_path, declared, extract, expected
):
    """``gives_logits`` is what `--metrics is` is refused (or run) by before any work: a plugin whose
    output belies it would have is refused for logits it gives, or run to "not computed" at the end."""
    cls = _extractor(extract.__name__, extract)
    cls.gives_logits = declared
    register(registry.features, "test-features", cls)
    r = _run(cli, tmp_path, "--dataset", "ring8", "--features", "test-features")
    assert r.exit_code == 2 and _errors(r) == [f"error: feature extractor 'test-features' {expected}"], (
        r.output
    )


@pytest.mark.parametrize(
    "method, extract, expected",
    [
        (
            "feature_dim",
            _flat,
            "returned features of width 2 though its feature_dim() declares 3; return features of that "
            "width, or make feature_dim() return 2 (None: not known before extracting)",
        ),
        (
            "logits_dim",
            _flat_with_logits,
            "returned logits of width 2 though its logits_dim() declares 3; return logits of that width, "
            "or make logits_dim() return 2 (None: not known before extracting)",
        ),
    ],
    ids=["features", "logits"],
)
def test_an_extractor_plugin_giving_other_widths_than_it_declares_is_its_bug(
    register, cli, tmp_path, method, extract, expected
):
    """``feature_dim()`` and ``logits_dim()`` are what fid_inf's and is_inf's options are checked by
    before any training (their docstring: an extractor that declares one must give it); a plugin
    whose output belied them was believed silently, its run scored (was exit 0, both widths)."""
    cls = _extractor(extract.__name__, extract)
    setattr(cls, method, lambda self: 3)
    register(registry.features, "test-features", cls)
    r = _run(cli, tmp_path, "--dataset", "ring8", "--features", "test-features")
    assert r.exit_code == 2 and _errors(r) == [f"error: feature extractor 'test-features' {expected}"], (
        r.output
    )


def _nan_for_100_rows(self, x):  # the samples' 100 rows, never a reference batch (500 rows)
    return _nan_features(self, x) if len(x) == 100 else (x.reshape(len(x), -1), None)


def _wider_for_100_rows(self, x):  # a width that depends on the batch size
    f = x.reshape(len(x), -1)
    return (torch.cat([f, f[:, :1]], 1) if len(x) == 100 else f), None


@pytest.mark.parametrize(
    "extract, expected",
    [
        # exit 2, per metric: "check the model's samples and the feature extractor"
        (_nan_for_100_rows, "returned features holding NaN or inf in 1 of 100 rows for finite inputs"),
        # exit 2, per metric: "extract both with the same feature extractor (--features)", as the user did
        (_wider_for_100_rows, "returned features of width 3 where earlier inputs of shape (2,) gave 2"),
    ],
    ids=["nan", "width-by-batch-size"],
)
def test_an_extractor_plugin_breaking_the_contract_on_samples_fails_as_a_plugin_not_the_user(
    register, cli, tmp_path, extract, expected
):
    register(registry.features, "test-features", _extractor(extract.__name__, extract))
    r = _run(cli, tmp_path, "--dataset", "ring8", "--features", "test-features")
    assert r.exit_code == 1 and _errors(r) == [], r.output
    for model in ("gaussian", "copy"):
        result = json.loads((tmp_path / "runs" / "ring8" / model / "seed0.json").read_text())
        assert result["status"] == "failed" and result["error_kind"] == "plugin", result
        assert result["error"].startswith(f"feature extractor 'test-features' {expected}; "), result["error"]


class _RequiresGrad(Dataset):
    kind = "points"
    default_features = "raw"

    def _load(self, split):
        gen = torch.Generator().manual_seed(int(split == "test"))
        return torch.randn(300, 2, generator=gen).requires_grad_(True), None


def test_a_dataset_plugin_whose_data_requires_grad_is_used_detached(register, cli, tmp_path):
    """It was a RuntimeError traceback ("Can't call numpy() on Tensor that requires grad") naming
    no plugin; a float tensor is the contract, and its autograd graph is nothing the harness uses."""
    register(registry.datasets, "test-grad-data", _RequiresGrad)
    r = _run(cli, tmp_path, "--dataset", "test-grad-data")
    assert r.exit_code == 0 and _errors(r) == [], r.output
    x, _ = registry.datasets.get("test-grad-data")().load("train")
    assert not x.requires_grad


def _scales_in_place(self, x):
    return x.mul_(3).reshape(len(x), -1), None


def _scales(self, x):
    return (x * 3).reshape(len(x), -1), None


def test_an_extractor_writing_into_its_input_changes_no_data(register, cli, tmp_path):
    """An extractor scaling its input in place scaled the train split (the reference's, extracted
    first) that every model then trained on, and the samples the other metrics read."""
    runs = {}
    for name, extract in (("in-place", _scales_in_place), ("out-of-place", _scales)):
        register(registry.features, name, _extractor(name, extract))
        r = _run(cli, tmp_path / name, "--dataset", "ring8", "--features", name)
        assert r.exit_code == 0, r.output
        runs[name] = {
            m: json.loads((tmp_path / name / f"runs/ring8/{m}/seed0.json").read_text())["metrics"]
            for m in ("gaussian", "copy")
        }
    assert runs["in-place"] == runs["out-of-place"]


class _OnTheGPU(torch.Tensor):
    """A tensor as a plugin that works on the GPU hands it over: ``numpy()`` refuses, in torch's words
    for a CUDA tensor, until ``cpu()`` has copied it to the host. (The tests run without a GPU.)"""

    def numpy(self, *args, **kwargs):
        raise TypeError(
            "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
            "memory first."
        )

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


class _SplitsOnTheGPU(Dataset):
    kind = "points"
    default_features = "raw"
    num_modes = 2

    def _load(self, split):
        gen = torch.Generator().manual_seed(int(split == "test"))
        x = torch.randn(300, 2, generator=gen)
        return x.as_subclass(_OnTheGPU), (x[:, 0] > 0).long().as_subclass(_OnTheGPU)

    def label_modes(self, x):
        return (x[:, 0] > 0).long().numpy()


def test_a_dataset_plugin_whose_splits_are_on_the_gpu_is_used_from_the_cpu(register, cli, tmp_path):
    """A plugin that loads its data onto the GPU (to train on it there): hashing the split for the
    cache keys called numpy() on it, a TypeError traceback naming no plugin, before any model ran. The
    harness keeps its splits on the CPU, as it keeps the samples and features a plugin returns."""
    register(registry.datasets, "test-gpu-data", _SplitsOnTheGPU)
    r = cli(
        "run", "--models", "gaussian,copy", "--samples", "100", "--metrics", "fid,prdc,memorization,modes",
        "--dataset", "test-gpu-data", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache",
        "--no-progress",
    )  # fmt: skip
    assert r.exit_code == 0 and _errors(r) == [], r.output
    result = json.loads((tmp_path / "runs" / "test-gpu-data" / "copy" / "seed0.json").read_text())
    assert result["metrics"]["modes_covered"] == 2 and result["metrics"]["memorization_rate"] == 1, result
    assert not result["metric_errors"] and set(result["artifacts"]) == {"samples", "nearest_neighbours"}, (
        result
    )
    x, labels = registry.datasets.get("test-gpu-data")().load("train")
    assert type(x) is torch.Tensor and type(labels) is torch.Tensor


class _LabelsOnTheGPU(Dataset):
    kind = "points"
    default_features = "raw"
    num_modes = 2

    def _load(self, split):
        gen = torch.Generator().manual_seed(int(split == "test"))
        return torch.randn(300, 2, generator=gen), None

    def label_modes(self, x):  # a classifier run on the GPU: its argmax stays there
        return (x[:, 0] > 0).long().as_subclass(_OnTheGPU)


class _LabelsOnTheCPU(_LabelsOnTheGPU):
    def label_modes(self, x):
        return (x[:, 0] > 0).long()


def test_mode_labels_a_dataset_plugin_returns_on_the_gpu_are_read_as_on_the_cpu(register, cli, tmp_path):
    """``label_modes`` returning a CPU tensor was read as an array; a CUDA one failed the built-in
    'modes' metric ("metric 'modes' raised TypeError: can't convert cuda:0 ..."), blamed on the
    metric and not on the dataset."""
    values = {}
    for name, cls in (("on-gpu", _LabelsOnTheGPU), ("on-cpu", _LabelsOnTheCPU)):
        register(registry.datasets, f"test-labels-{name}", cls)
        r = cli(
            "run", "--models", "copy", "--samples", "100", "--metrics", "modes", "--dataset", f"test-labels-{name}",
            "--out", tmp_path / name / "runs", "--cache-dir", tmp_path / "cache", "--no-progress", "--no-figures",
        )  # fmt: skip
        assert r.exit_code == 0 and _errors(r) == [], r.output
        result = json.loads(
            (tmp_path / name / "runs" / f"test-labels-{name}" / "copy" / "seed0.json").read_text()
        )
        assert not result["metric_errors"], result["metric_errors"]
        values[name] = result["metrics"]
    assert values["on-gpu"] == values["on-cpu"] and values["on-cpu"]["modes_covered"] == 2


class _Bars(Dataset):
    """8x8 images, one vertical bar each; its mode is the bar's column (a plugin as docs/plugins.md has one)."""

    kind = "image"
    default_features = "raw"
    num_modes = 8
    example_shape = (1, 8, 8)

    def _load(self, split):
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        labels = torch.randint(0, 8, (120,), generator=g)
        x = -torch.ones(120, 1, 8, 8)
        x[torch.arange(120), 0, :, labels] = 1.0
        return x, labels

    def label_modes(self, x):
        return x[:, 0].mean(1).argmax(-1).numpy()


def _api_run(tmp_path, **kwargs):
    from genbench import RunConfig, run

    config = {
        "models": ["copy"], "dataset": "test-bars", "samples": 60, "out": tmp_path / "runs",
        "cache_dir": tmp_path / "cache", "progress": False, "figures": False, "device": "cpu", **kwargs,
    }  # fmt: skip
    return run(RunConfig(**config))


def test_a_dataset_plugins_mode_labels_of_the_wrong_length_fail_naming_it(register, tmp_path):
    """label_modes returning 3 labels for 60 samples: modes_covered 1 of 8, silently."""

    class ShortLabels(_Bars):
        def label_modes(self, x):
            return torch.zeros(3, dtype=torch.long).numpy()

    register(registry.datasets, "test-bars", ShortLabels)
    (result,) = _api_run(tmp_path, metrics=["modes"])
    assert "modes_covered" not in result.metrics
    error = result.metric_errors["modes"]
    assert "dataset 'test-bars' returned 3 labels" in error and "per example" in error, error
    assert result.metric_error_kinds["modes"] == "plugin"


def test_an_extractor_plugin_whose_fingerprint_is_no_str_fails_naming_it(register, tmp_path):
    """An int fingerprint was written into the result, and `genbench report` then refused the whole
    board ("protocol.features.fingerprint is 12345, not str; delete it and rerun that model")."""
    from genbench.errors import PluginOutputError

    def extract(self, x):
        return x.reshape(len(x), -1)[:, :4], None

    body = {"takes_weights": False, "fingerprint": lambda self: 12345, "_extract_batch": extract}
    register(registry.datasets, "test-bars", _Bars)
    register(registry.features, "test-int-fingerprint", type("F", (FeatureExtractor,), body))
    with pytest.raises(PluginOutputError, match="feature extractor 'test-int-fingerprint' returned 12345"):
        _api_run(tmp_path, metrics=["fid"], features="test-int-fingerprint")


def test_a_points_dataset_whose_default_features_take_images_only_names_the_fix(register, tmp_path):
    """An extractor plugin declares no supported_kinds (images only) for a points dataset plugin whose
    default_features it is: the error said "use --features" the very extractor it refused."""
    from genbench.errors import GenbenchError

    class Points(Dataset):
        kind = "points"
        default_features = "test-projection"

        def _load(self, split):
            return torch.randn(50, 4, generator=torch.Generator().manual_seed(0)), None

    def extract(self, x):
        return x.reshape(len(x), -1)[:, :2], None

    body = {"takes_weights": False, "fingerprint": lambda self: "p", "_extract_batch": extract}
    register(registry.datasets, "test-points", Points)
    register(registry.features, "test-projection", type("F", (FeatureExtractor,), body))
    with pytest.raises(GenbenchError) as raised:
        _api_run(tmp_path, dataset="test-points", metrics=["fid"])
    message = str(raised.value)
    assert "use --features test-projection" not in message, message
    assert "supported_kinds = ('image', 'points')" in message and "--features raw" in message, message


def test_a_plugin_metric_against_unusable_reference_stats_is_the_users_error(register, tmp_path, capsys):
    """reference = "stats" with a --reference-stats file of the wrong dimension: the plugin was called
    with neither statistics nor reference features, failed as its own bug (exit 1), and the warning
    said only "FID will not be computed"."""
    import numpy as np

    from genbench.features.reference_stats import save_reference_stats
    from genbench.metrics.base import Metric

    class MeanShift(Metric):
        higher_is_better = {"mean_shift": False}  # noqa: RUF012
        reference = "stats"

        def compute(self, ctx):
            mu = ctx.reference_stats[0] if ctx.reference_stats is not None else None
            if mu is None:
                mu = ctx.reference_features.features.mean(0)
            return {"mean_shift": float(np.linalg.norm(ctx.sample_features.features.mean(0) - mu))}

    register(registry.datasets, "test-bars", _Bars)
    register(registry.metrics, "test-mean-shift", MeanShift)
    save_reference_stats(tmp_path / "wide.npz", np.zeros(5), np.eye(5))
    # prdc beside them: with no metric but those the statistics serve, the file is fatal at once
    metrics = ["fid", "test-mean-shift", "prdc"]
    (result,) = _api_run(tmp_path, metrics=metrics, reference_stats=tmp_path / "wide.npz")
    assert result.metric_error_kinds == {"fid": "user", "test-mean-shift": "user"}, result.metric_errors
    assert "dimension 5" in result.metric_errors["test-mean-shift"]
    assert "fid, test-mean-shift will not be computed" in capsys.readouterr().err


class _Returns(GenerativeModel):
    """Samples through ``make(n)``: a model whose batches break the contract in a way of the test's."""

    trainable = False
    make = staticmethod(lambda n: torch.zeros(n, 2))

    def fit(self, train, ctx):
        return {}

    def sample(self, n, *, generator):
        return self.make(n)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@pytest.mark.parametrize(
    "make, expected",
    [
        # torch's dispatch table, a hundred lines, as "model 'test-odd' raised NotImplementedError"
        (
            lambda n: torch.zeros(n, 2).to_sparse(),
            "returned a tensor of layout torch.sparse_coo from sample(); return a dense one (.to_dense())",
        ),
        # "raised RuntimeError: Tensor.item() cannot be called on meta tensors"
        (
            lambda n: torch.zeros(n, 2, device="meta"),
            "returned a meta tensor, which holds no values, from sample(); return one on generator.device",
        ),
    ],
    ids=["sparse", "meta"],
)
def test_a_model_returning_a_tensor_without_dense_values_fails_alone_in_one_line(
    register, tmp_path, make, expected
):
    register(registry.models, "test-odd", type("Odd", (_Returns,), {"make": staticmethod(make)}))
    config = RunConfig(
        models=["test-odd", "copy"], dataset="ring8", samples=50, metrics=["fid"], out=tmp_path / "runs",
        cache_dir=tmp_path / "cache", progress=False, figures=False,
    )  # fmt: skip
    odd, copy = run(config)
    assert (odd.status, odd.error_kind, odd.error) == ("failed", "plugin", f"model 'test-odd' {expected}")
    assert copy.status == "ok" and "fid" in copy.metrics


@pytest.mark.parametrize("nfe", [-3, float("nan"), None, "50"])  # -3 was recorded and ranked first
def test_a_model_whose_nfe_is_no_count_fails_alone_naming_nfe(register, tmp_path, nfe):
    """A negative or NaN nfe was recorded and shown on the board; None or a str failed the model with
    "float() argument must be a string or a real number" or "could not convert", naming no nfe."""
    register(registry.models, "test-nfe", type("Nfe", (_Returns,), {"nfe": nfe}))
    register(registry.models, "test-adaptive", type("Adaptive", (_Returns,), {"nfe": 37.5}))  # a mean
    config = RunConfig(
        models=["test-nfe", "test-adaptive"], dataset="ring8", samples=50, metrics=["throughput"],
        out=tmp_path / "runs", cache_dir=tmp_path / "cache", progress=False, figures=False,
    )  # fmt: skip
    bad, adaptive = run(config)
    assert (bad.status, bad.error_kind) == ("failed", "plugin")
    assert bad.error == (
        f"model 'test-nfe' has nfe = {nfe!r}; nfe is the number of network evaluations per sample, "
        "a number >= 0 (1 for one network call)"
    )
    assert adaptive.status == "ok" and adaptive.metrics["nfe"] == 37.5
