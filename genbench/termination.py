"""SIGTERM as Ctrl-C, for the command line: how a cluster stops a job.

A job past its time limit or preempted gets SIGTERM (SLURM, Kubernetes, ``timeout``), then SIGKILL
after a grace period. Python's default SIGTERM kills the process at once with no ``finally`` run:
the temp file of the checkpoint, result or download being written stayed beside it for a day,
and the job's log ended mid-line, saying nothing. Under :func:`sigterm_stops` it raises
:class:`Terminated`, a KeyboardInterrupt, so that it takes Ctrl-C's path through the run (what is
finished is kept, temp files are removed, a training resumes from its last checkpoint on the
rerun) and the command says so and exits 143 (128 + 15, as the shell reports a SIGTERM death).

Only the CLI installs the handler: a Python API caller's process keeps its own signal handling.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: the exit status of a command stopped by SIGTERM: 128 + the signal's number, as the shell gives a
#: process it killed, so that a job script's ``$?`` reads the same as before
TERMINATED_EXIT = 128 + int(signal.SIGTERM)

#: the signals that stop a run cleanly: Ctrl-C's, and SIGTERM's while :func:`sigterm_stops` holds
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


#: the attribute of an interruption that says what its rerun does with the training it stopped
_RERUN = "genbench_rerun"


def say_rerun(interruption: KeyboardInterrupt, what: str) -> None:
    """Record on ``interruption`` what a rerun does with the training it stopped, for the command's
    last line (:func:`rerun_said`)."""
    setattr(interruption, _RERUN, what)


def rerun_said(interruption: KeyboardInterrupt) -> str | None:
    """What :func:`say_rerun` recorded on ``interruption``; None when it stopped no training."""
    return getattr(interruption, _RERUN, None)


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM. A KeyboardInterrupt, so that every ``except KeyboardInterrupt:
    raise`` that lets Ctrl-C through a plugin's failure handling lets this through too."""


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """Raise :class:`Terminated` on the first SIGTERM within the block, and ignore the later ones; the
    previous handler is restored after it. Outside the main thread (where no handler can be
    installed), and where SIGTERM is already ignored (``SIG_IGN``) or handled (by the caller, or
    outside Python), the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        # a job can get SIGTERM twice (srun forwards the one its step also got from slurmstepd): raised
        # again while the first unwinds, it cut the cleanup short, leaving the write's temp file. The
        # job is stopping already, and the cluster's SIGKILL still ends one that hangs.
        if stopping:
            return
        stopping = True
        raise Terminated(f"terminated by {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
