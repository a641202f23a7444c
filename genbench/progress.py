"""Console output of a run: rich progress bars for training and sampling, warnings, summaries.

Everything goes to stderr so that stdout carries only what a command is asked for (the report's
markdown). Warnings are printed once each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

if TYPE_CHECKING:
    from genbench.results import Result


class Progress:
    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(stderr=True)
        self._bar: RichProgress | None = None
        self._warned: set[str] = set()

    def _new_bar(self) -> RichProgress:
        return RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[values]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not self.enabled,
        )

    def training(self, description: str) -> Callable[[int, int, dict[str, float]], None]:
        bar = self._bar = self._new_bar()
        bar.start()
        task = bar.add_task(escape(description), total=None, values="")

        def update(step: int, total: int, values: dict[str, float]) -> None:
            shown = " ".join(f"{k}={v:.4g}" for k, v in values.items())
            bar.update(task, completed=step, total=total, values=shown)

        return update

    def training_done(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def sampling(self, description: str, total: int) -> Callable[[int], None]:
        bar = self._bar = self._new_bar()
        bar.start()
        task = bar.add_task(escape(description), total=total, values="")
        return lambda k: bar.advance(task, k)

    sampling_done = training_done

    @contextlib.contextmanager
    def status(self, text: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with self.console.status(text):
            yield

    def info(self, text: str) -> None:
        if self.enabled:
            self.console.print(f"[dim]{escape(text)}[/dim]", highlight=False)

    def warn(self, text: str) -> None:
        if text in self._warned:
            return
        self._warned.add(text)
        self.console.print(f"[yellow]warning:[/yellow] {escape(text)}", highlight=False, soft_wrap=True)

    def done(self, result: Result, path: Path | None) -> None:
        if result.status != "ok":
            line = f"[red]{result.status}[/red] {escape(result.label)} seed {result.seed}: {escape(str(result.error))}"
        else:
            keys = [
                k
                for k in ("fid", "memorization_rate", "modes_covered", "samples_per_s")
                if k in result.metrics
            ]
            shown = "  ".join(f"{k}={result.metrics[k]:.4g}" for k in keys)
            flags = f" [yellow]{','.join(result.flags)}[/yellow]" if result.flags else ""
            line = f"[green]ok[/green] {escape(result.label)} seed {result.seed}: {shown}{flags}"
        where = f"-> {path}" if path is not None else "(not written)"
        self.console.print(f"{line}  [dim]{escape(where)}[/dim]", highlight=False, soft_wrap=True)
