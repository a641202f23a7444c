"""Exact nearest neighbours in row blocks, shared by ``prdc`` and ``memorization``.

Distances are Euclidean, computed in float64 one block of query rows at a time, so memory is
O(block x N) instead of O(N^2): 50k x 50k Inception features would need 20 GB as one matrix.
Written by hand because torch-fidelity and clean-fid have no k-NN, the ``prdc`` package builds the
full N x N matrix, and scikit-learn's NearestNeighbors runs on the CPU only.

Block distances use the fast expansion ``|q|^2 + |r|^2 - 2 q.r`` (a matrix product), whose rounding
depends on the shapes multiplied and grows with ``|q|^2 + |r|^2``: on the raw rows of features that
share a large offset (1e8 on a spread of 1) it exceeded the distances themselves, and the candidates
below were the wrong rows (PRDC precision 1.0 and density 24 where 0.72 and 0.73 are right). So the
expansion runs on both sets translated by the same vector, the reference rows' mean
(:func:`centre`), and its error scales with the spread alone. The translation is made a block of
query rows and a chunk of reference rows at a time, never on a whole set: the rows callers pass are
often their read-only float64 features themselves (:func:`as_rows` copies only other dtypes), and a
centred copy would add 800 MiB per set at 50k x 2048. Where the exact value matters it is
recomputed directly as ``|q - r|`` on the rows as given, not centred: every distance a metric
reports, and every comparison that rounding could decide, is then the raw rows' own, to the bit
what it was before the translation (which only changes the choice of what is recomputed). One
kernel computes every exact distance (:func:`pair_distances`), so one pair of rows gets one value
wherever it is computed: :func:`nearest` and :func:`kth_neighbour_distances` recompute
their few best candidates (a sample that *is* a training example is at distance exactly 0, and so
are two duplicated examples), and :func:`refine_near` recomputes the distances of a block that lie
within the expansion's error bound of a threshold. PRDC compares each sample's distance to a
training example's k-NN radius: a copied example's copy lies *on* that radius, and without the
refinement the rounding of two different matrix products decided whether it counted as inside
(density 1.0008 for the ``copy`` control on digits instead of 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch

from genbench.metrics._inputs import shared_tensor

#: elements of one block of the distance matrix (float64: 256 MiB)
BLOCK_ELEMENTS = 2**25

#: told the distances of each block once its caller is done with it (a metric's progress:
#: :class:`genbench.metrics._blocks_done.BlocksDone`); it reads nothing of them
OnBlock = Callable[[int], None]


def as_rows(x: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x`` flattened to N x D float64 on ``device``: ``x`` itself (its memory) when it is float64 on
    ``device`` already, else a copy. Either way it is only read (features are read-only arrays)."""
    t = shared_tensor(x) if isinstance(x, np.ndarray) else torch.as_tensor(x)
    return t.reshape(len(t), -1).to(device=device, dtype=torch.float64)


def pick_device(device: torch.device | str | None) -> torch.device:
    """CUDA when asked for, else the CPU (MPS has no float64)."""
    d = torch.device(device) if device is not None else torch.device("cpu")
    return d if d.type == "cuda" else torch.device("cpu")


def block_rows(n_ref: int, block: int | None = None) -> int:
    return max(1, block if block is not None else BLOCK_ELEMENTS // max(n_ref, 1))


def centre(ref: torch.Tensor) -> torch.Tensor:
    """The vector :func:`blocks` translates both sets by before the expansion: the mean of ``ref``."""
    return ref.mean(0)


def _chunk_rows(dim: int) -> int:
    """Rows of a chunk of 32 MiB (float64) of a D-dimensional set."""
    return max(2, BLOCK_ELEMENTS // 8 // max(dim, 1))


def squared_norms(x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
    """``(y * y).sum(1)`` for ``y = x - shift`` (``x`` when no shift), on the CPU a chunk of rows at a
    time, so ``y`` is never made whole: the product of the whole of ``x`` was
    a temporary as large as ``x`` (800 MiB for 50k x 2048 float64), at the peak of prdc and memorization.
    The same bits: the CPU reduces each row of a several-row sum whole, in one thread, whatever the
    number of rows (a one-row sum may be split across threads, so no chunk is a lone row). On CUDA
    the reduction's layout depends on the number of rows, and the temporary is not host memory."""
    n = len(x)
    step = _chunk_rows(x.shape[1])  # products of 32 MiB
    if x.device.type != "cpu" or n <= step:
        if shift is None:
            return (x * x).sum(1)
        y = x - shift
        return y.mul_(y).sum(1)  # one temporary, not two
    out = torch.empty(n, dtype=x.dtype)
    start = 0
    while start < n:
        end = n if n - (start + step) < 2 else start + step  # a lone last row joins the chunk before
        chunk = x[start:end] if shift is None else x[start:end] - shift
        out[start:end] = (chunk * chunk).sum(1)
        start = end
    return out


def blocks(
    query: torch.Tensor, ref: torch.Tensor, block: int | None = None, on_block: OnBlock | None = None
) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield ``(start, D)`` with ``D[i, j] = |query[start + i] - ref[j]|`` for each row block, by the
    expansion on both sets translated by ``c = centre(ref)`` (see the module's docstring).
    ``on_block(rows x len(ref))`` is told of each block once the caller is done with it.

    A caller drops its ``D`` (``del``) at the end of its loop body: a block it still held while the
    next one was built made three blocks alive at once instead of two (768 MiB instead of 512)."""
    c = centre(ref)
    ref_sq = squared_norms(ref, c)
    step = block_rows(len(ref), block)
    for start in range(0, len(query), step):
        q = query[start : start + step] - c
        rows = len(q)
        # (|q|^2 + |r|^2) - 2 q.r of the centred rows, in two block-sized arrays instead of three (the
        # product, twice it and the sum were alive at once); the centred block is freed before the sum
        q_sq = squared_norms(q)
        twice = _centred_product(q, ref, c).mul_(2.0)
        del q
        d2 = (q_sq[:, None] + ref_sq[None, :]).sub_(twice)
        del twice
        yield start, d2.clamp_min_(0.0).sqrt_()
        del d2  # the caller is done with this block: free it before the next one is built
        if on_block is not None:
            on_block(rows * len(ref))


def _centred_product(q: torch.Tensor, ref: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``q @ (ref - c).T``, the rows of ``ref`` centred a chunk (32 MiB) at a time into one buffer,
    freed on return: a centred copy of the whole reference set would cost as much memory as the set.
    Centring each chunk again for every block of ``q`` costs an N x D subtraction per block, against
    the block's B x N x D product."""
    out = torch.empty(len(q), len(ref), dtype=ref.dtype, device=ref.device)
    chunk = min(_chunk_rows(ref.shape[1]), len(ref))
    buf = torch.empty(chunk, ref.shape[1], dtype=ref.dtype, device=ref.device)
    for s in range(0, len(ref), chunk):
        r = torch.sub(ref[s : s + chunk], c, out=buf[: min(chunk, len(ref) - s)])
        torch.mm(q, r.T, out=out[:, s : s + chunk])
    return out


def pair_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``|a_p - b_p|`` for each pair of rows of two P x D tensors, computed directly."""
    return torch.linalg.vector_norm(a - b, dim=1)


def kth_neighbour_distances(
    x: torch.Tensor,
    ks: set[int] | list[int],
    block: int | None = None,
    extra: int = 4,
    on_block: OnBlock | None = None,
) -> dict[int, torch.Tensor]:
    """{k: distance of each row of ``x`` to its k-th nearest *other* row}, for every k in one pass.

    As the ``prdc`` package does: the (k+1)-th smallest distance counting the row itself at distance
    0; duplicates count as neighbours at distance 0. The ``max(ks) + 1 + extra`` best candidates of
    the fast block distances are recomputed with :func:`pair_distances`.
    """
    ks = sorted(set(ks))
    if ks[-1] >= len(x):
        raise ValueError(f"k={ks[-1]} neighbours requested among {len(x)} rows")
    c = min(ks[-1] + 1 + extra, len(x))
    out = {k: torch.empty(len(x), dtype=torch.float64, device=x.device) for k in ks}
    for start, d in blocks(x, x, _candidate_rows(len(x), c, x.shape[1], block), on_block):
        rows = torch.arange(len(d), device=x.device)
        d[rows, start + rows] = 0.0  # the row itself is always a candidate
        exact, _ = _exact_candidates(x[start : start + len(d)], x, d.topk(c, dim=1, largest=False).indices)
        for k in ks:
            out[k][start : start + len(d)] = exact[:, k]
        del d  # see blocks()
    return out


def _candidate_rows(n_ref: int, c: int, dim: int, block: int | None) -> int:
    """Query rows per block when each row's ``c`` candidates are recomputed directly: the
    refinement holds rows x c x D values, kept near the block budget."""
    return max(1, min(block_rows(n_ref, block), BLOCK_ELEMENTS // max(c * dim, 1)))


def _exact_candidates(
    q: torch.Tensor, ref: torch.Tensor, cand: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, indices) of each row of ``q`` to its candidate rows ``cand`` (B x c indices into
    ``ref``), recomputed with :func:`pair_distances` and sorted ascending (ties in candidate order)."""
    c = cand.shape[1]
    exact = pair_distances(q.repeat_interleave(c, dim=0), ref[cand.reshape(-1)]).view(len(q), c)
    order = exact.argsort(dim=1, stable=True)
    return exact.gather(1, order), cand.gather(1, order)


def expansion_tolerance(query: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """For each row of ``query``, a bound on how far a fast block distance (:func:`blocks`) to any
    row of ``ref`` may lie from its direct value. The expansion multiplies the centred rows
    ``q = query - c`` and ``r = ref - c`` (``c = centre(ref)``), so the bound is on their norms, not
    the raw rows': each of ``|q|^2``, ``|r|^2`` and ``q.r`` sums D products in float64, so the
    expansion is off by at most about ``2 (D + 2) eps (|q|^2 + |r|^2)``, and the centring's own
    rounding (each coordinate within ``eps / 2`` of its value) adds at most ``2 eps (|q|^2 + |r|^2)``:
    ``2 (D + 3) eps (|q|^2 + |r|^2)``, doubled here for the direct value's own rounding. A square root
    moves by at most the root of that: for 2048 Inception features a band of about 1e-5 of a
    distance or less, which continuous features almost never fall in by chance."""
    c = centre(ref)
    ref_sq_max = squared_norms(ref, c).max()
    tol2 = 4 * (query.shape[1] + 3) * torch.finfo(torch.float64).eps * (squared_norms(query, c) + ref_sq_max)
    return tol2.sqrt()


def refine_near(
    d: torch.Tensor,
    query: torch.Tensor,
    ref: torch.Tensor,
    tol: torch.Tensor,
    thresholds: list[torch.Tensor],
) -> None:
    """Replace, in place, each entry of the block ``d`` (``query`` rows x ``ref`` rows, from
    :func:`blocks`) within ``tol`` (the rows' :func:`expansion_tolerance`) of one of ``thresholds``
    (each broadcast against ``d``) by its :func:`pair_distances` value, so that ``d < threshold``
    compares the direct distance wherever rounding could decide it."""
    near = torch.zeros_like(d, dtype=torch.bool)
    for threshold in thresholds:
        near |= (d - threshold).abs_() <= tol[:, None]
    i, j = near.nonzero(as_tuple=True)
    step = max(1, BLOCK_ELEMENTS // max(query.shape[1], 1))  # a collapsed sample set ties whole rows
    for s in range(0, len(i), step):
        d[i[s : s + step], j[s : s + step]] = pair_distances(query[i[s : s + step]], ref[j[s : s + step]])


def kth_neighbour_distance(
    x: torch.Tensor, k: int, block: int | None = None, on_block: OnBlock | None = None
) -> torch.Tensor:
    """Distance of each row of ``x`` to its k-th nearest *other* row (see :func:`kth_neighbour_distances`)."""
    return kth_neighbour_distances(x, [k], block, on_block=on_block)[k]


def nearest(
    query: torch.Tensor,
    ref: torch.Tensor,
    k: int,
    block: int | None = None,
    extra: int = 4,
    exclude: torch.Tensor | None = None,
    on_block: OnBlock | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest rows of ``ref`` to each row of ``query``: (distances, indices), ascending.

    The ``k + extra`` best candidates of the fast block distances are recomputed exactly, so equal
    rows are at distance exactly 0 and ties are ordered by the exact distance. Rows of ``ref`` where
    the boolean mask ``exclude`` is True are never returned (indices still count them): memorization
    leaves out the repeats of a duplicated training example this way, without a copy of the set.
    """
    skipped = exclude.nonzero().squeeze(1) if exclude is not None else None
    available = len(ref) - (len(skipped) if skipped is not None else 0)
    if k > available:
        raise ValueError(f"k={k} neighbours requested from {available} reference rows")
    c = min(k + extra, available)  # never more than the rows left, so no skipped row is a candidate
    dist = torch.empty(len(query), k, dtype=torch.float64, device=query.device)
    idx = torch.empty(len(query), k, dtype=torch.long, device=query.device)
    for start, d in blocks(query, ref, _candidate_rows(len(ref), c, query.shape[1], block), on_block):
        if skipped is not None:
            d[:, skipped] = torch.inf
        cand = d.topk(c, dim=1, largest=False).indices
        exact, order = _exact_candidates(query[start : start + len(d)], ref, cand)
        dist[start : start + len(d)] = exact[:, :k]
        idx[start : start + len(d)] = order[:, :k]
        del d  # see blocks()
    return dist, idx
