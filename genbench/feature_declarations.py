"""What `genbench list features NAME` shows, as data: what a researcher asks of a feature extractor
before a run (the kinds of data it takes, whether it gives logits, so that is, is_inf and the class
metrics can run under it, its features' and logits' widths, the weights file it reads, by which flag
and variable, where it looks for it and what a download is checked against, what its fingerprint
covers, and the metrics a run without --metrics computes under it), from what its class declares
(:class:`genbench.features.base.FeatureExtractor`) and nothing else (``genbench.feature_info``): no
weights are loaded, looked for or downloaded, nothing is extracted or trained.

The widths are what ``feature_dim()`` and ``logits_dim()`` say for a dataset (``raw``'s is the
dataset's example flattened, ``classifier``'s logits its classes), so they need the extractor built
for one: genbench's own extractors are (their constructors load nothing), a plugin's is not (its
constructor may load its network), and where answering would read the dataset's files (a download,
or CIFAR-10's 50000 images) the width is not known until loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from genbench import registry
from genbench.errors import GenbenchError
from genbench.listing import describe

if TYPE_CHECKING:
    from collections.abc import Callable

    from genbench.features.base import FeatureExtractor


@dataclass(frozen=True)
class FeatureInfo:
    """What :func:`genbench.feature_info` returns (`genbench list features NAME`): what a feature
    extractor declares; None where it is not known until loaded or not declared."""

    name: str  # the registered name (an alias resolved)
    source: str  # "genbench", or the distribution (or --include file) that registered it
    description: str
    supported_kinds: tuple[str, ...]  # "image", "points"
    #: whether it gives logits (``gives_logits``): True, False, or None (not declared: known once it
    #: extracts, where is and is_inf find out)
    gives_logits: bool | None
    dataset: str  # the dataset the widths are for
    #: the features' width on ``dataset`` (``feature_dim()``); None: not known without extracting (see
    #: ``declares_feature_dim`` and ``built``)
    feature_dim: int | None
    logits_dim: int | None  # the logits' width there (``logits_dim()``); None as ``feature_dim``
    declares_feature_dim: bool  # the class overrides feature_dim(): its width is known before extracting
    declares_logits_dim: bool
    #: whether it was built for ``dataset`` to ask its widths: genbench's own extractors of a kind
    #: the dataset has; never a plugin's, whose constructor may load its network
    built: bool
    takes_weights: bool  # reads a weights file given by a flag (``takes_weights``)
    weights_option: str | None  # the RunConfig field whose file it reads (inception_weights); None: none
    weights_env: str | None  # the variable that gives it instead; None: none, or not declared
    #: the folders it looks for its weights in when none is given, in its order; () where it reads
    #: none; None: not declared
    weights_folders: tuple[Path, ...] | None
    weights_url: str | None  # what it downloads when none is given or found; None: none, or not declared
    weights_digest: str | None  # what that download is checked against; None: none published or declared
    #: whether ``fingerprint()`` names its weights file by content itself; else a digest of a given
    #: file is appended to it (:meth:`FeatureExtractor.checked_fingerprint`)
    fingerprint_covers_weights: bool
    #: the metrics a run without --metrics computes under it, by their declarations (runs_by_default,
    #: runs_by_default_under, the kinds they apply to, needs_logits where it gives none); each may
    #: still leave out data it does not apply to (mode metrics without labels)
    default_metrics: tuple[str, ...]


class _WouldRead(Exception):
    """Raised where answering would read the dataset's files."""


def feature_info(name: str, dataset: str) -> FeatureInfo:
    """What the registered feature extractor ``name`` declares, its widths for the registered
    ``dataset``. Imports its module (and torch with it); loads, downloads and trains nothing."""
    from genbench.data.base import default_cache_dir
    from genbench.resolve import call_plugin

    for what, value in (("feature extractor", name), ("dataset", dataset)):
        if not isinstance(value, str):
            raise GenbenchError(
                f"the {what} must be a registered {what}'s name (a str), got {type(value).__name__}"
            )
    canonical = registry.features.canonical(name)  # an unknown name: "did you mean"
    cls = registry.features.get(canonical)
    source = registry.features.source(canonical)
    data = registry.datasets.canonical(dataset)

    def declared() -> tuple:
        # read as one plugin call: a property or metaclass of a plugin's that raises is one line
        folders = cls.weights_folders(default_cache_dir())
        return (
            describe(cls),
            tuple(cls.supported_kinds),
            cls.gives_logits,
            bool(cls.takes_weights),
            str(cls.weights_option),
            cls.weights_env,
            cls.weights_url,
            cls.weights_digest,
            tuple(Path(f) for f in folders) if folders is not None else None,
            bool(cls.fingerprint_covers_weights),
        )

    (desc, kinds, logits, takes, option, env, url, digest, folders, covers) = call_plugin(
        "feature extractor", canonical, "raised {error} giving its declarations", declared
    )
    if logits not in (True, False, None):
        raise GenbenchError(
            f"feature extractor {canonical!r} declares gives_logits = {logits!r}; use True, False or None"
        )
    widths = _widths(cls, canonical, data) if source == "genbench" else (None, None, False)
    return FeatureInfo(
        name=canonical,
        source=source,
        description=desc,
        supported_kinds=kinds,
        gives_logits=logits,
        dataset=data,
        feature_dim=widths[0],
        logits_dim=widths[1],
        declares_feature_dim=_overrides(cls, "feature_dim"),
        declares_logits_dim=_overrides(cls, "logits_dim"),
        built=widths[2],
        takes_weights=takes,
        weights_option=option if takes else None,
        weights_env=env,
        weights_folders=folders,
        weights_url=url,
        weights_digest=digest,
        fingerprint_covers_weights=covers,
        default_metrics=_default_metrics(canonical, kinds, logits),
    )


def _overrides(cls: type, method: str) -> bool:
    from genbench.features.base import FeatureExtractor

    return getattr(cls, method, None) is not getattr(FeatureExtractor, method)


def _widths(cls: type[FeatureExtractor], name: str, dataset: str) -> tuple[int | None, int | None, bool]:
    """(feature_dim(), logits_dim(), built) of genbench's own extractor ``cls`` built for ``dataset``;
    a width whose answer would read the dataset's files (a download) is None. Not built for a
    dataset of a kind it does not handle."""
    from genbench.data.base import default_cache_dir

    data_cls = registry.datasets.get(dataset)
    if data_cls.kind not in cls.supported_kinds:
        return None, None, False
    data = data_cls(cache_dir=default_cache_dir())
    # only what is made in code or shipped in a package is read (digits' labels, for classifier's
    # logits); a dataset of files (or one that does not say) is not: a width it needs is unknown
    if data_cls.data_folders(data.data_dir) != ():
        data._load_or_name_the_plugin = _refuse
    # weights=None: the widths are the network's, whichever file it would read
    extractor = cls(data, cache_dir=default_cache_dir(), weights=None)
    channel = getattr(extractor, "train_dataset", None)  # classifier's per-channel data (stacked)
    if channel is not None and channel is not data and type(channel).data_folders(channel.data_dir) != ():
        channel._load_or_name_the_plugin = _refuse
    return _asked(extractor.feature_dim), _asked(extractor.logits_dim), True


def _refuse(split: str) -> object:
    raise _WouldRead(split)


def _asked(width: Callable[[], int | None]) -> int | None:
    try:
        value = width()
    except _WouldRead:
        return None
    return int(value) if value is not None else None


def _default_metrics(name: str, kinds: tuple[str, ...], logits: bool | None) -> tuple[str, ...]:
    """The metrics a run without --metrics computes under ``name``
    (:func:`genbench.resolve.default_metrics`, what :func:`genbench.resolve.build_metrics` picks),
    those of logits left out where it gives none, as :func:`genbench.metric_checks.check_logits` leaves
    them; a metric plugin that fails to import is left out, as a run leaves it out with a warning."""
    from genbench.resolve import default_metrics

    return tuple(
        m
        for m in default_metrics(kinds, name)
        if not (logits is False and registry.metrics.get(m).needs_logits)
    )


def needing_logits() -> tuple[str, ...]:
    """The metrics that read the samples' logits (``needs_logits``: is, is_inf), which run only under
    an extractor that gives them."""
    from genbench.errors import PluginLoadError

    out = []
    for metric in registry.metrics.names(include_aliases=False):
        try:
            if registry.metrics.get(metric).needs_logits:
                out.append(metric)
        except PluginLoadError:
            continue
    return tuple(out)
