"""Which package, and which version of it, made each result's model: a third-party plugin's row named
neither, and a plugin upgrade that changed its numbers could not be told from the results."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_registry import fake_distribution  # tests/ is on the path: pytest imports test modules by name

import genbench
from genbench import registry
from genbench.board_csv import to_csv_frame
from genbench.config import RunConfig
from genbench.leaderboard import aggregate, results_frame
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


def install(tmp_path, monkeypatch, reg, dist: str, name: str, module: str, source: str) -> str:
    """Plugin ``name`` (``module``'s ``source``, class ``Plugin`` unless it defines ``Sampler``)
    installed as pip installs one: a dist-info folder of distribution ``dist`` (version 0.1) on
    sys.path, found by registry ``reg`` for this test only."""
    site = tmp_path / f"site-{dist}"
    site.mkdir()
    (site / f"{module}.py").write_text(source)
    cls = "Sampler" if "class Sampler" in source else "Plugin"
    fake_distribution(site, dist, {reg.group: {name: f"{module}:{cls}"}})
    reg.discover()
    for attr in ("_entries", "ignored"):  # restored afterwards: the plugin leaves with its folder
        monkeypatch.setattr(reg, attr, dict(getattr(reg, attr)))
    monkeypatch.setattr(reg, "_path_state", reg._path_state)
    monkeypatch.syspath_prepend(str(site))
    return name


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A model plugin installed as pip installs one (a dist-info folder on sys.path, version 0.1),
    found by the models registry for this test only."""
    return install(
        tmp_path,
        monkeypatch,
        registry.models,
        "genbench-provenance-plugin",
        "provenance-model",
        "genbench_provenance_plugin_xyz",
        PLUGIN_MODULE,
    )


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
    csv = to_csv_frame(agg)
    assert csv["model_source"].isna().all()
    # columns added since: not in the CSV of a board whose results predate them (it stays as it was)
    assert not {"dataset_source", "features_source", "metric_sources"} & set(csv.columns)


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

    from genbench.provenance import model_source

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


DATASET_MODULE = """
from genbench.data.toy2d import Ring8


class Plugin(Ring8):
    pass
"""

FEATURES_MODULE = """
from genbench.features.raw import Raw


class Plugin(Raw):
    pass
"""

METRIC_MODULE = """
from genbench.metrics.base import Metric


class Plugin(Metric):
    higher_is_better = {"provenance_score": True}
    reference = "none"

    def compute(self, ctx):
        return {"provenance_score": 1.0}
"""


def scored(tmp_path, cache_dir, **config) -> tuple[dict, pd.Series, str]:
    """The environment of gaussian's result on a run of ``config``, its board's CSV row, and the
    board's section on datasets, features and metrics from other packages ("" when it has none)."""
    out = tmp_path / "runs"
    config = {"dataset": "ring8", "metrics": ["fid"], **config}
    run = RunConfig(
        models=["gaussian"], samples=200, out=out, cache_dir=cache_dir, device="cpu", figures=False,
        progress=False, **config,
    )  # fmt: skip
    (result,) = genbench.run(run)
    assert result.status == "ok"
    environment = load_result(result.path(out)).environment
    board = genbench.report(out, tmp_path / "boards")[config["dataset"]]
    csv = pd.read_csv(tmp_path / "boards" / f"{config['dataset']}.csv").set_index("model").loc["gaussian"]
    section = board.partition("## Datasets, features and metrics from other packages")[2]
    return environment, csv, section


def test_a_result_records_the_package_and_version_of_its_dataset_plugin_and_the_board_names_it(
    tmp_path, monkeypatch, cache_dir
):
    """A dataset plugin's upgrade (new data, a preprocessing fix) that moved the numbers could not be
    told from the results: they named genbench's version and the plugin's dataset, not its package."""
    name = install(
        tmp_path, monkeypatch, registry.datasets, "genbench-provenance-data", "provenance-ring",
        "genbench_provenance_data_xyz", DATASET_MODULE,
    )  # fmt: skip
    environment, csv, section = scored(tmp_path, cache_dir, dataset=name)
    assert environment["dataset_class"] == "genbench_provenance_data_xyz:Plugin"
    assert environment["dataset_distribution"] == "genbench-provenance-data"
    assert environment["dataset_distribution_version"] == "0.1"
    assert environment["features_distribution"] == "genbench"  # the built-in raw features
    assert environment["features_distribution_version"] == genbench.__version__
    assert csv["dataset_source"] == "genbench-provenance-data 0.1"
    assert csv["features_source"] == f"genbench {genbench.__version__}"
    assert section.strip().splitlines() == [f"- dataset `{name}`: genbench-provenance-data 0.1"]


def test_a_result_records_the_package_and_version_of_its_features_plugin_and_the_board_names_it(
    tmp_path, monkeypatch, cache_dir
):
    name = install(
        tmp_path, monkeypatch, registry.features, "genbench-provenance-features", "provenance-raw",
        "genbench_provenance_features_xyz", FEATURES_MODULE,
    )  # fmt: skip
    environment, csv, section = scored(tmp_path, cache_dir, features=name)
    assert environment["features_class"] == "genbench_provenance_features_xyz:Plugin"
    assert environment["features_distribution"] == "genbench-provenance-features"
    assert environment["features_distribution_version"] == "0.1"
    assert environment["dataset_distribution"] == "genbench"  # ring8, a built-in
    assert csv["features_source"] == "genbench-provenance-features 0.1"
    # the dataset is genbench's own: not listed as another package's
    assert section.strip().splitlines() == [f"- features `{name}`: genbench-provenance-features 0.1"]


def test_a_result_records_the_package_and_version_of_each_metric_with_a_value_and_the_board_names_a_plugins(
    tmp_path, monkeypatch, cache_dir
):
    name = install(
        tmp_path, monkeypatch, registry.metrics, "genbench-provenance-metric", "provenance-score",
        "genbench_provenance_metric_xyz", METRIC_MODULE,
    )  # fmt: skip
    environment, csv, section = scored(tmp_path, cache_dir, metrics=["fid", name])
    assert environment["metric_sources"] == {
        name: {
            "class": "genbench_provenance_metric_xyz:Plugin",
            "distribution": "genbench-provenance-metric",
            "distribution_version": "0.1",
        },
        "fid": {
            "class": "genbench.metrics.fid:FID",
            "distribution": "genbench",
            "distribution_version": genbench.__version__,
        },
    }
    assert json.loads(csv["metric_sources"]) == {
        "fid": f"genbench {genbench.__version__}",
        name: "genbench-provenance-metric 0.1",
    }
    assert section.strip().splitlines() == [f"- metric `{name}`: genbench-provenance-metric 0.1"]


def test_seeds_and_rows_scored_by_two_releases_of_a_plugin_name_both(tmp_path):
    """A plugin upgraded between seeds (or between models' runs): the row's mean is over both
    releases, and the board says so rather than name one of them, or none."""

    def write(model: str, seed: int, version: str) -> None:
        source = {"distribution": "genbench-provenance-metric", "distribution_version": version}
        Result(
            model=model,
            dataset="ring8",
            seed=seed,
            metrics={"fid": 1.0 + seed, "provenance_score": 1.0},
            environment={
                "dataset_distribution": "genbench-provenance-data",
                "dataset_distribution_version": version,
                "metric_sources": {"provenance-score": source},
            },
        ).write(tmp_path / "runs")

    write("copy", 0, "0.1")
    write("copy", 1, "0.2")
    write("gaussian", 0, "0.2")
    board = genbench.report(tmp_path / "runs", tmp_path / "boards")["ring8"]
    both = "genbench-provenance-data 0.1; genbench-provenance-data 0.2"
    csv = pd.read_csv(tmp_path / "boards" / "ring8.csv").set_index("model")
    assert csv.loc["copy", "dataset_source"] == both
    assert json.loads(csv.loc["gaussian", "metric_sources"]) == {
        "provenance-score": "genbench-provenance-metric 0.2"
    }
    section = board.split("## Datasets, features and metrics from other packages")[1].strip()
    assert section.splitlines() == [  # in the board's order: gaussian's FID (1) ranks first
        "- dataset `ring8`, gaussian: genbench-provenance-data 0.2",
        f"- dataset `ring8`, copy: {both}",
        "- metric `provenance-score`, gaussian: genbench-provenance-metric 0.2",
        "- metric `provenance-score`, copy: genbench-provenance-metric 0.1; genbench-provenance-metric 0.2",
    ]
