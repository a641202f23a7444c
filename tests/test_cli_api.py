"""The Python API (`genbench.run`, `evaluate`, `stats`, `registered`) checks its input as the CLI does, in
one line naming the fix, and leaves the caller's state as it was.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import genbench
from genbench import GenbenchError, RunConfig
from genbench.cli.main import app
from genbench.results import find_results


def test_the_python_api_refuses_a_named_metric_that_cannot_handle_the_data(tmp_path, cache_dir):
    import genbench

    config = genbench.RunConfig(
        models=["copy"],
        dataset="ring8",
        metrics=["fid", "is"],
        out=tmp_path,
        cache_dir=cache_dir,
        progress=False,
    )
    expected = r"metric 'is' does not apply to points data \(ring8\); drop it from --metrics"
    with pytest.raises(GenbenchError, match=expected):
        genbench.run(config)
    with pytest.raises(GenbenchError, match=expected):
        genbench.evaluate(np.zeros((20, 2), np.float32), config)
    assert not find_results(tmp_path)


@pytest.mark.parametrize(
    "field, value, expected",
    [
        # a string where a list goes was read one character at a time
        ("models", "ddpm", "RunConfig.models must be a list of model names, e.g. ['ddpm'], got 'ddpm'"),
        ("metrics", "fid", "RunConfig.metrics must be a list of metric names"),
        (
            "metrics",
            [],
            "RunConfig.metrics must be a list of metric names, or None for every metric that applies, e.g. ['fid'], got []",
        ),
        ("overrides", "ddim.steps=10", "RunConfig.overrides must be a list of MODEL.FIELD=VALUE strings"),
        ("metric_options", "fid.backend=clean-fid", "RunConfig.metric_options must be a list of METRIC.KEY"),
        ("seeds", 0, "RunConfig.seeds must be a list of integers, e.g. [0, 1, 2], got 0"),  # "no seeds given"
        ("samples", "100", "RunConfig.samples must be an integer"),  # TypeError tracebacks
        ("batch_size", "100", "RunConfig.batch_size must be an integer, e.g. 500, got '100'"),
        ("checkpoint_every", "5", "RunConfig.checkpoint_every must be an integer"),
        (
            "checkpoint_minutes",
            "30",
            "RunConfig.checkpoint_minutes must be a number (minutes), e.g. 30, got '30'",
        ),
        # a non-empty string is true: retrain="no" retrained
        ("retrain", "no", "RunConfig.retrain must be True or False, got 'no'"),
        ("amp", 0, "RunConfig.amp must be True or False, got 0"),
        ("figures", "no", "RunConfig.figures must be True or False"),
        ("progress", None, "RunConfig.progress must be True or False"),
        # these raised TypeError tracebacks from torch.device(None) or Path(None)
        ("device", None, "RunConfig.device must be a string, e.g. 'auto', 'cpu' or 'cuda:0', got None"),
        ("out", None, "RunConfig.out must be a path, e.g. 'runs', got None"),
        ("data_dir", 3, "RunConfig.data_dir must be a path or None, got 3"),
        ("cache_dir", 3, "RunConfig.cache_dir must be a path or None, got 3"),
        ("reference_stats", 3, "RunConfig.reference_stats must be a path or None, got 3"),
        ("reference_split", None, "RunConfig.reference_split must be a split name"),
    ],
)
def test_the_python_api_names_the_runconfig_field_of_the_wrong_type(
    tmp_path, cache_dir, field, value, expected
):
    import genbench

    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=20, out=tmp_path, cache_dir=cache_dir, progress=False
    )
    setattr(config, field, value)
    with pytest.raises(GenbenchError) as e:
        genbench.run(config)
    assert str(e.value).startswith(expected)
    if field not in (
        "models",
        "overrides",
        "samples",
        "checkpoint_every",
        "checkpoint_minutes",
        "retrain",
        "amp",
    ):  # eval reads it too
        with pytest.raises(GenbenchError) as e:
            genbench.evaluate(np.zeros((20, 2), np.float32), config)
        assert str(e.value).startswith(expected)
    assert not find_results(tmp_path)


@pytest.mark.parametrize("spatial", [0, "no", np.bool_(False)])
def test_stats_refuses_a_spatial_that_is_no_bool_as_the_cli_does(tmp_path, cache_dir, spatial):
    """`genbench stats` takes --spatial or --no-spatial; ``genbench.stats(path, config, spatial=0)``
    (or "no") was read by truth where the code asks ``spatial is False``: under inception features
    sfid's statistics were written all the same, under others 0 passed and "no" failed as
    "--spatial needs --features inception"."""
    config = genbench.RunConfig(dataset="ring8", cache_dir=cache_dir, progress=False)
    with pytest.raises(GenbenchError) as e:
        genbench.stats(tmp_path / "s.npz", config, spatial=spatial)
    assert (
        str(e.value)
        == f"spatial must be True, False or None (by default: under inception features), got {spatial!r}"
    )
    assert not (tmp_path / "s.npz").exists()


def test_evaluate_refuses_an_empty_seed_list(tmp_path, cache_dir):
    """``evaluate(x, RunConfig(seeds=[]))`` scored under seed 0 without a word; `run` refuses it."""
    import genbench

    config = genbench.RunConfig(dataset="digits", out=tmp_path, cache_dir=cache_dir, progress=False, seeds=[])
    x = np.random.default_rng(0).integers(0, 256, (30, 8, 8), np.uint8)
    with pytest.raises(GenbenchError, match=r"^no seed given; pass one, e.g. --seed 0$"):
        genbench.evaluate(x, config)
    assert not find_results(tmp_path)


def test_evaluate_refuses_an_unknown_reference_split_that_no_metric_reads(tmp_path, cache_dir):
    """``evaluate(x, RunConfig(reference_split="val", metrics=["is"]))`` scored, warning that the split
    "val" was not used; with a result there already, it said that result was "at reference train,
    which this evaluation at reference val would replace" and to pass another name."""
    import genbench

    x = np.random.default_rng(0).integers(0, 256, (30, 8, 8), np.uint8)
    config = genbench.RunConfig(dataset="digits", out=tmp_path, cache_dir=cache_dir, progress=False)
    config.figures = False
    genbench.evaluate(x, config)
    for metrics in (["is"], ["fid"]):
        config.metrics, config.reference_split = metrics, "val"
        with pytest.raises(GenbenchError, match="unknown split 'val'; use --reference-split train or test"):
            genbench.evaluate(x, config, name=f"other-{metrics[0]}")
        with pytest.raises(GenbenchError, match="unknown split 'val'; use --reference-split train or test"):
            genbench.evaluate(x, config)
    assert [p.parent.name for p in find_results(tmp_path)] == ["samples"]


def test_the_python_api_names_a_wrong_argument_in_one_line(tmp_path):
    """``run(None)``, ``run({...})``, ``evaluate(x, None)``, ``evaluate(..., name=5)``, ``stats(p, None)``
    and ``report(None)`` raised AttributeError or TypeError from deep inside."""
    import typing

    import genbench

    x = np.zeros((20, 2), np.float32)
    for call, expected in (
        (lambda: genbench.run(None), "run takes a genbench.RunConfig, got NoneType; build one"),
        (lambda: genbench.run({"models": ["copy"]}), "run takes a genbench.RunConfig, got dict"),
        (lambda: genbench.evaluate(x, None), "evaluate takes a genbench.RunConfig, got NoneType"),
        (lambda: genbench.stats(tmp_path / "s.npz", None), "stats takes a genbench.RunConfig"),
        (lambda: genbench.report(None), "out must be a str, a Path or a list of them, got NoneType"),
        (
            lambda: genbench.report(tmp_path, leaderboards=5),
            "leaderboards must be a str or a Path, got int",
        ),
    ):
        with pytest.raises(GenbenchError, match=expected):
            call()
    config = genbench.RunConfig(dataset="ring8", out=tmp_path, progress=False)
    with pytest.raises(GenbenchError, match="name must be a str"):
        genbench.evaluate(x, config, name=5)
    # what run and evaluate return is reachable, and their hints resolve
    assert genbench.Result.__name__ == "Result" and "Result" in genbench.__all__
    assert typing.get_type_hints(genbench.run)["return"] == list[genbench.Result]


def test_the_python_api_expands_a_home_directory_as_the_cli_does(tmp_path, cache_dir, monkeypatch):
    """``RunConfig(out="~/runs")`` wrote into ./~/runs, a folder named "~", where the CLI's
    ``--out ~/runs`` (quoted, or ``--out=~/runs``) wrote into the home directory."""
    import genbench

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=20, metrics=["fid"], out="~/runs", cache_dir=cache_dir
    )
    config.progress, config.figures = False, False
    genbench.run(config)
    assert (tmp_path / "home/runs/ring8/copy/seed0.json").is_file() and not (tmp_path / "~").exists()
    assert "ring8" in genbench.report("~/runs")
    assert (tmp_path / "home/runs/leaderboards").is_dir() and config.out == "~/runs"  # the caller's is kept
    # evaluate("~/s.npz") was "samples ~/s.npz not found", where `genbench eval --samples=~/s.npz` read it
    np.savez(tmp_path / "home/s.npz", samples=np.zeros((20, 2), np.float32))
    assert genbench.evaluate("~/s.npz", config).status == "ok"
    assert (tmp_path / "home/runs/ring8/s/seed0.json").is_file()
    genbench.stats("~/ring8.npz", config)
    assert (tmp_path / "home/ring8.npz").is_file()


def test_the_python_api_names_the_run_only_fields_that_evaluate_and_stats_ignore(tmp_path, cache_dir, capsys):
    """``genbench.evaluate(x, RunConfig(samples=5))`` scored all 20 samples without a word, and
    ``genbench.stats`` took a run's seeds and metrics as silently; the CLI sets none of them."""
    import genbench

    np.savez(tmp_path / "s.npz", samples=np.zeros((20, 2), np.float32))
    config = genbench.RunConfig(
        models=["copy"], dataset="ring8", samples=5, overrides=["vae.steps=1"], metrics=["fid"],
        out=tmp_path / "runs",
        cache_dir=cache_dir, progress=False, figures=False,
    )  # fmt: skip
    result = genbench.evaluate(tmp_path / "s.npz", config)
    err = capsys.readouterr().err
    assert result.status == "ok" and result.protocol["num_samples"] == 20
    assert "evaluate does not read RunConfig.models, RunConfig.samples, RunConfig.overrides" in err
    assert "pass samples[:N] to score fewer" in err
    genbench.stats(tmp_path / "ring8.npz", replace(config, seeds=[1], samples=None, overrides=[]))
    err = capsys.readouterr().err
    assert "stats does not read RunConfig.models, RunConfig.seeds, RunConfig.metrics, RunConfig.out" in err
    # what the CLI builds for eval and stats names nothing; neither does the API given only what they read
    for args in (
        ["eval", "--samples", str(tmp_path / "s.npz"), "--dataset", "ring8", "--metrics", "fid", "--out",
         str(tmp_path / "runs"), "--cache-dir", str(cache_dir), "--name", "again", "--no-figures"],
        ["stats", "--out", str(tmp_path / "again.npz"), "--dataset", "ring8", "--cache-dir", str(cache_dir)],
    ):  # fmt: skip
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0 and "does not read" not in r.output, r.output
    genbench.evaluate(tmp_path / "s.npz", replace(config, models=[], samples=None, overrides=[]), name="api")
    assert "does not read" not in capsys.readouterr().err


def test_evaluate_and_stats_refuse_runconfigs_default_dataset(tmp_path, cache_dir, monkeypatch):
    """`genbench eval` and `genbench stats` require --dataset; ``evaluate(x, RunConfig())`` scored
    the samples against digits, RunConfig's default for `run` (CIFAR-10's refused for their shape,
    "save samples at the dataset's shape"), and ``stats(p, RunConfig())`` wrote digits' statistics.
    Both name the field; a dataset given, digits too, is taken, and `run` keeps the default."""
    monkeypatch.chdir(tmp_path)
    config = RunConfig(metrics=["fid"], out=tmp_path / "runs", cache_dir=cache_dir, progress=False)
    config = replace(config, figures=False)  # replace keeps the default: still not given
    x = np.zeros((10, 32, 32, 3), np.uint8)  # CIFAR-10's shape
    for call, does, cli in (
        (lambda c: genbench.evaluate(x, c), "evaluate compares the samples with", "eval"),
        (lambda c: genbench.stats(tmp_path / "s.npz", c), "stats computes the statistics of", "stats"),
    ):
        with pytest.raises(GenbenchError) as e:
            call(config)
        assert str(e.value) == (
            f"{does} RunConfig.dataset, which was not given (its default, 'digits', is run's); pass "
            f"RunConfig(dataset=...), e.g. dataset='cifar10', as `genbench {cli}` requires --dataset"
        )
    assert not (tmp_path / "runs").exists() and not (tmp_path / "s.npz").exists()
    with pytest.raises(GenbenchError, match="but 'digits' expects"):  # given: taken, and checked
        genbench.evaluate(x, replace(config, dataset="digits"))
    assert config.dataset == "digits" and RunConfig() == RunConfig(dataset="digits")  # run's default


@pytest.mark.parametrize("seeds", [[-1], [0, 1.5], ["0"], [True], [2**32]])
def test_the_python_api_checks_seeds_as_the_cli_does(tmp_path, cache_dir, seeds):
    import genbench

    config = genbench.RunConfig(
        models=["copy"], dataset="digits", seeds=seeds, out=tmp_path, cache_dir=cache_dir, progress=False
    )
    with pytest.raises(GenbenchError, match=r"seeds must be integers from 0 to 2\*\*32-1"):
        genbench.run(config)
    with pytest.raises(GenbenchError, match=r"seeds must be integers from 0 to 2\*\*32-1"):
        genbench.evaluate(np.zeros((10, 8, 8), np.uint8), config)
    assert not find_results(tmp_path)


def test_the_python_api_takes_numpy_integers(tmp_path, cache_dir):
    """``seeds=list(np.arange(2))`` or ``samples=np.int64(20)`` (a sweep's values) were refused:
    "seeds must be integers ..., got 0,1", naming values that are integers."""
    import genbench

    config = genbench.RunConfig(
        models=["copy"],
        dataset="ring8",
        seeds=list(np.arange(2)),
        samples=np.int64(20),
        batch_size=np.int32(10),
        metrics=["fid"],
        out=tmp_path,
        cache_dir=cache_dir,
        progress=False,
        figures=False,
    )
    genbench.run(config)
    for seed in (0, 1):
        result = json.loads((tmp_path / f"ring8/copy/seed{seed}.json").read_text())
        assert result["status"] == "ok" and result["seed"] == seed
        assert result["protocol"]["num_samples"] == 20
    with pytest.raises(GenbenchError, match=r"seeds must be integers from 0 to 2\*\*32-1"):
        genbench.run(replace(config, seeds=[np.int64(-1)]))


@pytest.mark.parametrize("field", ["out", "cache_dir", "data_dir", "reference_stats", "inception_weights"])
def test_the_python_api_refuses_an_empty_path_as_the_cli_does(tmp_path, monkeypatch, field):
    monkeypatch.chdir(tmp_path)
    config = RunConfig(models=["copy"], dataset="ring8", samples=50, metrics=["fid"], progress=False)
    with pytest.raises(GenbenchError, match=f"^{field} is an empty path; pass a path"):
        genbench.run(replace(config, **{field: ""}))
    for call in (lambda: genbench.report(""), lambda: genbench.stats(" ", config)):
        with pytest.raises(GenbenchError, match="is an empty path"):
            call()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["run", "evaluate", "stats"])
def test_the_python_api_refuses_an_unknown_reference_split_as_the_cli_does(tmp_path, cache_dir, command):
    """``RunConfig(reference_split="val")`` was checked only where a split was read: `evaluate`
    against --reference-stats read none and scored with a warning that "--reference-split val is not
    used" (where `genbench eval --reference-split val` fails), and `run` said "use 'train' or 'test'"
    without the flag the CLI names."""
    from genbench.features.reference_stats import save_reference_stats

    save_reference_stats(tmp_path / "st.npz", np.zeros(2), np.eye(2))
    config = genbench.RunConfig(
        models=["gaussian"],
        dataset="ring8",
        samples=20,
        metrics=["fid"],
        reference_split="val",
        reference_stats=tmp_path / "st.npz",
        out=tmp_path / "o",
        cache_dir=cache_dir,
        progress=False,
        figures=False,
    )
    x = np.zeros((20, 2), np.float32)
    call = {
        "run": lambda: genbench.run(config),
        "evaluate": lambda: genbench.evaluate(x, replace(config, models=[], samples=None)),
        "stats": lambda: genbench.stats(
            tmp_path / "s.npz", replace(config, models=[], samples=None, metrics=None, reference_stats=None)
        ),
    }[command]
    with pytest.raises(GenbenchError) as e:
        call()
    assert str(e.value) == "unknown split 'val'; use --reference-split train or test"
    assert not list(tmp_path.rglob("*.json")) and not (tmp_path / "s.npz").exists()


def test_the_python_api_leaves_the_callers_global_state_as_it_was(tmp_path, cache_dir):
    """`run` reseeded the caller's global torch generator with each model's seed and left it so (a
    script's own draws after `run` depended on which models and seeds genbench ran), and `run` (a
    points dataset's scatter) and `report` switched the caller's matplotlib backend to Agg: a
    notebook's figures were no longer shown."""
    import matplotlib

    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        torch.manual_seed(123)
        state = torch.random.get_rng_state()
        config = genbench.RunConfig(
            models=["copy", "gaussian"],
            dataset="ring8",
            seeds=[0, 1],
            samples=20,
            metrics=["fid"],
            out=tmp_path,
            cache_dir=cache_dir,
            progress=False,
        )
        assert all(r.status == "ok" for r in genbench.run(config))
        assert torch.equal(torch.random.get_rng_state(), state) and torch.initial_seed() == 123
        assert "ring8" in genbench.report(tmp_path)
        genbench.evaluate(np.zeros((20, 2), np.float32), replace(config, models=[], samples=None, seeds=[0]))
        assert torch.equal(torch.random.get_rng_state(), state)
        assert matplotlib.get_backend() == "svg"
        assert (tmp_path / "ring8/figures").is_dir() and (tmp_path / "leaderboards/ring8").is_dir()
    finally:
        matplotlib.use(backend)


@pytest.mark.parametrize("kind", [5, ["models"]])
def test_the_python_api_names_a_registered_kind_that_is_no_name_in_one_line(kind):
    """``genbench.registered(5)`` raised TypeError from deep inside difflib, where every other API
    function names a wrong argument in one line."""
    with pytest.raises(GenbenchError, match="kind must be one of models, datasets, metrics or features"):
        genbench.registered(kind)


@pytest.mark.parametrize(
    "function, args",
    [
        ("registered", ()),
        ("report", ("runs",)),
        ("model_options", ("copy",)),
        ("metric_info", ("fid",)),
        ("dataset_info", ("ring8",)),
        ("feature_info", ("raw",)),
    ],
)
def test_an_include_argument_that_is_no_list_is_named_as_the_argument_it_was(tmp_path, function, args):
    """``genbench.registered(include="mine.py")`` said "RunConfig.include must be a list ...", a field
    of no RunConfig the caller had made: the functions that take ``include=`` name it so."""
    with pytest.raises(GenbenchError) as e:
        getattr(genbench, function)(*args, include=str(tmp_path / "mine.py"))
    assert str(e.value).startswith(
        "include must be a list of .py files or folders of them, e.g. ['my_model.py']"
    )
    with pytest.raises(GenbenchError, match=r"^RunConfig\.include must be a list of \.py files"):
        genbench.run(RunConfig(models=["copy"], include=str(tmp_path / "mine.py"), out=tmp_path))
