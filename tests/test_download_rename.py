"""A download's last step, the rename of its verified part to the file, on Windows: there a virus
scanner or an indexer that opened the part just written (or another program the file there) makes
the rename fail with PermissionError for a few milliseconds, and the whole download failed with it.
It is retried as genbench's atomic writes are (:func:`genbench.io.replace_retried`); simulated on Linux by
setting the retry's time to Windows's and denying the rename."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from test_download import GOOD, PAYLOAD, _State, resuming_server  # tests/ is on the path

import genbench.io
from genbench.data import download
from genbench.errors import GenbenchError


@pytest.fixture
def resuming(monkeypatch) -> Iterator[_State]:
    with resuming_server(monkeypatch) as state:
        yield state


def _part_held_open(monkeypatch, times: int) -> list[str]:
    """Make the rename of a download's part fail ``times`` times as Windows's does while another
    process has it open (other renames go through); returns the log of its tries."""
    real, tries = os.replace, []

    def replace(src, dst):
        if str(src).endswith(".part"):
            tries.append("denied" if len(tries) < times else "renamed")
            if tries[-1] == "denied":
                raise PermissionError(13, "Access is denied", str(src))
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return tries


def test_on_windows_the_rename_of_a_download_another_process_holds_waits_for_it(
    tmp_path, resuming, monkeypatch
):
    monkeypatch.setattr(genbench.io, "REPLACE_RETRY_S", 5.0)  # as on Windows
    tries = _part_held_open(monkeypatch, times=3)
    download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [resuming.url])
    assert tries == ["denied"] * 3 + ["renamed"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD
    assert len(resuming.requests) == 1  # downloaded once, not again from the start


def test_on_windows_a_download_held_open_for_long_fails_in_one_line_and_keeps_its_part(
    tmp_path, resuming, monkeypatch
):
    monkeypatch.setattr(genbench.io, "REPLACE_RETRY_S", 0.2)
    real = os.replace
    _part_held_open(monkeypatch, times=10**6)
    with pytest.raises(GenbenchError) as e:
        download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [resuming.url])
    assert str(e.value) == (
        f"cannot replace {tmp_path / 'f.gz'} (Access is denied): another program has held it open for "
        "0.2 s; close it (a report reading it, an editor) and rerun"
    )
    assert (tmp_path / "f.gz.part").read_bytes() == PAYLOAD  # verified, and kept for the rerun
    monkeypatch.setattr(os, "replace", real)
    download.ensure_files("x", tmp_path, {"f.gz": GOOD}, [resuming.url])  # closed: renamed, not downloaded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.gz"]
    assert [status for _, status in resuming.requests] == [200, 416]
