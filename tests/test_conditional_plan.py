"""Class-conditional models (``GenerativeModel.conditional``) at registration and planning: a
``conditional`` that is no bool, a conditional ``sample`` without ``labels``, a conditional model on
data without labels, and a weights owner that conditions otherwise are refused before any training.
In-process plugins, registered for one test only."""

from __future__ import annotations

import re

import pytest
import torch
from plugin_helpers import _ConfiguredModel, run_ring8  # tests/ is on the path: pytest puts it there

from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.errors import GenbenchError, RegistrationError
from genbench.registration_checks import check_class
from genbench.runner import run


class _Conditional(_ConfiguredModel):
    conditional = True

    def fit(self, train, ctx):
        self.fitted = True

    def sample(self, n, *, generator, labels):
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_a_conditional_that_is_no_bool_fails_at_registration(bad):
    # fails on the old code: it registered conditional = "yes" (a truthy string) unchecked
    cls = type("Bad", (_ConfiguredModel,), {"conditional": bad})
    with pytest.raises(RegistrationError, match=r"declares conditional = .*use True .* or False"):
        check_class("model", GenerativeModel, "bad", cls)


def test_a_conditional_model_whose_sample_takes_no_labels_fails_at_registration():
    # fails on the old code: it registered, and every run failed at the first batch, after training
    cls = type("NoLabels", (_ConfiguredModel,), {"conditional": True})
    with pytest.raises(RegistrationError, match=r"sample\(\) takes no labels; define sample\(self, n"):
        check_class("model", GenerativeModel, "no-labels", cls)
    check_class("model", GenerativeModel, "ok", _Conditional)  # a sample(..., labels) registers


def _no_labels_dataset():
    from genbench.data.toy2d import Ring8

    class Unlabelled(Ring8):  # ring8's points without their mixture components
        def _load(self, split):
            return super()._load(split)[0], None

    return Unlabelled


@pytest.mark.parametrize("why", ["num_modes", "labels"])
def test_a_conditional_model_on_data_without_labels_is_refused_before_training(
    register, tmp_path, cache_dir, why
):
    # fails on the old code: the run went on, and fit got ctx.labels None
    register(registry.models, "test-cond", _Conditional)
    cls = (
        _no_labels_dataset()
        if why == "labels"
        else type("NoModes", (_no_labels_dataset(),), {"num_modes": None})
    )
    register(registry.datasets, "test-unlabelled", cls)
    config = RunConfig(
        models=["gaussian", "test-cond"], dataset="test-unlabelled", samples=200, out=tmp_path / "runs",
        cache_dir=cache_dir, device="cpu", figures=False, progress=False, metrics=["fid"],
    )  # fmt: skip
    said = (
        "declares no number of classes (num_modes)"
        if why == "num_modes"
        else "has no labels in its train split"
    )
    with pytest.raises(
        GenbenchError,
        match=rf"'test-cond' is class-conditional, but dataset .*{re.escape(said)}.*drop test-cond",
    ):
        run(config)
    assert not list(
        (tmp_path / "runs").rglob("*.json")
    )  # nothing ran: gaussian, planned first, wrote nothing


def test_a_conditional_model_sampling_an_unconditional_owners_weights_is_a_plugin_error(
    register, tmp_path, cache_dir
):
    # fails on the old code: it ran, handing labels to a network trained without them
    class Dependent(_Conditional):
        weights_from = "gaussian"

    register(registry.models, "test-cond-dependent", Dependent)
    results = run_ring8(tmp_path, cache_dir, models=("test-cond-dependent", "copy"), metrics=["fid"])
    assert results["copy"].status == "ok"
    bad = results["test-cond-dependent"]
    assert (bad.status, bad.error_kind) == ("failed", "plugin")
    assert "is a class-conditional model but samples the weights of 'gaussian'" in bad.error
