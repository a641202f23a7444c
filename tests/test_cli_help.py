"""What the CLI and the package say they take: the flags and their RunConfig fields, the help texts, usage
errors, the version, and `genbench list`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from cli_helpers import run_args, single_line_error  # tests/ is on the path: pytest puts it there
from typer.testing import CliRunner

from genbench import GenbenchError, RunConfig
from genbench.cli.main import app
from genbench.results import Result


def test_the_cli_leaves_inception_weights_to_each_extractors_variable_as_the_api_does(
    cli, tmp_path, monkeypatch
):
    """With $GENBENCH_INCEPTION_WEIGHTS set, the CLI passed torch-fidelity's file to every extractor
    (clean-inception then failed to load it as TorchScript); the API leaves it None, for each
    extractor to read its own variable. Both build one RunConfig now."""
    import genbench.evaluation
    import genbench.runner

    monkeypatch.setenv("GENBENCH_INCEPTION_WEIGHTS", str(tmp_path / "pt_inception.pth"))
    built: list[RunConfig] = []
    monkeypatch.setattr(genbench.runner, "run", lambda config: built.append(config) or [])
    monkeypatch.setattr(
        genbench.evaluation,
        "evaluate",
        lambda samples, config, name=None, labels=None: (
            built.append(config) or Result(model="m", dataset="digits", seed=0)
        ),
    )
    args = ["--out", tmp_path, "--no-progress"]
    assert cli("run", "--models", "copy", *args).exit_code == 0
    assert cli("eval", "--samples", tmp_path / "x.npz", "--dataset", "digits", *args).exit_code == 0
    assert built[0] == RunConfig(models=["copy"], out=tmp_path, progress=False)
    assert built[1] == RunConfig(models=[], out=tmp_path, progress=False)
    assert built[0].inception_weights is built[1].inception_weights is None


def test_every_run_flag_is_the_runconfig_field_the_readme_says_with_the_same_default():
    """docs/commands.md says every flag of `genbench run` is a RunConfig field, but `--set` is
    ``overrides`` and `--metric-option` is ``metric_options``: ``RunConfig(set=...)`` is a TypeError.
    It names each field whose name is not its flag's."""
    import dataclasses

    commands = (Path(__file__).resolve().parent.parent / "docs/commands.md").read_text()
    defaults = RunConfig()
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    params = [p for p in typer.main.get_command(app).commands["run"].params if p.name != "help"]
    assert {p.name.rstrip("_") for p in params} - {"set", "metric_option"} <= fields
    for p in params:
        flag = p.opts[0]
        field = {"set_": "overrides", "metric_option": "metric_options"}.get(p.name, p.name)
        assert field in fields, flag
        if field != flag.removeprefix("--").replace("-", "_"):
            assert f"`{flag}` is `{field}`" in commands, (
                f"docs/commands.md does not name {flag}'s field {field}"
            )
        repeatable = ("overrides", "metric_options", "include")  # the CLI's None is the field's []
        default = p.default if p.default is not None or field not in repeatable else []
        if field == "models":
            default = default.split(",")
        assert getattr(defaults, field) == default, flag


@pytest.mark.parametrize(
    "command, function, fields, arguments",
    [
        ("eval", "evaluate", "EVAL_FIELDS", {"samples": "samples", "name": "name"}),
        ("stats", "stats", "STATS_FIELDS", {"out": "path", "spatial": "spatial"}),
    ],
)
def test_every_eval_and_stats_flag_is_a_field_they_read_or_an_argument(command, function, fields, arguments):
    """As `run`'s: each flag of `eval` and `stats` is a RunConfig field that the Python function
    reads (``EVAL_FIELDS``, ``STATS_FIELDS``: a set field outside them is warned of as ignored) with
    the flag's default, or an argument of the function; and each field it reads has its flag."""
    import dataclasses
    import inspect

    import genbench
    import genbench.config

    reads = getattr(genbench.config, fields)
    defaults = RunConfig()
    signature = inspect.signature(getattr(genbench, function)).parameters
    params = [p for p in typer.main.get_command(app).commands[command].params if p.name != "help"]
    named = {"seed": "seeds", "metric_option": "metric_options"}
    flagged = set()
    for p in params:
        if p.name in arguments:
            assert arguments[p.name] in signature, p.opts
            continue
        field = named.get(p.name, p.name)
        assert field in reads, f"{p.opts[0]}: RunConfig.{field} is not in {fields}"
        flagged.add(field)
        if not p.required:  # --dataset is required of the CLI; RunConfig's default is digits
            default = [] if p.default is None and field in ("metric_options", "include") else p.default
            assert getattr(defaults, field) == default, p.opts[0]
    assert flagged == reads, f"{fields} without a flag of `{command}`: {sorted(reads - flagged)}"
    assert reads <= {f.name for f in dataclasses.fields(RunConfig)}


@pytest.mark.parametrize("command", ["run", "eval", "stats", "report", "list"])
def test_help_shows_every_options_text_whole(command):
    """Rich markup used to swallow "[default: ...]" in option help, leaving "seed ." in --help."""
    r = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    shown = " ".join(r.output.replace("\u2502", " ").split())
    helps = [p.help for p in typer.main.get_command(app).commands[command].params if getattr(p, "help", None)]
    assert helps
    for text in helps:
        assert " ".join(text.replace("\\[", "[").split()) in shown


def test_help_at_80_columns_names_every_default_model():
    """At 80 columns (a pipe's width) the help column is ~19 characters wide, and the default model
    list, one unbreakable token, was cut to "vae,gan-ns,gan-sa…"."""
    from genbench.config import DEFAULT_MODELS

    r = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    shown = " ".join(r.output.replace("\u2502", " ").split())
    for name in DEFAULT_MODELS:
        assert f"{name}," in shown or f"{name})" in shown, name


@pytest.mark.parametrize("command", ["run", "eval", "stats", "report", "list"])
def test_help_at_80_columns_shows_every_option_name_whole(command):
    """At 80 columns Rich shrinks the help column to the option names' width and then both together:
    `run`'s ``<list[str]>`` type column (4 characters more) cut ``--checkpoint-minutes`` to
    ``--checkpoint-minut…``."""
    r = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    shown = set(r.output.replace("\u2502", " ").split())
    cmd = typer.main.get_command(app).commands[command]
    params = cmd.get_params(typer.Context(cmd))  # --help too
    names = [name for p in params for name in (*p.opts, *p.secondary_opts) if name.startswith("-")]
    for name in names:
        assert name in shown, name


@pytest.mark.parametrize("command", [[], ["run"], ["eval"], ["stats"], ["report"], ["list"]])
def test_help_at_80_columns_cuts_no_word(command):
    """At 80 columns the help column of `run` is 21 characters wide, of `eval` and `stats` 25, and Rich
    cuts a longer word with "…": the variables that name the Inception weights read
    ``$GENBENCH_INCEPTION_…`` and ``$GENBENCH_CLEAN_INCE…``, the data folder ``~/.cache/genbench/da…``.
    The variables are named in full beneath the options, where the whole width is the help's."""
    r = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert "\u2026" not in r.output, r.output
    shown = {word.strip(",.;:") for word in r.output.replace("\u2502", " ").split()}
    if command in (["run"], ["eval"], ["stats"]):
        assert {"$GENBENCH_INCEPTION_WEIGHTS", "$GENBENCH_CLEAN_INCEPTION_WEIGHTS", "$GENBENCH_DATA"} <= shown


def test_inception_weights_the_features_do_not_take_are_named_unused(cli, tmp_path, cache_dir):
    """`--inception-weights w.pt` with the classifier or raw features was ignored without a word (a
    typo'd path too), while an unused --reference-stats gets a warning."""
    run = run_args(
        tmp_path / "runs", cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "200"
    )
    r = cli(*run, "--metrics", "fid", "--no-figures", "--inception-weights", tmp_path / "missing.pt")
    assert r.exit_code == 0, r.output
    assert (
        f"warning: --inception-weights {tmp_path / 'missing.pt'} is not used: the raw features take no"
        in r.stderr
    )
    from genbench import registry

    takes = {
        n: registry.features.get(n).takes_weights
        for n in ("classifier", "raw", "inception", "clean-inception")
    }
    assert takes == {"classifier": False, "raw": False, "inception": True, "clean-inception": True}


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--modles", "ddpm"], "No such option: --modles"),
        (["run", "--samples", "abc"], "Invalid value for '--samples'"),
        (["run", "--models"], "Option '--models' requires an argument"),
        (["eval", "--dataset", "digits"], "Missing option '--samples'"),
        (["report", "--bogus"], "No such option: --bogus"),
        (["bogus"], "No such command 'bogus'"),
    ],
)
def test_usage_errors_are_one_line_naming_the_help(cli, args, expected):
    """Click's usage errors exited 2 but printed Typer's boxed usage panel, not one ``error:`` line
    as docs/commands.md says every input error is."""
    line = single_line_error(cli(*args))
    command = "genbench" if args == ["bogus"] else f"genbench {args[0]}"
    assert expected in line and line.endswith(f"(see {command} --help)"), line


def test_no_arguments_still_print_the_help(cli):
    r = cli()
    assert "Usage: genbench" in r.output and "error:" not in r.output


def test_list_shows_sources(cli):
    """The points model is registered by tests/cli_models.py, imported here: run alone (or first),
    this test found no such model, and passed only after another file had imported it."""
    import cli_models  # noqa: F401  (tests/ is on the path: pytest puts it there)

    r = cli("list", "models")
    assert r.exit_code == 0
    assert "ddpm" in r.stdout and "gan-sat" in r.stdout and "alias of gan-ns" in r.stdout
    assert "Zeros [n, 2] of `points`." in r.stdout  # not eaten as markup


def test_version_names_the_build_as_results_record_it(cli):
    """`genbench --version` was "No such option": a bug report could not say which genbench ran."""
    import genbench
    from genbench.environment import environment

    r = cli("--version")
    assert r.exit_code == 0, r.output
    env = environment("cpu")
    assert env["genbench"] == genbench.__version__
    assert r.stdout.startswith(f"genbench {genbench.__version__} (source {env['source_digest']}")
    commit = env["git_commit"]  # a clone's (CI runs one); an installed genbench has none
    assert r.stdout.rstrip().endswith(f", commit {commit})" if commit else ")")


def test_the_version_is_the_one_the_package_declares():
    """``genbench.__version__`` (what `--version` prints and results record) is written by hand
    beside pyproject.toml's: nothing tied the two. A clone's checked against its pyproject.toml."""
    import tomllib

    import genbench

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("no pyproject.toml beside the tests")
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == genbench.__version__


def test_help_genbench_documents_every_public_name():
    """``help(genbench)`` left out the classes imported on first use (GenerativeModel, DataSpec,
    TrainContext: the plugin API) and listed only the module's ``__getattr__`` in their place."""
    import pydoc

    import genbench

    assert set(genbench.__all__) <= set(dir(genbench))
    page = pydoc.render_doc(genbench, renderer=pydoc.plaintext)
    for name in ("GenerativeModel", "DataSpec", "TrainContext", "RunConfig", "Result"):
        assert f"class {name}" in page, name


def test_the_python_api_lists_what_genbench_list_shows():
    """`genbench list` had no API twin but the undocumented registry objects."""
    import genbench

    listed = genbench.registered()
    assert list(listed) == ["models", "datasets", "metrics", "features"]
    models = {e.name: e for e in listed["models"]}
    assert models["ddpm"].source == "genbench" and "Ho et al. 2020" in models["ddpm"].description
    assert models["gan"].alias_of == "gan-ns" and models["ddpm"].error is None
    assert [e.name for e in genbench.registered("metrics")["metrics"]] == [e.name for e in listed["metrics"]]
    with pytest.raises(GenbenchError, match="unknown kind 'model'; did you mean 'models'?"):
        genbench.registered("model")


@pytest.mark.parametrize("command", ["run", "eval"])
def test_metrics_help_names_every_opt_in_metric(command):
    """`--metrics`' default named "the opt-in fid_inf, is_inf, sfid" after cmmd, vendi and mifid
    became opt-in too: a reader took a run without --metrics to compute them."""
    from genbench import registry

    names = [n for n in registry.metrics.names() if registry.metrics.source(n) == "genbench"]
    opt_in = [n for n in names if not registry.metrics.get(n).runs_by_default]
    assert {"cmmd", "fid_inf", "mifid", "vendi"} <= set(opt_in)
    params = typer.main.get_command(app).commands[command].params
    (text,) = [p.help for p in params if p.name == "metrics"]
    for name in opt_in:
        assert any(f" {name}{end}" in text for end in ",;]"), (name, text)
    assert "cmmd runs by default under --features clip" in text  # runs_by_default_under


def test_eval_help_says_where_class_labels_are_read():
    """`genbench eval` reads a class-conditional .npz's labels ('labels', or ADM's arr_1 beside arr_0)
    for intra_fid, class_accuracy and cas; its --samples help said only "its only array", so an ADM file
    of images and labels read as one the harness could not take."""
    params = typer.main.get_command(app).commands["eval"].params
    (text,) = [p.help for p in params if p.name == "samples"]
    assert "ADM's arr_0" in text and "ADM's arr_1" in text and "intra_fid, class_accuracy and cas" in text


def test_a_listed_description_is_the_docstrings_first_paragraph_not_its_first_line():
    """`genbench list` showed a docstring's first line alone: gan-cond's read "... projection
    discriminator (Miyato & Koyama 2018), one-hot conditioned", a sentence cut where it wrapped."""
    from genbench.listing import describe

    class Wrapped:
        """A model whose first sentence wraps
        over two lines, ``literal`` included.

        Details a listing does not show."""

    assert describe(Wrapped) == "A model whose first sentence wraps over two lines, `literal` included."
    import genbench

    models = {e.name: e for e in genbench.registered()["models"]}
    assert models["gan-cond"].description.endswith("gan-ns's non-saturating loss and training.")
