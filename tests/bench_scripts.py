"""The scripts of benchmarks/ as modules, for the tests of their output (they are not a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

#: benchmarks/, beside tests/
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(path: Path) -> ModuleType:
    """The script at ``path`` imported as a module named after its file, its ``main`` not run."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
