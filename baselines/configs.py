"""Per-dataset defaults: ``baselines/configs/<dataset>/<model>.toml``.

CPU-sized for the embedded datasets, paper-sized for cifar10. A missing file means the dataclass
defaults apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genbench.config import read_toml

CONFIG_DIR = Path(__file__).parent / "configs"


def dataset_defaults(model: str, dataset: str) -> dict[str, Any]:
    path = CONFIG_DIR / dataset / f"{model}.toml"
    return read_toml(path) if path.exists() else {}
