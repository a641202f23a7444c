"""Memorization: does the model copy its training set?

For each sample, the distances d1 <= d2 to its nearest and second-nearest training examples:

- ``memorization_rate``: share of samples with ``d1 / d2 < 1/3`` (Gu et al. 2023, "On Memorization in
  Diffusion Models"; Yoon et al. 2023, "Diffusion Probabilistic Models Generalize when They Fail to
  Memorize"). Exact duplicates in the training set count as one training example, for AuthPct too:
  with its repeat counted, a near copy of a duplicated example had d2 = d1 and was never memorized,
  yet duplicated examples are the ones models copy most (Carlini et al. 2023). A sample at distance 0
  from a training example is memorized.
- ``memorization_rate_heldout``: the same share for the held-out test split, the chance level to read
  ``memorization_rate`` against. It is ~0 for images, but the ratio test also fires for fresh data in
  few dimensions (for locally uniform data (d1/d2)^d is uniform, so ~1/9 of fresh 2D points pass).
- ``memorization_rate_loo``: where the dataset has no test split, the chance level from the train
  split itself: the same share for each distinct training example against the others (leave one
  out: an example is a draw from the data independent of the rest, as a test example is). Without
  it, a fresh 2D sampler of a mixture with no test split scored ~1/9 against the 0.1 bar alone and
  was flagged **memorized**. It costs nothing more: AuthPct needs each example's neighbours anyway.
- ``authpct``: authenticity (Alaa et al. 2022, "How Faithful is your Synthetic Data?"), as dgm-eval
  (Stein et al. 2023) computes it: a sample is authentic when its nearest training example x has
  another training example closer to x than the sample is; ``authpct`` is the percentage of authentic
  samples (100 for a model that never comes closer than the data's own spacing, 0 for copies).
- ``ct``: the C_T data-copying test (Meehan et al. 2020, "A Non-Parametric Test to Detect
  Data-Copying in Generative Models"), as dgm-eval defines it: features reduced to 64 PCA components
  when wider; 3 cells from k-means on the training set; in each cell, the Mann-Whitney U statistic
  between the samples' and the held-out test examples' distances to their nearest training example of
  the cell, z-scored under the null (mean ``n m / 2 - 0.5`` with dgm-eval's continuity term, variance
  ``n m (n + m + 1) / 12``); the z-scores averaged with weights the share of test examples per cell,
  over the cells holding more than 20 samples (tau = 20 / m). ``ct << 0`` means samples are closer to
  the training set than fresh data is (copying), ``ct >> 0`` underfitting, ``ct ~ 0`` neither. It
  needs the dataset's test split; when that is missing or too small, ``ct`` is omitted with a warning.

Distances are Euclidean in pixel space by default (the data tensors, flattened), where "copy" means
what it says. Option ``ctx.options["memorization"]["space"] = "features"`` uses the feature extractor's
space instead: sample features against the reference features, which must be those of the train split;
the test split's features (for ``ct`` and the held-out rate) are then read as the reference features
are, from the on-disk cache (:meth:`~genbench.metrics.base.EvalContext.split_features`): extracted
once, for every model, seed and later command.

Flag ``memorized``: ``memorization_rate`` above 0.1 and above twice the chance level,
``memorization_rate_heldout`` (or ``memorization_rate_loo`` where the test split is missing): a
copying model scores ~1, a model that generalizes scores at chance level.

A figure (``ctx.artifacts["nearest_neighbours"]``) shows the samples most likely copied (smallest
d1 / d2) beside their three nearest training examples, as the DDPM paper's nearest-neighbour figures
(for 2D points, a scatter with each such sample joined to its nearest training point).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from genbench.data.folder import float_samples
from genbench.errors import GenbenchError, MetricInputError
from genbench.metrics._blocks_done import BlocksDone
from genbench.metrics._inputs import check_features, check_same_dim, option, split_fix
from genbench.metrics._knn import OnBlock, as_rows, nearest, pick_device
from genbench.metrics._knn_memo import kept
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

#: d1 / d2 below this counts as memorized (Gu et al. 2023; Yoon et al. 2023)
RATIO = 1.0 / 3.0
#: flagged "memorized" when more than this share of samples is memorized (a copying model scores
#: ~1, a model that generalizes ~0) ...
FLAG_THRESHOLD = 0.1
#: ... and more than this many times the share among held-out test examples: in few dimensions the
#: ratio test fires by chance (d1/d2 < 1/3 for ~1/9 of fresh 2D points, ~3^-d in d dimensions)
HELDOUT_FACTOR = 2.0
#: dgm-eval's C_T settings: PCA width, number of k-means cells, samples a cell needs (tau = 20 / m)
CT_PCA_DIM = 64
CT_CELLS = 3
CT_MIN_CELL_SAMPLES = 20
#: seed of C_T's PCA and k-means: the cells are part of the reference, fixed for every model and run
#: seed, so that the spread over seeds measures the models and not the partition
CT_SEED = 0
FIGURE_ROWS = 8
SPACES = ("pixels", "features")


def mann_whitney_z(gen_dist: np.ndarray, test_dist: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of ``gen_dist`` against ``test_dist`` (Meehan et al. 2020, as dgm-eval)."""
    from scipy.stats import mannwhitneyu

    m, n = len(gen_dist), len(test_dist)
    u = float(mannwhitneyu(gen_dist, test_dist, alternative="less", method="asymptotic").statistic)
    mean = n * m / 2.0 - 0.5  # dgm-eval's continuity term
    std = np.sqrt(n * m * (n + m + 1) / 12.0)
    return (u - mean) / std


def copied(d1: torch.Tensor, d2: torch.Tensor) -> torch.Tensor:
    """d1 / d2 < 1/3, or d1 == 0 (where d2 is 0 too: two equal training rows, were they not
    counted as one by :func:`train_neighbours`)."""
    return (d1 == 0) | (d1 < RATIO * d2)


def train_neighbours(
    train: torch.Tensor, train_np: np.ndarray, on_block: OnBlock | None = None
) -> tuple[torch.Tensor | None, torch.Tensor, float | None]:
    """(``repeats``, ``own``, ``loo``) of the N x D training rows (``train_np`` the same rows in numpy).

    ``repeats`` marks every row equal to an earlier one (None when there is none), so that a
    duplicated training example counts once: with its repeat in the set, a near copy of it had
    d2 = d1 (rate 0 where the example alone gave 1) and a nearest training example at distance 0
    from another (AuthPct 100 where it gave 0). The duplicated examples are the ones models copy most
    (Carlini et al. 2023, "Extracting Training Data from Diffusion Models").
    ``own`` is each training example's distance to its nearest other distinct one (AuthPct's).
    ``loo`` is the share of distinct examples whose nearest and second-nearest other distinct
    examples pass the copy test (:func:`copied`), the chance level without a test split; None with
    fewer than 3 distinct examples. ``on_block`` is told of the self-join's blocks (the metric's
    progress; not of the few rows searched again where there are duplicates)."""
    # the second and third smallest distances, counting itself at exactly 0: 0 for a row with an
    # equal one (the third costs nothing more: the same blocks, one more candidate)
    k = min(3, len(train))
    near, near_idx = nearest(train, train, k, on_block=on_block)
    own = near[:, 1]
    dup = (own == 0).nonzero().squeeze(1)
    if len(dup) == 0:  # the common case: nothing else to compute, the same values as ever
        return None, own, _loo_rate(near)
    # the rows with an equal one are grouped exactly (+ 0.0: -0.0 and 0.0 are the same coordinate)
    _, first = np.unique(train_np[dup.cpu().numpy()] + 0.0, axis=0, return_index=True)
    repeats = torch.zeros(len(train), dtype=torch.bool, device=train.device)
    repeats[dup] = True
    repeats[dup[torch.as_tensor(first, device=train.device)]] = False
    # a kept row with repeats: its nearest other distinct rows. Any other row's nearest other row is
    # at the same distance as before (a repeat left out leaves its equal kept row in), but not its
    # second when a repeat was among them (d2 = d1 to an example and its repeat): those rows again
    distinct = int((~repeats).sum())
    redo = ((~repeats) & ((own == 0) | repeats[near_idx[:, 1:]].any(1))).nonzero().squeeze(1)
    if distinct >= 2 and len(redo):
        near[redo, : min(3, distinct)] = nearest(train[redo], train, min(3, distinct), exclude=repeats)[0]
    return repeats, own, _loo_rate(near[~repeats]) if distinct >= 3 else None


def _loo_rate(near: torch.Tensor) -> float | None:
    """The copy test's rate over rows of (0, d1, d2): each example against the others."""
    if near.shape[1] < 3:
        return None
    return copied(near[:, 1], near[:, 2]).double().mean().item()


class CTReference:
    """What C_T needs from the train and held-out test sets alone, computed once per reference.

    dgm-eval's recipe: PCA to 64 components when wider (fitted on the train set), 3 k-means cells on
    the train set, and per cell the test examples' distances to their nearest training example of the
    cell. Only the samples' side is left to compute per model (:meth:`score`).
    """

    def __init__(self, train: np.ndarray, test: np.ndarray, seed: int, device: torch.device):
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA

        need = max(CT_CELLS, CT_PCA_DIM if train.shape[1] > CT_PCA_DIM else 0)
        if len(train) < need:
            raise MetricInputError(
                f"memorization: C_T needs at least {need} training examples (PCA to {CT_PCA_DIM} dimensions, "
                f"{CT_CELLS} k-means cells), the train split has {len(train)}; use a larger dataset"
            )
        self.device = device
        self.pca = (
            PCA(n_components=CT_PCA_DIM, random_state=seed).fit(train)
            if train.shape[1] > CT_PCA_DIM
            else None
        )
        train, test = self._project(train), self._project(test)
        self.km = KMeans(n_clusters=CT_CELLS, n_init=10, random_state=seed).fit(train)
        t_cells, p_cells = self.km.labels_, self.km.predict(test)
        self.num_test = len(test)
        #: per cell: (train rows of the cell, test distances to them, test examples in the cell)
        self.cells: list[tuple[torch.Tensor, np.ndarray, int] | None] = []
        for cell in range(CT_CELLS):
            t, p = train[t_cells == cell], test[p_cells == cell]
            if len(p) == 0 or len(t) == 0:  # weight 0 (dgm-eval raises here instead)
                self.cells.append(None)
                continue
            t_rows = as_rows(t, device)
            lp = nearest(as_rows(p, device), t_rows, 1)[0][:, 0].cpu().numpy()
            self.cells.append((t_rows, lp, len(p)))

    def _project(self, x: np.ndarray) -> np.ndarray:
        return self.pca.transform(x) if self.pca is not None else x

    def score(self, gen: np.ndarray) -> float | None:
        """C_T of ``gen``; None when no cell holds more than 20 samples (tau = 20 / m)."""
        gen = self._project(gen)
        q_cells = self.km.predict(gen)
        weights, scores = [], []
        for cell, ref in enumerate(self.cells):
            q = gen[q_cells == cell]
            if ref is None or len(q) <= CT_MIN_CELL_SAMPLES:
                continue
            t_rows, lp, num_p = ref
            lq = nearest(as_rows(q, self.device), t_rows, 1)[0][:, 0].cpu().numpy()
            weights.append(num_p / self.num_test)
            scores.append(mann_whitney_z(lq, lp))
        if not weights:
            return None
        w = np.asarray(weights)
        return float(w @ np.asarray(scores) / w.sum())


def ct_score(
    train: np.ndarray,
    test: np.ndarray,
    gen: np.ndarray,
    seed: int = CT_SEED,
    device: torch.device | str = "cpu",
) -> float | None:
    """C_T of ``gen`` against ``train`` with held-out ``test`` (Meehan et al. 2020, as dgm-eval).

    Returns None when no cell holds more than 20 samples.
    """
    return CTReference(train, test, seed, torch.device(device)).score(gen)


@register_metric("memorization")
class Memorization(Metric):
    """Nearest-neighbour copy rate (d1/d2 < 1/3), AuthPct and the C_T data-copying test."""

    # 2: exact duplicates in the training set count once (1: a near copy of a duplicated example had
    # d1 = d2, neither memorized nor inauthentic); the same values on a train split without duplicates
    version = 2
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "memorization_rate": False,
        "memorization_rate_heldout": False,
        "memorization_rate_loo": False,
        "authpct": True,
        "ct": None,  # two-sided: << 0 copies, >> 0 underfits, ~0 is ideal (no arrow on the board)
    }
    description = (
        "share of samples with d1/d2 < 1/3 to the train set (Gu et al. 2023), AuthPct (Alaa et al. 2022) "
        "and C_T (Meehan et al. 2020), as in dgm-eval; pixel space by default"
    )
    options: ClassVar[dict[str, object]] = {"space": "pixels"}  # "pixels" or "features"
    reads_features_by: ClassVar[tuple[str, ...]] = ("space",)  # the extractor's features at space=features
    # the examples the model saw, whatever --reference-split is; C_T and the held-out rate beside the
    # test split's, which the model did not see
    compares_with = "train"
    compares_also: ClassVar[dict[str, tuple[str, ...]]] = {"test": ("ct", "memorization_rate_heldout")}

    def check_options(self, options: dict[str, Any]) -> None:
        space = options.get("space", "pixels")
        if space not in SPACES:
            raise MetricInputError(f"memorization: unknown space {space!r}; use one of {', '.join(SPACES)}")

    def reads_features(self, options: dict[str, Any]) -> bool:
        return options.get("space", "pixels") == "features"  # the data tensors themselves by default

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        space = option(ctx, "memorization", "space", "pixels")
        self.check_options({"space": space})
        device = pick_device(ctx.extractor.device if ctx.extractor is not None else ctx.device)
        gen_np: np.ndarray | None  # dropped while the reference is built, then made again
        gen_np, train_np = self._points(ctx, space)
        train = as_rows(train_np, device)
        # what depends on the train and test sets alone is computed once per run of many models
        shared = ctx.reference_features.cache.setdefault(("memorization", space, str(device)), {})
        # the progress: the train split's self-join (where not kept), the samples against it and the
        # test split against it (where not kept; its declared size until it is read), not C_T's
        # searches (in 64 dimensions, a few percent of the time)
        test_rows = _declared_rows(ctx, "test") if "test" not in shared else 0
        done = BlocksDone(
            own=len(train) ** 2 if "own" not in shared else 0,
            samples=len(gen_np) * len(train),
            test=test_rows * len(train),
        )
        if "own" not in shared:  # and for a later command in this process of the same train rows
            compute = functools.partial(train_neighbours, train, train_np, done)
            found = kept("train-neighbours", train, None, compute)
            if not done.done:  # kept from an earlier command: no block computed
                done.resize("own", 0)
            shared["repeats"], shared["own"], shared["loo"] = found
        repeats = shared["repeats"]
        num_train = len(train)
        distinct = num_train - (int(repeats.sum()) if repeats is not None else 0)
        if distinct < 2:
            raise MetricInputError(
                f"memorization: the train split has {distinct} distinct example (of {len(train)}); "
                f"a nearest and a second-nearest training example need two; {split_fix('train')}"
            )
        dist, idx = nearest(as_rows(gen_np, device), train, min(3, distinct), exclude=repeats, on_block=done)
        d1, d2 = dist[:, 0], dist[:, 1]
        values = {"memorization_rate": copied(d1, d2).double().mean().item()}

        if "test" not in shared:  # set last by _reference: a failure halfway builds it all again
            # without the samples' float64 copy (made again for C_T below, the same array): C_T's PCA
            # copies the train set, and with the samples alive too that was the peak (800 MiB at 50k x 2048)
            gen_np = None
            self._reference(ctx, space, shared, train_np, train, device, done)
        del train, train_np  # nor the train set's while C_T scores the samples
        # AuthPct: the nearest training example's distance to its own nearest other training example
        values["authpct"] = 100.0 * (shared["own"][idx[:, 0]] < d1).double().mean().item()

        why_no_test = shared["test"]
        if why_no_test:  # warned for every model, not only the first that filled the cache
            warnings.warn(f"memorization: ct omitted, {why_no_test}", stacklevel=2)
            if shared["loo"] is not None:  # the chance level the flag reads, from the train split
                values["memorization_rate_loo"] = shared["loo"]
        else:
            values["memorization_rate_heldout"] = shared["heldout"]
            if isinstance(shared["ct"], str):  # why C_T could not be set up
                warnings.warn(f"memorization: ct omitted, {shared['ct']}", stacklevel=2)
            else:
                if gen_np is None:  # dropped while the reference was built
                    gen_np = self._sample_points(ctx, space)
                if (ct := shared["ct"].score(gen_np)) is None:
                    warnings.warn(
                        f"memorization: ct omitted, no k-means cell holds more than {CT_MIN_CELL_SAMPLES} "
                        f"of the {len(gen_np)} samples; use more samples",
                        stacklevel=2,
                    )
                else:
                    values["ct"] = ct
        if ctx.artifacts_dir is not None:
            ratio = torch.where(d1 == 0, torch.zeros_like(d1), d1 / d2.clamp_min(1e-300))
            order = torch.argsort(ratio, stable=True)[:FIGURE_ROWS].cpu()
            path = Path(ctx.artifacts_dir) / "nearest_neighbours.png"
            from genbench.metrics.nearest_figure import save_nearest_figure  # matplotlib: imported when drawn

            try:  # a figure that cannot be written (a full disk) never loses the values computed
                counts = (num_train, distinct)
                save_nearest_figure(
                    ctx, order.numpy(), idx.cpu().numpy(), ratio.cpu().numpy(), path, space, counts
                )
                ctx.artifacts["nearest_neighbours"] = str(path)
            except (GenbenchError, OSError) as e:
                warnings.warn(f"memorization: the nearest-neighbour figure was not saved: {e}", stacklevel=2)
        return values

    def flags(self, values: dict[str, float]) -> list[str]:
        rate = values.get("memorization_rate", 0.0)
        chance = values.get("memorization_rate_heldout", values.get("memorization_rate_loo", 0.0))
        return ["memorized"] if rate > FLAG_THRESHOLD and rate > HELDOUT_FACTOR * chance else []

    def _reference(
        self,
        ctx: EvalContext,
        space: str,
        shared: dict[str, Any],
        train_np: np.ndarray,
        train: torch.Tensor,
        device: torch.device,
        done: BlocksDone | None = None,
    ) -> None:
        """Fill ``shared`` (which holds ``own`` and ``repeats`` already: :func:`train_neighbours`)
        with what the train and test sets alone give: ``heldout`` and ``ct`` (when the test split
        exists), and last ``test`` (why the test split is unusable, "" when it is usable). The test
        split itself is not kept (160 MiB at 10k x 2048). ``done``: the metric's progress, whose
        test pass is sized here, once the split is read."""
        test_np, why_no_test = self._test_points(ctx, space, train_np.shape[1])
        if done is not None:
            done.resize("test", len(test_np) * len(train) if test_np is not None else 0)
        if test_np is not None:
            # the same rate for held-out data: what chance alone gives (about 1/9 on 2D data)
            td = nearest(as_rows(test_np, device), train, 2, exclude=shared["repeats"], on_block=done)[0]
            shared["heldout"] = copied(td[:, 0], td[:, 1]).double().mean().item()
            del td
            try:  # a train split too small for C_T's PCA loses C_T only, not the rates above
                shared["ct"] = CTReference(train_np, test_np, CT_SEED, device)
            except MetricInputError as e:
                shared["ct"] = str(e).removeprefix("memorization: ")
        shared["test"] = why_no_test

    # -- inputs -------------------------------------------------------------------------------------
    def _points(self, ctx: EvalContext, space: str) -> tuple[np.ndarray, np.ndarray]:
        gen = self._sample_points(ctx, space)
        if space == "features":
            train = ctx.reference_features.features
        else:
            train = _flat(ctx.train_data())
        why = "a nearest and a second-nearest training example"
        train = check_features(train, "train", "memorization", 2, why, fix=split_fix("train"))
        check_same_dim(gen, train, "memorization", "sample and train")
        return gen, train

    def _sample_points(self, ctx: EvalContext, space: str) -> np.ndarray:
        if space == "features":
            if ctx.reference_split != "train":
                raise MetricInputError(
                    f"memorization: space=features compares with the reference features, which are of the "
                    f"{ctx.reference_split!r} split; use --reference-split train or space=pixels"
                )
            return check_features(ctx.sample_features.features, "sample", "memorization", min_rows=1)
        return check_features(_flat(ctx.samples), "sample", "memorization", min_rows=1)

    def _test_points(self, ctx: EvalContext, space: str, dim: int) -> tuple[np.ndarray | None, str]:
        """(the test split in the metric's space, ""), or (None, why it is unavailable)."""
        try:
            test_x = ctx.dataset.load_stored("test")[0]  # as stored: in feature space only its count
        except GenbenchError as e:
            return None, f"the dataset has no usable test split ({e})"
        if len(test_x) < 2:
            return None, "the test split has fewer than 2 examples"
        if space == "features":
            if ctx.extractor is None:
                return None, "no feature extractor for the test split"
            # from the on-disk cache the train split's come from, in a run: extracted once for
            # every model, seed and later command (a bare context extracts them itself)
            test = ctx.split_features("test").features
        else:
            test = _flat(float_samples(test_x))
        test = check_features(test, "test", "memorization")
        if test.shape[1] != dim:
            raise MetricInputError(
                f"memorization: the test split has dimension {test.shape[1]} but the train split {dim}; "
                f"fix the dataset's splits"
            )
        return test, ""


def _declared_rows(ctx: EvalContext, split: str) -> int:
    """The rows the dataset declares ``split`` to hold (``split_sizes``), 0 where it does not."""
    sizes = getattr(ctx.dataset, "split_sizes", None)
    rows = sizes.get(split) if isinstance(sizes, dict) else None
    return rows if isinstance(rows, int) and rows > 0 else 0


def _flat(x: torch.Tensor) -> np.ndarray:
    t = torch.as_tensor(x).detach().cpu()
    return t.reshape(len(t), -1).double().numpy()
