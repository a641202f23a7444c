"""genbench on a platform that is not Linux, simulated on Linux (CI runs on Linux alone): a child
process whose ``sitecustomize`` takes away what Windows or macOS lacks. Windows has no
``signal.SIGUSR1``, ``fcntl``, ``resource``, ``pwd`` or ``grp``; macOS has no
``os.sched_getaffinity``; neither has ``/proc``, whose reads by genbench's own code fail here. The
test process's own modules are left as they are.

``signal.SIGUSR1`` at import time (the cluster signals of :mod:`genbench.termination`) made every
`genbench` command fail on Windows with an AttributeError before it did anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: what the child's ``sitecustomize`` takes away; ``filelock`` is imported first, with its
#: ``fcntl``: on Windows it locks through ``msvcrt`` instead, which Linux has not to simulate
ELSEWHERE = r"""
import builtins, io, os, signal, sys

import filelock  # noqa: F401

for name in ("SIGUSR1", "SIGUSR2", "SIGHUP"):
    if hasattr(signal, name):
        delattr(signal, name)
for name in ("sched_getaffinity", "fork"):
    if hasattr(os, name):
        delattr(os, name)

GONE = {"fcntl", "resource", "pwd", "grp"}


class Gone:
    def find_spec(self, name, path=None, target=None):
        if name in GONE:
            raise ImportError(f"No module named {name!r}")
        return None


for name in GONE:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, Gone())

real_open = builtins.open


def _by_genbench():
    frame = sys._getframe(2)
    for _ in range(4):  # through pathlib's read_text
        if frame is None:
            return False
        if frame.f_globals.get("__name__", "").startswith("genbench"):
            return True
        frame = frame.f_back
    return False


def no_proc(file, *args, **kwargs):
    # genbench's own reads: a library's Linux branch (threadpoolctl's) is not taken elsewhere
    if isinstance(file, (str, os.PathLike)) and os.fspath(file).startswith("/proc") and _by_genbench():
        raise FileNotFoundError(2, "No such file or directory", os.fspath(file))
    return real_open(file, *args, **kwargs)


builtins.open = io.open = no_proc
"""


#: what Windows adds to :data:`ELSEWHERE`: no ``signal.pthread_kill``, and ``os.kill`` of a process
#: with any signal but Ctrl-C's or Ctrl-Break's is TerminateProcess: the process ends at once, with
#: the signal as its exit code, no handler or ``finally`` run
WINDOWS = r"""
CTRL_EVENTS = (0, 1)  # signal.CTRL_C_EVENT, signal.CTRL_BREAK_EVENT


def terminate_process(pid, sig):
    if sig in CTRL_EVENTS:
        raise OSError(87, "The parameter is incorrect")  # no console shared in the simulation
    os._exit(sig)


if hasattr(signal, "pthread_kill"):
    delattr(signal, "pthread_kill")
os.kill = terminate_process
"""


def _site(tmp_path: Path, code: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(code)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


@pytest.fixture
def elsewhere(tmp_path: Path) -> dict[str, str]:
    """The environment of a child process on the simulated platform."""
    return _site(tmp_path, ELSEWHERE)


@pytest.fixture
def windows(tmp_path: Path) -> dict[str, str]:
    """The environment of a child process on simulated Windows."""
    return _site(tmp_path, ELSEWHERE + WINDOWS)


def _child(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_simulation_takes_them_away(elsewhere: dict[str, str]) -> None:
    """The child lacks what the other tests say genbench does without (else they prove nothing)."""
    code = """
import os, signal
assert not hasattr(signal, "SIGUSR1") and not hasattr(os, "sched_getaffinity")
try:
    import fcntl
except ImportError:
    pass
else:
    raise AssertionError("fcntl imported")
"""
    r = _child(elsewhere, "-c", code)
    assert r.returncode == 0, r.stderr[-2000:]


def test_every_module_imports(elsewhere: dict[str, str]) -> None:
    code = """
import importlib, pkgutil
import baselines, genbench

failed = []
for package in (genbench, baselines):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        try:
            importlib.import_module(module.name)
        except Exception as e:
            failed.append(f"{module.name}: {type(e).__name__}: {e}")
assert not failed, failed
"""
    r = _child(elsewhere, "-c", code)
    assert r.returncode == 0, r.stderr[-2000:]


def test_a_command_runs(elsewhere: dict[str, str]) -> None:
    r = _child(elsewhere, "-m", "genbench", "list", "datasets")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "ring8" in r.stdout and "Traceback" not in r.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="sends itself SIGTERM")
def test_sigterm_stops_without_sigusr1(elsewhere: dict[str, str]) -> None:
    """SIGTERM still stops the command as Ctrl-C does, and exits 143; SIGUSR1 is not looked for."""
    code = """
import os, signal, time
from genbench.termination import CLUSTER_SIGNALS, Terminated, sigterm_stops

assert CLUSTER_SIGNALS == (signal.SIGTERM,), CLUSTER_SIGNALS
try:
    with sigterm_stops():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
except Terminated as e:
    print(e.exit_code)
assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
"""
    r = _child(elsewhere, "-c", code)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["143"]


def test_the_windows_simulation_terminates_on_kill(windows: dict[str, str]) -> None:
    """The child's os.kill ends it as TerminateProcess does (else the test below proves nothing)."""
    code = """
import os, signal
assert not hasattr(signal, "pthread_kill")
try:
    os.kill(os.getpid(), signal.SIGTERM)
finally:
    print("finally ran")
"""
    r = _child(windows, "-c", code)
    assert r.returncode == 15 and "finally ran" not in r.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="raise_signal from the main thread, as on POSIX")
def test_a_step_that_does_not_end_in_time_is_stopped_on_windows(windows: dict[str, str]) -> None:
    """A SIGTERM waiting for a training step to end is sent again when the step overruns: on Windows
    its os.kill ended the process at once (TerminateProcess, exit 15), nothing saved and no temp
    file removed, where it must stop the step as Ctrl-C does (Terminated, exit 143)."""
    code = """
import signal, time
import genbench.termination as t

t.STEP_END_WAIT_S = 0.2
try:
    with t.sigterm_stops(), t.steps_end_first():
        t.step_ended(1)  # the training asks at its steps' ends: a stop waits for the next one
        signal.raise_signal(signal.SIGTERM)  # in step 2, which never ends
        end = time.monotonic() + 30
        while time.monotonic() < end:  # busy: nothing cuts a sleep short on Windows
            pass
        print("not stopped")
except t.Terminated as e:
    print("stopped", e.exit_code)
"""
    r = _child(windows, "-c", code)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.split() == ["stopped", "143"]
