"""The same command gives the same numbers: whatever the cache holds (a model trained now or loaded,
reference features extracted at another batch size) and however the batches fall."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig
from genbench.data.digits import Digits
from genbench.data.toy2d import Ring8
from genbench.features.base import MIN_BATCH_ROWS, FeatureExtractor
from genbench.features.classifier import Classifier
from genbench.features.reference import cache_key
from genbench.runner import run


class _GlobalDraws(GenerativeModel):
    """A plugin that breaks the contract the common way: it samples from torch's global generator
    (``torch.randn`` without ``generator``), and its training draws from it too."""

    @dataclass
    class Config:
        steps: int = 3

    def fit(self, train, ctx):
        flat = train.flatten(1)
        self.mean, self.std = flat.mean(0), flat.std(0)
        for _ in range(self.config.steps):
            torch.randn(64)  # a minibatch index, a dropout mask: drawn in training only
        return {}

    def sample(self, n, *, generator):
        return self.mean + self.std * torch.randn(n, self.mean.numel())

    def state_dict(self):
        return {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state):
        self.mean, self.std = state["mean"], state["std"]


def fid_and_loaded(model: str, out) -> tuple[float, bool]:
    """``model``'s FID on ring8 (200 samples, seed 0) with results in ``out`` and the cache beside
    it, and whether its checkpoint was loaded rather than trained."""
    config = RunConfig(
        models=[model],
        dataset="ring8",
        samples=200,
        metrics=["fid"],
        out=out,
        cache_dir=out.parent / "cache",
        device="cpu",
        figures=False,
        progress=False,
    )
    (result,) = run(config)
    assert result.status == "ok", result.error
    return result.metrics["fid"], result.training["loaded"]


def test_a_plugin_sampling_from_the_global_generator_scores_the_same_trained_or_loaded(register, tmp_path):
    """The global generator was seeded before training only: sampling drew from wherever ``fit`` had
    left it, so the run that trained the model and the next, which loaded it, scored other samples
    (FID 574.3 against 591.2 on digits)."""
    register(registry.models, "test-global-draws", _GlobalDraws)

    trained, loaded = (
        fid_and_loaded("test-global-draws", tmp_path / "a"),
        fid_and_loaded("test-global-draws", tmp_path / "b"),
    )
    assert (trained[1], loaded[1]) == (False, True)
    assert trained[0] == loaded[0]


class _NumpyDraws(_GlobalDraws):
    """As :class:`_GlobalDraws`, drawing from numpy's and Python's global generators instead."""

    def fit(self, train, ctx):
        flat = train.flatten(1)
        self.mean, self.std = flat.mean(0), flat.std(0)
        np.random.permutation(64)  # a shuffle in training only
        random.random()
        return {}

    def sample(self, n, *, generator):
        noise = torch.from_numpy(np.random.standard_normal((n, self.mean.numel()))).float()
        return self.mean + random.uniform(0.5, 1.5) * self.std * noise


def test_a_plugin_drawing_from_numpy_and_random_scores_the_same_wherever_it_runs(register, tmp_path):
    """numpy's and Python's global generators were never seeded: a plugin drawing from them scored
    other numbers on every run; they are seeded as torch's is, and the API caller gets its own
    generators' states back."""
    register(registry.models, "test-numpy-draws", _NumpyDraws)

    np.random.seed(1)
    random.seed(1)
    trained = fid_and_loaded("test-numpy-draws", tmp_path / "a")
    np.random.seed(2)  # the caller's draws in between must not matter either
    random.seed(2)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    loaded = fid_and_loaded("test-numpy-draws", tmp_path / "b")
    assert (trained[1], loaded[1]) == (False, True)
    assert trained[0] == loaded[0]
    assert np.array_equal(np.random.get_state()[1], numpy_state[1]) and random.getstate() == python_state


class _Rows(FeatureExtractor):
    """Features that record how many rows each call was handed (the pixel means otherwise)."""

    def fingerprint(self) -> str:
        return "rows-v1"

    def _extract_batch(self, x):
        self.__dict__.setdefault("calls", []).append(len(x))
        return x.flatten(1).mean(1, keepdim=True), None


def test_a_short_batch_is_padded_and_its_padding_dropped(tmp_path):
    x = torch.arange(1000, dtype=torch.float32).reshape(250, 1, 2, 2)
    ext = _Rows(None, cache_dir=tmp_path, batch_size=100)
    f = ext.extract(x).features
    assert ext.calls == [100, 100, MIN_BATCH_ROWS]  # the last 50 rows went as a batch of 64
    np.testing.assert_array_equal(f[:, 0], x.flatten(1).mean(1).double().numpy())
    small = _Rows(None, cache_dir=tmp_path, batch_size=7)
    small.extract(x[:16])
    assert small.calls == [7, 7, 7]  # never more rows than --batch-size


def test_the_digits_classifier_gives_each_example_the_same_features_at_any_batch_size(tmp_path):
    """A short last batch (2 rows of 1437 at batch size 7) took other CPU kernels: its features moved by
    up to 4e-6, so the same command's FID depended on the batch size that had cached the reference
    features, and ``copy``'s exact ties (PRDC density) on ``--batch-size``."""
    digits = Digits(cache_dir=tmp_path)
    x = digits.load("train")[0]
    want = Classifier(digits, cache_dir=tmp_path, batch_size=500).extract(x)
    for batch_size in (7, 33, 1000):
        got = Classifier(digits, cache_dir=tmp_path, batch_size=batch_size).extract(x)
        np.testing.assert_array_equal(got.features, want.features, err_msg=str(batch_size))
        np.testing.assert_array_equal(got.logits, want.logits, err_msg=str(batch_size))


class _RoundsOtherwiseInFewRows(FeatureExtractor):
    """Features that come out otherwise from a call of fewer than 4 rows, as the digits classifier's
    did on a 2-core AVX-512 VM (a matrix product of 1 to 3 rows takes other CPU kernels, up to 8e-6),
    scaled up to move FID whatever the machine."""

    supported_kinds = ("points",)

    def fingerprint(self) -> str:
        return "few-rows-v1"

    def _extract_batch(self, x):
        return x.flatten(1) * (1.01 if len(x) < 4 else 1.0), None


def test_a_run_at_a_tiny_batch_size_scores_the_same_whatever_the_cache_holds(register, tmp_path):
    """Reference features were cached whatever rows each call had: a ``--batch-size 2`` run read those
    a default run had cached (FID 217.40276652260536 against 217.4027662963474 in a fresh cache on
    digits), and a default run read those a ``--batch-size 2`` run had cached."""
    register(registry.features, "test-few-rows", _RoundsOtherwiseInFewRows)

    def fid(out: str, cache: str, batch_size: int) -> float:
        config = RunConfig(
            models=["gaussian"],
            dataset="ring8",
            samples=200,
            metrics=["fid"],
            features="test-few-rows",
            batch_size=batch_size,
            out=tmp_path / out,
            cache_dir=tmp_path / cache,
            device="cpu",
            figures=False,
            progress=False,
        )
        (result,) = run(config)
        assert result.status == "ok", result.error
        return result.metrics["fid"]

    tiny, default = fid("a", "tiny-first", 2), fid("b", "default-first", 500)
    assert fid("c", "default-first", 2) == tiny
    assert fid("d", "tiny-first", 500) == default


def test_reference_features_are_keyed_by_the_rows_of_a_call_only_below_the_padding(tmp_path):
    """Every batch size from ``MIN_BATCH_ROWS`` up extracts in calls of that many rows or more: the
    default's cache keys are what they were."""
    ds = Ring8(cache_dir=tmp_path)
    keys = {
        b: cache_key(ds, _RoundsOtherwiseInFewRows(ds, cache_dir=tmp_path, batch_size=b), "train")
        for b in (2, 3, MIN_BATCH_ROWS - 1, MIN_BATCH_ROWS, 500)
    }
    assert keys[MIN_BATCH_ROWS] == keys[500]
    assert len({keys[2], keys[3], keys[MIN_BATCH_ROWS - 1], keys[MIN_BATCH_ROWS]}) == 4


_FIRST_CALLS = """
import random, sys
import numpy as np, torch
import genbench

def states():
    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()

def same(before, what):
    after = states()
    kept = [torch.equal(before[0], after[0]), bool((before[1] == after[1]).all()), before[2] == after[2]]
    if not all(kept):
        sys.exit(f"{what} changed the caller's generators (torch, numpy, Python kept: {kept})")

out, cache = sys.argv[1], sys.argv[2]
torch.manual_seed(7), np.random.seed(7), random.seed(7)
before = states()
config = genbench.RunConfig(dataset="digits", metrics=["fid"], out=out, cache_dir=cache, progress=False, figures=False)
genbench.evaluate(np.zeros((20, 8, 8, 1), np.uint8) + np.arange(20, dtype=np.uint8)[:, None, None, None], config)
same(before, "evaluate")
genbench.stats(out + "/train.npz", genbench.RunConfig(dataset="digits", cache_dir=cache, progress=False))
same(before, "stats")
config = genbench.RunConfig(models=["copy"], dataset="ring8", samples=20, metrics=["fid"], out=out, cache_dir=cache, progress=False)
genbench.run(config)
same(before, "run")
"""


def test_the_first_api_calls_of_a_process_leave_the_callers_generators_as_they_were(tmp_path):
    """`evaluate` in digits' classifier features drew from the caller's torch generator (building the
    network on its first extraction), and the first `run` or `evaluate` of a process from Python's
    (importing rich's progress module): a script's draws after its first call differed from those
    after a later one. A fresh process, since only first calls drew."""
    import subprocess
    import sys

    script = tmp_path / "first_calls.py"
    script.write_text(_FIRST_CALLS)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "runs"), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


_FIRST_OTHER_CALL = """
import random, sys
import numpy as np, torch
import genbench

torch.manual_seed(7), np.random.seed(7), random.seed(7)
before = torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
if sys.argv[1] == "registered":
    genbench.registered()
else:
    genbench.report(sys.argv[2], sys.argv[2] + "/boards")
after = torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()
kept = [torch.equal(before[0], after[0]), bool((before[1] == after[1]).all()), before[2] == after[2]]
if not all(kept):
    sys.exit(f"{sys.argv[1]} changed the caller's generators (torch, numpy, Python kept: {kept})")
"""


@pytest.mark.parametrize("call", ["registered", "report"])
def test_the_first_registered_or_report_of_a_process_leaves_the_callers_generators_as_they_were(
    call, tmp_path
):
    """`registered` drew from Python's generator once the datasets' download module imported rich's
    console (importing it draws), and `report` did when a cell missed a seed (saying why imports
    it): as `run`, `evaluate` and `stats`, they keep the caller's generators. A fresh process,
    since only a first import draws."""
    import subprocess
    import sys

    from genbench.results import Result

    out = tmp_path / "runs"
    # a seed without FID: the board says why, which imported the scoring module (and rich's console)
    for seed, metrics in enumerate([{"fid": 1.0, "kid": 1.0}, {"kid": 2.0}]):
        Result(model="copy", dataset="ring8", seed=seed, metrics=metrics).write(out)
    script = tmp_path / "first_call.py"
    script.write_text(_FIRST_OTHER_CALL)
    done = subprocess.run(
        [sys.executable, str(script), call, str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
