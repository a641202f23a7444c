"""`genbench list metrics` says whether each metric reads features (a feature extractor is built,
its weights needed, only where a command's metrics read any), and for memorization which option
decides it: a user could not tell that `--metrics memorization` on a folder of images needs no
Inception weights while `--metrics fid` does."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import genbench
from genbench import registry
from genbench.cli.main import app
from genbench.errors import RegistrationError
from genbench.metrics.base import Metric

pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py

PLUGIN = '''
import genbench
from genbench.metrics.base import Metric


@genbench.register_metric("reads-undeclared")
class Undeclared(Metric):
    """Says nothing of features: taken to read them."""

    higher_is_better = {"undeclared": True}

    def compute(self, ctx):
        return {"undeclared": 0.0}


@genbench.register_metric("reads-raising")
class Raising(Metric):
    """Its reads_features raises."""

    higher_is_better = {"raising": True}

    def reads_features(self, options):
        raise ValueError("a plugin's bug")

    def compute(self, ctx):
        return {"raising": 0.0}
'''


def listed(*args: object):
    """`genbench list ARGS` wide enough that each row is one line."""
    r = CliRunner().invoke(app, ["list", *(str(a) for a in args)], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    return r


def rows(stdout: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells
        for ln in stdout.splitlines()
        if ln.startswith("│") and (cells := [c.strip() for c in ln.split("│")[1:-1]])[0]
    }


def test_the_metrics_table_has_a_features_column_with_memorizations_option(tmp_path):
    plugin = tmp_path / "reads_plugin.py"
    plugin.write_text(PLUGIN)
    r = listed("metrics", "--include", plugin)
    header = next(ln for ln in r.stdout.splitlines() if "name" in ln and "description" in ln)
    assert [c.strip() for c in header.split("┃")[1:-1]] == ["name", "source", "features", "description"]
    table = rows(r.stdout)
    features = {name: cells[2] for name, cells in table.items()}
    assert features["fid"] == features["kid"] == features["prdc"] == "yes"
    assert features["throughput"] == features["modes"] == features["gan_dynamics"] == "no"
    assert features["memorization"] == "no*"  # pixels by default
    assert features["reads-undeclared"] == "yes"  # the base class's answer
    assert features["reads-raising"] == "?"
    said = " ".join(r.stdout.split())  # the line below the table, wrapped or not
    assert "*: --metric-option memorization.space decides it" in said, said
    assert "where no metric of a command reads any, no feature extractor is built" in said, said
    entries = {e.name: e for e in genbench.registered("metrics", include=[plugin])["metrics"]}
    assert (entries["memorization"].reads_features, entries["memorization"].reads_features_by) == (
        False,
        ("space",),
    )
    assert entries["fid"].reads_features is True and entries["reads-raising"].reads_features is None
    assert genbench.registered("models")["models"][0].reads_features is None  # a metric's alone


def test_a_metric_says_whether_it_reads_features_and_what_decides_it():
    said = {
        name: rows(listed("metrics", name).stdout)["reads features"][1] for name in ("memorization", "fid")
    }
    assert said["memorization"].startswith("no: the samples and data themselves"), said
    assert said["memorization"].endswith(
        "at its default space=pixels; --metric-option memorization.space decides it"
    ), said
    assert said["fid"].startswith("yes: the samples' and the data's features"), said
    assert "decides" not in said["fid"]
    info = genbench.metric_info("memorization")
    assert (info.reads_features, info.reads_features_by) == (False, ("space",))
    assert genbench.metric_info("throughput").reads_features is False


def test_a_metric_reading_no_features_compares_with_the_examples_not_their_features():
    """memorization's "compares with" said "the reference split's features" while its own row said
    it reads none (pixels by default); then "the reference split's examples", while it compares
    with the train split whatever --reference-split is (the protocol line says so), and with the
    test split for ct and memorization_rate_heldout."""
    said = {
        name: rows(listed("metrics", name).stdout)["compares with"][1]
        for name in ("memorization", "modes", "prdc", "fid", "throughput")
    }
    assert said["memorization"] == (
        "the train split's examples themselves whatever --reference-split is, and the test split's for "
        "ct and memorization_rate_heldout (the dataset is read); their features where --metric-option "
        "memorization.space asks for them"
    ), said
    assert said["modes"] == "the reference split's examples themselves (the dataset is read)", said
    assert said["prdc"] == "the reference split's features (the dataset is read)", said
    assert said["fid"].startswith("the reference split's feature mean and covariance"), said
    assert said["throughput"] == "nothing: the samples alone", said


@pytest.mark.parametrize("by", ["space", ("nope",), ["space"]])
def test_reads_features_by_names_declared_options(by):
    class Declared(Metric):
        higher_is_better = {"declared": False}  # noqa: RUF012
        options = {"space": "pixels"}  # noqa: RUF012
        reads_features_by = by

        def compute(self, ctx):
            return {"declared": 0.0}

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError) as e:
        fresh.add("test-declared", Declared)
    assert f"declares reads_features_by = {by!r}; use a tuple of its declared options' names" in str(e.value)
