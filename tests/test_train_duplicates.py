"""Memorization on a training set that holds exact duplicates: a duplicated example counts once.

With its repeat in the set, a near copy of a training example had d2 = d1 (its nearest and "second
nearest" training examples were the two equal rows), so it was never counted as memorized, and its
nearest training example had another at distance 0, so it was always "authentic": duplicating the
copied examples turned memorization_rate 1 into 0 and AuthPct 0 into 100.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genbench.data.base import Dataset
from genbench.errors import MetricInputError
from genbench.features.base import Features
from genbench.metrics._knn import nearest
from genbench.metrics.base import EvalContext
from genbench.metrics.memorization import Memorization

COPIED = 20


class Points(Dataset):
    """300 spread 2D training points; ``repeat`` lists training rows appended again (duplicates)."""

    kind = "points"
    repeat: tuple[int, ...] = ()

    def _load(self, split):
        rng = np.random.default_rng(0 if split == "train" else 1)
        x = rng.standard_normal((300, 2)) * 5
        if split == "train" and self.repeat:
            x = np.concatenate([x, x[list(self.repeat)]])
        return torch.from_numpy(x.astype(np.float32)), None


def memorization(tmp_path, repeat: tuple[int, ...], samples: np.ndarray) -> dict[str, float]:
    data = type("Repeated", (Points,), {"repeat": repeat})(data_dir=tmp_path, cache_dir=tmp_path)
    ctx = EvalContext(
        dataset=data,
        samples=torch.from_numpy(samples.copy()),
        sample_features=Features(samples),
        reference_features=Features(np.zeros((2, 2))),
        extractor=None,
        seed=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # C_T's cells: not what is tested here
        out = Memorization().compute(ctx)
    # C_T is left out: its k-means cells are fitted to the training rows as given, repeats weighed in
    return {k: out[k] for k in ("memorization_rate", "memorization_rate_heldout", "authpct")}


@pytest.mark.parametrize(
    "repeat",
    [tuple(range(COPIED)), (0, 0, 1, 1, 2), tuple(range(0, 300, 7))],
    ids=["each-copied-twice", "some-three-times", "copied-and-others"],
)
def test_a_duplicated_training_example_counts_once(tmp_path, repeat):
    train = Points(data_dir=tmp_path, cache_dir=tmp_path).load("train")[0].double().numpy()
    # near copies of training examples (1e-3 off, where neighbours are ~0.5 apart) and fresh points
    fresh = np.random.default_rng(2).standard_normal((40, 2)) * 5
    samples = np.concatenate([train[:COPIED] + 1e-3, fresh])
    alone = memorization(tmp_path, (), samples)
    assert alone["memorization_rate"] >= COPIED / len(samples)  # the near copies are counted
    assert alone["authpct"] <= 100 * (1 - COPIED / len(samples))  # and not authentic
    assert memorization(tmp_path, repeat, samples) == pytest.approx(alone, abs=1e-12)


def test_a_train_split_of_one_distinct_example_is_refused(tmp_path):
    data = type("Same", (Points,), {"_load": lambda self, split: (torch.ones(5, 2), None)})(
        data_dir=tmp_path, cache_dir=tmp_path
    )
    ctx = EvalContext(
        dataset=data,
        samples=torch.zeros(3, 2),
        sample_features=Features(np.zeros((3, 2))),
        reference_features=Features(np.zeros((2, 2))),
        extractor=None,
        seed=0,
    )
    with pytest.raises(MetricInputError, match="1 distinct example"):
        Memorization().compute(ctx)


def test_nearest_never_returns_an_excluded_row_and_indexes_the_whole_set():
    rng = np.random.default_rng(3)
    ref, query = rng.standard_normal((50, 4)), rng.standard_normal((30, 4))
    exclude = np.zeros(50, dtype=bool)
    exclude[rng.choice(50, 20, replace=False)] = True
    d = cdist(query, ref)
    d[:, exclude] = np.inf
    want = np.sort(d, axis=1)[:, :3]
    for block in (None, 7):
        dist, idx = nearest(
            torch.from_numpy(query), torch.from_numpy(ref), 3, block, exclude=torch.from_numpy(exclude)
        )
        assert not exclude[idx.numpy()].any()
        np.testing.assert_allclose(dist.numpy(), want, rtol=1e-12)
        np.testing.assert_allclose(cdist(query, ref)[np.arange(30)[:, None], idx.numpy()], want, rtol=1e-12)
    with pytest.raises(ValueError, match="from 30 reference rows"):
        nearest(torch.from_numpy(query), torch.from_numpy(ref), 31, exclude=torch.from_numpy(exclude))
