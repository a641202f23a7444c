"""Run a snippet in a fresh Python process with UserWarnings as errors: torch warns once per process
(its "not writable" warning of a read-only array), so a test that an input no longer draws it needs
a process no earlier test has warned in."""

from __future__ import annotations

import subprocess
import sys


def assert_no_user_warning(code: str) -> None:
    """``code`` runs to its end, its assertions holding, with no UserWarning raised."""
    r = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]
