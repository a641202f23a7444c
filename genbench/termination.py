"""SIGTERM as Ctrl-C, for the command line: how a cluster stops a job.

A job past its time limit or preempted gets SIGTERM (SLURM, Kubernetes, ``timeout``), then SIGKILL
after a grace period; SLURM's ``--signal=USR1@90`` sends SIGUSR1 ahead of its time limit instead
(Windows has no SIGUSR1). Python's default for both kills the process at once with no ``finally``
run: the temp file of the checkpoint, result or download being written stayed beside it for a day,
and the job's log ended mid-line, saying nothing. Under :func:`sigterm_stops` they raise
:class:`Terminated`, a KeyboardInterrupt, so that it takes Ctrl-C's path through the run (what is
finished is kept, temp files are removed, a training resumes from its last checkpoint on the rerun)
and the command says so and exits 128 + the signal's number (143 for SIGTERM, as the shell reports
a SIGTERM death). SIGHUP, the terminal closed or the ssh session dropped under a run started by
hand, stops it the same way (exit 129), unless ``nohup`` has it ignored.

During a training that saves checkpoints (:func:`steps_end_first`), the stop waits for the running
step to end: the training's next ``ctx.should_checkpoint(step)`` is then true, its state is saved
at that step, and ``ctx.save_checkpoint`` raises :class:`Terminated` once it is written, so a
preempted job loses no step rather than everything since its last periodic checkpoint. Stopped
mid-step instead (a GAN between its discriminator's and its generator's update), a saved state
would resume into other weights than an uninterrupted run's. A step that has not ended within
:data:`STEP_END_WAIT_S` is stopped where it is, as before (on Windows, which cannot send a thread a
signal, at its next Python instruction: :func:`_signal_main_thread`). Ctrl-C stops at once, as
always, and reads as Ctrl-C (exit 130) even while a SIGTERM waits.

Only the CLI installs the handler: a Python API caller's process keeps its own signal handling.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

#: a cluster's signals that stop a job (:func:`sigterm_stops` handles them). Windows has no SIGUSR1
#: (``signal.SIGUSR1`` raised AttributeError there, and every command failed on importing this module)
CLUSTER_SIGNALS = tuple(s for s in (signal.SIGTERM, getattr(signal, "SIGUSR1", None)) if s is not None)

#: the terminal's hangup: the terminal closed or the ssh session dropped (Windows has no SIGHUP).
#: Python's default killed the process at once, as SIGTERM's did; :func:`sigterm_stops` handles it
#: as SIGTERM, unless it is ignored: ``nohup`` runs the command with SIGHUP ignored to outlive the
#: terminal, and it stays ignored
HANGUP_SIGNALS = tuple(s for s in (getattr(signal, "SIGHUP", None),) if s is not None)

#: what :func:`sigterm_stops` handles: the cluster's signals and the terminal's hangup
TERMINATING_SIGNALS = (*CLUSTER_SIGNALS, *HANGUP_SIGNALS)

#: the signals that stop a run cleanly: Ctrl-C's, and the others while :func:`sigterm_stops` holds
STOP_SIGNALS = (signal.SIGINT, *TERMINATING_SIGNALS)

#: seconds a stop waits for the running training step to end and its state to be saved, before it
#: stops the step where it is: well within the grace a cluster gives between SIGTERM and SIGKILL
#: (30 s for SLURM's default KillWait and Kubernetes, 10 s for ``docker stop``), and far longer
#: than a step takes where such jobs train (a tenth of a second for the CIFAR-10 DDPM on one GPU)
STEP_END_WAIT_S = 5.0

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
    """The process got SIGTERM (or SIGUSR1, or SIGHUP). A KeyboardInterrupt, so that every ``except
    KeyboardInterrupt: raise`` that lets Ctrl-C through a plugin's failure handling lets this
    through too."""

    def __init__(self, signum: int = int(signal.SIGTERM)):
        self.signum = int(signum)
        super().__init__(f"terminated by {self.signal_name}")

    def __reduce__(self) -> tuple[type[Terminated], tuple[int]]:
        # rebuilt from its signal, not from its message (a plugin's process pool pickles it)
        return (Terminated, (self.signum,))

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as the shell gives a process it killed, so that a job
        script's ``$?`` reads the same as before."""
        return 128 + self.signum


def unwinding(error: BaseException) -> KeyboardInterrupt | None:
    """The interruption (Ctrl-C, or a :class:`Terminated` stop) whose unwinding raised ``error``, if
    any: a cleanup's write to the terminal that SIGHUP says closed fails (EIO) in its ``finally``,
    and that error took the stop's place."""
    seen: set[int] = set()
    context = error.__context__
    while context is not None and id(context) not in seen:
        if isinstance(context, KeyboardInterrupt):
            return context
        seen.add(id(context))
        context = context.__context__
    return None


class _Stop:
    """The state of one :func:`sigterm_stops`: a signal waiting for a training step to end, or
    taken. Signals are process-wide, so there is one at a time (:data:`_current`)."""

    def __init__(self) -> None:
        self.stopping = False  # Terminated was raised: later signals are ignored
        self.training = False  # inside :func:`steps_end_first`
        self.polled = False  # that training asked whether to checkpoint: its steps end
        self.waiting: int | None = None  # the signal waiting for the step to end
        self.asked: int | None = None  # the step whose state :func:`step_ended` asked to be saved
        self.overdue = False  # the step did not end in time: the next signal stops it where it is
        self.timer: threading.Timer | None = None
        self.taken: Terminated | None = None  # the stop raised

    def handle(self, signum: int, frame: FrameType | None) -> None:
        # a job can get SIGTERM twice (srun forwards the one its step also got from slurmstepd): raised
        # again while the first unwinds, it cut the cleanup short, leaving the write's temp file. The
        # job is stopping already, and the cluster's SIGKILL still ends one that hangs.
        if self.stopping:
            return
        if self.training and self.polled and not self.overdue:
            if self.waiting is None:
                self.waiting = signum
                self.timer = threading.Timer(STEP_END_WAIT_S, self._step_overdue, (signum,))
                self.timer.daemon = True
                self.timer.start()
            return
        self.take(self.waiting or signum)

    def _step_overdue(self, signum: int) -> None:
        # in the timer's thread. sigterm_stops joins this thread before it restores SIG_DFL, so the
        # signal never lands on the default handler
        if not self.stopping:
            self.overdue = True
            _signal_main_thread(signum)

    def _stopping(self) -> None:
        """The job is stopping: later signals are ignored, and the wait's timer sends none."""
        self.stopping = True
        if self.timer is not None:
            self.timer.cancel()

    def take(self, signum: int) -> None:
        self._stopping()
        self.taken = Terminated(signum)
        raise self.taken

    def after_training(self, error: BaseException | None) -> None:
        """End :func:`steps_end_first`'s block, which ended with ``error`` (None: it returned)."""
        self.training = False
        if not self.stopping and isinstance(error, KeyboardInterrupt) and not isinstance(error, Terminated):
            # Ctrl-C while a stop waited for the step to end: the user's stop, at once, reads and
            # exits as Ctrl-C does (130); it read as the waiting SIGTERM's (143). The job is
            # stopping: the wait's timer would send that signal again inside the unwinding
            self._stopping()
            self.waiting = None
            return
        waiting, self.waiting = (None if self.stopping else self.waiting), None
        if waiting is not None:
            # taken even over the block's own error (a divergence): the job was told to stop, and
            # the run would go on to the next model
            self.take(waiting)
        if self.taken is not None and error is not self.taken:
            # the training caught the stop that ctx.save_checkpoint raised, and returned (a loop
            # that stops early on Ctrl-C) or raised its own error: it is stopped all the same
            raise self.taken


def _signal_main_thread(signum: int) -> None:
    """Have the main thread take ``signum`` again, from another thread. Where a thread can be sent a
    signal (POSIX), a real one, sent to the main thread: only that cuts a sleep or a wait there
    short. Windows has no such call, and its ``os.kill`` of the process itself with any signal but
    Ctrl-C's or Ctrl-Break's is TerminateProcess, which ended the process at once with exit 15,
    nothing saved and no temp file removed: there the signal is simulated, and the handler runs in
    the main thread at its next Python instruction (a step inside one long native call ends it
    first; the cluster's kill still ends one that hangs)."""
    if hasattr(signal, "pthread_kill"):
        signal.pthread_kill(threading.main_thread().ident or 0, signum)
    else:
        _thread.interrupt_main(signal.Signals(signum))


_current: _Stop | None = None


@contextlib.contextmanager
def sigterm_stops() -> Iterator[None]:
    """Raise :class:`Terminated` on the first SIGTERM, SIGUSR1 or SIGHUP within the block (at a
    training step's end, :func:`steps_end_first`), and ignore the later ones; the previous handlers
    are restored after it. Outside the main thread (where no handler can be installed), and for a
    signal already ignored (``SIG_IGN``: SIGHUP under ``nohup``) or handled (by the caller, or
    outside Python), the block runs as it is."""
    global _current
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    mine = [s for s in TERMINATING_SIGNALS if signal.getsignal(s) is signal.SIG_DFL]
    if not mine:
        yield
        return
    stop, outer = _Stop(), _current
    _current = stop
    for s in mine:
        signal.signal(s, stop.handle)
    try:
        yield
    finally:
        if stop.timer is not None:
            stop.timer.cancel()
            stop.timer.join()  # a signal it sent is taken, as a second one, before SIG_DFL is back
        for s in mine:
            signal.signal(s, signal.SIG_DFL)
        _current = outer


@contextlib.contextmanager
def steps_end_first() -> Iterator[None]:
    """Within the block (a model's ``fit``), a stop waits for the running step to end once the
    training has asked :func:`step_ended` whether to checkpoint (it has step ends to wait for): it
    is taken at the next :func:`stop_if_waiting`, or raised at the block's end where the training
    returned without taking it (a plugin that caught the interruption, or a last step)."""
    stop = _current
    if stop is None or stop.training:
        yield
        return
    stop.training, stop.polled = True, False
    try:
        yield
    except BaseException as e:
        stop.after_training(e)
        raise
    stop.after_training(None)


def step_ended(step: int) -> bool:
    """Whether a stop waits for the end of ``step``: its state should be saved now. Asked at each
    step's end (``ctx.should_checkpoint``), which arms the wait for the steps that follow.

    Asked again at a later step's end, the stop is taken there: the training was told to save and
    went on without ``ctx.save_checkpoint`` (its own code saved, or its own condition skipped the
    save). Answered True at every step instead, a fit that saves with its own code wrote a
    checkpoint at each step until the wait ran out, and was then stopped where it was, often
    inside one of those writes."""
    stop = _current
    if stop is None or not stop.training:
        return False
    stop.polled = True
    if stop.waiting is None or stop.stopping:
        return False
    step = int(step)  # a step counted in numpy or a tensor compares as a number
    if stop.asked is not None and step != stop.asked:
        stop.take(stop.waiting)
    stop.asked = step
    return True


def saving_for_stop() -> None:
    """A state is being saved (``ctx.save_checkpoint``) while a stop waits: the step it waited for
    has ended, and the stop is taken once the state is written. The wait no longer runs: it bounds
    the step, not the write, and cut short, a large state (the CIFAR-10 DDPM's 570 MB on a slow
    shared file system) would have been lost with the step it waited for."""
    stop = _current
    if stop is not None and stop.training and stop.waiting is not None and stop.timer is not None:
        stop.timer.cancel()


def stop_if_waiting() -> None:
    """Raise the waiting stop, if any: the state of the step it waited for is saved."""
    stop = _current
    if stop is not None and stop.training and stop.waiting is not None and not stop.stopping:
        stop.take(stop.waiting)
