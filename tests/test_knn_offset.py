"""k-NN on features that share a large offset: a translation changes no distance, so it changes no
k-NN result, no PRDC value and no memorization value. The fast expansion ``|q|^2 + |r|^2 - 2 q.r``
on the raw rows had a rounding error that grows with the offset squared: at 1e8 it exceeded the
distances, the candidates recomputed exactly were the wrong rows, and PRDC's precision came out 1.0
and its density 24 instead of 0.72 and 0.73."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genbench.data.base import Dataset
from genbench.features.base import Features
from genbench.metrics._knn import blocks, expansion_tolerance, kth_neighbour_distances, nearest
from genbench.metrics.base import EvalContext
from genbench.metrics.memorization import Memorization
from genbench.metrics.prdc import prdc

OFFSET = 1e8  # on a spread of about 1: the raw rows still hold each coordinate to 1.5e-8


def t64(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))


def direct(query: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Every distance by ``|q - r|``, no expansion."""
    return torch.cdist(query, ref, compute_mode="donot_use_mm_for_euclid_dist")


def test_prdc_with_a_large_common_offset_equals_prdc_without():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(300, 16)) + 0.3
    plain = prdc(t64(x), t64(y))
    assert 0.5 < plain["precision"] < 1 and 0.5 < plain["density"] < 1  # neither bound: can fail
    assert prdc(t64(x + OFFSET), t64(y + OFFSET)) == pytest.approx(plain, abs=1e-12)


def test_kth_neighbour_distances_with_a_large_common_offset():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 8))
    plain = kth_neighbour_distances(t64(x), [1, 3, 5], block=16)
    shifted = t64(x + OFFSET)
    out = kth_neighbour_distances(shifted, [1, 3, 5], block=16)
    brute = direct(shifted, shifted).sort(dim=1).values  # column 0: the row itself
    for k in (1, 3, 5):
        torch.testing.assert_close(out[k], brute[:, k], rtol=1e-12, atol=0)
        torch.testing.assert_close(out[k], plain[k], rtol=0, atol=1e-6)  # the offset rows' rounding


def test_nearest_with_a_large_common_offset():
    rng = np.random.default_rng(2)
    ref, query = rng.normal(size=(300, 8)), rng.normal(size=(60, 8))
    query[:3] = ref[[5, 17, 250]]  # copies: distance exactly 0, offset or not
    plain_d, plain_i = nearest(t64(query), t64(ref), 4, block=16)
    q, r = t64(query + OFFSET), t64(ref + OFFSET)
    dist, idx = nearest(q, r, 4, block=16)
    assert torch.equal(idx, plain_i)
    assert (dist[:3, 0] == 0).all()
    torch.testing.assert_close(dist, direct(q, r).sort(dim=1).values[:, :4], rtol=1e-12, atol=0)
    torch.testing.assert_close(dist, plain_d, rtol=0, atol=1e-6)


def test_expansion_tolerance_bounds_the_block_distances_and_stays_small_with_an_offset():
    """The bound is on what the expansion multiplies (the centred rows): it holds, and it is about the
    spread, not the offset (on the raw rows it was 70, above every distance, at this offset)."""
    rng = np.random.default_rng(3)
    query, ref = t64(rng.normal(size=(80, 16)) + OFFSET), t64(rng.normal(size=(90, 16)) + OFFSET)
    tol = expansion_tolerance(query, ref)
    exact = direct(query, ref)
    for start, d in blocks(query, ref, block=7):
        assert ((d - exact[start : start + len(d)]).abs() <= tol[start : start + len(d), None]).all()
    assert tol.max() < 1e-6 * exact.min()


class ShiftedIdentity:
    """A feature extractor whose features are the points themselves plus ``offset`` (float64)."""

    device = "cpu"

    def __init__(self, offset: float):
        self.offset = offset

    def extract(self, x: torch.Tensor) -> Features:
        return Features(x.reshape(len(x), -1).double().numpy() + self.offset)


class Blobs8(Dataset):
    """Three 8-dimensional blobs (k-means' three cells), train and test splits."""

    kind = "points"
    centers = np.repeat([[0.0], [6.0], [-6.0]], 8, axis=1)

    def _load(self, split):
        rng = np.random.default_rng(41 if split == "train" else 42)
        sizes = (150, 100, 80) if split == "train" else (60, 40, 30)
        x = np.concatenate(
            [c + rng.standard_normal((n, 8)) for c, n in zip(self.centers, sizes, strict=True)]
        )
        return torch.from_numpy(x.astype(np.float32)), None


def test_memorization_in_feature_space_with_a_large_offset_equals_without(tmp_path: Path):
    """Every memorization value (copy rate, AuthPct, held-out rate, C_T) comes from nearest-neighbour
    distances in feature space: features offset by 1e8 give the values of the features themselves."""
    data = Blobs8(data_dir=tmp_path, cache_dir=tmp_path)
    train = data.load("train")[0]
    rng = np.random.default_rng(43)
    fresh = np.concatenate(
        [c + rng.standard_normal((n, 8)) for c, n in zip(Blobs8.centers, (40, 30, 30), strict=True)]
    )
    samples = torch.cat([train[:30], torch.from_numpy(fresh.astype(np.float32))])  # 30 copies

    def values(offset: float) -> dict[str, float]:
        extractor = ShiftedIdentity(offset)
        ctx = EvalContext(
            dataset=data,
            samples=samples,
            sample_features=extractor.extract(samples),
            reference_features=extractor.extract(train),
            extractor=extractor,  # type: ignore[arg-type]
            seed=0,
            options={"memorization": {"space": "features"}},
        )
        return Memorization().compute(ctx)

    plain = values(0.0)
    assert set(plain) == {"memorization_rate", "authpct", "memorization_rate_heldout", "ct"}
    assert plain["memorization_rate"] == pytest.approx(30 / len(samples), abs=1e-12)  # the copies
    shifted = values(OFFSET)
    assert shifted == pytest.approx(plain, rel=1e-9, abs=1e-12)


def test_neighbours_closer_than_the_expansion_can_order_are_ordered_by_their_direct_distances():
    """Tight clusters of 7 points (1e-4 apart at most) in a set spread over 1e4: the expansion's rounding
    (about 1e-7 on a squared distance of 1e-9) cannot order a cluster's points, so the best few of its
    values are any of the cluster. The candidates recomputed directly are 4 more than the k asked for
    (``extra``; k + 1 for the k-th other row), so the whole cluster is among them and the k-th neighbour, and the k nearest rows,
    are the direct distances' (scipy's cdist), not the expansion's guess."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(4)
    centres = rng.uniform(-1e4, 1e4, (30, 2))
    x = np.repeat(centres, 7, axis=0) + rng.uniform(-3e-5, 3e-5, (210, 2))
    exact = np.sort(cdist(x, x), axis=1)  # column 0: the row itself
    error = torch.finfo(torch.float64).eps * 2 * np.square(x - x.mean(0)).sum(1).max()
    assert error > np.square(exact[:, 1:7]).max()  # the expansion cannot order a cluster's points
    radii = kth_neighbour_distances(t64(x), [1, 2])
    for k in (1, 2):
        np.testing.assert_allclose(radii[k].numpy(), exact[:, k], rtol=1e-12, atol=0)
    query = x[::7] + rng.uniform(-3e-5, 3e-5, (30, 2))
    dist, idx = nearest(t64(query), t64(x), 3)
    d = cdist(query, x)
    np.testing.assert_allclose(dist.numpy(), np.sort(d, axis=1)[:, :3], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(idx.numpy(), np.argsort(d, axis=1, kind="stable")[:, :3])
