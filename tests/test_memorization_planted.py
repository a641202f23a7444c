"""Memorization on samples whose truth is known: training images planted among held-out ones.

A memorization score is trusted only once it finds planted copies: k% exact copies of digits
training images among test images must score a copy rate of exactly k% (the test images' own rate
is 0), perturbed copies must be caught exactly where the d1/d2 < 1/3 rule says they can be, AuthPct
must be Alaa et al.'s definition recomputed here with numpy, and on fresh 2D points the chance
levels must be the closed forms of a Poisson process."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genbench.data.base import Dataset
from genbench.data.digits import Digits
from genbench.features.base import Features
from genbench.metrics.base import EvalContext
from genbench.metrics.memorization import Memorization


@pytest.fixture(scope="module")
def digits(cache_dir: Path) -> Digits:
    return Digits(cache_dir=cache_dir)


def ctx(samples: torch.Tensor, dataset) -> EvalContext:
    """A context for pixel-space memorization (the default): features are not read."""
    samples = torch.as_tensor(samples)
    flat = samples.reshape(len(samples), -1).double().numpy()
    return EvalContext(
        dataset=dataset,
        samples=samples,
        sample_features=Features(flat),
        reference_features=Features(np.zeros((2, flat.shape[1]))),
        extractor=None,
        seed=0,
        options={},
    )


def flat(x: torch.Tensor) -> np.ndarray:
    return x.reshape(len(x), -1).double().numpy()


def authpct_by_hand(samples: np.ndarray, train: np.ndarray) -> float:
    """Alaa et al. 2022: a sample is authentic when its nearest training example has another training
    example closer to it than the sample is; the percentage of authentic samples."""
    d = cdist(samples, train)
    own = np.sort(cdist(train, train), axis=1)[:, 1]
    return 100.0 * float(np.mean(own[d.argmin(1)] < d.min(1)))


def planted(train: torch.Tensor, test: torch.Tensor, share: float, seed: int = 0):
    """The test split with its first ``share`` replaced by distinct training images: (samples, the
    training rows copied)."""
    n = round(share * len(test))
    rows = np.random.default_rng(seed).choice(len(train), n, replace=False)
    samples = test.clone()
    samples[:n] = train[rows]
    return samples, rows


def test_planted_exact_copies_are_recovered_at_their_share(digits):
    """k% exact copies of training images among the digits test images: copy rate exactly k/100 (the
    test images alone score 0, the held-out rate), AuthPct Alaa et al.'s by hand, C_T falling as k
    grows (~0 for the test split itself, far below 0 for copies), and **memorized** exactly where
    the rate is above 0.1 (and above twice the held-out rate, 0 here): at 50 and 100%, not at 10%
    (36 of 360 is 0.1, not above it)."""
    train, test = digits.load("train")[0], digits.load("test")[0]
    m = Memorization()
    cts = []
    for k in (0, 10, 50, 100):
        samples, _ = planted(train, test, k / 100)
        out = m.compute(ctx(samples, digits))
        assert out["memorization_rate_heldout"] == 0.0
        assert out["memorization_rate"] == round(k / 100 * len(test)) / len(test)
        assert out["authpct"] == pytest.approx(authpct_by_hand(flat(samples), flat(train)), abs=1e-9)
        assert m.flags(out) == (["memorized"] if k >= 50 else [])
        cts.append(out["ct"])
    assert abs(cts[0]) < 0.01  # the test split against itself: U = n m / 2, z = 0.5 / std
    assert cts[3] < -10 and all(a > b for a, b in zip(cts, cts[1:], strict=False))


PERTURBATIONS = {
    "noise": lambda x: (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(
        -1, 1
    ),
    "brightness": lambda x: (x + 0.1).clamp(-1, 1),
    "contrast": lambda x: 0.9 * x,
    "shift": lambda x: torch.roll(x, 1, dims=-1),
    "flip": lambda x: torch.flip(x, dims=[-1]),
}


@pytest.mark.parametrize("name", PERTURBATIONS)
def test_perturbed_copies_are_caught_where_the_ratio_rule_says(digits, name):
    """Half the samples are training images x moved by delta. The rule d1/d2 < 1/3 catches such a
    copy whenever |delta| < own(x) / 4 (own: x's distance to its nearest other training image; then
    d1 <= |delta| and d2 >= own - |delta| > 3 |delta|), and never when |delta| >= own(x) / 2 while x
    stays its nearest (d2 <= |delta| + own <= 3 d1). Small noise, brightness and contrast changes
    fall between; a 1-pixel shift or a flip moves a digit farther than its own spacing in pixels and
    is not caught at all (as the rule means: a copy up to a small distortion, not up to a symmetry)."""
    train, test = digits.load("train")[0], digits.load("test")[0]
    copies, rows = planted(train, test, 0.5)
    n = len(rows)
    copies[:n] = PERTURBATIONS[name](copies[:n])
    out = Memorization().compute(ctx(copies, digits))
    t = flat(train)
    delta = np.linalg.norm(flat(copies[:n]) - t[rows], axis=1)
    own = np.sort(cdist(t[rows], t), axis=1)[:, 1]
    others_nearest = cdist(flat(copies[:n]), t).argmin(1) != rows
    lower = np.sum(delta < own / 4) / len(test)
    upper = np.sum((delta < own / 2) | others_nearest) / len(test)
    assert lower <= out["memorization_rate"] <= upper
    if name in ("shift", "flip"):
        assert out["memorization_rate"] == 0.0
    else:  # neither bound is trivial: the perturbation is on the scale where the rule decides
        assert 0 < lower < out["memorization_rate"] < 0.5


class Square(Dataset):
    """Uniform points in the unit square: 20000 training points, test points in its middle (away from
    the edges, where the neighbours of a point are those of a Poisson process of the plane)."""

    kind = "points"

    def _load(self, split):
        rng = np.random.default_rng(41 if split == "train" else 42)
        x = rng.random((20_000, 2)) if split == "train" else 0.1 + 0.8 * rng.random((2_000, 2))
        return torch.from_numpy(x.astype(np.float32)), None


def test_fresh_2d_points_score_the_poisson_closed_forms(tmp_path):
    """Fresh draws from uniform 2D data, scored against a dense train set. For a Poisson process of
    the plane: (d1/d2)^2 is uniform, so the copy rate is 1/9, the held-out test split's too; and with
    y a fresh point x's nearest training point at distance r, y is authentic iff another training
    point lies in the disc of radius r about y but outside x's (area (pi/3 + sqrt(3)/2) r^2 = A r^2),
    so AuthPct is 100 A / (pi + A) = 37.85, well below the 100 a copy-free sampler can reach (read it
    against fresh data, not against 100). C_T ~ 0. k% planted copies add k% to the rate, exactly."""
    data = Square(data_dir=tmp_path, cache_dir=tmp_path)
    train = data.load("train")[0]
    fresh = torch.from_numpy(0.1 + 0.8 * np.random.default_rng(43).random((2_000, 2)))
    out = Memorization().compute(ctx(fresh, data))
    se = math.sqrt((1 / 9) * (8 / 9) / 2000)
    assert abs(out["memorization_rate"] - 1 / 9) < 4 * se
    assert abs(out["memorization_rate_heldout"] - 1 / 9) < 4 * se
    a = math.pi / 3 + math.sqrt(3) / 2
    p = a / (math.pi + a)
    assert abs(out["authpct"] - 100 * p) < 400 * math.sqrt(p * (1 - p) / 2000)
    assert abs(out["ct"]) < 3
    assert Memorization().flags(out) == []

    half = fresh.clone()
    half[1000:] = train[:1000]
    rate_fresh_half = Memorization().compute(ctx(fresh[:1000], data))["memorization_rate"]
    out = Memorization().compute(ctx(half, data))
    assert out["memorization_rate"] == pytest.approx(0.5 + 0.5 * rate_fresh_half, abs=1e-12)
    assert out["ct"] < -10
    assert Memorization().flags(out) == ["memorized"]
