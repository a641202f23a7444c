"""The wheel holds what an installed genbench reads at run time, and the marker that its type hints
are meant for the user's type checker (PEP 561)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    """The file names in a wheel built from a copy of the packages (building in the clone would leave
    build/ and egg-info there)."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for package in ("genbench", "baselines"):
        shutil.copytree(ROOT / package, src / package, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("genbench-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_the_wheel_holds_every_file_read_at_run_time(wheel_names):
    """Configs, the digits board's checkpoints and the digits classifier are read beside the code:
    one left out of the package data trains (or fails) on every installed machine."""
    in_tree = [
        *(ROOT / "baselines").glob("configs/**/*.toml"),
        *(ROOT / "baselines").glob("weights/**/*.pt"),
        *(ROOT / "genbench").glob("features/weights/*.pt"),
    ]
    assert len(in_tree) > 12  # what the tree holds now: 24 configs, 12 checkpoints, a classifier
    missing = [str(p.relative_to(ROOT)) for p in in_tree if str(p.relative_to(ROOT)) not in wheel_names]
    assert not missing, missing
    assert not [n for n in wheel_names if n.startswith("tests/") or "__pycache__" in n]


def test_type_hints_ship_with_the_py_typed_marker(wheel_names):
    """Without py.typed a user's mypy skipped genbench ("missing library stubs or py.typed marker")
    and typed every plugin base class and API function as Any."""
    assert {"genbench/py.typed", "baselines/py.typed"} <= wheel_names
