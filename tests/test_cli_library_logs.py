"""A library's logged warning, where nothing configures logging, is one ``warning:`` line on stderr,
as Python's warnings and genbench's own are. Under a read-only home without ``$MPLCONFIGDIR``,
matplotlib logged "mkdir -p failed for path ~/.config/matplotlib: [Errno 30] Read-only file system"
and "Matplotlib created a temporary cache directory ... set the MPLCONFIGDIR environment variable",
which logging's last resort printed as raw lines of their own."""

from __future__ import annotations

import logging

from typer.testing import CliRunner

from genbench.cli import cache_table
from genbench.cli.main import app


def test_a_library_log_record_is_one_warning_line(monkeypatch, tmp_path):
    def logs(cache_dir, data_dir):
        logging.getLogger("somelib").warning(
            "Matplotlib created a temporary cache directory;\n  set MPLCONFIGDIR"
        )
        logging.getLogger("somelib").info("not shown: below a warning")

    monkeypatch.setattr(cache_table, "cache_table", logs)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in the CLI: pytest's own capture it
    last_resort = logging.lastResort
    r = CliRunner().invoke(app, ["list", "cache", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines() == [
        "warning: Matplotlib created a temporary cache directory; set MPLCONFIGDIR"
    ]
    assert logging.lastResort is last_resort  # as it was, after the command


def test_a_library_error_record_is_one_error_line_naming_its_exception(monkeypatch, tmp_path):
    """An ERROR record printed as ``warning:``, and ``logger.exception``'s exception was lost (the
    message alone, nothing of why); it is an ``error:`` line ending in the exception, with no
    traceback, and the command goes on as the library did."""

    def logs(cache_dir, data_dir):
        log = logging.getLogger("somelib")
        try:
            raise OSError("[Errno 28] No space left\non device")
        except OSError:
            log.exception("could not save the font cache")
        log.critical("gave up")
        try:
            raise ValueError("bad header")
        except ValueError as e:
            log.exception("could not read the file: %s", e)
        try:
            raise KeyError
        except KeyError:
            log.warning("no such key", exc_info=True)

    monkeypatch.setattr(cache_table, "cache_table", logs)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in the CLI: pytest's own capture it
    r = CliRunner().invoke(app, ["list", "cache", "--cache-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines() == [
        "error: could not save the font cache (OSError: [Errno 28] No space left on device)",
        "error: gave up",
        "error: could not read the file: bad header (ValueError)",
        "warning: no such key (KeyError)",
    ]
