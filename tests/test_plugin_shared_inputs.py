"""What one plugin writes into what every model and metric shares (the data, the features and their
caches, the extractor's network, the reference stats, the metric options, the samples) cannot
change another's numbers: the plugin fails alone, or writes into its own copy (audit 31)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from plugin_helpers import (  # tests/ is on the path: pytest puts it there
    _ConfiguredModel,
    _Metric,
    run_ring8,
)

from genbench import registry
from genbench.config import RunConfig
from genbench.features.base import FeatureExtractor
from genbench.runner import run


def test_a_metric_that_changes_the_shared_features_fails_alone(register, tmp_path, cache_dir):
    """Every metric of every model reads the same reference features: one that centred them in place
    shifted the FID of every model after it. The arrays are read-only, so that metric fails alone."""

    class Centres(_Metric):
        def compute(self, ctx):
            ctx.reference_features.features -= ctx.reference_features.features.mean(0)
            return {"centres": 1.0}

    register(registry.metrics, "test-centres", Centres)
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["fid"])
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-centres", "fid"])
    for model in ("copy", "gaussian"):
        assert "read-only" in dirty[model].metric_errors["test-centres"]
        assert dirty[model].metrics["fid"] == clean[model].metrics["fid"]


@pytest.mark.parametrize("which", ["reference", "sample"])
def test_a_metric_that_changes_the_shared_features_through_torch_fails_alone(
    register, tmp_path, cache_dir, which
):
    """``torch.as_tensor`` shares the read-only arrays (torch warns once a process, then writes): a
    metric that normalised them in place moved the FID of every metric and model after it, all "ok"."""

    class Normalises(_Metric):
        def compute(self, ctx):
            x = torch.as_tensor(getattr(ctx, f"{which}_features").features)
            x /= x.norm(dim=1, keepdim=True)
            return {"normalises": 1.0}

    register(registry.metrics, "test-normalises", Normalises)
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["fid"])
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-normalises", "fid"])
    for model in ("copy", "gaussian"):
        assert dirty[model].metric_errors["test-normalises"] == (
            f"test-normalises: changed the {which} features in place, which the metrics after it read too "
            "(a tensor from torch.from_numpy or torch.as_tensor shares their read-only memory); compute on "
            "a copy, e.g. torch.tensor(x) or x.copy()"
        )
        assert dirty[model].metric_error_kinds["test-normalises"] == "plugin"
        assert "normalises" not in dirty[model].metrics  # computed on what it changed
        assert dirty[model].metrics["fid"] == clean[model].metrics["fid"]


class _NormedFeatures(FeatureExtractor):
    """A plugin extractor whose network has BatchNorm: in training mode it normalises each batch by
    its own statistics and updates its running ones."""

    supported_kinds = ("points",)
    takes_weights = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8)).eval()
        self.net[1].running_mean.fill_(0.5)  # statistics as if trained: not the identity's
        self.net[1].running_var.fill_(4.0)

    def fingerprint(self):
        return "test-normed"

    def _extract_batch(self, x):
        return self.net(x), None


def _doubled(module, inputs, output):
    return 2 * output


def _writes_in_place(net):
    with torch.no_grad():
        net[0].weight.mul_(2)


#: what a metric plugin did to the network of the extractor it is handed, and what that is called
NETWORK_CHANGES = {
    "train": (lambda net: net.train(), "train/eval mode"),
    "hook": (lambda net: net[0].register_forward_hook(_doubled), "hooks"),
    "in place": (_writes_in_place, "weights written in place"),
    "double": (lambda net: net.double(), "modules, parameters or buffers"),
    "swap": (lambda net: net.__setitem__(1, torch.nn.Identity()), "modules, parameters or buffers"),
}


#: the in-tree metrics that read the features, memorization extracting with the extractor itself
FEATURE_METRICS = ["fid", "kid", "prdc", "memorization", "modes"]


def _network_message(metric: str, what: str) -> str:
    return (
        f"{metric}: changed the feature extractor's network ({what}), which every metric and model "
        "after it extracts with; leave ctx.extractor as it is (ctx.extractor.extract(x) gives features), "
        "or change a copy.deepcopy of its network"
    )


@pytest.mark.parametrize("change", list(NETWORK_CHANGES))
def test_a_metric_that_changes_the_feature_extractors_network_fails_alone(
    register, tmp_path, cache_dir, change
):
    """Every metric is handed the extractor (memorization extracts with it): one that put its
    network in training mode, hooked it or wrote a weight moved the values of every metric and model
    after it, all "ok"; a .double() failed every later model's extraction."""
    act, what = NETWORK_CHANGES[change]

    class Changes(_Metric):
        def compute(self, ctx):
            act(ctx.extractor.net)
            return {"changes": 1.0}

    register(registry.features, "test-normed", _NormedFeatures)
    register(registry.metrics, "test-changes", Changes)
    options = ["memorization.space=features"]
    extra = {"features": "test-normed", "metric_options": options}
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=FEATURE_METRICS, **extra)
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-changes", *FEATURE_METRICS], **extra)
    for model in ("copy", "gaussian"):
        assert dirty[model].status == "ok"
        assert {k: dirty[model].metrics.get(k) for k in clean[model].metrics} == clean[model].metrics
        assert "changes" not in dirty[model].metrics  # computed on the network it changed
        # the in-tree metrics after it, memorization's own extraction too, trip nothing
        assert dirty[model].metric_errors == {"test-changes": _network_message("test-changes", what)}
        assert dirty[model].metric_error_kinds == {"test-changes": "plugin"}


def _run_digits(out, cache_dir, metrics, **options):
    """copy and gaussian on 200 digits samples with ``metrics``: {model: result}."""
    config = RunConfig(
        models=["copy", "gaussian"],
        dataset="digits",
        samples=200,
        metrics=metrics,
        out=out,
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
        **options,
    )
    return {r.model: r for r in run(config)}


def test_a_metric_that_hooks_the_classifiers_network_fails_alone(register, tmp_path, cache_dir):
    """The digits classifier's network is one object per process (the mode labels use it too): a
    metric's forward hook moved gaussian's FID from 223 to 909, and every later run's in the process."""

    class Hooks(_Metric):
        def compute(self, ctx):
            ctx.extractor.model.body.register_forward_hook(_doubled)
            return {"hooks": 1.0}

    register(registry.metrics, "test-hooks", Hooks)

    metrics = [*FEATURE_METRICS, "is"]
    space = {"metric_options": ["memorization.space=features"]}
    clean = _run_digits(tmp_path / "clean", cache_dir, metrics, **space)
    dirty = _run_digits(tmp_path / "dirty", cache_dir, ["test-hooks", *metrics], **space)
    after = _run_digits(tmp_path / "after", cache_dir, metrics, **space)
    for model in ("copy", "gaussian"):
        assert {k: dirty[model].metrics.get(k) for k in clean[model].metrics} == clean[model].metrics
        assert after[model].metrics == clean[model].metrics
        assert "hooks" not in dirty[model].metrics
        assert dirty[model].metric_errors == {"test-hooks": _network_message("test-hooks", "hooks")}


def _labels_zero(module, inputs, output):
    """Every example's logits put on class 0: a hook that moves the mode labels, not only features."""
    return torch.zeros_like(output).index_fill_(1, torch.tensor([0]), 1.0)


def test_the_mode_labels_a_metric_reads_through_a_network_it_changed_are_read_again(
    register, tmp_path, cache_dir
):
    """On the CPU the digits classifier's network labels the modes too: a metric that hooked it and
    then read ``ctx.sample_modes()`` failed, the network was put back, but "modes" after it counted
    the labels kept from the hooked network (copy's 10 modes covered became 1), all "ok"."""

    class HooksThenReadsModes(_Metric):
        def compute(self, ctx):
            ctx.extractor.model.head.register_forward_hook(_labels_zero)
            ctx.sample_modes()
            return {"hooks": 1.0}

    register(registry.metrics, "test-hooks-modes", HooksThenReadsModes)

    clean = _run_digits(tmp_path / "clean", cache_dir, ["modes"])
    dirty = _run_digits(tmp_path / "dirty", cache_dir, ["test-hooks-modes", "modes"])
    for model in ("copy", "gaussian"):
        assert dirty[model].metrics == clean[model].metrics
        assert dirty[model].flags == clean[model].flags
        assert list(dirty[model].metric_errors) == ["test-hooks-modes"]


def test_a_metric_that_changes_the_reference_stats_fails_alone(register, tmp_path, cache_dir):
    """--reference-stats are one (mu, sigma) for every metric of every model: a metric regularising
    sigma in place (``sigma += I``) moved every later FID (copy's from 4.6 to 198), all "ok"."""
    from genbench.features.reference_stats import save_reference_stats

    class Regularises(_Metric):
        reference = "stats"

        def compute(self, ctx):
            mu, sigma = ctx.reference_stats
            sigma[np.diag_indices_from(sigma)] += 1.0
            return {"regularises": 1.0}

    register(registry.metrics, "test-regularises", Regularises)
    rng = np.random.default_rng(0)
    points = rng.normal(size=(500, 2))
    save_reference_stats(tmp_path / "stats.npz", points.mean(0), np.cov(points, rowvar=False))
    stats = {"reference_stats": tmp_path / "stats.npz"}
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["fid"], **stats)
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-regularises", "fid"], **stats)
    for model in ("copy", "gaussian"):
        assert "read-only" in dirty[model].metric_errors["test-regularises"]
        assert dirty[model].metrics["fid"] == clean[model].metrics["fid"]


def test_metric_options_hold_the_defaults_and_are_each_metrics_own(register, tmp_path, cache_dir):
    """``ctx.options`` lacked the declared defaults that Metric.options documents (a plugin reading
    ``ctx.options[name]["p"]`` failed with KeyError unless --metric-option gave p), and it was one
    dict for every metric of every model: a metric's ``ctx.options["prdc"]["k_pr"] = 15`` changed the
    next metrics' precision, which still recorded k_pr=3."""

    class Reads(_Metric):
        options: ClassVar[dict[str, object]] = {"p": 2.0}

        def compute(self, ctx):
            ctx.options["prdc"]["k_pr"] = 15
            return {"reads": ctx.options[self.name]["p"]}

    register(registry.metrics, "test-reads", Reads)
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=["prdc"])
    dirty = run_ring8(tmp_path / "dirty", cache_dir, metrics=["test-reads", "prdc"])
    for model in ("copy", "gaussian"):
        assert dirty[model].metrics["reads"] == 2.0 and not dirty[model].metric_errors
        assert dirty[model].metrics["precision"] == clean[model].metrics["precision"]
        assert dirty[model].protocol["metric_options"]["prdc"] == {"k_pr": 3, "k_dc": 5}
    assert clean["gaussian"].metrics["precision"] < 1  # k_pr = 15 would have called it 1


def test_a_model_writing_into_its_data_changes_no_other_models_numbers(register, tmp_path, cache_dir):
    """``train.mul_(10)`` in ``fit`` (or later, in ``sample``, through a reference it kept) wrote into
    the dataset's one copy of the train split: every later model trained on scaled data and was
    compared with features of the unscaled data (gaussian's FID 0.02 -> 65), all recorded "ok"."""

    class Scales(_ConfiguredModel):
        def fit(self, train, ctx):
            train.mul_(10)
            self.kept = train
            return {}

        def sample(self, n, *, generator):
            self.kept[:5].mul_(100)
            return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    register(registry.models, "test-scales", Scales)
    clean = run_ring8(tmp_path / "clean", cache_dir, models=("gaussian", "copy"), metrics=["fid", "kid"])
    after = run_ring8(
        tmp_path / "after", cache_dir, models=("test-scales", "gaussian", "copy"), metrics=["fid", "kid"]
    )
    for model in ("gaussian", "copy"):
        assert after[model].metrics == clean[model].metrics


def test_a_metric_writing_into_its_inputs_changes_no_other_metrics_numbers(register, tmp_path, cache_dir):
    """A metric's ``ctx.samples.mul_(50)`` turned copy's memorized samples "collapsed" for the metrics
    after it; its ``ctx.train_data().add_(5)`` moved the next model's FID; its
    ``ctx.timings["samples_per_s"] = 1e12`` was reported as the throughput."""

    class Writes(_Metric):
        def compute(self, ctx):
            ctx.samples.mul_(50)
            ctx.train_data().add_(5)
            ctx.timings["samples_per_s"] = 1e12
            ctx.training_log.append({"step": -1.0})
            return {"writes": 1.0}

    register(registry.metrics, "test-writes", Writes)
    metrics = ["fid", "memorization", "modes"]
    clean = run_ring8(tmp_path / "clean", cache_dir, metrics=metrics)
    after = run_ring8(tmp_path / "after", cache_dir, metrics=["test-writes", *metrics, "throughput"])
    for model in ("copy", "gaussian"):
        assert {k: after[model].metrics[k] for k in clean[model].metrics} == clean[model].metrics
        assert after[model].flags == clean[model].flags
        assert after[model].metrics["samples_per_s"] != 1e12 and after[model].timings["samples_per_s"] != 1e12
        assert after[model].training_log == clean[model].training_log


def test_a_metric_copies_the_samples_only_when_it_reads_them(tmp_path, clones):
    """Every metric was handed its own copy of the samples, also those that read only features (FID,
    KID, PRDC, IS): 614 MB and half a second each at 50000 CIFAR-10-sized samples."""
    from genbench.data.toy2d import Ring8
    from genbench.features.base import Features
    from genbench.metrics.base import EvalContext
    from genbench.scoring import _own_copies

    samples = torch.randn(300, 2)
    kept = samples.clone()
    ctx = EvalContext(
        dataset=Ring8(cache_dir=tmp_path),
        samples=samples,
        sample_features=Features(samples.double().numpy().copy()),
        reference_features=Features(np.zeros((2, 2))),
        extractor=None,
        seed=0,
    )
    cloned = clones()
    own = _own_copies(ctx, _Metric())
    assert own.num_samples == 300 and own.sample_features.features.shape == (300, 2)
    assert cloned == []  # a features-only metric: no copy
    mine = own.samples
    assert cloned == [(300, 2)] and own.samples is mine  # copied once, on the first read
    mine.mul_(50)
    assert torch.equal(ctx.samples, kept) and torch.equal(own.samples, kept * 50)
    assert torch.equal(_own_copies(ctx, _Metric()).samples, kept)  # the next metric's copy is clean


def _poison(value):
    """Scale every tensor ``value`` holds (a dict, a tuple, or a tensor) in place."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        value.mul_(7)
    elif isinstance(value, dict):
        for v in value.values():
            _poison(v)
    elif isinstance(value, tuple):
        for v in value:
            _poison(v)


def test_a_metric_writing_into_the_data_modes_and_caches_it_reads_changes_no_other_numbers(
    register, tmp_path, cache_dir
):
    """Three doors beside the ones above: ``ctx.dataset.load(split)`` handed a metric the dataset's one
    copy of each split (``x.add_(5)`` moved every later model's FID and memorization); the mode
    labels of ``ctx.sample_modes()`` were the array that "modes" then read; and the reference
    features' cache held the k-NN radii and distances that prdc and memorization reuse for every
    later model, where another metric could scale them."""

    class Writes(_Metric):
        def compute(self, ctx):
            for split in ("train", "test"):
                ctx.dataset.load(split)[0].add_(5)
            _poison(ctx.reference_features.cache)
            _poison(ctx.sample_features.cache)
            ctx.sample_modes()[:] = 0  # read-only now: this metric fails, alone
            return {"writes": 1.0}

    register(registry.metrics, "test-writes-shared", Writes)
    metrics = ["fid", "prdc", "memorization", "modes"]
    models = ("copy", "gaussian", "collapse")  # the later ones scored after the caches were filled
    clean = run_ring8(tmp_path / "clean", cache_dir, models=models, metrics=metrics)
    after = run_ring8(tmp_path / "after", cache_dir, models=models, metrics=["test-writes-shared", *metrics])
    for model in models:
        assert {k: after[model].metrics[k] for k in clean[model].metrics} == clean[model].metrics, model
        assert after[model].flags == clean[model].flags
        assert list(after[model].metric_errors) == ["test-writes-shared"]
