"""A metric plugin's bug is that metric's error, not the model's nor the run's; the values it returns
are checked (a name taken, undeclared, not a finite number) and its declarations at registration.
In-process plugins, registered for one test only."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest
import torch
from plugin_helpers import (  # tests/ is on the path: pytest puts it there
    _Metric,
    _PluginStop,
    read_strict,
    run_ring8,
)

import genbench
from genbench import registry
from genbench.board_csv import to_csv_frame
from genbench.leaderboard import aggregate, results_frame
from genbench.results import RESERVED_METRIC_KEYS, Result, load_result


def test_a_metric_whose_applies_to_raises_is_that_metrics_error_not_the_models(register, tmp_path, cache_dir):
    class AppliesRaises(_Metric):
        def applies_to(self, ctx):
            raise RuntimeError("applies_to is broken")

    register(registry.metrics, "test-applies-raises", AppliesRaises)
    results = run_ring8(tmp_path, cache_dir, metrics=["test-applies-raises", "fid"])
    for r in results.values():
        assert r.status == "ok", r.error
        assert r.metrics["fid"] > 0
        assert "applies_to is broken" in r.metric_errors["test-applies-raises"]


def test_a_metric_that_calls_sys_exit_is_that_metrics_error(register, tmp_path, cache_dir):
    """sys.exit in a metric's compute or applies_to ended the whole run, every model's result unwritten."""

    class Exits(_Metric):
        def compute(self, ctx):
            raise SystemExit("metric gave up")

    class AppliesExits(_Metric):
        def applies_to(self, ctx):
            raise SystemExit(3)

    register(registry.metrics, "test-exits", Exits)
    register(registry.metrics, "test-applies-exits", AppliesExits)
    results = run_ring8(tmp_path, cache_dir, metrics=["test-exits", "test-applies-exits", "fid"])
    for r in results.values():
        assert r.status == "ok" and r.metrics["fid"] > 0, r.error
        assert "metric gave up" in r.metric_errors["test-exits"]
        assert set(r.metric_error_kinds.values()) == {"plugin"}
        assert "SystemExit" in r.metric_errors["test-applies-exits"]


@pytest.mark.parametrize("error", [RuntimeError, SystemExit, _PluginStop])  # the last two ended the run
def test_a_metric_whose_init_raises_is_skipped_with_one_warning_when_not_named(
    register, tmp_path, cache_dir, capsys, error
):
    class InitRaises(_Metric):
        def __init__(self):
            raise error("cannot start")

    register(registry.metrics, "test-init-raises", InitRaises)
    results = run_ring8(tmp_path, cache_dir)
    assert all(r.status == "ok" and "fid" in r.metrics for r in results.values())
    assert all("test-init-raises" not in r.metric_errors for r in results.values())
    warned = [ln for ln in capsys.readouterr().err.splitlines() if "test-init-raises" in ln]
    assert len(warned) == 1 and "cannot start" in warned[0] and "genbench-test-plugin" in warned[0]


def test_a_metric_whose_check_options_raises_fails_in_one_line(register, cli, tmp_path, cache_dir):
    class CheckRaises(_Metric):
        options: ClassVar[dict[str, object]] = {"k": 3}

        def check_options(self, options):
            raise KeyError("bug")

    register(registry.metrics, "test-check-raises", CheckRaises)
    args = [
        "--models",
        "copy",
        "--dataset",
        "ring8",
        "--samples",
        "200",
        "--metrics",
        "fid,test-check-raises",
    ]
    args += ["--metric-option", "test-check-raises.k=4"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress", *args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "raised KeyError checking its options" in errors[0], r.stderr
    assert not (tmp_path / "runs" / "ring8").exists()  # failed before any work


def test_a_metric_whose_init_raises_fails_in_one_line_when_named(register, cli, tmp_path, cache_dir):
    class InitRaises(_Metric):
        def __init__(self):
            raise RuntimeError("cannot start")

    register(registry.metrics, "test-init-raises", InitRaises)
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "200", "--metrics", "fid,test-init-raises"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--no-progress", *args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and not isinstance(r.exception, RuntimeError)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert (
        len(errors) == 1
        and "test-init-raises" in errors[0]
        and "drop test-init-raises from --metrics" in errors[0]
    )
    assert not (tmp_path / "runs" / "ring8").exists()  # failed before any work


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (
            {"fid": False, "clobber_own": False},
            "value names genbench's own metrics write: 'fid' (genbench's 'fid')",
        ),
        ({"seed": True}, "value names that are a result's columns: 'seed'; name its values otherwise"),
    ],
)
def test_a_metric_declaring_another_metrics_value_or_a_result_column_fails_at_registration(declared, message):
    """Declared, the name was refused only at run time, at every value the metric returned."""
    from genbench.errors import RegistrationError

    class Clobber(_Metric):
        higher_is_better: ClassVar[dict[str, bool]] = declared

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError, match=re.escape(f"metric 'test-clobber' declares {message}")):
        fresh.add("test-clobber", Clobber)


def test_a_metric_key_taken_by_another_metric_or_a_result_column_is_that_metrics_error(
    register, tmp_path, cache_dir
):
    """Returned without being declared: the run refuses those values, as that metric's error."""

    class Clobber(_Metric):
        higher_is_better: ClassVar[dict[str, bool]] = {}

        def compute(self, ctx):
            return {"fid": 0.0, "seed": 99.0, "clobber_own": 1.0}

    register(registry.metrics, "test-clobber", Clobber)
    # listed first: the built-in's value wins whatever the order the metrics run in
    results = run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["test-clobber", "fid"])
    r = results["gaussian"]
    assert r.status == "ok" and r.metrics["fid"] > 0
    assert "seed" not in r.metrics and r.metrics["clobber_own"] == 1.0  # its other values are kept
    why = r.metric_errors["test-clobber"]
    assert "'fid'" in why and "'seed'" in why and "rename" in why
    assert "fid" not in r.metric_errors
    frame = results_frame([load_result(tmp_path / "runs/ring8/gaussian/seed0.json")])
    assert frame["seed"].tolist() == [0] and frame["fid"].iloc[0] > 0


def test_a_metric_value_not_declared_in_higher_is_better_is_kept_and_said_once(
    register, tmp_path, cache_dir, capsys
):
    """It was kept without a word, and the board showed it unranked, its missing cells unexplained:
    a plugin author who forgot to declare it did not learn why."""

    class Undeclared(_Metric):
        higher_is_better: ClassVar[dict[str, bool]] = {"declared_value": False}

        def compute(self, ctx):
            return {"declared_value": 1.0, "forgotten_value": 2.0}

    register(registry.metrics, "test-undeclared", Undeclared)
    results = run_ring8(tmp_path, cache_dir, models=("copy", "gaussian"), metrics=["test-undeclared", "fid"])
    assert all(r.status == "ok" and r.metrics["forgotten_value"] == 2.0 for r in results.values())
    said = [ln for ln in capsys.readouterr().err.splitlines() if "higher_is_better" in ln]
    assert len(said) == 1, said  # two models: once a run
    assert "'test-undeclared' returned 'forgotten_value' without declaring" in said[0]
    assert "declared_value" not in said[0]


def test_reserved_metric_keys_cover_every_column_the_leaderboard_adds():
    """A new identity column in results_frame must be reserved too, or a metric could overwrite it."""
    r = Result(model="m", dataset="d", seed=0, variant="v", protocol={"features": {"name": "raw"}})
    r.timings["train_s"] = 1.0  # a metric key (throughput's): not an identity column
    r.metrics["fid"] = 1.0  # so that aggregate ranks
    frame = results_frame([r])
    identity = set(frame.columns) - {"train_s", "fid"}
    assert identity <= RESERVED_METRIC_KEYS
    board = set(aggregate(frame).columns) - {"train_s", "fid", "train_s_std", "fid_std"}
    assert board <= RESERVED_METRIC_KEYS
    # and the CSV's own (failed_seed_errors is made there, from the board's failed seeds)
    csv = set(to_csv_frame(aggregate(frame)).columns) - {"train_s", "fid", "train_s_std", "fid_std"}
    assert csv <= RESERVED_METRIC_KEYS


def test_a_metric_returning_nan_writes_valid_json_that_reports(register, tmp_path, cache_dir):
    class ReturnsNaN(_Metric):
        def compute(self, ctx):
            return {
                "nan_value": float("nan"),
                "inf_value": float("inf"),
                # float() of these raised past the check, and the metric's good values were lost with
                # them; a string or a bool was kept as a number
                "huge_value": 10**400,
                "meta_value": torch.tensor(1.0, device="meta"),
                "text_value": "1.5",
                "bool_value": True,
                "finite_value": 2.0,
                "tensor_value": torch.tensor(3.0),
            }

    register(registry.metrics, "test-nan", ReturnsNaN)
    results = run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["test-nan", "fid"])
    path = tmp_path / "runs/ring8/gaussian/seed0.json"
    written = read_strict(path)
    assert written["status"] == "ok" and written["metrics"]["finite_value"] == 2.0
    assert written["metrics"]["tensor_value"] == 3.0
    bad = ("nan_value", "inf_value", "huge_value", "meta_value", "text_value", "bool_value")
    assert not set(bad) & set(written["metrics"])
    for key in bad:
        assert f"returned {key!r}" not in written["metric_errors"]["test-nan"]  # not a column's name
        assert f"for {key!r}, not a finite number" in written["metric_errors"]["test-nan"], key
    assert load_result(path).metric_errors == results["gaussian"].metric_errors
    boards = genbench.report(tmp_path / "runs", tmp_path / "boards")
    assert "gaussian" in boards["ring8"]


def test_a_plugin_metric_has_a_table_on_the_board_with_the_arrows_it_declares(register, tmp_path, cache_dir):
    class Errors(_Metric):
        higher_is_better: ClassVar[dict[str, bool | None]] = {"test_error": False, "test_temperature": None}

        def compute(self, ctx):
            return {"test_error": 0.25, "test_temperature": 2.0}

    register(registry.metrics, "test-errors", Errors)
    run_ring8(tmp_path, cache_dir, models=("gaussian",), metrics=["fid", "test-errors"])
    board = genbench.report(tmp_path / "runs", tmp_path / "boards")["ring8"]
    table = board.split("## Other metrics", 1)[1]  # it was only in the CSV
    header = next(line for line in table.splitlines() if "test_error" in line)
    assert "test_error ↓" in header  # lower is better: no longer shown as ↑
    assert "test_temperature |" in header.replace("  ", " ")  # no direction: no arrow
    assert "0.25" in table


@pytest.mark.parametrize("declared", [{"x": "lower"}, {"x": 1}, {"": True}, ["x"]])
def test_a_metric_whose_directions_are_not_true_false_or_none_fails_at_registration(declared):
    from genbench.errors import RegistrationError

    class Declared(_Metric):
        higher_is_better = declared  # type: ignore[assignment]

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError, match="map each value name to True"):
        fresh.add("test-declared", Declared)


@pytest.mark.parametrize("words", [{"j": ("inf",)}, {"k": "inf"}, {"k": ()}, {"k": ("",)}, ["inf"]])
def test_option_words_of_an_undeclared_option_or_not_a_tuple_of_words_fail_at_registration(words):
    """``option_words`` names a declared option and the words (non-empty text) it takes."""
    from genbench.errors import RegistrationError

    class Declared(_Metric):
        options = {"k": 3}
        option_words = words  # type: ignore[assignment]

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError, match=r"declares option_words = .*map a declared option's name"):
        fresh.add("test-words", Declared)


@pytest.mark.parametrize("declared", [["k"], None, "k", {1: 3}, {"": 3}])
def test_a_metric_whose_options_are_not_a_dict_of_names_fails_at_registration(declared):
    """Options declared as a list passed registration, then every model failed with an error that
    blamed the model."""
    from genbench.errors import RegistrationError

    class Declared(_Metric):
        options = declared  # type: ignore[assignment]

    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(
        RegistrationError, match=r"metric 'test-options' declares options = .*map each option name"
    ):
        fresh.add("test-options", Declared)
    assert "test-options" not in fresh
