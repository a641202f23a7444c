"""Which device a run's numbers were computed on, and the Quality table's sentence that names the
rows whose seeds ran on different ones. The Cost caption (:mod:`genbench.timing_caption`) names the
machines behind its timings; the Quality cells depend on the device too, less but not nothing: one
seed draws other samples on CUDA than on the CPU (other kernels, other random streams), and TF32 on
a GPU moves Inception features in the third or fourth digit. A mean over a CPU seed and a GPU seed
is still a mean over seeds of one protocol (the device is no protocol field: it says how a run was
made, not what it measured), so the board keeps the row and says so."""

from __future__ import annotations

from typing import Any

import pandas as pd

from genbench.text import and_list, md_code, md_text, seed_words


def device_kind(environment: dict[str, Any]) -> str:
    """What a result's samples and features were computed on, as far as that moves them: the GPU's
    name on CUDA ("NVIDIA H100 80GB HBM3": GPUs differ in TF32 and in the kernels cuDNN picks), else
    the device type ("CPU", "MPS"); "" where the result recorded neither. A CPU's model is left out:
    two instruction sets round features apart around the sixth digit (6e-6 on digits' classifier),
    far below seed noise, where a CPU and a GPU draw other samples."""
    if environment.get("gpu"):
        return str(environment["gpu"])
    device = str(environment.get("device") or "")
    return device.split(":")[0].upper()


def devices_caption(agg: pd.DataFrame) -> str | None:
    """The Quality caption's sentence naming ``agg``'s rows whose seeds ran on different devices
    (``device_seeds``: device -> seeds, from :func:`genbench.leaderboard.aggregate`), each with its
    seeds per device; None where every row's seeds ran on one (or did not record it)."""
    if "device_seeds" not in agg:
        return None
    mixed = []
    for label, by_device in zip(agg.get("row_label", agg["label"]), agg["device_seeds"], strict=True):
        if isinstance(by_device, dict) and len(by_device) > 1:
            where = ", ".join(
                f"{seed_words(seeds)} on {md_text(device)}" for device, seeds in by_device.items()
            )
            mixed.append(f"{md_code(label)} ({where})")
    if not mixed:
        return None
    return (
        f"The Quality cells of {and_list(mixed)} average seeds run on different devices: a seed draws other "
        "samples on another device, and TF32 on a GPU moves Inception features in the third or "
        "fourth digit."
    )
