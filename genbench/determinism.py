"""Deterministic training on CUDA (``--deterministic``, on by default): the same command trains the
same weights.

torch's CPU kernels are deterministic for a fixed thread count (the shipped digits checkpoints
retrain bit for bit), but on CUDA cuDNN's convolution backward passes and several scatter and index
kernels add in a varying order. Measured on an H200 (torch 2.11, CUDA 13; ``genbench run --models
ddpm,ddim,vae,gan-ns --dataset digits --seeds 0 --retrain`` with 1000 training steps each, twice
into two caches): the weights of the two runs differed by up to 0.0012 (DDPM), 0.0082 (``gan-ns``)
and 0.035 (VAE), and FID by 31.14 against 31.21 (DDPM) and 170.7 against 169.5 (``gan-ns``); sampling
the same weights twice gave the same FIDs to the last digit. With torch's deterministic algorithms
on, cuDNN's autotuning off and cuBLAS's workspace fixed, the two runs trained identical weights, and
the whole run took 84 and 66 s instead of 57 and 51 s (its training about 1.5x as long).

``--no-deterministic`` trains with torch's defaults: it does not turn cuDNN's autotuning on. In the
CIFAR-10-sized benchmark on an H200 (``benchmarks/results/cifar10_synthetic_h200.md``, 2 to 3 runs
per row) autotuning gained nothing measurable for DDPM, the VAE or DCGAN, in fp32 or bf16, and
spent up to 23 s of DDPM's first steps choosing kernels; the deterministic algorithms cost DDPM 13%
(fp32) and 21% (bf16) of its training speed.

Only training is switched, and only on CUDA: the sampling and feature kernels that the baselines use
gave the same numbers run to run without it, and the published sampling speeds were measured
without it. A plugin whose training uses an op that has no deterministic CUDA implementation fails
with torch's error naming the op (:func:`genbench.errors.plugin_fix` adds ``--no-deterministic``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: `import genbench` calls fix_cublas_workspace
    import torch

#: torch accepts ":4096:8" and ":16:8" as deterministic; ":4096:8" is 32 MiB, the Hopper default
CUBLAS_WORKSPACE = ":4096:8"


def fix_cublas_workspace() -> None:
    """Set ``CUBLAS_WORKSPACE_CONFIG`` (unless the user did), from ``import genbench``.

    torch reads it once, at the process's first cuBLAS matrix product, and in deterministic mode every
    later product fails when it was unset then: so it is set before any CUDA work, not before
    training. It only sizes cuBLAS's workspace; the CPU never reads it.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)


@contextlib.contextmanager
def deterministic_training(device: torch.device, on: bool) -> Iterator[dict[str, bool]]:
    """Train in the block with torch's deterministic algorithms and without cuDNN's autotuning when
    ``on`` and ``device`` is CUDA; torch's settings are restored after.

    Yields what the checkpoint and the result record: ``{"deterministic": on}`` on CUDA, ``{}`` on
    the CPU, where torch's kernels are deterministic already and nothing is switched.
    """
    import torch

    from genbench.isolation import deterministic_mode, set_deterministic_mode

    if device.type != "cuda":
        yield {}
        return
    fix_cublas_workspace()  # in case the user's code unset it after importing genbench
    mode, benchmark = deterministic_mode(), torch.backends.cudnn.benchmark
    if on:
        # strict, not warn_only: with warn_only, torch keeps its memory-efficient attention's
        # non-deterministic backward (a warning once per process) instead of its deterministic one
        torch.use_deterministic_algorithms(True)
        # autotuning times several algorithms and keeps the fastest, each rounding its own way
        torch.backends.cudnn.benchmark = False
    try:
        yield {"deterministic": on}
    finally:
        set_deterministic_mode(mode)
        torch.backends.cudnn.benchmark = benchmark
