"""The wheel holds what an installed genbench reads at run time, its licence, and the marker that its
type hints are meant for the user's type checker (PEP 561); the sdist holds what its tests read."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


#: what a clone holds beside its tracked files (built, cached or installed here), left out of the copy;
#: `.venv*` for `make test-oldest`'s `.venv-oldest` too, whose 6 GB the copy took (a full disk)
UNTRACKED = ("__pycache__", "*.egg-info", ".git", ".venv*", "venv", "build", "dist", "runs", ".*_cache")

#: what a working clone gathers under the folders the sdist grafts (tests run, the example plugin
#: installed, ruff run in it): planted in the copy, and none of it may ship
JUNK = (
    "tests/__pycache__/test_cli.cpython-311.pyc",
    "tests/.pytest_cache/v/cache/nodeids",
    "examples/genbench-example-plugin/.ruff_cache/0.9/123",
    "examples/genbench-example-plugin/build/lib/genbench_example_plugin/__init__.py",
    "examples/genbench-example-plugin/genbench_example_plugin.egg-info/PKG-INFO",
    "leaderboards/.ipynb_checkpoints/digits-checkpoint.md",
)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the clone to build from (building in the clone would leave build/ and egg-info),
    with :data:`JUNK` planted. Building needs pip and a setuptools that reads ``license-files``."""
    # asked of the metadata: importing pip and setuptools here would fight over distutils
    if importlib.util.find_spec("pip") is None:
        pytest.skip("building needs pip")
    if int(importlib.metadata.version("setuptools").split(".")[0]) < 77:
        pytest.skip("license-files needs setuptools >= 77")
    src = tmp_path_factory.mktemp("src") / "genbench"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*UNTRACKED))
    for junk in JUNK:
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_text("junk\n")
    return src


@pytest.fixture(scope="module")
def wheel_names(source, tmp_path_factory) -> set[str]:
    dist = tmp_path_factory.mktemp("dist")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        dist,
        source,
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("genbench-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


@pytest.fixture(scope="module")
def sdist_names(source, tmp_path_factory) -> set[str]:
    """The sdist's files, relative to its top folder (``genbench-0.1.0/``)."""
    dist = tmp_path_factory.mktemp("sdist")
    build = f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"
    subprocess.run([sys.executable, "-c", build], cwd=source, check=True, capture_output=True, timeout=300)
    (sdist,) = dist.glob("genbench-*.tar.gz")
    with tarfile.open(sdist) as tf:
        return {n.partition("/")[2] for n in tf.getnames()}


def tracked(*patterns: str) -> list[str]:
    """The clone's files under ``patterns`` (globs from its root), less what :data:`UNTRACKED` names."""
    junk = ("__pycache__", ".egg-info", "/build/", "/.")
    found = {p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file()}
    return sorted(r for p in found if not any(j in (r := p.relative_to(ROOT).as_posix()) for j in junk))


def test_the_wheel_holds_every_file_read_at_run_time(wheel_names):
    """Configs, the digits board's checkpoints and the digits classifier are read beside the code:
    one left out of the package data trains (or fails) on every installed machine."""
    data = tracked(
        "baselines/configs/**/*.toml", "baselines/weights/**/*.pt", "genbench/features/weights/*.pt"
    )
    assert len(data) > 12  # what the tree holds now: 24 configs, 12 checkpoints, a classifier
    assert not [name for name in data if name not in wheel_names]
    assert not [n for n in wheel_names if n.startswith("tests/") or "__pycache__" in n]
    # the licence the metadata declares (MIT asks that its notice ship with every copy)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_names)


def test_type_hints_ship_with_the_py_typed_marker(wheel_names):
    """Without py.typed a user's mypy skipped genbench ("missing library stubs or py.typed marker")
    and typed every plugin base class and API function as Any."""
    assert {"genbench/py.typed", "baselines/py.typed"} <= wheel_names


def test_the_sdist_holds_what_its_tests_read(sdist_names):
    """The sdist had the test modules (setuptools adds tests/test*.py) but not conftest.py, the
    example plugin or the published boards: its tests failed for missing fixtures and files. They
    read the docs pages too (docs/plugins.md, docs/commands.md)."""
    needed = tracked(
        "tests/*", "examples/**/*", "leaderboards/**/*", "docs/*", "LICENSE", "README.md", "pyproject.toml"
    )
    assert {"tests/conftest.py", "leaderboards/digits.csv", "docs/plugins.md"} <= set(needed)
    assert not [name for name in needed if name not in sdist_names]
    assert not [n for n in sdist_names if n in JUNK or "/." in n]  # nor what a working clone gathers
