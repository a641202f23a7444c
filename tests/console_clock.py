"""A console whose clock the test moves by hand, for the bars and forecasts that time a task by it
(rich's ``Console.get_time``). Imported by name: tests/ is on the path."""

from __future__ import annotations

import io

from rich.console import Console


class Clock:
    """A console clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def clocked_console(clock: Clock, terminal: bool, width: int = 200) -> Console:
    """A console writing to a string (``console.file.getvalue()``), on ``clock``'s time: a terminal's
    bar when ``terminal``, else a log file's lines."""
    return Console(
        file=io.StringIO(), force_terminal=terminal, force_interactive=terminal, width=width, get_time=clock
    )
