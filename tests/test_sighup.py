"""SIGHUP (the terminal closed, the ssh session dropped) stops `genbench` as SIGTERM does
(tests/test_sigterm.py): Python's default killed the process at once, the file being written left
as its temp file and nothing said. It exits 129 (128 + SIGHUP), as a shell reports a hangup; under
``nohup``, which ignores SIGHUP so that the command outlives the terminal, it stays ignored."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from test_sigterm import temp_files, terminated, train_pt  # tests/ is on the path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_sighup_stops_as_sigterm_does(tmp_path: Path):
    """SIGHUP at step 12 of 20 (checkpoints at 5 and 10): the step-10 checkpoint is kept, no temp
    file is left, and the command says so and exits 129."""
    ended = terminated(tmp_path, "step:12", signum=signal.SIGHUP)
    assert ended.returncode == 128 + signal.SIGHUP, (ended.returncode, ended.stderr)
    assert "Traceback" not in ended.stderr, ended.stderr
    last = ended.stderr.strip().splitlines()[-1]
    assert last == "terminated (SIGHUP): finished results are saved; rerun to resume training from step 10"
    assert temp_files(tmp_path) == []
    assert len(train_pt(tmp_path)) == 1


def _ignore_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does before it runs the command


def test_sighup_under_nohup_is_still_ignored(tmp_path: Path):
    """`nohup genbench run ...` ignores SIGHUP so that the run outlives the terminal: it is left
    ignored, and the run goes on to its result."""
    ended = terminated(tmp_path, "signal:SIGHUP:12", preexec_fn=_ignore_sighup)
    assert ended.returncode == 0, ended.stderr
    result = json.loads(next((tmp_path / "runs").rglob("seed0.json")).read_text())
    assert result["status"] == "ok" and result["training"]["resumed_from"] == 0
