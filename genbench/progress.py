"""Console output of a run: rich progress bars for training, sampling and feature extraction,
warnings, summaries.

Everything goes to stderr so that stdout carries only what a command is asked for (the report's
markdown). Warnings are printed once each. On a terminal a bar is drawn in place; in a log file
(stderr redirected, a cluster job's) a long task prints a few plain lines instead (:class:`_Lines`).
With ``NO_COLOR`` set, nothing is styled.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.status import Status
from rich.table import Table

from genbench.errors import warning_ignored
from genbench.extraction_bar import ExtractionBar
from genbench.metric_bar import UPDATE_S, MetricBar, counted
from genbench.sampling_bar import SamplingBar, Show
from genbench.text import printable
from genbench.training_forecast import TrainingForecast

if TYPE_CHECKING:
    from genbench.results import Result

#: in a log file, a task that has run this long prints a line at each tenth of it: a long training's
#: log shows its steps and loss, a short task's (a control's sampling) nothing
LOG_AFTER_S = 10.0
#: the bars' speed (and so their time remaining) is taken over this much of their recent progress:
#: rich's 30 s held one update of a step slower than that (the CIFAR-10 DDPM's 40 s a step on a CPU),
#: no speed, and the time remaining stayed -:--:-- for the whole training
SPEED_ESTIMATE_S = 3600.0


def make_console(stderr: bool = False) -> Console:
    """A rich console; with ``NO_COLOR`` set (and not empty) it writes no style at all: rich drops the
    colours only, and kept dim and bold as escape codes."""
    return Console(stderr=stderr, color_system=None if os.environ.get("NO_COLOR") else "auto")


class Progress:
    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.console = console or make_console(stderr=True)
        self._bar: RichProgress | None = None
        self._warned: set[str] = set()
        #: the spinner shown (:meth:`status`), and whether a bar stopped it for its own time
        self._spinner: Status | None = None
        self._paused = False
        #: the bars stopped for a bar drawn within them (a metric's, whose compute extracts a split)
        self._outer: list[RichProgress] = []

    def _new_bar(self) -> RichProgress:
        return _FittedBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[values]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not self.enabled,
            speed_estimate_period=SPEED_ESTIMATE_S,
        )

    def _as_lines(self) -> bool:
        """Progress as lines, not a bar: rich draws no bar where the console is not interactive (a log
        file, TERM=dumb), and left an empty line there for each. A notebook keeps rich's widget where
        it can draw one (:func:`_notebook_widgets`)."""
        if not self.enabled:
            return False
        if self.console.is_jupyter:
            return not _notebook_widgets()
        return not self.console.is_interactive

    def training(
        self, description: str, hint: Callable[[int], str] | None = None
    ) -> Callable[[int, int, dict[str, float]], None]:
        """A training's progress: ``update(step, total, values)``. A training that its first steps
        project to take long says so once (:class:`TrainingForecast`), ``hint(total)`` saying how to
        shorten it."""
        forecast = TrainingForecast(
            self.console.get_time, lambda text: self.warn(f"{description}: {text}"), hint
        )
        if self._as_lines():
            lines = TenthLines(self.console, description)

            def line(step: int, total: int, values: dict[str, float]) -> None:
                lines.update(step, total, _shown(values))
                forecast.update(step, total)

            return line
        bar = self._start_bar()
        task = bar.add_task(escape(description), total=None, values="")

        def update(step: int, total: int, values: dict[str, float]) -> None:
            bar.update(task, completed=step, total=total, values=_shown(values))
            forecast.update(step, total)

        return update

    def _start_bar(self) -> RichProgress:
        """A new bar, drawn: a spinner shown (a metric's, whose compute extracts a split's features)
        is stopped for the bar's time, and drawn again when it is done (:meth:`training_done`), as
        is a bar shown (a metric's progress, :meth:`computing`). rich before 14.1 draws one live
        display at a time, and raised ``LiveError`` for the second (genbench's floor is 13.8); from
        14.1 it drew the bar within the spinner's display."""
        if self._spinner is not None and not self._paused:
            self._spinner.stop()
            self._paused = True
        if self._bar is not None:
            self._bar.stop()
            self._outer.append(self._bar)
        bar = self._bar = self._new_bar()
        bar.start()
        return bar

    def training_done(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._outer:  # the bar this one was drawn within (a metric's), drawn again
            self._bar = self._outer.pop()
            self._bar.start()
            return
        if self._paused and self._spinner is not None:
            self._spinner.start()
        self._paused = False

    def sampling(self, description: str, total: int) -> SamplingBar:
        """The progress of drawing ``total`` samples (:class:`SamplingBar`): called with each kept
        batch's size, and told of each batch's start and of the model's steps within it. A sampling
        that its first 10 s project to take an hour or more says so once, as a training does."""

        def say(text: str) -> None:
            self.warn(f"{description}: {text}")

        if self._as_lines():

            def lines(phase: str, of: int) -> Show:
                # a tenth of a batch's steps is a tenth of its samples: counted whole, they are drawn
                tenths = TenthLines(self.console, phase, lambda done, total: f"{int(done)}/{total}")
                return lambda completed, values: tenths.update(completed, of, values)

            return SamplingBar(description, total, lines, self.console.get_time, say)
        bar = self._start_bar()
        running: list[TaskID] = []

        def task(phase: str, of: int) -> Show:
            for old in running:  # the warm-up's: its speed is not the timed bar's
                bar.remove_task(old)
            running[:] = [bar.add_task(escape(phase), total=of, values="")]
            return lambda completed, values: bar.update(running[0], completed=completed, values=values)

        return SamplingBar(description, total, task, self.console.get_time, say)

    sampling_done = training_done

    @contextlib.contextmanager
    def extracting(self, description: str, noun: str, hint: str = "") -> Iterator[ExtractionBar | None]:
        """The progress of a feature extraction in the block: the :class:`ExtractionBar` to hand
        ``extract`` (None with progress off), counting ``noun`` (``images``, ``samples``). One that
        its first 10 s project to take an hour or more says so once, ending with ``hint`` (what
        makes it shorter)."""
        if not self.enabled:
            yield None
            return

        def say(text: str) -> None:
            self.warn(f"{description}: {text}")

        if self._as_lines():
            # the status's lines too: a step still running (a cache read, another process's
            # extraction waited for) says so after LOG_AFTER_S, and says when it is done
            with self._running_lines(description) as running:
                lines = TenthLines(self.console, description, before=running)
                yield ExtractionBar(lines.update, self.console.get_time, say, noun, hint)
            return
        bar = self._start_bar()
        task = bar.add_task(escape(description), total=None, values="")

        def show(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            yield ExtractionBar(show, self.console.get_time, say, noun, hint)
        finally:
            self.training_done()

    @contextlib.contextmanager
    def computing(self, description: str) -> Iterator[MetricBar | None]:
        """A metric computing: a spinner saying ``description`` (:meth:`status`), which the progress
        its compute reports (the :class:`MetricBar` to bind, :mod:`genbench.metric_steps`) turns into
        a bar with the time left; in a log file, beside the spinner's lines, a line at each tenth
        once it has run :data:`LOG_AFTER_S`. None with progress off."""
        if not self.enabled:
            yield None
            return
        if self._as_lines():
            with self._running_lines(description) as running:
                noun = [""]
                lines: TenthLines  # its count reads its start
                lines = TenthLines(
                    self.console,
                    description,
                    lambda done, total: counted(done, total, noun[0], time.monotonic() - lines.start),
                    before=running,
                )

                def line(done: float, total: float, what: str) -> None:
                    noun[0] = what
                    lines.update(done, total)

                yield MetricBar(line, time.monotonic)
            return
        with self.status(description):
            shown: list[tuple[RichProgress, TaskID]] = []

            def show(done: float, total: float, what: str) -> None:
                if not shown:  # the first report: the bar replaces the spinner
                    # drawn as it is added: added at 0, it read "0/5" without its noun until the next refresh
                    bar = self._start_bar()
                    # rich types add_task's completed as an int; its Task holds a float, as update() takes
                    task = bar.add_task(escape(description), total=total, completed=done, values=escape(what))  # type: ignore[arg-type]
                    shown.append((bar, task))
                bar, task = shown[0]
                bar.update(task, completed=done, total=total, values=escape(what))

            try:
                yield MetricBar(show, self.console.get_time, UPDATE_S)
            finally:
                if shown:
                    self.training_done()

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        if self._as_lines():
            with self._running_lines(text):
                yield
            return
        if self._spinner is not None or self._bar is not None:
            # a step within a step (a metric's compute reading a cache): one live display at a time
            # (:meth:`_start_bar`); the spinner shown says the inner step, then the outer one again
            yield from self._within(text)
            return
        with self.console.status(escape(text)) as spinner:  # a variant, ddim[steps=10], is no markup
            self._spinner = spinner
            try:
                yield
            finally:
                self._spinner, self._paused = None, False

    @contextlib.contextmanager
    def _running_lines(self, text: str) -> Iterator[Callable[[], None]]:
        """:meth:`status` in a log file, where rich's spinner draws nothing (an hour of CIFAR-10
        reference features on a CPU read as a hung job): a step still running after
        :data:`LOG_AFTER_S` says so (``text ...``), and when it ends (``text: done (0:00:12)``).
        Yields what says the running line now, if not said yet: a count line of the step
        (:class:`TenthLines`) is said after it, where the timer's thread, not yet run at the count's
        LOG_AFTER_S, printed it below the count (or never, the step ending first)."""
        start, said, ended = time.monotonic(), threading.Event(), threading.Event()
        # the timer's line and the step's end in one order: a step that ended while the timer
        # printed wrote ": done" above its " ..." line (a metric's status made that window daily)
        order = threading.Lock()

        def say() -> None:
            with order:
                if ended.is_set() or said.is_set():
                    return
                said.set()
                self.console.print(f"{text} ...", markup=False, highlight=False, soft_wrap=True)

        timer = threading.Timer(LOG_AFTER_S, say)
        timer.daemon = True
        timer.start()
        try:
            yield say
        finally:
            timer.cancel()
            with order:
                ended.set()
            if said.is_set():
                took = datetime.timedelta(seconds=int(time.monotonic() - start))
                self.console.print(f"{text}: done ({took})", markup=False, highlight=False, soft_wrap=True)

    def _within(self, text: str) -> Iterator[None]:
        """:meth:`status` while a spinner or a bar is shown: the spinner says ``text`` for the time
        of the block; a bar is left as it is."""
        spinner = self._spinner
        if spinner is None or self._bar is not None:
            yield
            return
        outer = spinner.status
        spinner.update(escape(text))
        try:
            yield
        finally:
            spinner.update(outer)

    def info(self, text: str) -> None:
        if self.enabled:  # soft-wrapped: a log file's 80 columns broke a checkpoint's path in two
            self.console.print(f"[dim]{escape(printable(text))}[/dim]", highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """A line said even with progress off, as the result lines are (the run's protocol). Here and
        in the other lines, what a terminal acts on is written as its escape
        (:func:`genbench.text.printable`): a path or name from a results folder someone sent, a
        plugin's error (``\\x1b[2J`` cleared the terminal, a line break forged a line); rich's
        :func:`~rich.markup.escape` escaped its markup alone."""
        self.console.print(escape(printable(text)), highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        """A ``warning:`` line, once per text; none where Python's warning filters ignore it
        (:class:`genbench.errors.GenbenchWarning`): a notebook's cell shows the console's lines
        whatever ``sys.stderr`` is, and ``warnings.simplefilter("ignore")`` silenced none."""
        if text in self._warned or warning_ignored(text):
            return
        self._warned.add(text)
        self.console.print(
            f"[yellow]warning:[/yellow] {escape(printable(text))}", highlight=False, soft_wrap=True
        )

    def done(self, result: Result, path: Path | None) -> None:
        if result.status != "ok":
            error = escape(printable(result.error))
            line = f"[red]{result.status}[/red] {escape(printable(result.label))} seed {result.seed}: {error}"
        else:
            keys = [
                k
                # cmmd beside fid: under --features clip, which runs it by default, it is the number sought
                for k in ("fid", "cmmd", "memorization_rate", "modes_covered", "samples_per_s")
                if k in result.metrics
            ] or list(result.metrics)[:4]  # --metrics kid: the line showed no value at all
            # a plugin metric's value names, kept undeclared: "[/x]" in one failed the line as markup
            shown = "  ".join(f"{escape(printable(k))}={result.metrics[k]:.4g}" for k in keys)
            flags = f" [yellow]{escape(printable(','.join(result.flags)))}[/yellow]" if result.flags else ""
            line = f"[green]ok[/green] {escape(printable(result.label))} seed {result.seed}: {shown}{flags}"
        where = f"-> {path}" if path is not None else "(not written)"
        self.console.print(f"{line}  [dim]{escape(printable(where))}[/dim]", highlight=False, soft_wrap=True)


def _notebook_widgets() -> bool:
    """Whether rich can draw its bars in a notebook: it draws them in an ipywidgets ``Output``, which
    genbench does not depend on. Without it every bar and spinner of a run warned 'install
    "ipywidgets" for Jupyter support' in the cell, with an empty output for each, and showed no
    progress at all; a notebook without it gets the log file's lines instead."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("IPython", "ipywidgets"))
    except (ImportError, ValueError):  # a module of that name without a spec
        return False


def _shown(values: dict[str, float]) -> str:
    """A training step's values as a bar shows them: ``loss=0.0351``."""
    return " ".join(f"{k}={v:.4g}" for k, v in values.items())


class TenthLines:
    """A progress bar in a log file: once its task has run :data:`LOG_AFTER_S`, a plain line at each
    tenth of it (``train vae seed 0: 300/3000 loss=2.31 (0:00:08)``), not one per update. ``count``
    writes how far it is (a download's ``17.1 MB of 170.5 MB``)."""

    def __init__(
        self,
        console: Console,
        description: str,
        count: Callable[[float, float], str] = lambda done, total: f"{done}/{total}",
        before: Callable[[], None] | None = None,
    ):
        self.console, self.description, self.count = console, description, count
        self.before = before  # called before each line: its step's running line (Progress.status)
        self.start = time.monotonic()
        self.tenths = 0

    def update(self, completed: float, total: float | None, values: str = "") -> None:
        if not total:
            return
        tenths = min(10, int(completed * 10 // total))
        if tenths <= self.tenths:
            return
        self.tenths = tenths
        elapsed = time.monotonic() - self.start
        if elapsed >= LOG_AFTER_S:
            took = datetime.timedelta(seconds=int(elapsed))
            line = (
                f"{self.description}: {self.count(completed, total)}"
                + (f" {values}" if values else "")
                + f" ({took})"
            )
            if self.before is not None:
                self.before()
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)


#: the running command's console (:func:`command_console`); None outside a command (a dataset
#: loaded in a notebook)
_COMMAND: ContextVar[Progress | None] = ContextVar("genbench_command_console", default=None)


@contextlib.contextmanager
def command_console(console: Progress) -> Iterator[None]:
    """Make ``console`` the one that what runs in the block speaks on: a dataset's ``_load``
    downloads, or a plugin leaves torch's state changed, from wherever its data or features are first
    needed, with no console at hand (:func:`current_console`)."""
    token = _COMMAND.set(console)
    try:
        yield
    finally:
        _COMMAND.reset(token)


def current_console() -> Progress | None:
    """The console of the command running (:func:`command_console`), None outside one."""
    return _COMMAND.get()


def warn_each(lines: list[str]) -> None:
    """Each of ``lines`` as a ``warning:`` line, on the running command's console, else on stderr."""
    warn = (current_console() or Progress(enabled=False)).warn
    for line in lines:
        warn(line)


class _FittedBar(RichProgress):
    """Rich's progress display, laid out so that a narrow terminal keeps its numbers: rich shrank every
    column alike, cutting the step count ("1234/…") and the times at 60 columns. The bar gives way
    first, then the description (with an ellipsis); the count, the values and the times keep their
    width as long as they fit at all. Columns: description, bar, then the others."""

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        table = super().make_tasks_table(tasks)
        if not table.row_count:  # also while rich's __init__ runs, before self.console exists
            return table
        options = self.console.options
        widths = [
            max(1, *(Measurement.get(self.console, options, cell).maximum for cell in column.cells))
            for column in table.columns
        ]
        room = options.max_width - sum(widths[2:]) - (len(widths) - 1)  # one space between columns
        description = max(1, min(widths[0], room - 1))
        table.columns[0].width, table.columns[0].no_wrap = description, True
        table.columns[0].overflow = "ellipsis"
        table.columns[1].width = max(1, min(widths[1], room - description))
        # rich before 14.3 shrank these too ("1234/200…") when the bar and description had room to give
        for column, width in zip(table.columns[2:], widths[2:], strict=True):
            column.min_width = width
        return table
