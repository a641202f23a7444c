"""A dataset split's features that a metric asks for (memorization's test split in feature space)
come from the on-disk cache the reference features come from (genbench.split_features): extracted
once, with the run's bar, for every model, seed and later command, to the same values as the
extraction in the context that a bare EvalContext still does."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from cli_helpers import run_args  # tests/ is on the path
from plugin_helpers import _Metric

import genbench.progress
from genbench import RunConfig, registry
from genbench.features.base import FeatureExtractor, Features
from genbench.features.classifier import Classifier
from genbench.features.reference import reference_features
from genbench.metrics.base import EvalContext
from genbench.metrics.memorization import Memorization
from genbench.resolve import build_dataset
from genbench.runner import run

pytestmark = pytest.mark.usefixtures("one_thread")

FEATURE_SPACE = "memorization.space=features"


@pytest.fixture
def extractions(monkeypatch):
    """The rows of every extraction, counted (the digits test split has 360)."""
    rows: Counter[int] = Counter()
    real = FeatureExtractor.extract

    def counting(self, x, *args, **kwargs):
        rows[len(x)] += 1
        return real(self, x, *args, **kwargs)

    monkeypatch.setattr(FeatureExtractor, "extract", counting)
    return rows


def test_the_test_split_is_extracted_once_for_every_model_seed_and_command(tmp_path, extractions):
    """Two models and two seeds, then the same command again: the test split's classifier features
    were extracted by the first model of every command (14 minutes of Inception features for
    CIFAR-10's 10000 test images on a CPU, each command), with no bar. Now once, into the cache."""
    cache = tmp_path / "cache"
    num_test = len(build_dataset("digits", RunConfig(cache_dir=cache)).load("test")[0])
    values = []
    for command in (1, 2):
        extractions.clear()
        results = run(
            RunConfig(
                models=["copy", "gaussian"],
                seeds=[0, 1],
                dataset="digits",
                features="classifier",
                metrics=["memorization"],
                metric_options=[FEATURE_SPACE],
                samples=300,
                out=tmp_path / f"runs{command}",
                cache_dir=cache,
                progress=False,
                figures=False,
            )
        )
        assert [r.status for r in results] == ["ok"] * 4
        assert all("ct" in r.metrics and "memorization_rate_heldout" in r.metrics for r in results)
        assert extractions[num_test] == (1 if command == 1 else 0), dict(extractions)
        values.append([r.metrics for r in results])
    assert values[0] == values[1]  # read back from the cache: the same values, to the last bit


def test_the_cached_test_features_give_the_values_extracted_in_the_context(tmp_path):
    """The values in feature space are those of the test split extracted in the context (as a bare
    EvalContext still does): the cache stores the features as float32 where that keeps every value."""
    digits = build_dataset("digits", RunConfig(cache_dir=tmp_path / "data"))
    extractor = Classifier(digits, cache_dir=tmp_path / "cache")
    train = reference_features(digits, extractor, "train", tmp_path / "cache")
    samples = digits.load("train")[0][:200] + 0.05 * torch.randn(200, 1, 8, 8, generator=torch.manual_seed(0))
    read = []

    def cached(split, by=None):
        read.append(split)
        return reference_features(digits, by or extractor, split, tmp_path / "cache")

    def ctx(**reader) -> EvalContext:
        return EvalContext(
            dataset=digits,
            samples=samples,
            sample_features=extractor.extract(samples),
            # a cache of its own: memorization keeps what the train and test splits give there
            reference_features=Features(train.features, train.logits),
            extractor=extractor,
            seed=0,
            options={"memorization": {"space": "features"}},
            **reader,
        )

    bare = Memorization().compute(ctx())
    assert "ct" in bare and "memorization_rate_heldout" in bare
    for _ in ("extracted into the cache", "read from it"):
        assert Memorization().compute(ctx(split_features_reader=cached)) == bare
    assert read == ["test", "test"]


def test_a_run_shows_the_test_split_extraction_as_it_shows_the_reference(cli, tmp_path, monkeypatch):
    """The test split's extraction said nothing in a log file (no count, no forecast); it now says
    each tenth of its rows, named as the reference's are."""
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0)
    args = run_args(tmp_path / "runs", tmp_path / "cache", "--models", "copy", "--dataset", "ring8")
    args = [a for a in args if a != "--no-progress"]
    r = cli(*args, "--samples", "100", "--metrics", "memorization", "--metric-option", FEATURE_SPACE)
    assert r.exit_code == 0, r.output
    assert "test features of ring8 (raw): 2000/2000" in r.output, r.output


def test_test_features_read_through_a_network_a_metric_changed_are_not_cached(register, tmp_path):
    """A metric plugin that hooked the extractor's network and then asked for the test split's
    features would have cached the hooked network's features: memorization after it (the network put
    back) read them, and so did every later command. They are extracted without the cache instead."""

    read = []

    class HooksThenReads(_Metric):
        def compute(self, ctx):
            ctx.extractor.model.body.register_forward_hook(lambda module, inputs, output: 2 * output)
            read.append(ctx.split_features("test").features.shape)
            return {"reads": 1.0}  # dropped: computed through the network it changed

    register(registry.metrics, "test-hooks-reads", HooksThenReads)

    def memorization(out, cache, metrics):
        config = RunConfig(
            models=["copy"],
            dataset="digits",
            samples=200,
            metrics=metrics,
            metric_options=[FEATURE_SPACE],
            out=tmp_path / out,
            cache_dir=tmp_path / cache,
            progress=False,
            figures=False,
        )
        (result,) = run(config)
        return result.metrics

    clean = memorization("clean", "clean-cache", ["memorization"])
    assert "ct" in clean
    assert memorization("dirty", "cache", ["test-hooks-reads", "memorization"]) == clean
    assert read == [(360, 128)]  # a metric plugin reads the split's features too, from the network hooked
    assert memorization("after", "cache", ["memorization"]) == clean
