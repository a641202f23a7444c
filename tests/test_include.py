"""`--include PATH` (``RunConfig.include``): plugins from a Python file, for the CLI, without packaging.
A class decorated with ``@genbench.register_model`` in a file reached the Python API only: `genbench
run`, another process, saw entry points alone, so a researcher iterating on one file had to write a
pyproject and `pip install -e` it first."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there

import genbench
from genbench import registry
from genbench.config import RunConfig
from genbench.errors import GenbenchError
from genbench.results import load_result

PLUGIN = '''
from dataclasses import dataclass

import torch

import genbench
from genbench.metrics.base import Metric
from include_helper import SCALE  # beside this file: importable as `python plugin.py` has it


@genbench.register_model("{model}")
class Fitted(genbench.GenerativeModel):
    """A Gaussian per dimension, fitted to the data."""

    @dataclass
    class Config:
        scale: float = SCALE

    def fit(self, train, ctx):
        flat = train.flatten(1)
        self.mean, self.std = flat.mean(0), flat.std(0) * self.config.scale
        return {{}}

    def sample(self, n, *, generator):
        z = torch.randn(n, self.mean.numel(), generator=generator, device=generator.device)
        return (self.mean + self.std * z).reshape(n, *self.spec.shape)

    def state_dict(self):
        return {{"mean": self.mean, "std": self.std}}

    def load_state_dict(self, state):
        self.mean, self.std = state["mean"], state["std"]


@genbench.register_metric("{metric}")
class Spread(Metric):
    """Mean absolute sample value."""

    higher_is_better = {{"include_spread": False}}
    reference = "none"

    def compute(self, ctx):
        return {{"include_spread": float(ctx.samples.abs().mean())}}
'''


def plugin(
    folder: Path, name: str = "plugin.py", model: str = "inc-model", metric: str = "inc-metric"
) -> Path:
    """A plugin file registering ``model`` and ``metric``, with the helper module it imports beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "include_helper.py").write_text("SCALE = 1.0\n")
    path = folder / name
    path.write_text(PLUGIN.format(model=model, metric=metric))
    return path


pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py


def listed(*args: object):
    """`genbench list ARGS` on a terminal wide enough for a table row's every cell, whole."""
    from typer.testing import CliRunner

    from genbench.cli.main import app

    return CliRunner().invoke(app, ["list", *(str(a) for a in args)], env={"COLUMNS": "250"})


def ring8_args(tmp_path: Path, cache: Path, *extra: object) -> list[object]:
    return [
        "run", "--dataset", "ring8", "--samples", "200", "--out", tmp_path / "runs", "--cache-dir", cache,
        "--device", "cpu", "--no-figures", "--no-progress", *extra,
    ]  # fmt: skip


def test_run_include_runs_a_files_model_and_metric_and_records_the_file(cli, tmp_path, cache_dir):
    path = plugin(tmp_path / "research")
    r = cli(*ring8_args(tmp_path, cache_dir, "--include", path, "--models", "inc-model,gaussian",
                        "--metrics", "fid,inc-metric"))  # fmt: skip
    assert r.exit_code == 0, r.output
    result = load_result(tmp_path / "runs/ring8/inc-model/seed0.json")
    assert result.status == "ok" and {"fid", "include_spread"} <= set(result.metrics)
    # what ran: the file and its content's digest, for the model and for the metric
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    env = result.environment
    assert env["model_file"] == str(path.resolve()) and env["model_file_sha256"] == digest
    assert env["model_distribution"] is None
    assert env["metric_sources"]["inc-metric"]["file_sha256"] == digest
    builtin = load_result(tmp_path / "runs/ring8/gaussian/seed0.json").environment
    assert "model_file" not in builtin  # nothing new is recorded of any other class

    r = cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards", "--include", path)
    assert r.exit_code == 0, r.output
    csv = pd.read_csv(tmp_path / "boards/ring8.csv").set_index("model")
    assert csv.loc["inc-model", "model_source"] == f"plugin.py sha256 {digest[:12]}"
    assert "- inc-model: plugin.py sha256" in r.stdout.split("## Models from other packages")[1]


def test_report_include_gives_a_files_metric_its_arrow(cli, tmp_path):
    """The board reads which way a plugin metric is better from its class: results record its values,
    not its ``higher_is_better``. Without the file the column has no arrow."""
    from genbench.metric_columns import _declared
    from genbench.results import Result

    Result(
        model="gaussian",
        dataset="ring8",
        seed=0,
        protocol={"num_samples": 200, "reference_split": "train", "metric_versions": {"inc-metric2": 1}},
        metrics={"fid": 0.5, "include_spread": 0.25},
    ).write(tmp_path / "runs")
    path = plugin(tmp_path / "research", model="inc-model2", metric="inc-metric2")
    _declared.cache_clear()
    bare = cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards")
    assert bare.exit_code == 0, bare.output
    assert "include_spread ↓" not in bare.stdout and "include_spread" in bare.stdout
    r = cli("report", "--out", tmp_path / "runs", "--leaderboards", tmp_path / "boards", "--include", path)
    assert r.exit_code == 0, r.output
    assert "include_spread ↓" in r.stdout


def test_a_folder_include_imports_its_py_files_in_name_order_not_its_subfolders(cli, tmp_path):
    folder = tmp_path / "plugins"
    plugin(folder, "b_second.py", model="inc-b", metric="inc-b-metric")
    plugin(folder, "a_first.py", model="inc-a", metric="inc-a-metric")
    (folder / "notes.txt").write_text("not python")
    (folder / "old").mkdir()
    (folder / "old" / "broken.py").write_text("raise RuntimeError('a subfolder is not imported')\n")
    r = listed("models", "--include", folder)
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") > 2}
    assert {"inc-a", "inc-b"} <= set(rows)
    # the helper is a module, so it is imported too (and registers nothing)
    assert "a_first.py" in rows["inc-a"] and "b_second.py" in rows["inc-b"]

    # the order: the second file taking the first's name fails, naming the first as the owner
    plugin(folder, "c_third.py", model="inc-a", metric="inc-c-metric")
    error = single_line_error(listed("models", "--include", folder))
    assert "c_third.py, line" in error and "already registered by" in error and "a_first.py" in error


def test_list_include_shows_the_files_names_with_the_file_as_source(cli, tmp_path):
    path = plugin(tmp_path / "research")
    r = listed("--include", path)
    assert r.exit_code == 0, r.output
    for name in ("inc-model", "inc-metric"):
        row = next(line for line in r.stdout.splitlines() if f"│ {name} " in line)
        assert str(path) in row
    assert "Gaussian per dimension" in r.stdout


def test_list_marks_a_files_opt_in_metric_as_the_builtin_ones(cli, tmp_path):
    """A metric with ``runs_by_default = False`` runs only when --metrics names it; `genbench list`
    said so of no metric (the built-ins' descriptions spelled it out by hand), so a plugin's was left
    out of every default run without a word. The listing derives it from the class, for every one."""
    path = plugin(tmp_path / "research")
    path.write_text(
        path.read_text().replace('reference = "none"', 'reference = "none"\n    runs_by_default = False')
    )
    r = listed("metrics", "--include", path)
    assert r.exit_code == 0, r.output
    rows = {ln.split("│")[1].strip(): ln for ln in r.stdout.splitlines() if ln.startswith("│")}
    assert "opt-in (only with --metrics inc-metric): Mean absolute sample value." in rows["inc-metric"]
    for name in ("fid_inf", "is_inf", "sfid"):
        assert f"opt-in (only with --metrics {name}): " in rows[name], rows[name]
    assert "opt-in" not in rows["fid"] and "opt-in" not in rows["kid"]
    entries = {e.name: e for e in genbench.registered("metrics", include=[path])["metrics"]}
    assert entries["inc-metric"].opt_in and entries["sfid"].opt_in and not entries["fid"].opt_in


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing.py", ["missing.py: no such file or folder", "pass the path of a .py file"]),
        (lambda d: _write(d / "notes.txt", "x"), ["notes.txt is not a .py file", "pass a Python file"]),
        (lambda d: _mkdir(d / "empty"), ["empty: the folder has no .py file"]),
        (
            lambda d: _write(d / "typo.py", "import genbench\n\ndef f(:\n    pass\n"),
            ["typo.py, line 3: SyntaxError: invalid syntax", "fix the file, or leave out --include"],
        ),
        (
            lambda d: _write(d / "raises.py", "import genbench\nx = 1\nraise RuntimeError('no GPU here')\n"),
            ["raises.py, line 3: RuntimeError: no GPU here", "fix the file"],
        ),
        (
            lambda d: _write(d / "imports.py", "import os\nimport no_such_module_xyz\n"),
            ["imports.py, line 2: ModuleNotFoundError: No module named 'no_such_module_xyz'"],
        ),
    ],
)
@pytest.mark.parametrize("command", ["run", "list"])
def test_a_wrong_include_is_one_line_exit_2_before_any_work(cli, tmp_path, make, expected, command):
    path = make(tmp_path)
    args = ring8_args(tmp_path, tmp_path / "cache", "--models", "gaussian") if command == "run" else ["list"]
    error = single_line_error(cli(*args, "--include", path))
    for words in expected:
        assert words in error, error
    assert not (tmp_path / "runs").exists()  # nothing ran


def test_a_results_folder_given_to_report_include_names_out(cli, tmp_path):
    """`report --include runs2`, meant as one more folder of results, said "the folder has no .py
    file; pass a plugin's .py file", which named neither what the folder is nor --out."""
    from genbench.results import Result

    for out in ("runs", "runs2"):
        Result(model="m", dataset="ring8", seed=0, metrics={"fid": 1.0}).write(tmp_path / out)
    runs2 = tmp_path / "runs2"
    error = single_line_error(cli("report", "--out", tmp_path / "runs", "--include", runs2))
    assert f"--include {runs2}: the folder holds results, not plugin code" in error, error
    assert f"--out {runs2} --leaderboards DIR" in error
    assert not (tmp_path / "runs/leaderboards").exists()  # nothing written


@pytest.mark.parametrize("command", ["eval", "stats", "report"])
def test_every_command_that_resolves_names_takes_include(cli, tmp_path, command):
    path = _write(tmp_path / "raises.py", "import genbench\nraise RuntimeError('no GPU here')\n")
    args = {
        "eval": ["eval", "--samples", tmp_path / "s.npz", "--dataset", "ring8", "--out", tmp_path / "runs"],
        "stats": ["stats", "--out", tmp_path / "s.npz", "--dataset", "ring8"],
        "report": ["report", "--out", tmp_path / "runs"],
    }[command]
    error = single_line_error(cli(*args, "--include", path))
    assert "raises.py, line 2: RuntimeError: no GPU here" in error


def test_a_files_class_taking_a_builtins_name_fails_as_any_registration(cli, tmp_path):
    path = plugin(tmp_path / "research", model="gaussian")
    error = single_line_error(cli("list", "--include", path))
    assert "plugin.py, line 11: model 'gaussian' is already registered by genbench" in error
    assert "choose another name" in error


def test_a_files_metric_declaring_a_builtin_metrics_value_fails_at_registration(cli, tmp_path):
    """A metric declaring ``kid`` (built-in KID's value) had each of its values refused at run time,
    and a board that read its class lost FID's and KID's column notes: refused where it registers."""
    text = (
        "import genbench\nfrom genbench.metrics.base import Metric\n\n\n"
        '@genbench.register_metric("my-kid")\nclass MyKid(Metric):\n'
        '    higher_is_better = {"kid": False, "my_other": False}\n\n'
        "    def compute(self, ctx):\n        return {}\n"
    )
    path = _write(tmp_path / "mykid.py", text)
    error = single_line_error(cli("list", "--include", path))
    assert "mykid.py, line 5: metric 'my-kid' declares value names genbench's own metrics write: " in error
    assert "'kid' (genbench's 'kid'); name its values otherwise (e.g. 'my_kid')" in error


def test_the_api_field_runs_the_file_and_an_edit_trains_anew(tmp_path):
    """``RunConfig.include`` is ``--include``. The checkpoint key hashes the file's content: an edit
    to ``fit`` loaded the checkpoint of the code before, silently (the key had the name, ``version``,
    config and seed only); the same content loads it. In one process the edited file is imported
    again, its class replacing the one before."""
    path = plugin(tmp_path / "research")
    config = RunConfig(
        models=["inc-model"], dataset="ring8", samples=200, metrics=["fid"], out=tmp_path / "runs",
        cache_dir=tmp_path / "cache", device="cpu", figures=False, progress=False, include=[path],
    )  # fmt: skip
    first = genbench.run(config)[0]
    assert first.status == "ok" and first.training["loaded"] is False
    again = genbench.run(config)[0]
    assert again.training["loaded"] is True and again.training["checkpoint"] == first.training["checkpoint"]

    path.write_text(path.read_text().replace("flat.std(0) * self.config.scale", "flat.std(0) * 0.5"))
    edited = genbench.run(config)[0]
    assert edited.status == "ok" and edited.training["loaded"] is False
    assert edited.training["checkpoint"] != first.training["checkpoint"]
    assert edited.environment["model_file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert edited.metrics["fid"] != first.metrics["fid"]  # the edited code ran

    listed = genbench.registered("models", include=[path])["models"]
    assert next(e for e in listed if e.name == "inc-model").source == str(path)
    # its module is in sys.modules: what pickling (and dataclasses) look a class's module up in
    config_class = registry.models.get("inc-model").Config
    assert pickle.loads(pickle.dumps(config_class(scale=2.0))) == config_class(scale=2.0)


@pytest.mark.parametrize("value", ["plugin.py", [3]])
def test_the_api_field_takes_a_list_of_paths(tmp_path, value):
    config = RunConfig(models=["gaussian"], dataset="ring8", out=tmp_path / "runs", include=value)
    with pytest.raises(GenbenchError, match=r"RunConfig.include must be a list .*e.g. \['my_model.py'\]"):
        genbench.run(config)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


FEATURES = '''
import genbench
from genbench.features.base import FeatureExtractor


@genbench.register_features("inc-features")
class Scaled(FeatureExtractor):
    """The coordinates, scaled."""

    supported_kinds = ("points",)
    takes_weights = False

    def fingerprint(self):
        return "inc-features-v1"  # left as it is when the file is edited, as a researcher does

    def _extract_batch(self, x):
        return x.reshape(len(x), -1) * {scale}, None
'''


def test_an_edited_files_features_are_not_read_from_the_cache_of_the_code_before(tmp_path):
    """The reference features are cached under the extractor's ``fingerprint()``, which an edit to
    the file leaves as it was: the edited extractor's statistics (and every FID against them) were
    the cached ones of the code before, silently. The file's content keys them, as it keys a
    model's checkpoint."""
    import numpy as np

    path = tmp_path / "research" / "features.py"
    path.parent.mkdir()
    config = RunConfig(
        dataset="ring8", features="inc-features", cache_dir=tmp_path / "cache", device="cpu",
        progress=False, include=[path],
    )  # fmt: skip
    path.write_text(FEATURES.format(scale=1.0))
    genbench.stats(tmp_path / "before.npz", config)
    path.write_text(FEATURES.format(scale=3.0))
    genbench.stats(tmp_path / "after.npz", config)

    before, after = np.load(tmp_path / "before.npz"), np.load(tmp_path / "after.npz")
    np.testing.assert_allclose(after["sigma"], 9 * before["sigma"], rtol=1e-5)
    made = [json.loads(str(np.load(tmp_path / f"{n}.npz")["genbench"])) for n in ("before", "after")]
    fingerprints = [m["features"]["fingerprint"] for m in made]
    assert fingerprints[0] != fingerprints[1] and all(f.startswith("inc-features-v1;") for f in fingerprints)
