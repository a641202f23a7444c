"""The CLI where it is not run in a UTF-8 terminal: an encoding without ``↓`` or ``é``, Ctrl-C before
a command's own code runs, the command list of `genbench --help` at 80 columns."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import genbench.cli.main
import genbench.cli.output_errors as output_errors_module
from genbench.cli.main import app, main
from genbench.results import Result


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "latin-1"},
        {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
    ],
)
def test_a_character_the_encoding_lacks_is_replaced_not_a_traceback(env):
    """`genbench list` under ``LC_ALL=C PYTHONUTF8=0`` (an ASCII stdout) or ``PYTHONIOENCODING=latin-1``
    printed a UnicodeEncodeError traceback at a description's "é" or "ń", and `genbench report` at
    its header's "↓"; the character is now printed as "?"."""
    r = subprocess.run(
        [sys.executable, "-m", "genbench", "list", "metrics"],
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")[-2000:]
    assert b"?" in r.stdout and b"\xe2" not in r.stdout  # no UTF-8 byte in what it printed


def _report_args(tmp_path: Path) -> list[str]:
    """`genbench report` of one result, which prints its board's markdown."""
    proto = {"num_samples": 100, "reference_split": "train", "features": {"name": "raw", "fingerprint": "x"}}
    Result(model="m", dataset="ring8", seed=0, protocol=proto, metrics={"fid": 1.0}).write(tmp_path / "runs")
    return ["report", "--out", str(tmp_path / "runs"), "--leaderboards", str(tmp_path / "boards")]


@pytest.mark.parametrize(
    "command", [["--version"], ["--help"], ["list", "metrics"], ["list"], ["run", "--help"], "report"]
)
def test_output_into_a_closed_pipe_ends_quietly_with_status_141(command, tmp_path):
    """`genbench list | head -1`: the reader gone, the command stops with status 141 (128 + SIGPIPE,
    as the shell reports a Unix tool's end there) and says nothing: no BrokenPipeError traceback,
    no "Exception ignored ... BrokenPipeError" from the flush at exit. It ended quietly with status
    1 (Click's handling, and rich's for `--help` and the tables), which a script could not tell
    from a failure."""
    args = _report_args(tmp_path) if command == "report" else command
    p = subprocess.Popen(
        [sys.executable, "-m", "genbench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    p.stdout.close()  # the reader is gone before anything is written
    err = p.stderr.read().decode(errors="replace")
    said = [line for line in err.splitlines() if not line.startswith("wrote ")]  # report's files
    assert p.wait(timeout=60) == 141 and said == [], err[-2000:]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full (Linux has one)")
@pytest.mark.parametrize("command", [["--version"], ["--help"], ["list"], "report"])
def test_output_to_a_full_disk_is_one_error_line_and_status_1(command, tmp_path):
    """`genbench list > /dev/full` (a full disk, a quota) ended on an OSError traceback ("No space
    left on device"); it says so on one line and exits 1, as `ls > /dev/full` does."""
    args = _report_args(tmp_path) if command == "report" else command
    with open("/dev/full", "w") as full:
        r = subprocess.run(
            [sys.executable, "-m", "genbench", *args], stdout=full, stderr=subprocess.PIPE, timeout=60
        )
    said = [line for line in r.stderr.decode().splitlines() if not line.startswith("wrote ")]
    assert r.returncode == 1 and len(said) == 1, r.stderr.decode(errors="replace")[-2000:]
    assert said[0].startswith("error: the output could not be written (No space left on device)")


@pytest.mark.skipif(sys.platform == "win32", reason="closes the child's file descriptor 1")
@pytest.mark.parametrize("command", [["--version"], ["list"], ["list", "metrics"], "report"])
def test_a_closed_stdout_is_one_error_line_and_status_1(command, tmp_path):
    """`genbench list >&-` (stdout closed before the command starts: Python's ``sys.stdout`` is then
    None, and each print wrote nowhere) exited 0 having printed nothing, where `ls >&-` fails; it
    says so on one line and exits 1, as output lost to a full disk does, and writes nothing."""
    args = _report_args(tmp_path) if command == "report" else command
    r = subprocess.run(
        [sys.executable, "-m", "genbench", *args],
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),  # after the child's standard streams are set up
        timeout=60,
    )
    said = r.stderr.decode(errors="replace").splitlines()
    assert r.returncode == 1 and len(said) == 1, r.stderr.decode(errors="replace")[-2000:]
    assert said[0].startswith("error: the output cannot be written: stdout is closed"), said
    assert not (tmp_path / "boards").exists()  # the report stopped before it wrote a board


def _commands_panel(width: int) -> list[str]:
    r = CliRunner().invoke(app, ["--help"], env={"COLUMNS": str(width)})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "Commands" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("\u2570"))
    return [line.strip("\u2502 ").rstrip() for line in lines[start + 1 : end]]


def test_each_commands_summary_in_the_help_is_wrapped_only_where_the_line_is_full():
    """The summaries of `stats` and `list` kept their docstrings' line breaks: "(and mu_s, sigma_s
    for sfid under Inception)," then a line of "for `--reference-stats` where the data is not."
    with half the line left empty."""
    names = {c.name for c in typer.main.get_command(app).commands.values()}
    lines = _commands_panel(80)
    starts = [line.split()[0] in names for line in lines]  # a command's first line
    # each line's text in the summaries' column, without the command's name
    panel = [" ".join(line.split()[1:]) if start else line for line, start in zip(lines, starts, strict=True)]
    column = max(len(line) for line in panel)  # at most the column's width
    for i in range(1, len(panel)):
        if not starts[i]:
            word = panel[i].split()[0]
            assert len(panel[i - 1]) + 1 + len(word) > column, f"{panel[i - 1]!r} broken before {word!r}"
    shown = " ".join(panel)
    assert "sfid under Inception), for `--reference-stats` where the data is not." in shown
    assert "with `models NAME`, that model's config fields;" in shown


def test_ctrl_c_while_the_options_are_parsed_says_interrupted(monkeypatch):
    """Ctrl-C before the command's own code ran (while Typer parsed its options) exited 130 with
    nothing said; it says "interrupted", as Ctrl-C within the command does."""

    def interrupted() -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(genbench.cli.main, "version_text", interrupted)  # --version's eager callback
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 130 and r.stderr.strip() == "interrupted" and r.stdout == "", r.output


def test_ctrl_c_while_typer_builds_the_command_says_interrupted(monkeypatch, capsys):
    """Ctrl-C while Typer built its click command from the functions, before any parsing, printed
    a KeyboardInterrupt traceback."""

    def interrupted(app: typer.Typer) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(typer.main, "get_command", interrupted)
    monkeypatch.setattr(sys, "argv", ["genbench", "list"])
    try:
        with pytest.raises(SystemExit) as stop:
            main()
    except KeyboardInterrupt:
        pytest.fail("the KeyboardInterrupt reached the top: a traceback")
    assert stop.value.code == 130 and capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    ("code", "space"), [(errno.ENOSPC, True), (errno.EDQUOT, True), (errno.EIO, False), (errno.EFBIG, False)]
)
def test_lost_output_names_free_space_only_for_a_full_disk_or_quota(code, space, monkeypatch, capsys):
    """Output lost on a failing device (EIO: a terminal gone) or to a file over its size limit
    (EFBIG) said "free some space", which frees nothing there; the full disk and the quota alone are
    told to."""
    monkeypatch.setattr(output_errors_module, "discard_output", lambda: None)
    with pytest.raises(typer.Exit) as exit_info, output_errors_module.output_errors():
        raise OSError(code, os.strerror(code))
    line = capsys.readouterr().err.strip()
    assert exit_info.value.exit_code == 1 and line.startswith("error: the output could not be written")
    assert ("free some space" in line) == space and "send it elsewhere" in line, line


def test_a_full_disk_writing_a_named_file_is_not_said_as_lost_output(monkeypatch, capsys):
    """An error that names its file is a file's write, not the console's: it is raised as it is,
    for its own handling, not said as "the output could not be written"."""
    monkeypatch.setattr(output_errors_module, "discard_output", lambda: None)
    with pytest.raises(OSError) as raised, output_errors_module.output_errors():
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/results/seed0.json")
    assert raised.value.filename == "/results/seed0.json" and capsys.readouterr().err == ""


LEFT_IN_THE_BUFFER = """
import errno, os, sys
import typer
from genbench.cli.output_errors import output_errors
from genbench.termination import Terminated

r, w = os.pipe()
os.close(r)  # the reader gone: stdout's flush at exit fails
os.dup2(w, 1)
print("left in stdout's buffer")
code = int(sys.argv[1])
try:
    with output_errors():
        try:
            raise Terminated(1) if code == errno.EIO else OSError(code, os.strerror(code))
        finally:
            if code == errno.EIO:  # a cleanup's write as the stop unwinds
                raise OSError(errno.EIO, os.strerror(errno.EIO))
except typer.Exit as e:
    sys.exit(e.exit_code)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="a closed pipe's flush")
@pytest.mark.parametrize(("code", "status"), [(errno.EPIPE, 141), (errno.ENOSPC, 1), (errno.EIO, 129)])
def test_what_the_buffer_holds_when_output_is_lost_is_thrown_away(code, status):
    """Each way :func:`output_errors` ends a command throws away what stdout's buffer still holds:
    flushed at exit into the closed pipe, Python says "Exception ignored ... BrokenPipeError" and
    exits 120."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as by default
    p = subprocess.run(
        [sys.executable, "-c", LEFT_IN_THE_BUFFER, str(code)], capture_output=True, text=True, env=env
    )
    assert p.returncode == status and "Exception ignored" not in p.stderr, (p.returncode, p.stderr)


@pytest.mark.parametrize(("code", "status"), [(errno.EPIPE, 129), (errno.EIO, 129), (errno.EACCES, None)])
def test_a_stops_cleanup_that_loses_the_output_exits_as_the_stop(code, status, monkeypatch):
    """SIGHUP's stop whose cleanup wrote into the pipe or terminal gone exits 129, as the stop (not
    141, or 1 as lost output); an error of another kind is raised as it is."""
    import signal

    from genbench.termination import Terminated

    monkeypatch.setattr(output_errors_module, "discard_output", lambda: None)
    with pytest.raises(typer.Exit if status else OSError) as raised, output_errors_module.output_errors():
        try:
            raise Terminated(signal.SIGHUP)
        finally:
            raise OSError(code, os.strerror(code))
    assert getattr(raised.value, "exit_code", None) == status


def test_rich_exits_on_its_own_again_after_the_block():
    """Outside a command (the Python API, a notebook's rich console), rich's own handling is back."""
    from rich.console import Console

    own = Console.on_broken_pipe
    with output_errors_module.rich_raises_broken_pipe():
        assert Console.on_broken_pipe is not own
    assert Console.on_broken_pipe is own
