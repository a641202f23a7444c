"""Quality of the reference models on the embedded data: the checks of the reference-models issue.

Slow (``make test-slow``; 53 minutes from scratch on the 2-core AMD EPYC VM, 28 with cached
checkpoints): every model trains with its resolved config for 3 seeds, every sample set is the size
of the train split, and FID is measured in the digits classifier's features, exactly as ``genbench
run`` does. The tests assert orderings, ratios of FIDs and mode coverage; never a timing (speed is
measured by ``make bench``).

Checkpoints go to a cache of their own, ``test-slow/`` inside the usual one (``$GENBENCH_CACHE`` or
``~/.cache/genbench``; :func:`quality_cache`), keyed by the model's version, training config and seed
as for any ``genbench run``: once trained there (by an earlier run of these tests), these tests only
sample and score. Set ``GENBENCH_CACHE`` to a fresh folder to retrain. They never load the checkpoints
that ship in ``baselines/weights/``: what is checked is what the baselines' training gives on this
machine, not what it gave where the shipped files were made. And nothing they train is loaded by a
later ``genbench run`` or ``make leaderboards``, which would find a cache's checkpoint of a key before
the shipped one and score this machine's weights where the board's commands promise the shipped ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from baselines.ddpm import DDPM
from baselines.gan import GanNS, GanSat
from baselines.vae import VAE
from genbench import RunConfig, evaluate, run
from genbench.data.base import default_cache_dir
from genbench.data.digits import Digits
from genbench.leaderboard import aggregate, results_frame

pytestmark = pytest.mark.slow

SEEDS = [0, 1, 2]
TRAINED = ["vae", "gan-ns", "gan-sat", "ddpm"]
DDIM_STEPS = [10, 20, 50, 100]


def step_label(steps: int) -> str:
    """The sweep point's row: at ddim's default 50 steps it is plain ``ddim``."""
    return "ddim" if steps == 50 else f"ddim[steps={steps}]"


def _run(out, cache, models, dataset, overrides=()):
    config = RunConfig(
        models=models,
        dataset=dataset,
        seeds=SEEDS,
        out=out,
        cache_dir=cache,
        overrides=list(overrides),
        progress=False,
        figures=False,
    )
    return run(config)


def quality_cache() -> Path:
    """The cache these tests train into: beside the runs' checkpoints, never among them."""
    return default_cache_dir() / "test-slow"


@pytest.fixture(scope="module")
def trained_here() -> Iterator[None]:
    """The baselines without their shipped checkpoints: the cache's, or trained now."""
    with pytest.MonkeyPatch.context() as mp:
        for cls in (VAE, GanNS, GanSat, DDPM):
            mp.setattr(cls, "shipped_checkpoints", None)
        yield


@pytest.fixture(scope="module")
def digits(tmp_path_factory, trained_here) -> tuple[pd.DataFrame, float]:
    """Mean over seeds per model (rows by label) and the train/test FID floor."""
    out, cache = tmp_path_factory.mktemp("runs"), quality_cache()
    results = _run(out, cache, TRAINED, "digits")
    steps = ",".join(map(str, DDIM_STEPS))
    results += _run(out, cache, ["ddim"], "digits", [f"ddim.steps={steps}"])
    results += _run(out, cache, ["ddim"], "digits", ["ddim.steps=100", "ddim.eta=1"])
    failed = [(r.label, r.error) for r in results if r.status != "ok"]
    if failed:  # pytest.fail, not assert: the xfail below must not take a broken run for the known gap
        pytest.fail(f"runs failed: {failed}")
    agg = aggregate(results_frame(results)).set_index("label")
    test_x = Digits(cache_dir=cache).load("test")[0]
    floor = evaluate(
        test_x,
        RunConfig(dataset="digits", out=out, cache_dir=cache, progress=False, figures=False),
        name="test-split",
    )
    print(agg[["fid", "fid_std", "modes_covered", "samples_per_s", "train_s"]].to_string())
    print(f"train/test floor: {floor.metrics['fid']:.3f}")
    return agg, floor.metrics["fid"]


def test_ddpm_has_the_lowest_fid_of_the_trained_baselines(digits):
    agg, _ = digits
    others = {m: agg.loc[m, "fid"] for m in ("vae", "gan-ns", "gan-sat")}
    assert all(agg.loc["ddpm", "fid"] < fid for fid in others.values()), (agg.loc["ddpm", "fid"], others)


def test_ddpm_is_within_three_times_the_train_test_floor(digits):
    agg, floor = digits
    assert agg.loc["ddpm", "fid"] < 3 * floor, (agg.loc["ddpm", "fid"], floor)


def test_ddim_fid_falls_as_steps_grow(digits):
    agg, _ = digits
    fids = [agg.loc[step_label(s), "fid"] for s in DDIM_STEPS]
    assert all(a > b for a, b in zip(fids[:-1], fids[1:], strict=True)), dict(
        zip(DDIM_STEPS, fids, strict=True)
    )


DETERMINISM = (
    "measured on digits, 3 seeds: DDIM-100 at eta = 0 has FID 19.7 against DDPM's 13.7 (+44%; +59%, +60% and +57% "
    "with the earlier, larger config on three VMs), and DDIM-1000 at eta = 0 was still +45% (first VM), while "
    "DDIM-1000 at eta = 1 reproduces DDPM: the deterministic sampler on this small denoiser, not the step count, "
    "costs most of the FID; it narrows with training (+37% at four times the earlier config's 3000 steps, "
    "ddpm.train_steps=12000; +34% at four and +21% at eight times this config's 2000 steps, "
    "ddpm.train_steps=16000, 6 to 7 minutes per seed on the fastest VM seen), which the 3-minute budget "
    "does not allow"
)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=DETERMINISM)
def test_ddim_at_100_steps_is_within_25_percent_of_ddpm(digits):
    agg, _ = digits
    ddim, ddpm = agg.loc["ddim[steps=100]", "fid"], agg.loc["ddpm", "fid"]
    assert abs(ddim - ddpm) <= 0.25 * ddpm, (ddim, ddpm)


def test_ancestral_noise_narrows_the_ddim_gap(digits):
    """The diagnosis behind the xfail: at the same 100 steps, eta = 1 lands nearer DDPM than eta = 0
    (stochastic steps correct the network's errors that a deterministic trajectory carries along)."""
    agg, _ = digits
    fids = {label: agg.loc[label, "fid"] for label in ("ddim[steps=100]", "ddim[eta=1,steps=100]", "ddpm")}
    assert fids["ddim[eta=1,steps=100]"] < fids["ddim[steps=100]"], fids


def test_ddim_uses_twenty_times_fewer_network_evaluations(digits):
    agg, _ = digits
    assert agg.loc["ddpm", "nfe"] == 1000 and agg.loc["ddim", "nfe"] == 50


def test_every_trained_model_covers_all_ten_digits(digits):
    agg, _ = digits
    for label in [*TRAINED, *map(step_label, DDIM_STEPS), "ddim[eta=1,steps=100]"]:
        assert agg.loc[label, "modes_covered"] == 10, label
        assert not agg.loc[label, "flags"], (label, agg.loc[label, "flags"])


@pytest.mark.parametrize("dataset, modes", [("ring8", 8), ("grid25", 25)])
def test_ddpm_recovers_every_mode_of_the_2d_mixtures(tmp_path, dataset, modes):
    results = _run(tmp_path / "runs", quality_cache(), ["ddpm"], dataset)
    assert sorted(r.seed for r in results) == SEEDS  # the loop below passed a run that gave none
    for r in results:
        assert r.status == "ok", r.error
        assert r.metrics["modes_covered"] == modes, (
            r.seed,
            r.metrics["modes_covered"],
            r.metrics["high_quality"],
        )
