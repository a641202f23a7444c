"""`genbench report` where a metric plugin that made the results is not installed, or fails to load:
its columns lost their better-direction arrow without a word, while the board's sources section
still named its package. The report says so on stderr, once per metric, naming the fix."""

from __future__ import annotations

import re
import shutil
import sys
from typing import ClassVar

import pytest
from cli_helpers import run_args  # tests/ is on the path: pytest puts it there
from test_provenance import METRIC_MODULE, install

import genbench
from genbench import registry
from genbench.metrics.base import Metric
from genbench.results import Result

pytestmark = pytest.mark.usefixtures("fresh_registries")

DIST, NAME, MODULE = "genbench-hint-metric", "hint-score", "genbench_hint_metric_xyz"


def warnings_of(r) -> list[str]:
    assert r.exit_code == 0, r.output
    return [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]


def test_a_report_without_the_metric_plugin_that_made_the_results_says_to_install_it(
    cli, tmp_path, monkeypatch, cache_dir
):
    install(tmp_path, monkeypatch, registry.metrics, DIST, NAME, MODULE, METRIC_MODULE)
    out, boards = tmp_path / "runs", tmp_path / "boards"
    args = ["--models", "copy,gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", f"fid,{NAME}"]
    assert cli(*run_args(out, cache_dir, *args, "--no-figures")).exit_code == 0
    r = cli("report", "--out", out, "--leaderboards", boards)
    assert warnings_of(r) == []  # installed: nothing to say
    assert "provenance_score ↑" in (boards / "ring8.md").read_text()

    # uninstalled, as pip uninstalls it: its dist-info and module gone from the path
    shutil.rmtree(tmp_path / f"site-{DIST}")
    del registry.metrics._entries[NAME]
    del sys.modules[MODULE]
    r = cli("report", "--out", out, "--leaderboards", boards)
    assert warnings_of(r) == [
        f"warning: metric '{NAME}' ({DIST} 0.1, in the results) is not installed here: its columns are "
        f"shown without a better-direction arrow; pip install {DIST}"
    ]  # once, for the two rows of both seeds
    board = (boards / "ring8.md").read_text()
    assert "provenance_score" in board and "provenance_score ↑" not in board


BROKEN_MODULE = "raise ImportError('the plugin needs a newer torch')\n"


def test_a_metric_that_fails_to_load_is_said_broken_and_others_are_named_by_what_their_results_record(
    cli, tmp_path, monkeypatch
):
    """A plugin installed but failing to import is not "not installed"; a metric of an included file
    is fixed with --include, one whose code no result recorded (it failed on every seed) by either,
    and one of another genbench release by that release."""
    module = f"{MODULE}_broken"  # not the module the test above imported
    install(tmp_path, monkeypatch, registry.metrics, DIST, NAME, module, BROKEN_MODULE)
    included = tmp_path / "my_metric.py"
    sources = {
        NAME: {"class": f"{module}:Plugin", "distribution": DIST, "distribution_version": "0.1"},
        "file-score": {
            "class": "_genbench_include_1:FileScore",
            "distribution": None,
            "distribution_version": None,
            "file": str(included),
            "file_sha256": "ab" * 32,
        },
        "fid": {"class": "genbench.metrics.fid:FID", "distribution": "genbench", "distribution_version": "0"},
        # a metric of an older genbench, since removed
        "old-score": {
            "class": "genbench.metrics.old:Old",
            "distribution": "genbench",
            "distribution_version": "0",
        },
    }
    versions = {NAME: 1, "file-score": 1, "fid": 1, "lost-score": 1, "old-score": 1}
    out = tmp_path / "runs"
    Result(
        model="gaussian",
        dataset="ring8",
        seed=0,
        protocol={"num_samples": 100, "metric_versions": versions},
        metrics={"fid": 1.0, "hint_score": 1.0, "file_score": 2.0},
        environment={"metric_sources": sources},
    ).write(out)
    lost = "its columns are shown without a better-direction arrow"
    warned = warnings_of(cli("report", "--out", out, "--leaderboards", tmp_path / "boards"))
    assert warned[:2] == [
        f"warning: metric 'file-score' (my_metric.py sha256 {'ab' * 6}, in the results) is not installed "
        f"here: {lost}; pass --include {included}",
        f"warning: metric '{NAME}' ({DIST} 0.1, in the results) is installed here but fails to load: "
        f"{lost}; metric plugin '{NAME}' from {DIST} failed to import ({module}:Plugin): ImportError: "
        f"the plugin needs a newer torch; fix or uninstall {DIST}",
    ]
    assert warned[2:] == [
        f"warning: metric 'lost-score' is not installed here: {lost}; install its package, or pass "
        "--include the file that registers it",
        f"warning: metric 'old-score' (genbench 0, in the results) is not installed here: {lost}; this "
        f"genbench ({genbench.__version__}) has no such metric; report with genbench 0",
    ]


class HintScore(Metric):
    higher_is_better: ClassVar[dict[str, bool]] = {"hint_score": True}
    reference = "none"

    def compute(self, ctx):
        return {"hint_score": 1.0}


def test_a_seed_where_an_uninstalled_metric_failed_is_noted_in_its_columns_as_where_it_is_installed(
    cli, tmp_path, register
):
    """The board of a metric whose plugin is not installed had a column of the metric's own name
    ("hint-score": "error †") for the seed where it failed, whose note said the other seeds had "no
    value recorded", and its real column's note said the failed seed had none either, its error
    not theirs. Its columns are now read from the results: the board is the installed one's, but for
    the arrow."""
    out = tmp_path / "runs"
    source = {"class": f"{MODULE}:HintScore", "distribution": DIST, "distribution_version": "0.1"}
    for seed in (0, 1, 2):
        failed = seed == 1
        Result(
            model="gaussian",
            dataset="ring8",
            seed=seed,
            protocol={"num_samples": 100, "metric_versions": {"fid": 1, NAME: 1}},
            metrics={"fid": 1.0 + seed, **({} if failed else {"hint_score": 2.0 + seed})},
            metric_errors={NAME: "RuntimeError: boom"} if failed else {},
            metric_error_kinds={NAME: "plugin"} if failed else {},
            environment={"metric_sources": {} if failed else {NAME: source}},
        ).write(out)
    register(registry.metrics, NAME, HintScore)
    assert cli("report", "--out", out, "--leaderboards", tmp_path / "installed").exit_code == 0
    installed = (tmp_path / "installed/ring8.md").read_text()
    assert "hint_score ↑" in installed and "seed 1: hint-score: RuntimeError: boom" in installed

    del registry.metrics._entries[NAME]
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "uninstalled")
    assert len(warnings_of(r)) == 1
    uninstalled = (tmp_path / "uninstalled/ring8.md").read_text()
    assert "hint-score" not in uninstalled.split("## Notes")[0]  # no column of the metric's name

    def unaligned(board: str) -> str:  # the table's padding follows its header's width
        return re.sub(r"[ -]+", " ", board.replace(" ↑", ""))

    assert unaligned(uninstalled) == unaligned(installed)


def test_what_a_results_folder_records_of_a_metrics_code_reaches_the_hint_as_one_line_of_text(tmp_path):
    """A package or file name that a result file someone sent records went into the hint as it was:
    ``\\x1b[2J`` cleared the user's terminal, and a line break printed a second line of its own."""
    from genbench.unloadable_metrics import unloadable_metric_lines

    forged = "\x1b[2J\nwarning: all good"
    sources = {
        "a-score": {"distribution": f"pkg{forged}", "distribution_version": f"1{forged}"},
        "b-score": {"file": f"/x/my{forged}.py"},
        "c-score": {"distribution": "genbench", "distribution_version": f"0{forged}"},
    }
    result = Result(
        model="gaussian",
        dataset="ring8",
        seed=0,
        protocol={},
        metrics={},
        environment={"metric_sources": sources},
    )
    lines = unloadable_metric_lines([result])
    assert len(lines) == 3
    for line in lines:
        assert line.isprintable(), repr(line)
        assert "\\x1b[2J\\nwarning: all good" in line, line
    assert lines[0].endswith("; pip install pkg\\x1b[2J\\nwarning: all good"), lines[0]
    assert lines[1].endswith("; pass --include /x/my\\x1b[2J\\nwarning: all good.py"), lines[1]
    assert lines[2].endswith("report with genbench 0\\x1b[2J\\nwarning: all good"), lines[2]
