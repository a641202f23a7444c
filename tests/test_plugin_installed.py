"""A third-party plugin package, installed with pip, runs through entry points and the CLI; a broken
or buggy one takes nothing else down. docs/plugins.md shows how to write and install one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plugin_helpers import (  # tests/ is on the path: pytest puts it there
    read_strict,
)

from genbench import registry

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


def test_installed_plugin_runs_and_broken_plugin_does_not_take_others_down(
    tmp_path, cache_dir, genbench_process
):
    broken = tmp_path / "broken"
    (broken / "genbench_broken_plugin").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "genbench_broken_plugin" / "__init__.py").write_text("import a_module_that_is_not_installed\n")
    site = tmp_path / "site"
    pip_install(EXAMPLE, site)
    pip_install(broken, site)
    assert list(site.glob("genbench_example_plugin-*.dist-info"))

    out = tmp_path / "runs"
    proc = genbench_process(
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
        out,
        "--cache-dir",
        cache_dir,
        "--no-progress",
        site=site,
    )
    assert proc.returncode == 1, proc.stderr  # a requested model could not run
    assert "Traceback" not in proc.stderr
    mentions = [
        ln for ln in proc.stderr.splitlines() if "broken-model" in ln and "genbench-broken-plugin" in ln
    ]
    assert len(mentions) == 1, proc.stderr  # reported once, naming its distribution

    plugin = json.loads((out / "ring8/independent-pixels/seed0.json").read_text())
    assert plugin["status"] == "ok" and plugin["metrics"]["fid"] > 0
    assert json.loads((out / "ring8/gaussian/seed0.json").read_text())["status"] == "ok"
    # under the row asked for: filed under plain broken-model, it stood for a run nobody asked for
    assert json.loads((out / "ring8/broken-model_steps=3/seed0.json").read_text())["status"] == "failed"
    assert not (out / "ring8/broken-model").exists()

    listing = genbench_process("list", "models", site=site)
    assert listing.returncode == 0
    assert "independent-pixels" in listing.stdout and "genbench-example-plugin" in listing.stdout


def test_the_docs_install_the_example_plugin_from_a_path_that_exists_and_show_its_code():
    """The README said `pip install ./genbench-example-plugin`, which is no path from the clone's root
    (the package is under examples/), after showing the files as that package's. The plugin page is
    docs/plugins.md now; every `pip install PATH` of the README and the docs pages is checked."""
    import re

    root = EXAMPLE.parent.parent
    pages = {p.name: p.read_text() for p in (root / "README.md", *sorted((root / "docs").glob("*.md")))}
    plugins = pages["plugins.md"]
    installs = re.findall(r"`pip install (\S+)`", "\n".join(pages.values()))
    assert re.search(r"`pip install (\S+)`", plugins)
    for path in installs:
        assert (root / path / "pyproject.toml").is_file(), f"`pip install {path}` from the repository root"
    model = (EXAMPLE / "genbench_example_plugin" / "model.py").read_text()
    shown = plugins.split("`genbench_example_plugin/model.py`:")[1].split("```python\n")[1].split("```")[0]
    assert shown in model


def test_the_plugin_page_names_the_class_each_plugin_kind_subclasses():
    """The README's "datasets, metrics and feature extractors register the same way" (now in
    docs/plugins.md) named no class to subclass; registration refuses any other (a third party learnt
    the base class from that error)."""
    plugins = (EXAMPLE.parent.parent / "docs" / "plugins.md").read_text()
    for reg in (registry.datasets, registry.metrics, registry.features):
        assert f"`{reg.group}`" in plugins
        assert f"`{reg.base.__module__}.{reg.base.__qualname__}`" in plugins, reg.group


BUGGY_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "genbench-buggy-plugin"
version = "0.0.1"

[project.entry-points."genbench.models"]
buggy-model = "genbench_buggy_plugin:BuggyModel"

[project.entry-points."genbench.metrics"]
buggy-applies = "genbench_buggy_plugin:AppliesRaises"
buggy-init = "genbench_buggy_plugin:InitRaises"
buggy-clobber = "genbench_buggy_plugin:Clobber"
buggy-nan = "genbench_buggy_plugin:ReturnsNaN"
"""


BUGGY_MODULE = """
import torch

from genbench.api import GenerativeModel
from genbench.metrics.base import Metric


class BuggyModel(GenerativeModel):
    trainable = False

    @classmethod
    def dataset_defaults(cls, dataset):
        raise RuntimeError("defaults are broken")

    def sample(self, n, *, generator):
        return torch.zeros(n, *self.spec.shape)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class AppliesRaises(Metric):
    def applies_to(self, ctx):
        raise RuntimeError("applies_to is broken")

    def compute(self, ctx):
        return {"applies_value": 1.0}


class InitRaises(Metric):
    def __init__(self):
        raise RuntimeError("init is broken")

    def compute(self, ctx):
        return {}


class Clobber(Metric):
    def compute(self, ctx):
        return {"fid": 0.0, "seed": 99.0}


class ReturnsNaN(Metric):
    def compute(self, ctx):
        return {"nan_value": float("nan")}
"""


def test_an_installed_plugin_with_buggy_metrics_and_model_takes_nothing_down(
    tmp_path, cache_dir, genbench_process
):
    """Every broken hook of an installed package, through entry points and the CLI, then a report."""
    package = tmp_path / "buggy"
    (package / "genbench_buggy_plugin").mkdir(parents=True)
    (package / "pyproject.toml").write_text(BUGGY_PYPROJECT)
    (package / "genbench_buggy_plugin" / "__init__.py").write_text(BUGGY_MODULE)
    site = tmp_path / "site"
    pip_install(package, site)
    out = tmp_path / "runs"
    common = ["--dataset", "ring8", "--samples", "200", "--out", str(out), "--cache-dir", str(cache_dir)]

    def genbench_cli(*args):
        return genbench_process(*args, site=site)

    proc = genbench_cli(
        "run", "--models", "copy,buggy-model,gaussian", *common, "--no-progress", "--no-figures"
    )
    # every failure is a plugin's own bug, none the user's: exit 1, and no "error:" line to fix
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "error:" not in proc.stderr, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if "init is broken" in ln]) == 1, proc.stderr
    for model in ("copy", "gaussian"):
        res = read_strict(out / f"ring8/{model}/seed0.json")
        assert res["status"] == "ok" and res["metrics"]["fid"] > 0 and res["seed"] == 0
        assert "seed" not in res["metrics"] and "nan_value" not in res["metrics"]
        assert set(res["metric_errors"]) == {"buggy-applies", "buggy-clobber", "buggy-nan"}
        assert set(res["metric_error_kinds"].values()) == {"plugin"}
    buggy = read_strict(out / "ring8/buggy-model/seed0.json")
    assert buggy["status"] == "failed" and "defaults are broken" in buggy["error"]

    report = genbench_cli("report", "--out", str(out), "--leaderboards", str(tmp_path / "boards"))
    assert report.returncode == 0, report.stderr

    named = genbench_cli("run", "--models", "copy", "--metrics", "fid,buggy-init", *common, "--no-progress")
    assert named.returncode == 2 and "Traceback" not in named.stderr
    assert named.stderr.count("error:") == 1 and "genbench-buggy-plugin" in named.stderr, named.stderr
