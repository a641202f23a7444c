"""What one metric cannot change for the next: the sample and reference features they all read, the
feature extractor they are read with, and the values the metrics compute once and share.

Features are read-only arrays (:class:`genbench.features.base.Features`), so numpy refuses a metric's
``x -= x.mean(0)``; but ``torch.from_numpy`` and ``torch.as_tensor`` share them with a warning torch
gives once a process, and a write through that tensor went into every later metric's features (and,
for the reference split's, every later model's), all recorded "ok". Copying them for each metric
would cost 1.6 GB at CIFAR-10's 50000 x 2048, so each is checked after each metric instead
(:meth:`Features.digest`): a metric that changed them fails, and they are read again for the others.
So is each metric checked for a change of the feature extractor's networks, which the arrays are
read again with (:class:`genbench.shared_extractor.SharedExtractor`): they are put back first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from genbench.errors import PluginOutputError
from genbench.shared_extractor import SharedExtractor
from genbench.text import and_list

if TYPE_CHECKING:
    from genbench.features.base import FeatureExtractor, Features
    from genbench.metrics.base import Metric
    from genbench.results import Result


class SharedInputs:
    """The features every metric of one (model, seed) reads, each named ("sample") with how to get
    it again (the extraction, or the reference cache), the ``extractor`` they are read with, and the
    ``derived`` values the metrics compute once and share (``EvalContext.cached``: the mode labels;
    a split's features in a context built by hand, which a run reads from the reference cache)."""

    def __init__(
        self,
        shared: dict[str, tuple[Features, Callable[[], Features]]],
        extractor: FeatureExtractor | None = None,
        derived: dict[str, Any] | None = None,
    ):
        self._shared = shared
        self._digests = {what: feats.digest() for what, (feats, _) in shared.items()}
        self._extractor = SharedExtractor(extractor) if extractor is not None else None
        self._derived = derived if derived is not None else {}

    def extractor_changed(self) -> bool:
        """Whether the extractor's networks differ now from what they were before the first metric
        (a metric is changing them: they are put back once it is done)."""
        return self._extractor is not None and bool(self._extractor.changed())

    @contextlib.contextmanager
    def kept(self, metric: Metric, result: Result, fail: Callable[[Exception], None]) -> Iterator[None]:
        """Score ``metric`` in the block; when it changed a shared array or the extractor's networks,
        it fails with one error naming the fix (handed to ``fail``), its values and flags are dropped, and so is what it
        added to the shared ``derived`` values; the networks are put back, and then the arrays are
        read again."""
        metrics, flags = dict(result.metrics), list(result.flags)
        derived = dict(self._derived)
        yield
        network = self._extractor.changed() if self._extractor is not None else []
        changed = [w for w, (feats, _) in self._shared.items() if feats.digest() != self._digests[w]]
        if not changed and not network:
            return
        if self._extractor is not None and network:
            self._extractor.restore()  # first: reading the arrays again extracts with it
        for what in changed:
            feats, again = self._shared[what]
            fresh = again()
            # in place of the changed arrays, in the object every later metric and model is handed
            feats.features, feats.logits = fresh.features, fresh.logits
            feats.shared.clear()  # what was derived from the changed arrays (the reference Gaussian)
            self._digests[what] = feats.digest()
        result.metrics, result.flags = metrics, flags  # what it wrote was computed on what it changed
        # so were the shared values it computed: mode labels it asked for through a hooked classifier
        # (the run's network is the mode labeller's on the CPU) were what "modes" counted after it
        self._derived.clear()
        self._derived.update(derived)
        result.metric_errors.pop(metric.name, None)
        said = []
        if changed:
            said.append(
                f"changed the {and_list(changed)} features in place, which the metrics after it read too "
                "(a tensor from torch.from_numpy or torch.as_tensor shares their read-only memory); compute "
                "on a copy, e.g. torch.tensor(x) or x.copy()"
            )
        if network:
            said.append(
                f"changed the feature extractor's network ({', '.join(network)}), which every metric and "
                "model after it extracts with; leave ctx.extractor as it is (ctx.extractor.extract(x) "
                "gives features), or change a copy.deepcopy of its network"
            )
        fail(PluginOutputError(f"{metric.name}: {'; '.join(said)}"))
