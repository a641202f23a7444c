"""Per-dataset defaults: ``baselines/configs/<dataset>/<model>.toml``.

CPU-sized for the embedded datasets, paper-sized for cifar10. A missing file means the dataclass
defaults apply. A dataset in ``SAME_AS`` reads another's folder; gan-sat reads gan-ns.toml
(:mod:`baselines.gan`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genbench.config import read_toml

CONFIG_DIR = Path(__file__).parent / "configs"

#: datasets trained with another's configs: stacked-digits is three digits as RGB channels, and the
#: networks take the channel count from the data, so the digits configs apply unchanged
SAME_AS = {"stacked-digits": "digits"}


def dataset_defaults(model: str, dataset: str) -> dict[str, Any]:
    path = CONFIG_DIR / SAME_AS.get(dataset, dataset) / f"{model}.toml"
    return read_toml(path) if path.exists() else {}
