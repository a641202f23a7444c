"""sFID: the Fréchet distance of spatial Inception features (Nash et al. 2021, "Generating Images
with Sparse Representations"), as ADM's evaluator computes it (Dhariwal & Nichol 2021,
openai/guided-diffusion ``evaluations/evaluator.py``), which diffusion papers report beside FID.

The features are the first 7 channels of the Inception graph's ``mixed_6/conv`` (2023 numbers per
image: :mod:`genbench.features.inception_spatial`, which says what was checked of the tap), of the
same torch-fidelity network and weights as the run's ``inception`` features; sFID is FID's Fréchet
distance (:func:`genbench.metrics.fid.frechet_distance`, option ``backend`` as FID's) of Gaussians
fitted to the samples' and the reference's. It is the ``fid`` of ``--features inception-spatial`` on
the same samples, computed here beside the run's pool3 features.

Opt-in (``--metrics fid,sfid``): the spatial features are taken from the run's own Inception pass
over the samples, and over the reference split when that is extracted (:mod:`genbench.features.same_pass`:
the tap's values bit for bit, cached under ``inception-spatial``'s key like any extractor's reference
features, :func:`genbench.features.reference.reference_features`); the reference split's cost a pass
of their own only when its pool3 features were cached before without them. With ``--reference-stats``, the reference is
the file's ``mu_s`` and ``sigma_s``, the spatial statistics that ADM's reference batches
(``VIRTUAL_*.npz``) hold beside ``mu`` and ``sigma``; a file without them is an error naming the fix.
It needs the run's features to be ``inception``: under any other extractor there is no Inception
network to tap. Named alone (``--metrics sfid``), the run still extracts (and caches) the reference
split's pool3 features, as it does for FID. Both spatial extractions show the run's bar
(:meth:`~genbench.metrics.base.EvalContext.sample_features_in`, ``split_features``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.features.base import FeatureExtractor
from genbench.features.inception_spatial import DIM, InceptionSpatial, spatial_tap
from genbench.features.reference_stats import SPATIAL_KEYS, load_reference_stats
from genbench.metrics._inputs import check_features, option
from genbench.metrics.base import EvalContext, Metric
from genbench.metrics.fid import (
    DEFAULT_BACKEND,
    check_backend,
    frechet_distance,
    gaussian_statistics,
    reference_gaussian,
    warn_if_singular,
)
from genbench.registry import register_metric

#: what the singular-covariance warnings add
ADM = " (ADM's scores use 50000 samples against statistics of the whole dataset)"


@register_metric("sfid")
class SFID(Metric):
    """Spatial FID: Fréchet distance of Inception ``mixed_6/conv[..., :7]`` features (ADM's sFID)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {"sfid": False}
    supported_kinds = ("image",)
    reference = "stats"  # --reference-stats (their mu_s, sigma_s) stand in for the reference split
    runs_by_default = False  # 2023 x 2023 statistics, and the tap's features held: when --metrics names it
    options: ClassVar[dict[str, object]] = {"backend": DEFAULT_BACKEND}  # FID's trace formula
    description = (
        "spatial FID: Fréchet distance of Inception mixed_6/conv[..., :7] features, as ADM's evaluator "
        "(Nash et al. 2021), from the same Inception pass"
    )

    def check_options(self, options: dict[str, Any]) -> None:
        check_backend("sfid", options)

    def check_features(self, extractor: FeatureExtractor | None) -> None:
        if spatial_tap(extractor) is None:
            raise MetricInputError(_needs_inception(extractor))

    def features_beside(self, extractor: FeatureExtractor | None) -> FeatureExtractor | None:
        return spatial_tap(extractor)  # also what the protocol records it measured on (measured_with)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        if ctx.reference_stats_error is not None:
            raise MetricInputError(ctx.reference_stats_error)
        spatial = spatial_tap(ctx.extractor)
        if spatial is None:  # checked before any training too (check_features): a context built by hand
            raise MetricInputError(_needs_inception(ctx.extractor))
        backend = option(ctx, "sfid", "backend", DEFAULT_BACKEND)
        self.check_options({"backend": backend})
        # from the run's pass over the samples (features_beside), else a second pass with the run's bar
        x = check_features(ctx.sample_features_in(spatial).features, "sample", "sfid", why="for a covariance")
        warn_if_singular("sfid", len(x), DIM, "samples", f"use more samples{ADM}", "sFID")
        mu1, s1 = gaussian_statistics(x)
        mu2, s2 = self._reference(ctx, spatial)
        return {"sfid": frechet_distance(mu1, s1, mu2, s2, backend=backend)}

    @staticmethod
    def _reference(ctx: EvalContext, spatial: InceptionSpatial) -> tuple[np.ndarray, np.ndarray]:
        """(mu, sigma) of the reference: the --reference-stats file's spatial ones, else the reference
        split's spatial features' (extracted once, cached on disk; kept for every model of the run)."""
        if ctx.reference_stats_path is not None:
            kept = ctx.reference_features.cache
            path = ctx.reference_stats_path
            if path not in kept:
                fix = (
                    f"use an ADM reference batch (VIRTUAL_*.npz), which holds {' and '.join(SPATIAL_KEYS)} "
                    "beside mu and sigma, or one that `genbench stats --features inception` writes, or "
                    "score sfid in a command without --reference-stats"
                )
                # the run's extractor: its spatial tap is what measures (compute refused a context without one)
                name = ctx.extractor.name if ctx.extractor is not None else None
                kept[path] = load_reference_stats(path, dim=DIM, keys=SPATIAL_KEYS, fix=fix, features=name)
            return kept[path]

        def rows() -> np.ndarray:  # read (and warned of) once a command, as the Gaussian is computed
            feats = ctx.split_features(ctx.reference_split, spatial)  # cached on disk, with a bar
            ref = check_features(feats.features, "reference", "sfid", why="for a covariance")
            warn_if_singular(
                "sfid", len(ref), DIM, "reference examples", f"compare with a larger split{ADM}", "sFID"
            )
            return ref

        return reference_gaussian(ctx, rows, spatial)


def _needs_inception(extractor: FeatureExtractor | None) -> str:
    name = extractor.name if extractor is not None else "none"
    if isinstance(extractor, InceptionSpatial):  # its FID is sFID already
        return "sfid needs --features inception; under --features inception-spatial, fid is sFID"
    return f"sfid needs --features inception (it taps that network's mixed_6/conv), not {name!r}"
