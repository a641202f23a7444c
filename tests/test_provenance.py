"""Which package, and which version of it, made each result's model: a third-party plugin's row named
neither, and a plugin upgrade that changed its numbers could not be told from the results."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_registry import fake_distribution  # tests/ is on the path: pytest imports test modules by name

import genbench
from genbench import registry
from genbench.config import RunConfig
from genbench.leaderboard import aggregate, results_frame, to_csv_frame
from genbench.results import Result, load_result

PLUGIN_MODULE = """
import torch
from genbench.api import GenerativeModel


class Sampler(GenerativeModel):
    trainable = False

    def sample(self, n, *, generator):
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A model plugin installed as pip installs one (a dist-info folder on sys.path, version 0.1),
    found by the models registry for this test only."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "genbench_provenance_plugin_xyz.py").write_text(PLUGIN_MODULE)
    fake_distribution(
        site,
        "genbench-provenance-plugin",
        {"genbench.models": {"provenance-model": "genbench_provenance_plugin_xyz:Sampler"}},
    )
    reg = registry.models
    reg.discover()
    for attr in ("_entries", "ignored"):  # restored afterwards: the plugin leaves with its folder
        monkeypatch.setattr(reg, attr, dict(getattr(reg, attr)))
    monkeypatch.setattr(reg, "_path_state", reg._path_state)
    monkeypatch.syspath_prepend(str(site))
    return "provenance-model"


def test_a_result_records_the_package_and_version_that_made_its_model_and_the_board_shows_it(
    installed_plugin, tmp_path, cache_dir
):
    out = tmp_path / "runs"
    config = RunConfig(
        models=[installed_plugin, "gaussian"],
        dataset="ring8",
        samples=200,
        metrics=["fid"],
        out=out,
        cache_dir=cache_dir,
        device="cpu",
        figures=False,
        progress=False,
    )
    results = {r.model: r for r in genbench.run(config)}
    assert [r.status for r in results.values()] == ["ok", "ok"]

    plugin = load_result(out / "ring8" / installed_plugin / "seed0.json").environment
    assert plugin["model_distribution"] == "genbench-provenance-plugin"
    assert plugin["model_distribution_version"] == "0.1"
    assert plugin["model_class"] == "genbench_provenance_plugin_xyz:Sampler"
    builtin = results["gaussian"].environment
    assert builtin["model_distribution"] == "genbench"
    assert builtin["model_distribution_version"] == genbench.__version__  # the running code's

    board = genbench.report(out, tmp_path / "boards")["ring8"]
    section = board.split("## Models from other packages")[1]
    assert f"- {installed_plugin}: genbench-provenance-plugin 0.1" in section
    assert "gaussian" not in section  # genbench's own models are not listed as another package's
    csv = pd.read_csv(tmp_path / "boards" / "ring8.csv").set_index("model")
    assert csv.loc[installed_plugin, "model_source"] == "genbench-provenance-plugin 0.1"
    assert csv.loc["gaussian", "model_source"] == f"genbench {genbench.__version__}"


def test_a_result_written_before_the_source_was_recorded_still_reports(tmp_path):
    path = Result(model="copy", dataset="ring8", seed=0, metrics={"fid": 1.0}).write(tmp_path)
    data = json.loads(path.read_text())
    data["environment"] = {"genbench": "0.1.0"}  # no model_* keys, as older results have
    path.write_text(json.dumps(data))
    agg = aggregate(results_frame([load_result(path)]))
    assert to_csv_frame(agg)["model_source"].isna().all()


@pytest.mark.parametrize(
    "installed, own", [("package", "package"), ("module", "package"), ("package", "module")]
)
def test_a_project_module_shadowing_an_installed_one_of_its_name_is_no_distributions(
    tmp_path, monkeypatch, installed, own
):
    """A model in a project's own ``tests`` (or ``models``) package, where an installed distribution
    ships a top-level package of that name by mistake (torch-fidelity ships ``tests``), was recorded
    as that distribution's, at its version; the one it installed is still its own. A distribution's
    single-file ``top.py`` and the project's package ``top/`` (or the reverse): the shadow check
    compared only files of the imported one's name, found none to compare, and recorded the
    project's model as the distribution's."""
    import importlib
    import sys

    from genbench.results import model_source

    top = f"genbench_shadowed_{installed}_{own}_xyz"
    site, project = tmp_path / "site", tmp_path / "project"
    written = {}
    for folder, kind in ((site, installed), (project, own)):
        path = folder / top / "__init__.py" if kind == "package" else folder / f"{top}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PLUGIN_MODULE)
        written[folder] = path.relative_to(folder).as_posix()
    fake_distribution(site, "sloppy-dist", {}, files=[written[site]])
    monkeypatch.syspath_prepend(str(site))

    def source(*path) -> str | None:
        monkeypatch.delitem(sys.modules, top, raising=False)
        for folder in path:
            monkeypatch.syspath_prepend(str(folder))
        return model_source(importlib.import_module(top).Sampler)["model_distribution"]

    assert source() == "sloppy-dist"  # imported from where the distribution installed it
    assert source(project) is None  # the project's own module of that name
