"""What a result (and a checkpoint) records of the GPU it was computed on. No GPU here: torch's CUDA
queries are stood in for, as ``tests/test_cli_errors.py`` does for ``--device``."""

from __future__ import annotations

import torch

from genbench.environment import machine, machine_text


def test_a_gpu_result_records_the_cuda_runtime_cudnn_and_tf32_beside_the_gpu(monkeypatch):
    """A GPU's numbers depend on more than its name: PyPI's torch wheel ("2.11.0") names no CUDA
    runtime, another cuDNN picks other convolution kernels, and TF32 moves Inception features in the
    third or fourth digit. A result recorded the GPU's name alone."""
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91300)
    facts = machine("cuda:0")
    assert facts["gpu"] == "NVIDIA H100 80GB HBM3"
    assert (facts["cuda"], facts["cudnn"]) == ("13.0", 91300)
    # what the reference features' cache is keyed by (features.reference.arithmetic), in its words
    assert facts["arithmetic"].startswith("cuda,tf32-conv=")
    # the caption's words stay the GPU's name; the CPU's facts gain nothing
    assert machine_text(facts) == "NVIDIA H100 80GB HBM3"
    assert not {"gpu", "cuda", "cudnn", "arithmetic"} & set(machine("cpu"))
