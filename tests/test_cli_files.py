"""Where a run writes: an unwritable or full disk, a file where a folder goes, figures that cannot be
written, and the modes of what it writes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import cli_models  # noqa: F401 (registers the test-* models these tests name)
import numpy as np
import pytest
from cli_helpers import (  # tests/ is on the path: pytest puts it there
    fill_disk_writing,
    run_args,
    single_line_error,
)

from genbench.results import find_results


def test_unwritable_out_dir(cli, tmp_path, cache_dir, monkeypatch):
    """Skipped as root (CI's user) before, where chmod stops nothing: there the write is refused as
    it would be for another user."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.name == "posix" and os.geteuid() == 0:
        real = tempfile.NamedTemporaryFile

        def denied(*a, dir=None, **kw):
            if dir is not None and Path(dir).is_relative_to(ro):
                raise PermissionError(13, "Permission denied", str(dir))
            return real(*a, dir=dir, **kw)

        monkeypatch.setattr(tempfile, "NamedTemporaryFile", denied)
    line = single_line_error(cli(*run_args(ro / "runs", cache_dir, "--models", "copy", "--dataset", "ring8")))
    assert f"output directory {ro / 'runs'} is not writable (Permission denied);" in line
    assert line.endswith("pass a writable one with --out"), line


def test_out_path_that_is_a_file(cli, tmp_path, cache_dir):
    f = tmp_path / "file"
    f.write_text("x")
    line = single_line_error(cli(*run_args(f, cache_dir, "--models", "copy", "--dataset", "ring8")))
    assert "--out" in line


def test_a_full_cache_disk_is_said_with_the_fix_not_as_the_models_bug(cli, tmp_path, monkeypatch):
    """A checkpoint that cannot be written for want of space failed as "model 'test-tiny-trained'
    raised OSError" (a plugin's bug, exit 1, no fix). Neither save is the result: the resumable
    state's is said once and training goes on, the final one's is said and the model is scored (the
    next run trains it again); the other models run as ever."""
    import errno

    import genbench.checkpoint
    from genbench.io import atomic_write

    def full(fh):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        genbench.checkpoint, "atomic_write", lambda path, write, fix: atomic_write(path, full, fix=fix)
    )
    args = ["--models", "test-tiny-trained,gaussian", "--dataset", "ring8", "--samples", "100"]
    args += ["--metrics", "fid", "--checkpoint-every", "5", "--no-figures"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args))
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    warned = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    resumable = [ln for ln in warned if "resumable state" in ln]
    final = [ln for ln in warned if "model.pt" in ln]
    assert len(resumable) == 1 and len(final) == 1, warned
    for line in resumable + final:
        assert "No space left on device" in line and "free some space" in line and "--cache-dir" in line, line
    assert "trains it again" in final[0]
    for model in ("test-tiny-trained", "gaussian"):
        assert json.loads((tmp_path / f"runs/ring8/{model}/seed0.json").read_text())["status"] == "ok"
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_figures_that_cannot_be_written_lose_no_metric_and_leave_no_empty_png(
    cli, tmp_path, cache_dir, monkeypatch
):
    """A full disk while saving a figure failed the whole model ("model 'copy' raised OSError") or
    the memorization metric, losing every value computed, and left empty PNGs behind."""
    fill_disk_writing(monkeypatch, lambda path: path.suffix == ".png")
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--metrics", "fid,memorization"]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "figure was not saved" in r.stderr, r.stderr
    res = json.loads((tmp_path / "ring8/copy/seed0.json").read_text())
    assert res["status"] == "ok" and not res["metric_errors"], res["error"] or res["metric_errors"]
    assert {"fid", "memorization_rate"} <= set(res["metrics"]) and not res["artifacts"]
    assert not list(tmp_path.rglob("*.png")) and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_results_and_checkpoints_are_written_with_the_umasks_mode_not_0600(cli, tmp_path):
    """The atomic writes' temp files are 0600, and so was every result, checkpoint and figure renamed
    from them: a shared --out or --cache-dir was unreadable to the rest of the team."""
    old = os.umask(0o022)
    try:
        args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
        assert cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args)).exit_code == 0
    finally:
        os.umask(old)
    written = [*find_results(tmp_path / "runs"), *(tmp_path / "cache").rglob("model.pt")]
    written += list((tmp_path / "runs").rglob("*.png"))
    assert len(written) >= 3
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in written} == {p.name: "0o644" for p in written}


def test_a_full_results_disk_says_so_once_and_names_no_file_it_did_not_write(cli, tmp_path, monkeypatch):
    """The failure said "could not be written to X: GenbenchError: cannot write X (...)" (the path and
    the error twice), and when its own record could not be written either, the summary still
    pointed at X, a file that was never written."""
    import errno

    import genbench.results
    from genbench.io import atomic_write

    def full(fh):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(genbench.results, "atomic_write_json", lambda path, obj: atomic_write(path, full))
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args, "--no-figures"))
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert line.count("seed0.json") == 1 and "GenbenchError" not in line and "free some space" in line, line
    assert "(not written)" in r.output and "-> " not in r.output
    assert not (tmp_path / "runs/ring8/gaussian/seed0.json").exists()
    # on its result line and in the summary, not also on two warnings before them
    assert r.stderr.count("No space left on device") == 2, r.stderr


@pytest.mark.parametrize("command", ["run", "eval", "stats"])
def test_a_genbench_cache_that_is_a_file_is_one_line_naming_the_variable(cli, tmp_path, monkeypatch, command):
    """``$GENBENCH_CACHE`` naming a file: eval and stats went on, warning twice in Python's format
    that no cache could be locked or written; run refused it naming only --cache-dir, which the
    user had not given."""
    np.savez(tmp_path / "s.npz", samples=np.zeros((50, 2), np.float32))
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "afile"))
    args = {
        "run": ["run", "--models", "copy", "--samples", "50", "--out", tmp_path / "runs"],
        "eval": ["eval", "--samples", tmp_path / "s.npz", "--out", tmp_path / "runs"],
        "stats": ["stats", "--out", tmp_path / "st.npz"],
    }[command]
    line = single_line_error(cli(*args, "--dataset", "ring8", "--no-progress"))
    assert line == (
        f"error: {tmp_path / 'afile'} is not writable: it is a file, not a directory; "
        "pass a directory with --cache-dir or $GENBENCH_CACHE"
    )
    assert not find_results(tmp_path / "runs") and not (tmp_path / "st.npz").exists()


def test_a_default_cache_in_the_way_names_the_variable_too(cli, tmp_path, monkeypatch):
    """The default cache (``~/.cache/genbench``, neither flag nor variable given) that cannot be made:
    the fix named --cache-dir alone, where a cluster user sets $GENBENCH_CACHE once for every job."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home/.cache").write_text("x")  # a file where the cache's folder would be
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GENBENCH_CACHE", raising=False)
    args = ["run", "--models", "copy", "--samples", "50", "--out", tmp_path / "runs", "--dataset", "ring8"]
    line = single_line_error(cli(*args, "--no-progress"))
    assert line.endswith("pass a directory with --cache-dir or $GENBENCH_CACHE"), line
    assert not find_results(tmp_path / "runs")


def test_a_python_warning_is_one_warning_line(cli, tmp_path, monkeypatch):
    """A warning of Python's own (here: reference features that a full disk kept out of the cache)
    was printed in Python's format, ``.../genbench/features/reference.py:152: UserWarning: ...``
    and the source line beneath it; it is one ``warning:`` line, as genbench's console says its own."""
    from genbench.errors import GenbenchError
    from genbench.features import reference

    def full(path, write, **kwargs):
        raise GenbenchError(f"cannot write to {path.parent} (No space left on device)")

    monkeypatch.setattr(reference, "atomic_write", full)
    np.savez(tmp_path / "s.npz", samples=np.zeros((50, 2), np.float32))
    monkeypatch.chdir(tmp_path)
    r = cli("eval", "--samples", "s.npz", "--dataset", "ring8", "--metrics", "fid", "--cache-dir", "cache")
    assert r.exit_code == 0, r.output
    said = [ln for ln in r.stderr.splitlines() if "not cached" in ln]
    assert said == [
        "warning: train features of ring8 (raw) are used but not cached: cannot write to "
        f"{tmp_path / 'cache' / 'features'} (No space left on device)"
    ], r.stderr
    assert "UserWarning" not in r.stderr and ".py:" not in r.stderr, r.stderr
