"""SIGHUP (the terminal closed, the ssh session dropped) stops `genbench` as SIGTERM does
(tests/test_sigterm.py): Python's default killed the process at once, the file being written left
as its temp file and nothing said. It exits 129 (128 + SIGHUP), as a shell reports a hangup, also
where the terminal it closed held the command's output; under ``nohup``, which ignores SIGHUP so
that the command outlives the terminal, it stays ignored."""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_sigterm import CHILD, run_args, temp_files, terminated, train_pt  # tests/ is on the path

from genbench.termination import Terminated, unwinding

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


def _controlling_terminal() -> None:
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # stdin, the terminal's other end: the session's terminal


@pytest.mark.parametrize("progress", [True, False], ids=["progress-bars", "no-progress"])
def test_the_terminal_closing_exits_129_though_its_output_is_gone(tmp_path: Path, progress: bool):
    """A run in a terminal that closes (the terminal's window, or the ssh session, gone): the kernel
    sends SIGHUP, and the terminal takes stdout and stderr with it. Writing the "terminated" line
    failed (EIO), and the command exited 1 as for a full disk, which a job script reads as a
    failure of the run; with its progress bars, their last write failed as the stop unwound, and
    the seed was recorded as failed, the model blamed ("model 'vae' raised OSError: [Errno 5]
    Input/output error"). It exits 129, its finished work kept and nothing recorded as failed."""
    gate = tmp_path / "holding"
    env = {**os.environ, "GATE": str(gate), "STOP_AT": "step:12", "OMP_NUM_THREADS": "1"}
    args = [a for a in run_args(tmp_path) if progress is False or a != "--no-progress"]
    master, terminal = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
    )
    os.close(terminal)
    try:
        deadline = time.monotonic() + 120
        while not gate.exists():  # what it writes is read, so that no write waits on a full terminal
            assert child.poll() is None and time.monotonic() < deadline, child.returncode
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:  # EIO: nothing left to read
                    pass
        os.close(master)  # the terminal closes
        master = -1
        assert child.wait(timeout=60) == 128 + signal.SIGHUP
    finally:
        if master >= 0:
            os.close(master)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert temp_files(tmp_path) == []
    assert len(train_pt(tmp_path)) == 1
    assert not list((tmp_path / "runs").rglob("seed0*.json"))  # no result, failed or other


def _raised_in_cleanup(stop: KeyboardInterrupt, depth: int) -> OSError:
    """The error a cleanup raised while ``stop`` unwound (a write to the terminal gone, EIO), with
    ``depth - 1`` errors of earlier cleanups between them in its context."""
    try:
        try:
            raise stop
        finally:
            if depth > 1:
                try:
                    raise RuntimeError("an earlier cleanup")
                finally:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
            raise OSError(errno.EIO, os.strerror(errno.EIO))
    except OSError as e:
        return e


@pytest.mark.parametrize("stop", [Terminated(signal.SIGHUP), KeyboardInterrupt()], ids=["SIGHUP", "Ctrl-C"])
@pytest.mark.parametrize("depth", [1, 2])
def test_the_stop_a_cleanups_error_took_the_place_of_is_found(stop: KeyboardInterrupt, depth: int) -> None:
    """:func:`genbench.termination.unwinding` reads the error's context, however deep the stop is in
    it, Ctrl-C's as a signal's; an error of its own (a cause given, no stop) has none."""
    assert unwinding(_raised_in_cleanup(stop, depth)) is stop
    try:
        raise OSError(errno.EIO, "a failure of its own") from Terminated(signal.SIGHUP)
    except OSError as e:
        assert unwinding(e) is None


@pytest.mark.timeout(30)  # read round the loop, it never returned
def test_an_errors_context_that_loops_is_read_once() -> None:
    first, second = OSError(errno.EIO, "first"), RuntimeError("second")
    first.__context__, second.__context__ = second, first
    assert unwinding(first) is None


def test_sighup_a_plugin_caught_is_raised_again_after_its_block():
    """A plugin's bare ``except`` that swallows SIGHUP's stop (and returns) is stopped all the same,
    as for SIGTERM (:func:`genbench.isolation.ctrl_c_kept`)."""
    from genbench.isolation import ctrl_c_kept
    from genbench.termination import sigterm_stops

    if signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL:
        pytest.skip("SIGHUP is ignored or handled here (nohup)")
    with pytest.raises(Terminated) as stopped, sigterm_stops(), ctrl_c_kept():
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(5)
        except KeyboardInterrupt:  # a plugin's bare except: it returns
            pass
    assert stopped.value.signum == signal.SIGHUP
