"""A third-party plugin package, installed with pip, runs through the CLI; a broken one is isolated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "genbench-example-plugin"

BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genbench-broken-plugin"
version = "0.0.1"

[project.entry-points."genbench.models"]
broken-model = "genbench_broken_plugin:Model"
"""


def pip_install(package: Path, target: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(package),
        ],
        check=True,
        capture_output=True,
    )


def test_installed_plugin_runs_and_broken_plugin_does_not_take_others_down(tmp_path, cache_dir):
    broken = tmp_path / "broken"
    (broken / "genbench_broken_plugin").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "genbench_broken_plugin" / "__init__.py").write_text("import a_module_that_is_not_installed\n")
    site = tmp_path / "site"
    pip_install(EXAMPLE, site)
    pip_install(broken, site)
    assert list(site.glob("genbench_example_plugin-*.dist-info"))

    # prepend: an environment that already extends the path (packages installed with --target) keeps it
    path = os.pathsep.join(part for part in (str(site), os.environ.get("PYTHONPATH", "")) if part)
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "250"}
    out = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "genbench",
        "run",
        "--models",
        "independent-pixels,broken-model,gaussian",
        "--set",  # an option for the broken plugin does not stop the others either
        "broken-model.steps=3",
        "--dataset",
        "ring8",
        "--samples",
        "500",
        "--out",
        str(out),
        "--cache-dir",
        str(cache_dir),
        "--no-progress",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # a requested model could not run
    assert "Traceback" not in proc.stderr
    mentions = [
        ln for ln in proc.stderr.splitlines() if "broken-model" in ln and "genbench-broken-plugin" in ln
    ]
    assert len(mentions) == 1, proc.stderr  # reported once, naming its distribution

    plugin = json.loads((out / "ring8/independent-pixels/seed0.json").read_text())
    assert plugin["status"] == "ok" and plugin["metrics"]["fid"] > 0
    assert json.loads((out / "ring8/gaussian/seed0.json").read_text())["status"] == "ok"
    assert json.loads((out / "ring8/broken-model/seed0.json").read_text())["status"] == "failed"

    listing = subprocess.run(
        [sys.executable, "-m", "genbench", "list", "models"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0
    assert "independent-pixels" in listing.stdout and "genbench-example-plugin" in listing.stdout
