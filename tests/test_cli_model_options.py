"""`genbench list models NAME` (``genbench.model_options``): a model's config fields, which ``--set
NAME.FIELD=`` takes, with the value each runs at on a dataset, where it comes from, whether it
retrains or only changes sampling, and its comment in the source. There was no such command: the
fields were in the source alone, and `genbench list models ddpm` failed with "Got unexpected extra
argument(s) (ddpm)", which every test here meets on the code before."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there
from typer.testing import CliRunner

import baselines
import genbench
from genbench import registry
from genbench.cli.main import app
from genbench.field_values import value_text

PLUGIN = '''
import dataclasses
from dataclasses import dataclass

import torch

import genbench
from genbench.data.base import Dataset


@dataclass
class CommentedConfig:
    # the number of units,
    # said over two lines
    width: int = 8
    rate: float = 0.5  # how fast it learns
    temperature: float = 1.0  # how hot it samples
    plain: int = 3


@genbench.register_model("opt-commented")
class Commented(genbench.GenerativeModel):
    """Commented fields; temperature only changes sampling."""

    Config = CommentedConfig

    @classmethod
    def dataset_defaults(cls, dataset):
        return {"rate": 0.25} if dataset == "digits" else {}

    def train_config(self):
        return {k: v for k, v in dataclasses.asdict(self.config).items() if k != "temperature"}

    def sample(self, n, *, generator):
        return torch.zeros(n, *self.spec.shape)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


# built, not written: inspect finds no source of it
DynamicConfig = dataclasses.make_dataclass("DynamicConfig", [("depth", int, dataclasses.field(default=2))])


@genbench.register_model("opt-dynamic")
class Dynamic(Commented):
    """A config class without source."""

    Config = DynamicConfig

    @classmethod
    def dataset_defaults(cls, dataset):
        return {}

    def train_config(self):
        return dataclasses.asdict(self.config)


@genbench.register_dataset("opt-points")
class Points(Dataset):
    """Points that no baseline has a per-dataset config file for."""

    kind = "points"
    default_features = "raw"
    example_shape = (2,)

    def _load(self, split):
        return torch.zeros(10, 2), None
'''


pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py


@pytest.fixture
def plugin(tmp_path) -> Path:
    path = tmp_path / "options_plugin.py"
    path.write_text(PLUGIN)
    return path


def listed(*args: object):
    """`genbench list ARGS` wide enough that each row is one line."""
    return CliRunner().invoke(app, ["list", *(str(a) for a in args)], env={"COLUMNS": "250"})


def rows(result) -> dict[str, list[str]]:
    """The table's rows as field -> its cells (field, type, value, from, changes, comment)."""
    assert result.exit_code == 0, result.output
    cells = [
        [c.strip() for c in ln.split("│")[1:-1]] for ln in result.stdout.splitlines() if ln.startswith("│")
    ]
    return {c[0]: c for c in cells}


def test_ddpm_on_digits_shows_the_tomls_values_the_defaults_and_what_retrains():
    r = listed("models", "ddpm")
    table = rows(r)
    # set by baselines/configs/digits/ddpm.toml (2e-3; the dataclass default is 2e-4): it retrains
    assert table["lr"] == ["lr", "float", "0.002", "digits", "training", "Adam learning rate"]
    assert table["ch_mult"][1:5] == ["tuple[int, ...]", "1:2", "digits", "training"]  # as --set writes it
    # the toml leaves it at the dataclass default; an MLP's width, unused by the images' U-Net
    assert table["mlp_hidden"][1:] == ["int", "256", "default", "unused", "width"]
    assert table["variance"][4] == "sampling"  # left out of the checkpoint key
    assert list(table) == [f.name for f in dataclasses.fields(registry.models.get("ddpm").Config)]
    assert r.stdout.startswith("ddpm on digits")


def test_ddim_is_sampling_only_and_names_the_ddpm_fields_that_reach_it():
    r = listed("models", "ddim")
    table = rows(r)
    assert table["steps"][1:] == [
        "int", "50", "digits", "sampling", "sampling steps S (network evaluations per sample)"
    ]  # fmt: skip
    assert {row[4] for row in table.values()} == {"sampling"}  # it never trains: ddpm's weights
    text = " ".join(r.stdout.split())  # the line under the table, wrapped at the terminal's width
    assert "ddim samples ddpm's trained weights (weights_from)" in text
    reach = text.split("--set ddpm.FIELD=: ")[1].split(")")[0].split(", ")
    assert "lr" in reach and "train_steps" in reach
    assert "variance" not in reach and "mlp_hidden" not in reach  # ddpm's sampling, unused on images


@pytest.mark.parametrize(
    ("weights_from", "why"),
    [
        # it ended `list` in "unknown model 'ddpmm'", a name never typed, exit 2
        ("ddpmm", "which is not installed; did you mean 'ddpm'"),
        ("opt-sampler", "'opt-sampler' (its weights_from), itself"),  # a RecursionError, blamed on digits
    ],
)
def test_a_model_whose_weights_from_names_no_owner_lists_its_fields_and_says_why(weights_from, why):
    @dataclasses.dataclass
    class SamplerConfig:
        steps: int = 10

    class Sampler(genbench.GenerativeModel):
        Config = SamplerConfig

        def sample(self, n, *, generator):
            raise NotImplementedError

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    Sampler.weights_from = weights_from
    genbench.register_model("opt-sampler")(Sampler)
    r = listed("models", "opt-sampler")
    assert "steps" in rows(r)
    assert why in " ".join(r.stdout.split())


def test_another_dataset_shows_its_values_and_unused_fields():
    """ring8's points train the MLP: the U-Net's fields are the unused ones there."""
    table = rows(listed("models", "ddpm", "--dataset", "ring8"))
    assert table["mlp_hidden"][3:5] == ["ring8", "training"]
    assert table["ch"][4] == "unused"
    toml = tomllib.loads((Path(baselines.__file__).parent / "configs/ring8/ddpm.toml").read_text())
    for name, value in toml.items():  # each as the file sets it, as --set writes it
        assert table[name][2:4] == [value_text(value), "ring8"], name


def test_a_files_model_lists_its_comments_and_one_without_source_its_fields(plugin):
    table = rows(listed("models", "opt-commented", "--include", plugin))
    assert table["width"][1:] == [
        "int",
        "8",
        "default",
        "training",
        "the number of units, said over two lines",
    ]
    assert table["rate"][1:] == ["float", "0.25", "digits", "training", "how fast it learns"]
    assert table["temperature"][1:] == ["float", "1", "default", "sampling", "how hot it samples"]
    assert table["plain"][1:] == ["int", "3", "default", "training", ""]
    # make_dataclass: no source to read comments from, its fields listed all the same
    assert rows(listed("models", "opt-dynamic", "--include", plugin)) == {
        "depth": ["depth", "int", "2", "default", "training", ""]
    }


def test_a_dataset_without_a_config_file_shows_the_defaults(plugin):
    table = rows(listed("models", "ddpm", "--dataset", "opt-points", "--include", plugin))
    assert {row[3] for row in table.values()} == {"default"}
    assert table["lr"][2] == "0.0002" and table["mlp_hidden"][4] == "training" and table["ch"][4] == "unused"


def test_the_python_api_returns_the_table_as_data(plugin):
    options = genbench.model_options("ddim", "ring8")
    assert (options.model, options.dataset, options.weights_from) == ("ddim", "ring8", "ddpm")
    steps = next(f for f in options.fields if f.name == "steps")
    assert (steps.value, steps.source, steps.affects) == ("50", "dataset", "sampling")
    assert (
        "mlp_hidden" in options.owner_fields and "ch" not in options.owner_fields
    )  # the MLP trains on points
    gan = genbench.model_options("gan")  # an alias: its model's fields
    assert gan.model == "gan-ns" and gan.fields
    mine = genbench.model_options("opt-commented", include=[plugin])
    assert [f.comment for f in mine.fields][:2] == [
        "the number of units, said over two lines",
        "how fast it learns",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["models", "ddpn"], "unknown model 'ddpn'; did you mean 'ddpm'"),
        (["models", "ddpm", "--dataset", "digts"], "unknown dataset 'digts'; did you mean 'digits'"),
        (
            ["widgets", "clip"],
            "genbench list widgets takes no name; a name goes with models, metrics, datasets or features",
        ),
        (["models", "--dataset", "cifar10"], "--dataset goes with a model's or a feature extractor's name"),
    ],
)
def test_a_wrong_name_is_one_line_exit_2(args, expected):
    assert expected in single_line_error(listed(*args))


@pytest.mark.parametrize("columns", [60, 40])
def test_a_narrow_terminal_lists_each_fields_value_whole(columns):
    """At 60 columns rich squeezed the table's type and value columns to 3 characters (timesteps
    read "100" over "0"), and from 50 to none: a field's value, what the command is for, was not
    shown. Where the table does not fit, each field is a line "name = value", its type, where the
    value comes from, what a change does and its comment indented below it."""
    r = CliRunner().invoke(app, ["list", "models", "ddpm"], env={"COLUMNS": str(columns)})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    for f in genbench.model_options("ddpm", "digits").fields:
        at = lines.index(f"{f.name} = {f.value}")
        below = " ".join(" ".join(lines[at + 1 : at + 6]).split())
        source = "digits" if f.source == "dataset" else "default"
        assert below.startswith(f"{f.type}; from: {source}; changes: {f.affects} {f.comment}"), below
    assert lines[0] == "ddpm on digits" and "┃" not in r.stdout
    # wide enough, the table as before
    assert (
        rows(CliRunner().invoke(app, ["list", "models", "ddpm"], env={"COLUMNS": "80"}))["lr"][2] == "0.002"
    )
