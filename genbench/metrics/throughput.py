"""Throughput: what sampling (and training) cost, as the runner measured it.

:func:`measure_sampling` is what the runner calls to draw the samples: a warm-up batch first (not
timed, not kept: CUDA context, cuDNN autotuning and allocator growth happen there), then timed batches
(``torch.cuda.synchronize`` before every clock read on CUDA, so the time is the GPU's work, not the
launch queue's). It reports

- ``samples_per_s``: samples drawn per second of timed sampling (``sample_s``);
- ``peak_memory_mb``: on CUDA, ``torch.cuda.max_memory_allocated`` over the timed batches (weights,
  activations and the batch, as the allocator sees them); on the CPU, the largest growth of the process's
  resident set during one batch (RSS polled every 2 ms from ``/proc/self/statm`` while the batch runs,
  and ``resource.getrusage``'s high-water mark), i.e. the working memory of sampling one batch, not
  counting the weights already loaded nor the samples kept from earlier batches. Allocations shorter
  than the polling interval can be missed, so on the CPU it is a lower bound.

The :class:`Throughput` metric only reports what the runner stored in ``ctx.timings``:
``samples_per_s``, ``nfe`` (network evaluations per sample, from the model), ``peak_memory_mb`` and
``train_s``; a missing one is omitted.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import ClassVar

import torch

from genbench.errors import GenbenchError
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

KEYS = ("samples_per_s", "nfe", "peak_memory_mb", "train_s")
#: offset making the warm-up generator's seed differ from the sampling generator's
WARMUP_SEED_OFFSET = 0x5EED


class _RssPeak:
    """Peak resident-set growth of this process while the ``with`` block runs (Linux; else getrusage)."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self.peak_growth = 0

    @staticmethod
    def _maxrss() -> int:
        # ru_maxrss is in KiB on Linux, in bytes on macOS
        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(r) if sys.platform == "darwin" else int(r) * 1024

    def _rss(self) -> int | None:
        try:
            with open("/proc/self/statm", "rb") as f:
                return int(f.read().split()[1]) * self.page
        except (OSError, ValueError, IndexError):
            return None

    def __enter__(self) -> _RssPeak:
        self._start = self._rss()
        self._start_max = self._maxrss()
        self._peak = self._start or 0
        self._stop = threading.Event()
        self._thread = None
        if self._start is not None:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            rss = self._rss()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end = self._rss()
        if end is not None:
            self._peak = max(self._peak, end)
        growth = self._peak - self._start if self._start is not None else 0
        growth = max(growth, self._maxrss() - self._start_max)  # a new process high-water mark
        self.peak_growth = max(self.peak_growth, growth, 0)


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
) -> tuple[torch.Tensor, dict[str, float]]:
    """Draw ``n`` samples in batches of ``batch_size``; return them (on the CPU) and the timings.

    ``sample_fn(b, generator)`` returns ``b`` samples. The warm-up batch uses its own generator (seeded
    from ``generator.initial_seed()``), so the kept samples are the same with or without warm-up. The
    seed fixes the samples for a given batch size; a different batch size may change them (a model draws
    its noise per batch). ``on_batch(b)`` is called after each timed batch (a progress bar), outside the
    timed region. Returns ``(samples, {"samples_per_s", "sample_s", "peak_memory_mb"})``.
    """
    if n < 1:
        raise GenbenchError(f"cannot draw {n} samples; pass --samples 1 or more")
    if batch_size < 1:
        raise GenbenchError(f"--batch-size must be positive, got {batch_size}")
    device = torch.device(device)
    cuda = device.type == "cuda"
    if warmup:
        g = torch.Generator(device=generator.device)
        g.manual_seed((generator.initial_seed() + WARMUP_SEED_OFFSET) % 2**63)
        sample_fn(min(batch_size, n), g)
        _sync(device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    rss = _RssPeak()
    parts: list[torch.Tensor] = []
    elapsed, done = 0.0, 0
    while done < n:
        b = min(batch_size, n - done)
        if cuda:
            _sync(device)
            t0 = time.perf_counter()
            x = sample_fn(b, generator)
            _sync(device)
            elapsed += time.perf_counter() - t0
        else:
            with rss:
                t0 = time.perf_counter()
                x = sample_fn(b, generator)
                elapsed += time.perf_counter() - t0
        parts.append(x.detach().cpu())
        done += b
        if on_batch is not None:
            on_batch(b)
    peak = torch.cuda.max_memory_allocated(device) if cuda else rss.peak_growth
    timings = {
        "samples_per_s": n / max(elapsed, 1e-9),
        "sample_s": elapsed,
        "peak_memory_mb": peak / 2**20,
    }
    return torch.cat(parts), timings


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
    description = "samples/s after warm-up (CUDA-synchronised), NFE per sample, peak memory, training time"

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        return {k: float(ctx.timings[k]) for k in KEYS if k in ctx.timings}
