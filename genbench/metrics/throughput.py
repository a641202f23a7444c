"""Throughput: what sampling (and training) cost, as the runner measured it.

:func:`measure_sampling` is what the runner calls to draw the samples: a warm-up batch first (not
timed, not kept: CUDA context, cuDNN autotuning and allocator growth happen there), then timed batches
(``torch.cuda.synchronize`` before every clock read on CUDA, so the time is the GPU's work, not the
launch queue's). It reports

- ``samples_per_s``: samples drawn per second of timed sampling (``sample_s``);
- ``peak_memory_mb``: on CUDA, ``torch.cuda.max_memory_allocated`` over the timed batches less what
  was allocated when they started: activations, noise and the batch, not the weights, nor the feature
  extractor and the metrics' data already on the GPU (counted, they made the figure depend on what
  ran before, and unlike the CPU's). On the CPU, the most tensor memory that
  sampling one batch (the warm-up batch, at the sampling batch size) holds at once on top of what was
  allocated before it: activations, noise and the batch, not the weights already loaded. It is the
  running sum of the allocations and frees that PyTorch's CPU allocator reports to its profiler (as
  ``torch.profiler.profile(profile_memory=True)`` records them), so it is exact and the same on
  every run. The profiler runs during the warm-up batch only, which is not timed; it records the
  allocator's events alone and keeps about 2 KB per event until the batch ends: DDPM's 1000-step
  batch of 500 on digits takes 13% longer to draw and briefly holds 1.2 GB more. Without a warm-up
  batch, where the profiler cannot run, or while the user's own profiler runs, the CPU figure is
  omitted rather than guessed.

The :class:`Throughput` metric only reports what the runner stored in ``ctx.timings``:
``samples_per_s``, ``nfe`` (network evaluations per sample, from the model), ``peak_memory_mb`` and
``train_s``; a missing one is omitted, and with none (samples scored by `genbench eval`, which
draws none) it does not apply and says so when named with ``--metrics``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch

from genbench.errors import GenbenchError, MetricInputError
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

KEYS = ("samples_per_s", "nfe", "peak_memory_mb", "train_s")
#: offset making the warm-up generator's seed differ from the sampling generator's
WARMUP_SEED_OFFSET = 0x5EED


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 while the profiler starts and stops: Kineto, its C++ back end, prints
    status lines there ("profiler_start", and "gpuGetDeviceCount failed" on a CUDA build without a
    GPU) that would land in the middle of the run's progress output."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def cpu_peak_bytes(fn: Callable[[], object]) -> int | None:
    """Run ``fn()`` and return the most bytes of CPU tensor memory it held at once beyond what was
    allocated when it started (None when the profiler is unavailable).

    Written here because PyTorch has no CPU counterpart of ``torch.cuda.max_memory_allocated``; its
    profiler records every allocation and free of the CPU allocator with a timestamp, and the peak of
    their running sum is that counterpart. (The resident set size, polled, reads near zero once the
    C allocator reuses the memory that an earlier batch freed.)

    It drives the profiler below ``torch.profiler.profile`` because only there can it record the
    memory events alone (``scopes={USER_SCOPE}`` leaves out every operator's own event): on DDPM's
    1000-step digits sampler that costs 13% more time instead of 28%, and half the memory. A torch
    whose private profiler API differs gets no figure rather than a crash (and fails the tests).
    """
    try:
        from torch._C._profiler import (
            ProfilerActivity,
            ProfilerConfig,
            ProfilerState,
            RecordScope,
            _ExperimentalConfig,
        )
        from torch.autograd import _disable_profiler, _enable_profiler, _prepare_profiler, _profiler_enabled

        if _profiler_enabled():  # the user's own profiler: starting ours would end theirs
            raise RuntimeError("a profiler is already running")
        # state, report_input_shapes, profile_memory, with_stack, with_flops, with_modules, experimental
        config = ProfilerConfig(ProfilerState.KINETO, False, True, False, False, False, _ExperimentalConfig())
        activities = {ProfilerActivity.CPU}
        with _quiet_stderr():
            _prepare_profiler(config, activities)
            # Any: a private binding whose stubs lag it (they omit the scopes), as they do its events'
            enable: Any = _enable_profiler
            enable(config, activities, {RecordScope.USER_SCOPE})
    except Exception:  # noqa: BLE001 - a profiler already running, another torch: no figure, same batch
        fn()
        return None
    try:
        fn()
    finally:
        with _quiet_stderr():
            results = _disable_profiler()
    try:
        events: list[Any] = results.events()
        changes = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    except Exception:  # noqa: BLE001 - another torch's event API: no figure
        return None
    live = peak = 0
    for _, nbytes in changes:
        live += nbytes
        peak = max(peak, live)
    return peak


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_sampling(
    sample_fn: Callable[[int, torch.Generator], torch.Tensor],
    n: int,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
    warmup: bool = True,
    on_batch: Callable[[int], None] | None = None,
    check: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
    on_batch_start: Callable[[int, bool], None] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Draw ``n`` samples in batches of ``batch_size``; return them (on the CPU) and the timings.

    ``sample_fn(b, generator)`` returns ``b`` samples. The warm-up batch uses its own generator (seeded
    from ``generator.initial_seed()``), so the kept samples are the same with or without warm-up. The
    seed fixes the samples for a given batch size; a different batch size may change them (a model draws
    its noise per batch). ``on_batch(b)`` is called after each timed batch (a progress bar), outside the
    timed region, and so is ``check(batch, b)`` (the harness's check of a model's output, which returns
    the batch to keep): on CUDA its range check waits for the GPU three times per batch, which timed
    the harness, not the model. Its memory is counted in the peak, as one batch's.
    ``on_batch_start(b, timed)`` is called before each batch, the warm-up's too (``timed`` False),
    outside the timed region (a progress bar's phase).

    Returns ``(samples, {"samples_per_s", "sample_s", "peak_memory_mb"})``; without a warm-up batch
    (``warmup=False``: the run does not report throughput) only ``sample_s``, the wall time, as the
    other two would count what the warm-up is there to leave out; other devices (``mps``) have no
    ``peak_memory_mb``: the CPU allocator does not see their memory.
    """
    if n < 1:
        raise GenbenchError(f"cannot draw {n} samples; pass --samples 1 or more")
    if batch_size < 1:
        raise GenbenchError(f"--batch-size must be positive, got {batch_size}")
    device = torch.device(device)
    cuda = device.type == "cuda"
    checked = check if check is not None else (lambda x, b: x)
    cpu_peak = None
    if warmup:
        g = torch.Generator(device=generator.device)
        g.manual_seed((generator.initial_seed() + WARMUP_SEED_OFFSET) % 2**63)
        first = min(batch_size, n)
        if on_batch_start is not None:
            on_batch_start(first, False)
        if device.type == "cpu":  # the profiler slows this batch down, which is why it is the untimed one
            cpu_peak = cpu_peak_bytes(lambda: checked(sample_fn(first, g), first))
        else:
            checked(sample_fn(first, g), first)
            _sync(device)
    before = 0
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    # filled in place, batch by batch: batches kept in a list and joined at the end held every sample
    # twice (614 MB more at 50000 CIFAR-10-sized samples)
    samples: torch.Tensor | None = None
    elapsed, done = 0.0, 0
    while done < n:
        b = min(batch_size, n - done)
        if on_batch_start is not None:
            on_batch_start(b, True)
        _sync(device)
        t0 = time.perf_counter()
        x = sample_fn(b, generator)
        _sync(device)
        elapsed += time.perf_counter() - t0
        kept = checked(x, b).detach()
        if samples is None:
            samples = torch.empty((n, *kept.shape[1:]), dtype=kept.dtype, device="cpu")
        samples[done : done + b] = kept
        done += b
        # released before the next batch: on CUDA, max_memory_allocated counted this batch's output
        # on top of the next one's, so the peak grew with --samples beyond the batch it describes
        del x, kept
        if on_batch is not None:
            on_batch(b)
    timings = {"sample_s": elapsed}
    if warmup:
        timings["samples_per_s"] = n / max(elapsed, 1e-9)
        peak = torch.cuda.max_memory_allocated(device) - before if cuda else cpu_peak  # None on mps
        if peak is not None:
            timings["peak_memory_mb"] = peak / 2**20
    assert samples is not None  # n >= 1
    return samples, timings


@register_metric("throughput")
class Throughput(Metric):
    """Sampling speed, network evaluations per sample, peak memory and training time (as measured)."""

    version = 1
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "samples_per_s": True,
        "nfe": False,
        "peak_memory_mb": False,
        "train_s": False,
    }
    reference = "none"
    description = "samples/s after warm-up (CUDA-synchronised), NFE per sample, peak memory, training time"

    def reads_features(self, options: dict[str, Any]) -> bool:
        return False  # the run's timings alone

    def applies_to(self, ctx: EvalContext) -> bool:
        # samples made elsewhere (`genbench eval`): nothing was timed, and an "ok" result without a
        # value said nothing of why
        return super().applies_to(ctx) and any(k in ctx.timings for k in KEYS)

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        if not any(k in ctx.timings for k in KEYS):
            raise MetricInputError(
                "throughput: nothing was timed: the samples were not drawn by genbench (genbench eval); "
                "genbench run measures sampling"
            )
        return {k: float(ctx.timings[k]) for k in KEYS if k in ctx.timings}
