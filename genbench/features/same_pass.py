"""Features that the run's extractor's own pass gives beside its own: sfid's spatial Inception
features (a tap on the same network) are taken from the pass that computes pool3 and the logits,
not from a second pass over the samples and the reference split (each as long as the first: 70
minutes for 50000 images on a CPU).

Only genbench's ``inception`` extractor offers it, to an ``inception-spatial`` extractor built
beside it (:meth:`~genbench.features.inception_spatial.InceptionSpatial.beside`: the same network
object, device and batch size, so the same batches and the same padding): every value is the one
that extractor's own pass gives, bit for bit, and its features are cached under its own key. Any
other extractor (a plugin's too) is extracted as ever, and never sees this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from genbench.features.base import FeatureExtractor, Features, extract_reporting
from genbench.features.inception import Inception
from genbench.features.inception_spatial import InceptionSpatial, tapping

#: what makes two extractors' features of the same inputs the same values (:func:`pass_key`)
PassKey = tuple[str, str, int, int]


def pass_key(extractor: FeatureExtractor) -> PassKey:
    """The network and tap (fingerprint), device and rows per call that ``extractor``'s features of
    given inputs depend on: features extracted under one key are those of any extractor with it."""
    return (
        extractor.checked_fingerprint(),
        str(extractor.device),
        extractor.rows_per_call,
        extractor.fewest_rows,
    )


def names(extractor: FeatureExtractor, beside: Iterable[FeatureExtractor]) -> str:
    """The extractors of one pass as its bar names them: ``inception, inception-spatial``."""
    return ", ".join(e.name for e in (extractor, *beside))


def same_pass(
    extractor: FeatureExtractor, wanted: Iterable[FeatureExtractor | None]
) -> list[FeatureExtractor]:
    """Those of ``wanted`` (each once) whose features ``extractor``'s own pass gives too: the
    ``inception-spatial`` extractors built beside the ``inception`` extractor itself."""
    if type(extractor) is not Inception:
        return []
    found: dict[PassKey, FeatureExtractor] = {}
    for other in wanted:
        if type(other) is InceptionSpatial and other.network_of is extractor:
            found.setdefault(pass_key(other), other)
    return list(found.values())


def extract_beside(
    extractor: FeatureExtractor,
    beside: list[FeatureExtractor],
    x: torch.Tensor,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Features, dict[PassKey, Features]]:
    """``extractor``'s features of ``x`` and, from the same pass, those of each of ``beside`` (which
    :func:`same_pass` gave), by :func:`pass_key`. Without ``beside``, ``extractor``'s extraction as
    ever (no hook, nothing more held)."""
    if not beside:
        return extract_reporting(extractor, x, progress), {}
    (spatial,) = beside  # the one kind same_pass gives
    assert isinstance(extractor, Inception)
    feats, tapped = _with_spatial(extractor, x, progress)
    return feats, {pass_key(spatial): tapped}


@torch.no_grad()
def _with_spatial(
    inception: Inception, x: torch.Tensor, progress: Callable[[int, int], None] | None
) -> tuple[Features, Features]:
    """``inception``'s features of ``x`` and the spatial tap's, from one pass. The tap of each batch
    is kept as ``extract`` keeps the features: the rows it reports done (a short batch's padding
    dropped), as float64, into one array filled in place."""
    taken: list[torch.Tensor] = []
    spatial: np.ndarray | None = None
    done = 0

    def batch_done(upto: int, total: int) -> None:
        nonlocal spatial, done
        (tap,) = taken  # one forward pass per batch
        taken.clear()
        if spatial is None:
            spatial = np.empty((total, tap.shape[1]))
        spatial[done:upto] = tap[: upto - done].double().cpu().numpy()
        done = upto
        if progress is not None:
            progress(upto, total)

    with tapping(inception.model, taken.append):
        feats = inception.extract(x, progress=batch_done)
    if spatial is None:  # no rows: as the spatial extractor's own extract gives
        return feats, Features(features=np.zeros((0, 0)))
    assert done == len(x), (done, len(x))
    return feats, Features(features=spatial, logits=feats.logits)
