"""What `genbench list metrics NAME` shows, as data: a metric's description, the values it writes and
which way each is better, its options (what ``--metric-option NAME.KEY=`` takes, each with its
default and type), whether it runs by default, what it compares the samples with and which split
(``compares_with``), the kinds of data it applies to, its version and whether it reads features
(``genbench.metric_info``). All of it is what the class declares
(:class:`genbench.metrics.base.Metric`): nothing is computed, no data is read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from genbench import registry
from genbench.errors import GenbenchError
from genbench.field_values import value_text
from genbench.listing import describe
from genbench.metric_options import option_type
from genbench.metrics.base import Metric
from genbench.model_fields import type_text

#: a value's better direction: "higher", "lower", or "none" (a diagnostic such as C_T, whose ideal is 0)
Direction = Literal["higher", "lower", "none"]


@dataclass(frozen=True)
class MetricValue:
    """One value a metric reports (:attr:`MetricInfo.values`) and which way is better."""

    name: str  # the result's column (``kid_std``)
    better: Direction


@dataclass(frozen=True)
class MetricOption:
    """One option of a metric (:attr:`MetricInfo.options`), as ``--metric-option`` sets it."""

    name: str  # what --metric-option METRIC.NAME= sets
    #: the default as --metric-option writes it (a tuple as 1:2); None where the metric declares
    #: None: computed from the inputs (kid.subset_size's min(1000, N, reference size))
    default: str | None
    #: what a value given is read as (:func:`genbench.metric_options.resolve_metric_options`): the
    #: default's type (int, float, str, tuple[int, ...]), or "number" for a default of None
    type: str
    words: tuple[str, ...] = ()  # taken beside values of its type, as written (vendi.q's "inf")


@dataclass(frozen=True)
class MetricInfo:
    """What :func:`genbench.metric_info` returns (`genbench list metrics NAME`): what a metric
    declares. Computes nothing."""

    name: str  # the registered name (an alias resolved)
    source: str  # "genbench", or the distribution (or --include file) that registered it
    description: str
    values: tuple[MetricValue, ...]
    options: tuple[MetricOption, ...]
    #: whether a run without --metrics computes it (``Metric.runs_by_default``); False: opt-in
    runs_by_default: bool
    #: the --features under which an opt-in metric runs by default all the same (cmmd under clip)
    runs_by_default_under: tuple[str, ...]
    #: what it compares the samples with: "features" (the reference split's, so the dataset is
    #: read), "stats" (their mean and covariance, which --reference-stats may give) or "none"
    reference: str
    supported_kinds: tuple[str, ...]  # "image", "points"
    version: int  # recorded with its results (metric_versions)
    needs_logits: bool = False  # reads the samples' logits (IS): not under raw or dinov2 features
    #: whether it reads features at its default options (:func:`reads_features_by_default`): where
    #: no metric of a command does, no feature extractor is built; None: its reads_features raised
    reads_features: bool | None = True
    #: the options whose values decide it (``Metric.reads_features_by``: memorization's space)
    reads_features_by: tuple[str, ...] = ()
    #: the split every value compares with (``Metric.compares_with``): "reference" (the run's
    #: --reference-split), or "train" or "test" whatever --reference-split is (memorization's train)
    compares_with: str = "reference"
    #: further splits, each with the values compared with it (``Metric.compares_also``:
    #: memorization's ``(("test", ("ct", "memorization_rate_heldout")),)``)
    compares_also: tuple[tuple[str, tuple[str, ...]], ...] = ()


def metric_info(name: str) -> MetricInfo:
    """What the registered metric ``name`` declares. Imports its module (and torch with it); computes
    nothing."""
    if not isinstance(name, str):
        raise GenbenchError(
            f"the metric must be a registered metric's name (a str), got {type(name).__name__}"
        )
    canonical = registry.metrics.canonical(name)  # an unknown name: "did you mean"
    cls = registry.metrics.get(canonical)
    words = dict(cls.option_words)
    return MetricInfo(
        name=canonical,
        source=registry.metrics.source(canonical),
        description=describe(cls),
        values=tuple(MetricValue(k, _direction(v)) for k, v in cls.higher_is_better.items()),
        options=tuple(
            MetricOption(k, None if v is None else value_text(v), _type_text(v), tuple(words.get(k, ())))
            for k, v in cls.options.items()
        ),
        runs_by_default=bool(cls.runs_by_default),
        runs_by_default_under=tuple(cls.runs_by_default_under),
        reference=str(cls.reference),
        supported_kinds=tuple(cls.supported_kinds),
        version=int(cls.version),
        needs_logits=bool(cls.needs_logits),
        reads_features=reads_features_by_default(cls),
        reads_features_by=tuple(cls.reads_features_by),
        compares_with=str(cls.compares_with),
        compares_also=tuple((split, tuple(names)) for split, names in cls.compares_also.items()),
    )


def reads_features_by_default(cls: type[Metric]) -> bool | None:
    """Whether the metric ``cls`` reads features with no ``--metric-option`` given
    (:meth:`~genbench.metrics.base.Metric.reads_features` of ``{}``, as a run asks it), or None
    where building it or asking raises (a plugin's bug, which a run names when it builds it)."""
    from genbench.isolation import plugin_state_kept

    try:
        with plugin_state_kept(f"metric {getattr(cls, 'registered_name', '') or cls.__name__!r}"):
            return bool(cls().reads_features({}))
    except KeyboardInterrupt:
        raise
    except BaseException:  # sys.exit too, as start_metric takes it
        return None


def _direction(higher: bool | None) -> Direction:
    return "none" if higher is None else "higher" if higher else "lower"


def _type_text(default: Any) -> str:
    """The type a value given is converted to (:func:`genbench.metric_options.option_type`, which
    :func:`genbench.metric_options.resolve_metric_options` reads it as); "number" where the default
    is None."""
    return "number" if default is None else type_text(option_type(default))
