"""`genbench list metrics NAME` and `genbench list datasets NAME` (``genbench.metric_info``,
``genbench.dataset_info``): what a metric or a dataset declares, read from its class alone. Before,
both were refused ("genbench list metrics takes no name"), which every CLI test here meets on the
code before; the Python tests meet "module 'genbench' has no attribute 'metric_info'", and the
split-size test the Dataset classes' lack of ``split_sizes``."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there
from typer.testing import CliRunner

import genbench
from genbench import registry
from genbench.cli.main import app

PLUGIN = '''
import torch

import genbench
from genbench.data.base import Dataset
from genbench.metrics.base import Metric


@genbench.register_metric("info-spread")
class Spread(Metric):
    """The samples' spread, a plugin's."""

    version = 3
    higher_is_better = {"spread": True, "spread_gap": None}
    options = {"k": 4, "scale": 0.5, "mode": "fast", "sizes": (1, 2), "cap": None}
    option_words = {"cap": ("all",)}
    runs_by_default = False
    runs_by_default_under = ("raw",)
    reference = "none"
    supported_kinds = ("points",)

    def compute(self, ctx):
        return {"spread": 0.0, "spread_gap": 0.0}


@genbench.register_dataset("info-undeclared")
class Undeclared(Dataset):
    """Points that declare nothing beyond the required."""

    kind = "points"
    default_features = "raw"

    def _load(self, split):
        raise AssertionError("read to answer genbench list datasets NAME")
'''


pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py


@pytest.fixture
def plugin(tmp_path) -> Path:
    path = tmp_path / "info_plugin.py"
    path.write_text(PLUGIN)
    return path


def listed(*args: object, env: dict[str, str] | None = None):
    """`genbench list ARGS` wide enough that each row is one line."""
    return CliRunner().invoke(app, ["list", *(str(a) for a in args)], env={"COLUMNS": "250", **(env or {})})


def tables(result) -> dict[str, list[str]]:
    """Every table's rows as first cell -> its cells (the facts' and the options'), a cell wrapped
    over lines (a long path) joined."""
    assert result.exit_code == 0, result.output
    out: dict[str, list[str]] = {}
    last: list[str] = []
    for ln in result.stdout.splitlines():
        if not ln.startswith("│"):
            continue
        cells = [c.strip() for c in ln.split("│")[1:-1]]
        if cells[0]:
            last = out[cells[0]] = cells
        else:  # the row above, wrapped
            last[:] = [f"{a} {b}".strip() for a, b in zip(last, cells, strict=True)]
    return out


def test_kid_lists_its_values_and_its_options_defaults():
    r = listed("metrics", "kid")
    rows = tables(r)
    assert rows["subsets"] == ["subsets", "100", "int", ""]  # kid.py's SUBSETS
    # declared None: computed from the inputs, read as a number (resolve_metric_options)
    assert rows["subset_size"] == ["subset_size", "from the inputs", "number", ""]
    assert rows["values"][1] == "kid (lower is better), kid_std (lower is better)"
    assert rows["runs"][1] == "by default (when --metrics names none)"
    assert rows["compares with"][1] == "the reference split's features (the dataset is read)"
    assert rows["applies to"][1] == "image, points data"
    assert r.stdout.startswith("metric kid")
    assert "what each option means: docs/metrics.md, Metric options" in r.stdout


def test_fid_inf_is_opt_in_and_compares_with_statistics():
    rows = tables(listed("metrics", "fid_inf"))
    assert rows["runs"][1] == "opt-in: only with --metrics fid_inf"
    assert (
        rows["compares with"][1] == "the reference split's feature mean and covariance, or --reference-stats"
    )
    assert rows["points"][1:3] == ["15", "int"]


def test_cmmd_runs_by_default_under_clip():
    r = listed("metrics", "cmmd")
    assert tables(r)["runs"][1] == "opt-in: only with --metrics cmmd, or by default under --features clip"
    assert "cmmd has no options" in r.stdout


def test_a_plugin_metric_from_include_lists_its_declarations(plugin):
    r = listed("metrics", "info-spread", "--include", plugin)
    rows = tables(r)
    assert rows["values"][1] == "spread (higher is better), spread_gap (no better direction)"
    assert rows["runs"][1] == "opt-in: only with --metrics info-spread, or by default under --features raw"
    assert rows["compares with"][1] == "nothing: the samples alone"
    assert (rows["applies to"][1], rows["version"][1]) == ("points data", "3")
    assert rows["source"][1] == str(plugin)
    assert rows["k"][1:] == ["4", "int", ""]
    assert rows["scale"][1:] == ["0.5", "float", ""]
    assert rows["mode"][1:] == ["fast", "str", ""]
    assert rows["sizes"][1:] == ["1:2", "tuple[int, ...]", ""]  # as --metric-option writes a tuple
    assert rows["cap"][1:] == ["from the inputs", "number", "all"]  # option_words
    assert "docs/metrics.md" not in r.stdout  # a plugin's options are not genbench's to document


def test_the_python_api_returns_the_metric_as_data(plugin):
    vendi = genbench.metric_info("vendi")
    assert [(v.name, v.better) for v in vendi.values] == [("vendi", "none"), ("vendi_ref", "none")]
    assert vendi.options == (genbench.MetricOption("q", "1", "float", ("inf",)),)
    assert (vendi.runs_by_default, vendi.supported_kinds) == (False, ("image",))
    assert genbench.metric_info("is").needs_logits and genbench.metric_info("is").reference == "none"
    spread = genbench.metric_info("info-spread", include=[plugin])
    assert (spread.runs_by_default_under, spread.version) == (("raw",), 3)
    assert spread.options[-1] == genbench.MetricOption("cap", None, "number", ("all",))


def test_every_genbench_metric_option_is_in_the_docs_table_the_cli_points_to():
    """The line under a genbench metric's options points to docs/metrics.md's table: each is there."""
    docs = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()
    table = docs.split("## Metric options", 1)[1].split("\n\n")[2]  # its intro, then the table
    assert table.startswith("| option | default | meaning |")
    for entry in registry.metrics.entries():
        if entry.alias_of is None and entry.source == "genbench":
            for o in genbench.metric_info(entry.name).options:
                assert f"`{entry.name}.{o.name}`" in table, (entry.name, o.name)


def test_digits_lists_its_split_sizes_shape_and_modes():
    rows = tables(listed("datasets", "digits"))
    assert (rows["train split"][1], rows["test split"][1]) == ("1437 examples", "360 examples")
    assert (rows["example shape"][1], rows["values"][1]) == ("(1, 8, 8)", "in [-1, 1]")
    assert rows["modes"][1].startswith("10 (")
    assert rows["files"][1] == "none: made in code or shipped in a package"


@pytest.mark.parametrize("name", ["digits", "stacked-digits", "ring8", "grid25"])
def test_the_embedded_datasets_declare_the_sizes_their_data_has(name):
    """The declared sizes, which `list` shows without reading the data, are the data's (each cheap)."""
    data = registry.datasets.get(name)()
    assert data.split_sizes == {split: len(data.load_stored(split)[0]) for split in ("train", "test")}


def test_cifar10_answers_offline_from_its_declarations(monkeypatch, tmp_path):
    """No download, no network, no read: each is made to fail the test where it would be reached."""
    from genbench.data import cifar10, download
    from genbench.data.cifar10 import CIFAR10

    reached: list[str] = []

    def refuse(what):
        def call(*args, **kwargs):
            reached.append(what)
            raise AssertionError(f"{what} reached by genbench list datasets cifar10")

        return call

    monkeypatch.setattr(download, "_download", refuse("download"))
    monkeypatch.setattr(download, "_open_url", refuse("url"))
    monkeypatch.setattr(cifar10, "ensure_files", refuse("ensure_files"))
    monkeypatch.setattr(CIFAR10, "_load", refuse("_load"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket"))
    data = tmp_path / "data"
    rows = tables(listed("datasets", "cifar10", env={"GENBENCH_DATA": str(data)}))
    assert (rows["train split"][1], rows["test split"][1]) == ("50000 examples", "10000 examples")
    assert (rows["example shape"][1], rows["modes"][1]) == ("(3, 32, 32)", "10")
    assert rows["files"][1] == (
        f"looked for in {data / 'cifar10'}, then {data}; downloaded into {data / 'cifar10'} on first use "
        "where none holds them"
    )
    mine = tmp_path / "mine"
    assert genbench.dataset_info("cifar10", mine).data_folders == (mine / "cifar10", mine)
    assert (
        f"looked for in {mine / 'cifar10'}"
        in tables(listed("datasets", "cifar10", "--data-dir", mine))["files"][1]
    )
    assert reached == [] and not data.exists() and not mine.exists()


def test_a_plugin_dataset_that_declares_nothing_says_so_unread(plugin):
    rows = tables(listed("datasets", "info-undeclared", "--include", plugin))  # its _load raises
    assert rows["train split"][1] == rows["example shape"][1] == "not known until loaded"
    assert rows["values"][1] == "not bounded (points)" and rows["modes"][1] == "unknown"
    assert rows["files"][1].startswith("not declared (--data-dir: ")
    info = genbench.dataset_info("info-undeclared", include=[plugin])
    assert (info.train_size, info.downloads, info.data_folders) == (None, None, None)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["metrics", "kdi"], "unknown metric 'kdi'; did you mean 'kid'"),
        (["datasets", "digts"], "unknown dataset 'digts'; did you mean 'digits'"),
        (
            ["widgets", "clip"],
            "genbench list widgets takes no name; a name goes with models, metrics, datasets or features",
        ),
        (["metrics", "kid", "--dataset", "digits"], "--dataset goes with a model's"),
        (["metrics", "kid", "--data-dir", "d"], "--data-dir goes with a dataset's name"),
    ],
)
def test_a_wrong_name_is_one_line_exit_2(args, expected):
    assert expected in single_line_error(listed(*args))


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ({"split_sizes": {"train": 0}}, "declares split_sizes = {'train': 0}; map 'train' and 'test'"),
        ({"split_sizes": {"val": 10}}, "declares split_sizes = {'val': 10}"),
        ({"split_sizes": {"train": True}}, "declares split_sizes = {'train': True}"),
        ({"downloads": "yes"}, "declares downloads = 'yes'; use True, False or None"),
        ({"has_test_split": "no"}, "declares has_test_split = 'no'; use True or False"),
        # numbers and numpy's bools too, as a metric's runs_by_default and a model's conditional are
        ({"has_test_split": 0}, "declares has_test_split = 0; use True or False"),
        ({"has_test_split": np.False_}, f"declares has_test_split = {np.False_!r}; use True or False"),
        ({"downloads": 1}, "declares downloads = 1; use True, False or None"),
        ({"downloads": np.True_}, f"declares downloads = {np.True_!r}; use True, False or None"),
        ({"classifier_labels_modes": "no"}, "declares classifier_labels_modes = 'no'; use True or False"),
        ({"classifier_labels_modes": 1}, "declares classifier_labels_modes = 1; use True or False"),
        (
            {"has_test_split": False, "split_sizes": {"train": 90, "test": 10}},
            "declares has_test_split = False and a test split of 10 examples in split_sizes; drop one",
        ),
    ],
)
def test_a_malformed_split_sizes_or_downloads_is_refused_at_registration(declared, expected):
    from genbench.data.base import Dataset

    bad = type("Bad", (Dataset,), {"kind": "points", "_load": lambda self, split: None, **declared})
    assert expected in (bad.declaration_problem() or "")
    good = type("Good", (Dataset,), {"kind": "points", "_load": lambda self, split: None})
    assert good.declaration_problem() is None


def test_a_dataset_of_one_split_lists_no_test_split(register):
    from genbench.data.base import Dataset

    one = type("One", (Dataset,), {"kind": "points", "has_test_split": False, "_load": lambda self, s: None})
    register(registry.datasets, "info-one-split", one)
    rows = tables(listed("datasets", "info-one-split"))
    assert rows["test split"][1] == "none (has_test_split = False: every example is the train split)"
    assert genbench.dataset_info("info-one-split").has_test_split is False
