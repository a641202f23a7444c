"""The metric contract and the shared evaluation context.

Features are extracted once per sample set and shared by every metric through
:class:`EvalContext`. A metric returns a dict of floats under stable snake_case names (the
leaderboard's columns), declares per value whether higher is better, and carries a version
number that is recorded with its results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from genbench.metric_splits import compares_problem
from genbench.metric_steps import report_progress
from genbench.registration_checks import NAME_RE

if TYPE_CHECKING:
    from genbench.config import Split
    from genbench.data.base import Dataset
    from genbench.features.base import FeatureExtractor, Features
    from genbench.sample_labels import PlannedClasses


@dataclass
class EvalContext:
    """Everything a metric may use, computed once per (model, dataset, seed)."""

    dataset: Dataset
    samples: torch.Tensor  # N x *shape, in the data range
    sample_features: Features
    reference_features: Features  # of the reference split (train by default)
    #: the run's feature extractor; None where no metric of the command reads features
    #: (:meth:`Metric.reads_features`): none was built, ``sample_features`` and ``reference_features``
    #: are then empty
    extractor: FeatureExtractor | None
    seed: int
    reference_split: Split = "train"
    #: (mu, sigma) supplied by the user instead of reference_features (FID only)
    reference_stats: tuple[np.ndarray, np.ndarray] | None = None
    #: why the user's reference statistics could not be read (FID reports it as its error)
    reference_stats_error: str | None = None
    #: the --reference-stats file, for a metric that reads other statistics from it (sfid: ADM's
    #: reference batches hold the spatial ``mu_s``, ``sigma_s`` beside ``mu``, ``sigma``)
    reference_stats_path: Path | None = None
    #: measured by the runner: nfe, train_s, sample_s (sampling's wall time); samples_per_s and
    #: peak_memory_mb only where the run computes throughput (they are timed after a warm-up batch)
    timings: dict[str, float] = field(default_factory=dict)
    #: training log rows ({"step": ..., "d_real": ...}) for training-dynamics metrics
    training_log: list[dict[str, float]] = field(default_factory=list)
    model_name: str = ""
    #: the class each sample was drawn for (int64, read-only, N) where the model is class-conditional
    #: (``GenerativeModel.conditional``); None for an unconditional model's samples
    sample_labels: np.ndarray | None = None
    #: the run's label, its model and variant (``ddim[steps=10]``), which figures name
    label: str = ""
    #: where metrics save figures; None disables figures
    artifacts_dir: Path | None = None
    #: filled by metrics: name -> path of a saved figure
    artifacts: dict[str, str] = field(default_factory=dict)
    #: per-metric options, the declared defaults filled in: {"prdc": {"k_pr": 3, "k_dc": 5}, ...}
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what :meth:`split_features` reads a whole split's features with (``(split, extractor)``, None
    #: for the run's): in a run or an evaluation, the on-disk cache the reference features come from,
    #: with the run's bar; None: extracted here
    split_features_reader: Callable[[Split, FeatureExtractor | None], Features] | None = field(
        default=None, repr=False
    )
    #: what :meth:`sample_features_in` extracts the samples with (``(extractor, samples)``): in a run
    #: or an evaluation, with the run's bar; None: extracted here
    sample_features_reader: Callable[[FeatureExtractor, torch.Tensor], Features] | None = field(
        default=None, repr=False
    )
    #: the device the command computes on (``--device``), for a metric that computes beside the
    #: features where there is no ``extractor`` (memorization's nearest neighbours in pixels, on the
    #: device of the extractor where there is one); None: not known (a context built by hand)
    device: torch.device | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    def train_data(self) -> torch.Tensor:
        """The train split, a copy: a metric writing into it changed every later model's numbers."""
        x = self.dataset.load("train")[0]
        # the harness hands a metric a dataset whose load copies already (scoring._own_copies)
        return x if getattr(self.dataset, "hands_out_copies", False) else x.clone()

    def cached(self, key: str, compute: Any) -> Any:
        """Compute ``compute()`` once per context (e.g. mode labels shared by several metrics)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def split_features(self, split: Split, extractor: FeatureExtractor | None = None) -> Features:
        """The features of every example of the dataset's ``split`` (read-only), in the run's features
        or in ``extractor``'s (sfid's spatial Inception). In a run or an evaluation they come from the
        on-disk cache, keyed as the reference features are: extracted once, with a bar, for every
        model, seed and later command (memorization's test split in feature space was extracted
        again by every command: 14 minutes of Inception on a CPU for CIFAR-10's). In a context built
        by hand (``split_features_reader`` None), extracted here once per context."""
        if self.split_features_reader is not None:
            return self.split_features_reader(split, extractor)
        from genbench.features.base import extract_reporting

        by = self._extractor(extractor, f"the {split} split's features")
        key = f"{split}_features" if extractor is None else f"{split}_features:{by.checked_fingerprint()}"
        # as stored: an image folder's uint8 images are converted batch by batch, not all at once
        return self.cached(key, lambda: extract_reporting(by, self.dataset.load_stored(split)[0], None))

    def sample_features_in(self, extractor: FeatureExtractor) -> Features:
        """The samples' features in ``extractor``'s space, other than the run's (those are
        ``sample_features``): sfid's spatial Inception features. In a run or an evaluation, those that
        its own pass gave beside its features (:meth:`Metric.features_beside`), else a second pass
        over the samples with the run's bar (70 minutes for 50000 samples on a CPU, which showed
        nothing)."""
        samples = self._held_samples()  # `genbench eval`'s uint8 images: converted batch by batch
        if self.sample_features_reader is not None:
            return self.sample_features_reader(extractor, samples)
        from genbench.features.base import extract_reporting

        return extract_reporting(extractor, samples, None)  # as split_features: uint8 for an override

    def sample_rows(self, index: np.ndarray | list[int]) -> torch.Tensor:
        """Float32 copies of the samples at row numbers ``index``, N x ...: a figure's few samples,
        without a float copy of them all (read through ``samples``, a figure of 8 rows converted all
        50000 of `genbench eval`'s uint8 ImageNet-256 samples, 39 GB)."""
        from genbench.data.folder import float_samples

        held = self._held_samples()
        rows = torch.as_tensor(np.atleast_1d(np.asarray(index)), dtype=torch.long)
        return float_samples(held[rows.to(held.device)].detach().cpu()).float()

    def _held_samples(self) -> torch.Tensor:
        """The samples as the evaluation holds them, for what reads them without writing into them
        (extraction, which converts uint8 images a batch at a time): ``samples`` here; a metric's
        copying view gives `genbench eval`'s uint8 images themselves until the metric reads its float
        copy of them all (39 GB for 50000 ImageNet-256 samples, held in 9.8)."""
        return self.samples

    def _extractor(self, extractor: FeatureExtractor | None, what: str) -> FeatureExtractor:
        """``extractor``, else the run's; a context built without one is an error naming the fix."""
        by = extractor if extractor is not None else self.extractor
        if by is None:
            from genbench.errors import MetricInputError

            raise MetricInputError(f"{what} need a feature extractor; build the context with one")
        return by

    def has_cached(self, key: str) -> bool:
        """Whether a metric has computed ``key`` (e.g. ``"sample_modes"``) in this context."""
        return key in self._cache

    def sample_modes(self) -> np.ndarray | None:
        """The mode label of every sample, shared by the metrics of this context (read-only)."""
        return self.cached(
            "sample_modes", lambda: _checked_modes(self.dataset, self.samples, "label_modes(samples)")
        )

    def reference_modes(self) -> np.ndarray | None:
        """The mode label of every reference example, shared by the metrics of this context (read-only)."""

        def compute() -> np.ndarray | None:
            labels = self.dataset.load_labels(self.reference_split)
            if labels is not None:
                return _read_only(labels.numpy())
            x = self.dataset.load(self.reference_split)[0]
            return _checked_modes(self.dataset, x, f"label_modes of its {self.reference_split} split")

        return self.cached("reference_modes", compute)


def _checked_modes(dataset: Dataset, x: torch.Tensor, what: str) -> np.ndarray | None:
    """``dataset.label_modes(x)``, read-only, when it keeps the contract (one integer label per example
    of ``x``, in [0, num_modes) where that is declared), else one error naming the dataset: a plugin's
    3 labels for 200 samples were counted as the samples' modes (modes_covered 1 of 8), silently."""
    from genbench.errors import PluginOutputError

    labels = _read_only(dataset.label_modes(x))
    if labels is None:
        return None
    k = getattr(dataset, "num_modes", None)
    problem = None
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        problem = f"labels of dtype {labels.dtype} and shape {labels.shape}"
    elif len(labels) != len(x):
        problem = f"{len(labels)} labels"
    elif k is not None and len(labels) and (labels.min() < 0 or labels.max() >= k):
        problem = f"labels in [{labels.min()}, {labels.max()}] (it declares num_modes = {k})"
    if problem:
        bound = f" in [0, {k})" if k is not None else ""
        raise PluginOutputError(
            f"dataset {dataset.name!r} returned {problem} from {what} for {len(x)} examples; return one "
            f"integer mode label{bound} per example, or None when modes are unknown"
        )
    return labels


def _read_only(labels: np.ndarray | None) -> np.ndarray | None:
    """``labels``, which every metric of a context reads, as a read-only array: a metric's
    ``ctx.sample_modes()[:] = 0`` was what "modes" then counted (copy's 8 modes became 1)."""
    if isinstance(labels, torch.Tensor):  # a plugin's label_modes on the GPU: numpy cannot read CUDA
        labels = labels.detach().cpu().numpy()
    if labels is not None:
        labels = np.array(labels)  # its own array: a dataset's labels or label_modes' may be shared
        labels.setflags(write=False)
    return labels


#: the values of :attr:`Metric.reference`
REFERENCES = ("features", "stats", "none")


class Metric(ABC):
    """Base class of every metric."""

    #: bump when the definition changes; recorded in results as metric_versions
    version: ClassVar[int] = 1
    #: value name -> higher is better (e.g. {"fid": False}), or None for a diagnostic without a better
    #: direction (C_T, whose ideal is 0); also the metric's column names and their leaderboard arrows
    higher_is_better: ClassVar[dict[str, bool | None]] = {}
    #: kinds of data it applies to
    supported_kinds: ClassVar[tuple[str, ...]] = ("image", "points")
    #: what it compares the samples with: "features" (``ctx.reference_features``, the reference
    #: split's, so the dataset is read), "stats" (those features' mean and covariance, which
    #: ``--reference-stats`` may give instead: FID) or "none" (the samples alone: IS, throughput).
    #: `genbench eval` reads the dataset only for a metric that needs its "features".
    reference: ClassVar[str] = "features"
    #: one-line description with its reference, for `genbench list metrics`
    description: ClassVar[str] = ""
    #: options the metric reads from ``ctx.options[name]`` (``--metric-option NAME.KEY=VALUE``), with
    #: their defaults (None: computed from the inputs); values are converted to the default's type
    options: ClassVar[dict[str, Any]] = {}
    #: words an option takes besides values of its default's type, kept as text: vendi's
    #: ``{"q": ("inf",)}``, the reference package's spelling of order infinity, which a float option
    #: refuses (nan and inf pass every range check, so the generic reading of a float refuses both)
    option_words: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: whether it runs when ``--metrics`` names none; False: only when named (an opt-in metric whose
    #: cost a default run should not pay: ``fid_inf``'s 15 Fréchet distances, sfid's 2023 x 2023 statistics)
    runs_by_default: ClassVar[bool] = True
    #: the feature extractors (``--features`` names) under which an opt-in metric runs by default all
    #: the same: the features it is defined in, which a user picks for it (``cmmd`` under ``clip``)
    runs_by_default_under: ClassVar[tuple[str, ...]] = ()
    #: whether it reads the samples' logits (IS): named in --metrics under an extractor that declares
    #: none (``FeatureExtractor.gives_logits`` False: raw, dinov2), the command fails before any work;
    #: in the default set it is left out quietly (its :meth:`applies_to` says no)
    needs_logits: ClassVar[bool] = False
    #: the options (names in :attr:`options`) whose values decide :meth:`reads_features`, which
    #: `genbench list metrics` names: memorization's ``space`` (pixels by default, features with
    #: ``space=features``); () where no option changes it
    reads_features_by: ClassVar[tuple[str, ...]] = ()
    #: the split every value is measured against: "reference" (the run's ``--reference-split``, train
    #: unless given: every metric but memorization), or "train" or "test", that split whatever
    #: ``--reference-split`` is (memorization's copies are of the examples the model saw: "train").
    #: The run's protocol line and `genbench list metrics NAME` say it, in the features where
    #: :meth:`reads_features` says so, else in the data itself; another split than the reference
    #: needs ``reference`` "features" (:func:`genbench.metric_splits.compares_problem`)
    compares_with: ClassVar[str] = "reference"
    #: further splits some of its values compare with, each mapped to those values' names (in
    #: :attr:`higher_is_better`): memorization's ``{"test": ("ct", "memorization_rate_heldout")}``
    compares_also: ClassVar[dict[str, tuple[str, ...]]] = {}
    registered_name: ClassVar[str] = ""

    @classmethod
    def declaration_problem(cls) -> str | None:
        """What is wrong with the class's declarations (checked at registration), or None."""
        declared = cls.higher_is_better
        if not isinstance(declared, dict) or not all(
            isinstance(k, str) and k and (v is None or isinstance(v, bool)) for k, v in declared.items()
        ):
            return (
                f"declares higher_is_better = {declared!r}; map each value name to True (higher is better), "
                "False (lower) or None (no better direction)"
            )
        options = cls.options
        if not isinstance(options, dict) or not all(isinstance(k, str) and k for k in options):
            return (
                f"declares options = {options!r}; map each option name to its default "
                "(e.g. {'k': 3}; None: computed from the inputs)"
            )
        if taken := cls._taken_value_names():
            return taken
        words = cls.option_words
        if not isinstance(words, dict) or not all(
            k in options and isinstance(v, tuple) and v and all(isinstance(w, str) and w for w in v)
            for k, v in words.items()
        ):
            return (
                f"declares option_words = {words!r}; map a declared option's name to a tuple of the "
                "words it takes besides its default's type (e.g. {'q': ('inf',)})"
            )
        if not isinstance(cls.runs_by_default, bool):
            return f"declares runs_by_default = {cls.runs_by_default!r}; use True or False"
        if problem := cls._runs_by_default_under_problem():
            return problem
        if cls.reference not in REFERENCES:
            return f"declares reference = {cls.reference!r}; use one of {', '.join(map(repr, REFERENCES))}"
        by = cls.reads_features_by
        if not isinstance(by, tuple) or not all(isinstance(k, str) and k in options for k in by):
            return (
                f"declares reads_features_by = {by!r}; use a tuple of its declared options' names, those "
                "whose values decide reads_features (e.g. ('space',)), or () where none does"
            )
        return compares_problem(cls)

    @classmethod
    def _taken_value_names(cls) -> str | None:
        """Why a metric may not declare one of its value names: it is a result's column (``seed``),
        or, for a metric of another package, genbench's own metric writes it (a plugin declaring
        ``fid`` had every value refused at run time, "returned 'fid', which metric 'fid' writes",
        and a board that read its class lost FID's column notes)."""
        from genbench.results import RESERVED_METRIC_KEYS

        columns = [k for k in cls.higher_is_better if k in RESERVED_METRIC_KEYS]
        if columns:  # a value named "seed" would be refused at every run, as it is a result's column
            return (
                f"declares value names that are a result's columns: {', '.join(map(repr, columns))}; "
                f"name its values otherwise (e.g. {('my_' + columns[0])!r})"
            )
        if cls.__module__.startswith("genbench."):
            return None
        from genbench.metric_columns import in_tree_value_owners

        owners = in_tree_value_owners()
        taken = [k for k in cls.higher_is_better if k in owners]
        if not taken:
            return None
        named = ", ".join(f"{k!r} (genbench's {owners[k]!r})" for k in taken)
        return (
            f"declares value names genbench's own metrics write: {named}; name its values otherwise "
            f"(e.g. {('my_' + taken[0])!r})"
        )

    @classmethod
    def runs_by_default_in(cls, features: str | None) -> bool:
        """Whether a run without ``--metrics`` computes it under the extractor named ``features``
        (canonical; None: not known, so its ``runs_by_default`` alone)."""
        if cls.runs_by_default or features is None:
            return cls.runs_by_default
        from genbench.registry import features as extractors

        # each declared name as registered too: importing a plugin's extractor can make the name
        # declared here an alias of its other entry point, which is then the canonical ``features``
        return any(
            features in (name, extractors.check(name) if name in extractors else name)
            for name in cls.runs_by_default_under
        )

    @classmethod
    def _runs_by_default_under_problem(cls) -> str | None:
        under = cls.runs_by_default_under
        if isinstance(under, str):  # ("clip") is a string: `in` would match its characters
            return (
                f"declares runs_by_default_under = {under!r}, a string; use a tuple of feature "
                f"extractor names: runs_by_default_under = ({under!r},)"
            )
        if not isinstance(under, tuple) or not all(
            isinstance(n, str) and NAME_RE.fullmatch(n) for n in under
        ):
            return (
                f"declares runs_by_default_under = {under!r}; use a tuple of feature extractor names "
                "(`genbench list features`), e.g. ('clip',)"
            )
        if under and cls.runs_by_default:  # it runs under every extractor already: a misreading
            return (
                f"declares runs_by_default_under = {under!r} with runs_by_default = True, which runs it "
                "under every extractor; set runs_by_default = False to run it by default under those only"
            )
        return None

    def features_beside(self, extractor: FeatureExtractor | None) -> FeatureExtractor | None:
        """The extractor other than the run's ``extractor`` whose features it reads
        (``ctx.sample_features_in``, and ``ctx.split_features`` of the reference split when it
        compares with the split), or None. Where the run's own pass gives them too (sfid's spatial
        tap of the ``inception`` network: :mod:`genbench.features.same_pass`), the run takes them
        from that pass instead of a second one."""
        return None

    def reads_features(self, options: dict[str, Any]) -> bool:
        """Whether computing it with ``options`` (the ``--metric-option`` values given, as in
        :meth:`check_options`) reads features: ``ctx.sample_features``, the values of
        ``ctx.reference_features``, ``ctx.split_features``, ``ctx.sample_features_in`` or
        ``ctx.extractor``. Where no metric of a command reads them, no feature extractor is built
        and nothing is extracted (``ctx.extractor`` is None, the features empty, and the result's
        protocol records no features): memorization in pixels on a folder of images needed
        Inception's weights, which it never used. True unless a metric says otherwise (a metric
        that does not say is taken to read them); ``ctx.reference_features.cache`` is a metric's
        to keep values in either way."""
        return True

    def uses_reference_features(self, have_stats: bool) -> bool:
        """Whether computing it needs the reference split's features (``have_stats``: the user gave
        ``--reference-stats``, which stand in for them where ``reference`` is "stats")."""
        return self.reference == "features" or (self.reference == "stats" and not have_stats)

    @property
    def name(self) -> str:
        return self.registered_name or type(self).__name__.lower()

    def applies_to(self, ctx: EvalContext) -> bool:
        """False when the metric does not apply (e.g. mode metrics on data with unknown modes), or
        when it declares ``needs_logits`` and the samples' features have none: a plugin metric of
        logits in the default set was computed under ``--features raw`` and failed on its ``None``
        logits (exit 1), where `genbench list features raw` said it does not run."""
        if self.needs_logits and ctx.sample_features.logits is None:
            return False
        return ctx.dataset.kind in self.supported_kinds

    @abstractmethod
    def compute(self, ctx: EvalContext) -> dict[str, float]:
        """Return values keyed by the names in ``higher_is_better``.

        Raise :class:`genbench.errors.MetricInputError` with the fix when inputs are invalid; the
        runner records the error and still writes the other metrics.
        """

    def compute_progress(self, done: float, total: float) -> None:
        """Call from ``compute`` to say that it has done ``done`` of ``total`` steps of its work (a
        loop over blocks, as prdc's k-NN): the run then shows a bar with the time remaining in place
        of its spinner ("computing NAME"), and a line at each tenth in a log file, for a metric that
        takes minutes. Optional: a metric that never calls it shows the spinner alone. Cheap (the bar
        is drawn at most ten times a second); it never changes what is computed. Outside the
        harness's scoring it does nothing, as in a thread pool's workers, which do not share its
        context: call it from ``compute``'s thread (or a worker run in ``contextvars.copy_context()``)."""
        report_progress(done, total)

    def check_options(self, options: dict[str, Any]) -> None:
        """Raise :class:`genbench.errors.MetricInputError` for an option value that cannot work
        (``options`` holds the values given, already converted to their defaults' types). The runner
        calls it before any training, so a typo in ``--metric-option`` fails in a second."""
        return None  # every value of the declared type works unless a metric says otherwise

    def check_features(self, extractor: FeatureExtractor | None) -> None:
        """Raise :class:`genbench.errors.MetricInputError` when it cannot measure in ``extractor``'s
        features (the run's ``--features``; None: no extractor). The runner calls it before any
        training, as :meth:`check_options`: sfid under ``--features classifier`` was an error only
        once every model had trained."""
        return None  # every extractor's features do unless a metric says otherwise

    def check_samples(
        self, options: dict[str, Any], num_samples: int, extractor: FeatureExtractor | None
    ) -> None:
        """Raise :class:`genbench.errors.MetricInputError` when its options (the values given, as in
        :meth:`check_options`) cannot work for ``num_samples`` samples in ``extractor``'s features
        (their width, where :meth:`~genbench.features.base.FeatureExtractor.feature_dim` knows it).
        The runner calls it before any training, as :meth:`check_features`: ``fid_inf.min_size=5000``
        with ``--samples 1000`` was an error only once every model had trained. ``compute`` stays
        the authority for what cannot be known before."""
        return None  # any number of samples does unless a metric says otherwise

    def check_classes(self, options: dict[str, Any], classes: PlannedClasses) -> None:
        """Raise :class:`genbench.errors.MetricInputError` when it cannot measure a class-conditional
        model's samples of ``classes``: how many samples each class is drawn (the same at every
        seed) and the reference split's examples of each class. The runner calls it before any
        training, after :meth:`check_samples`, where a class-conditional model is in the run:
        ``intra_fid`` on 15 samples of 8 classes was an error only once every model had trained.
        `genbench eval` calls it before extracting any features of samples given with their
        classes (``classes.given``: the counts are the labels', ``train_counts`` None). ``compute``
        stays the authority."""
        return None  # any classes do unless a metric says otherwise

    def measured_with(self, extractor: FeatureExtractor | None) -> dict[str, Any] | None:
        """What it measures on beyond the run's features, as the protocol records it, or None: by
        default the ``info()`` of the extractor :meth:`features_beside` names (sfid's spatial tap)."""
        beside = self.features_beside(extractor)
        return beside.info() if beside is not None else None

    def flags(self, values: dict[str, float]) -> list[str]:
        """Flags a result earns from these values (e.g. ["memorized"], ["collapsed"])."""
        return []
