"""The CLI where it is not run in a UTF-8 terminal: an encoding without ``↓`` or ``é``, Ctrl-C before
a command's own code runs, the command list of `genbench --help` at 80 columns."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "latin-1"},
        {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
    ],
)
def test_a_character_the_encoding_lacks_is_replaced_not_a_traceback(env):
    """`genbench list` under ``LC_ALL=C PYTHONUTF8=0`` (an ASCII stdout) or ``PYTHONIOENCODING=latin-1``
    printed a UnicodeEncodeError traceback at a description's "é" or "ń", and `genbench report` at
    its header's "↓"; the character is now printed as "?"."""
    r = subprocess.run(
        [sys.executable, "-m", "genbench", "list", "metrics"],
        capture_output=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")[-2000:]
    assert b"?" in r.stdout and b"\xe2" not in r.stdout  # no UTF-8 byte in what it printed
