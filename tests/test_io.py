"""genbench.io: atomic writes (a reader never sees a half-written file; a failed write loses nothing)."""

from __future__ import annotations

import json

import pytest

from genbench.io import atomic_write, atomic_write_json


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp_file(tmp_path, error):
    path = tmp_path / "seed0.json"
    atomic_write_json(path, {"fid": 1.5})
    old = path.read_bytes()

    def write(fh):
        fh.write(b'{"fid": 2')  # half a new file ...
        fh.flush()
        assert path.read_bytes() == old  # ... never visible under the final name
        raise error

    with pytest.raises(error):
        atomic_write(path, write)
    assert path.read_bytes() == old and json.loads(old) == {"fid": 1.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0.json"]


def test_a_completed_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "x.json"
    atomic_write_json(path, {"a": [1, float("nan")]})
    atomic_write_json(path, {"b": 2})
    assert json.loads(path.read_text()) == {"b": 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.json"]


def test_a_write_removes_the_stale_temp_files_a_killed_write_left_and_keeps_fresh_ones(tmp_path):
    """A SIGKILL between mkstemp and the rename left a hidden temp file (a CIFAR-10 DDPM checkpoint:
    about 570 MB) that nothing ever removed. One older than a day is; a fresh one may be another
    run's write in progress and stays, as do other files' temps."""
    import os
    import time

    from genbench.io import STALE_TEMP_S

    path = tmp_path / "model.pt"
    stale, fresh = tmp_path / ".model.pt.k1ll3d.tmp", tmp_path / ".model.pt.wr1t1ng.tmp"
    other = tmp_path / ".train.pt.k1ll3d.tmp"
    for f in (stale, fresh, other):
        f.write_bytes(b"partial")
    old = time.time() - STALE_TEMP_S - 60
    for f in (stale, other):
        os.utime(f, (old, old))
    atomic_write(path, lambda fh: fh.write(b"weights"))
    assert path.read_bytes() == b"weights"
    assert not stale.exists() and fresh.exists() and other.exists()


def _held_open(monkeypatch, times: int) -> list[str]:
    """Make the rename fail as Windows's does while another process has the file open (a report
    reading it), ``times`` times; returns the log of the tries."""
    import os

    import genbench.io

    real, tries = os.replace, []

    def replace(src, dst):
        tries.append("denied" if len(tries) < times else "renamed")
        if tries[-1] == "denied":
            raise PermissionError(13, "Access is denied", str(dst))
        real(src, dst)

    monkeypatch.setattr(genbench.io.os, "replace", replace)
    return tries


def test_on_windows_a_write_over_a_file_another_process_reads_waits_for_it(tmp_path, monkeypatch):
    """On Windows a rename over a file open in another process (`genbench report` reading a result
    while a run writes it) fails with PermissionError: the run's result was lost to a read of a few
    milliseconds. It is retried, for a bounded time."""
    import genbench.io

    monkeypatch.setattr(genbench.io, "REPLACE_RETRY_S", 5.0)  # as on Windows
    path = tmp_path / "seed0.json"
    atomic_write_json(path, {"fid": 1.5})
    tries = _held_open(monkeypatch, times=3)
    atomic_write_json(path, {"fid": 2.5})
    assert tries == ["denied"] * 3 + ["renamed"]
    assert json.loads(path.read_text()) == {"fid": 2.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0.json"]


def test_on_windows_a_file_held_open_for_long_fails_the_write_in_one_line(tmp_path, monkeypatch):
    import genbench.io
    from genbench.errors import GenbenchError

    monkeypatch.setattr(genbench.io, "REPLACE_RETRY_S", 0.2)
    path = tmp_path / "seed0.json"
    atomic_write_json(path, {"fid": 1.5})
    tries = _held_open(monkeypatch, times=10**6)
    with pytest.raises(GenbenchError) as e:
        atomic_write_json(path, {"fid": 2.5})
    assert str(e.value) == (
        f"cannot replace {path} (Access is denied): another program has held it open for 0.2 s; close "
        "it (a report reading it, an editor) and rerun"
    )
    assert len(tries) > 1 and json.loads(path.read_text()) == {"fid": 1.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0.json"]  # the temp file removed


def test_on_posix_a_denied_rename_is_not_retried(tmp_path, monkeypatch):
    """There it is the folder's permissions, which no wait changes."""
    import os

    import genbench.io

    if os.name == "nt":
        pytest.skip("POSIX")
    assert genbench.io.REPLACE_RETRY_S == 0
    tries = _held_open(monkeypatch, times=1)
    with pytest.raises(PermissionError):
        atomic_write_json(tmp_path / "seed0.json", {"fid": 1.5})
    assert tries == ["denied"]
