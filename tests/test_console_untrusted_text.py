"""What `genbench report` and `genbench list` print on the console from a results folder someone
sent or from a plugin (a path, a recorded name, an error's text, a docstring) is printed with each
character a terminal acts on written as its escape (:func:`genbench.text.printable`): a folder
named ``m\\x1b[2J`` cleared the terminal of whoever reported it, and a line break forged a
``warning:`` line of its own. The boards escaped them already (tests/test_untrusted_files.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from genbench.cli.main import app
from genbench.results import Result

pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py

#: clears the terminal, then forges a line
EVIL = "\x1b[2J\nwarning: all good"


def _said(r) -> str:
    return r.stdout + r.stderr


def _no_control(text: str) -> None:
    assert "\x1b" not in text, repr(text)
    assert "\nwarning: all good" not in text, text  # no forged line
    assert "\\x1b[2J\\nwarning: all good" in text, text  # written as its escape, readable


def test_report_prints_a_results_folders_paths_and_names_escaped(tmp_path):
    out = tmp_path / "runs"
    for seed in (0, 1):
        Result(model="copy", dataset="toy", seed=seed, status="ok", protocol={}, metrics={"fid": 1.0}).write(
            out
        )
    evil_folder = out / "toy" / f"m{EVIL}"
    evil_folder.mkdir(parents=True)
    (evil_folder / "seed0.json").write_text("{")  # unreadable: an error: line naming it
    (out / "toy" / "copy" / f"seed9 {EVIL}.json").write_text("{}")  # not read: a warning: line
    r = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert r.exit_code == 2, r.output  # the unreadable ones are inputs to fix
    said = _said(r)
    _no_control(said)
    lines = said.splitlines()
    assert any(ln.startswith("error: ") and "m\\x1b[2J\\nwarning: all good" in ln for ln in lines), said
    assert any(ln.startswith("warning: ") and "seed9 \\x1b[2J" in ln for ln in lines), said


def test_an_error_line_escapes_what_a_plugin_raised(tmp_path):
    """A file --include imports raising: the command's own error line quotes what it raised."""
    plugin = tmp_path / "raising_plugin.py"
    plugin.write_text(f"raise ValueError({EVIL!r})\n")
    r = CliRunner().invoke(app, ["list", "metrics", "--include", str(plugin)])
    assert r.exit_code == 2, r.output
    _no_control(_said(r))


PLUGIN = f"""
import genbench
from genbench.metrics.base import Metric


@genbench.register_metric("evil-doc")
class EvilDoc(Metric):
    description = {("a metric" + EVIL)!r}
    higher_is_better = {{"evil_doc": True}}

    def compute(self, ctx):
        return {{"evil_doc": 0.0}}
"""


def test_list_prints_a_plugins_description_escaped(tmp_path):
    plugin = tmp_path / "evil_plugin.py"
    plugin.write_text(PLUGIN)
    for args in (["metrics"], ["metrics", "evil-doc"]):
        r = CliRunner().invoke(app, ["list", *args, "--include", str(plugin)], env={"COLUMNS": "250"})
        assert r.exit_code == 0, r.output
        said = _said(r)
        assert "\x1b" not in said and "warning: all good" not in said.replace("\\nwarning: all good", ""), (
            said
        )
        assert "a metric\\x1b[2J\\nwarning: all good" in said, said


def test_a_recorded_reference_split_reaches_the_board_on_one_line(tmp_path):
    """The board's protocol sentence wrote the reference split a result records as it was: a line
    break in it printed a forged line in the markdown `genbench report` prints (the split's ``\\x1b``
    was escaped already, its line break not)."""
    out = tmp_path / "runs"
    for seed in (0, 1):
        protocol = {"num_samples": 10, "reference_split": f"train{EVIL}"}
        Result(
            model="copy", dataset="toy", seed=seed, status="ok", protocol=protocol, metrics={"fid": 1.0}
        ).write(out)
    r = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert r.exit_code == 0, r.output
    boards = [r.stdout, *(p.read_text() for p in (out / "leaderboards").glob("toy.*") if p.suffix != ".csv")]
    for text in boards:
        assert "\x1b" not in text and "\nwarning: all good" not in text, text


def test_a_path_with_a_no_break_space_is_printed_as_it_is(tmp_path):
    """A space a terminal prints as one (macOS names a screenshot "... at 10.00.00\\u202fAM", a
    no-break space, an ideographic space) is no character it acts on: written as ``\\u202f``, the
    path that `genbench report`'s ``wrote`` line names (or a run's result line) could not be
    copied. A line or paragraph separator and a bidirectional override are still escaped."""
    from genbench.text import printable

    out = tmp_path / "runs 10.00.00\u202fAM\u00a0\u3000x"
    for seed in (0, 1):
        Result(model="copy", dataset="toy", seed=seed, status="ok", protocol={}, metrics={"fid": 1.0}).write(
            out
        )
    r = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"wrote {out / 'leaderboards' / 'toy.md'}" in r.stderr, r.stderr
    assert printable("a\u2028b\u2029c\u202ed") == "a\\u2028b\\u2029c\\u202ed"


def test_a_recorded_accuracy_key_reaches_the_board_on_one_line(tmp_path):
    """The protocol sentence names a features' recorded accuracy by its key (``test_accuracy`` as
    "test accuracy 98.3%"), which it wrote as it was: a key with ``\\x1b`` and a line break in a
    result someone sent cleared the terminal of whoever ran `cat` on the board and printed a forged
    line in the markdown `genbench report` prints, and a "|" split its table."""
    out = tmp_path / "runs"
    for seed in (0, 1):
        features = {"name": "inc", "fingerprint": "abc", f"test_accuracy{EVIL} |x|": 0.9}
        protocol = {"num_samples": 10, "reference_split": "train", "features": features}
        Result(
            model="copy", dataset="toy", seed=seed, status="ok", protocol=protocol, metrics={"fid": 1.0}
        ).write(out)
    r = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert r.exit_code == 0, r.output
    board = (out / "leaderboards" / "toy.md").read_text()
    for text in (r.stdout, board):
        assert "\x1b" not in text and "\nwarning: all good" not in text, text
    assert "test accuracy\\\\x1b[2J warning: all good \\|x\\| 90.0%" in board, board


def test_a_result_line_escapes_a_plugin_metrics_value_names(cli, register, tmp_path):
    """A run's result line names the values it shows (``fid=12.3``), the first four a plugin's
    metric returned where none of genbench's is there: a name it returned undeclared (kept, with a
    warning) reached the console as it was, ``\\x1b[2J`` and a forged line, and a ``[/x]`` in it,
    read as rich markup, failed the line."""
    from cli_helpers import run_args
    from plugin_helpers import _Metric

    from genbench import registry

    class Evil(_Metric):
        def compute(self, ctx):
            return {f"v{EVIL} [/x]": 1.0}

    register(registry.metrics, "test-evil", Evil)
    args = run_args(tmp_path / "runs", tmp_path / "cache", "--dataset", "ring8", "--no-figures")
    r = cli(*args, "--models", "copy", "--samples", "100", "--metrics", "test-evil")
    assert r.exit_code == 0, r.output
    _no_control(r.stderr)
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("ok copy seed 0: ")]
    assert line.startswith("ok copy seed 0: v\\x1b[2J\\nwarning: all good [/x]=1  -> "), line
