"""A cached features file records what its key was made from (the key scheme's version and its
inputs), and `genbench list cache` says from it whether today's genbench reads the file. Before, the
listing showed a file that an older key scheme wrote, which no run reads again, as features
"extracted again by the next run that needs them": the file recorded nothing of its key, and making
each key again would load every dataset and build every extractor."""

from __future__ import annotations

import io
import json
import os
import shlex
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import genbench
from genbench.cli.main import app
from genbench.data.toy2d import Ring8
from genbench.features import reference
from genbench.features.raw import Raw
from genbench.features.reference import (
    FORMAT_VERSION,
    KEY_FIELDS,
    KEY_OPTIONAL,
    KEY_RECORD,
    cache_path,
    key_inputs,
    key_of,
    reference_features,
)

DAY = 24 * 3600.0


def _record(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz[KEY_RECORD][()]))


@pytest.mark.parametrize("batch_size", [256, 2])  # 2: the key hashes the rows per call too
def test_a_features_file_records_the_inputs_its_key_was_made_from(tmp_path, batch_size):
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path, batch_size=batch_size)
    reference_features(ds, ext, "train", tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    record = _record(path)
    assert record == key_inputs(ds, ext, "train")
    assert record["version"] == FORMAT_VERSION and ("rows" in record) == (batch_size == 2)
    assert path.name.endswith(f"-{key_of(record)}.npz")  # the record makes the file's own key


def test_the_key_hashes_the_fields_the_listing_expects(tmp_path):
    """A field added to the key (or dropped) without :data:`KEY_FIELDS` saying so would have today's
    files listed as stale, or an older scheme's as today's."""
    ds = Ring8(cache_dir=tmp_path)
    for ext in (Raw(ds, cache_dir=tmp_path), Raw(ds, cache_dir=tmp_path, batch_size=2)):
        fields = set(key_inputs(ds, ext, "test"))
        assert KEY_FIELDS <= fields <= KEY_FIELDS | KEY_OPTIONAL


def test_the_arrays_are_written_and_read_as_before(tmp_path, monkeypatch):
    """The record is a member beside the arrays: their bytes in the file are numpy.save's of them,
    as before; a file written before the record (none in it) is read, not extracted again."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    made = reference_features(ds, ext, "train", tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    as_before = io.BytesIO()
    np.save(as_before, ds.load("train")[0].numpy().astype(np.float32))  # raw features are float32
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == sorted(["features.npy", f"{KEY_RECORD}.npy"])
        assert z.read("features.npy") == as_before.getvalue()
    np.savez(path, features=made.features.astype(np.float32))  # as a genbench before the record wrote it
    monkeypatch.setattr(Raw, "extract", lambda self, x: pytest.fail("extracted again"))
    np.testing.assert_array_equal(reference_features(ds, ext, "train", tmp_path).features, made.features)


def _features_cache(root: Path) -> dict[str, Path]:
    """A features folder of each case: today's file, an older scheme's (version 0), one keyed
    otherwise (without the arithmetic, as before it was keyed), a newer genbench's (version 2), one
    written before the record, and one cut short."""
    ds = Ring8(cache_dir=root)
    ext = Raw(ds, cache_dir=root)
    reference_features(ds, ext, "train", root)
    today = cache_path(ds, ext, "train", root)
    inputs = _record(today)
    features = np.zeros((3, 2), np.float32)

    def written(record: dict) -> Path:
        path = today.with_name(f"ring8-test-raw-{key_of(record)}.npz")
        np.savez(path, features=features, **{KEY_RECORD: np.array(json.dumps(record))})
        return path

    unrecorded = today.with_name("ring8-test-raw-00112233445566778899.npz")
    np.savez(unrecorded, features=features)
    cut = today.with_name("ring8-test-raw-99887766554433221100.npz")
    cut.write_bytes(unrecorded.read_bytes()[:40])
    return {
        "today": today,
        "older": written({**inputs, "version": 0}),
        "otherwise": written({k: v for k, v in inputs.items() if k != "arithmetic"}),
        "newer": written({**inputs, "version": 2}),
        "unrecorded": unrecorded,
        "cut": cut,
    }


def test_the_listing_says_whether_this_genbench_reads_each_features_file(tmp_path, monkeypatch):
    paths = _features_cache(tmp_path / "cache")
    for p in paths.values():  # a month unused: the listing is no use of them
        os.utime(p, (p.stat().st_mtime - 30 * DAY,) * 2)
    before = {k: p.stat().st_atime for k, p in paths.items()}
    # read from the record alone: no dataset is loaded, no extractor built
    monkeypatch.setattr(reference, "key_inputs", lambda *a: pytest.fail("a key was made"))
    monkeypatch.setattr(Ring8, "content_digest", lambda *a: pytest.fail("the dataset was read"))
    listing = genbench.cache_entries(tmp_path / "cache", tmp_path / "data")
    by_path = {e.path: e for e in listing.entries}
    got = {k: (by_path[p].kind, by_path[p].what) for k, p in paths.items()}
    assert got == {
        "today": ("features", "train features of ring8 (raw)"),
        "older": (
            "stale features",
            "test features of ring8 (raw), keyed by an older genbench (key scheme 0; this one's is 1): never read",
        ),
        "otherwise": (
            "stale features",
            "test features of ring8 (raw), keyed otherwise than this genbench keys them: never read",
        ),
        "newer": (
            "features",
            "test features of ring8 (raw) (keyed by a newer genbench, key scheme 2: this one does not read them)",
        ),
        "unrecorded": (
            "unrecorded features",
            "test features of ring8 (raw), written before genbench recorded how its key is made",
        ),
        "cut": (
            "features",
            "test features of ring8 (raw) (unreadable: a run that needs them extracts them again)",
        ),
    }
    assert by_path[paths["older"]].if_deleted.startswith("none: this genbench never reads them")
    assert "whether this genbench reads them is unknown (one it does not read only takes disk" in (
        by_path[paths["unrecorded"]].if_deleted
    )
    assert {k: p.stat().st_atime for k, p in paths.items()} == before


def test_list_cache_gives_the_command_that_deletes_the_stale_and_the_unrecorded(tmp_path):
    cache = tmp_path / "my cache"  # a space: the command quotes the paths
    paths = _features_cache(cache)
    args = ["list", "cache", "--cache-dir", str(cache), "--data-dir", str(tmp_path / "data")]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    (stale,) = [ln for ln in lines if ln.startswith("2 stale features files")]
    assert stale.startswith("2 stale features files, never read by this genbench, safe to delete: rm ")
    (unrecorded,) = [ln for ln in lines if ln.startswith("1 features file written before")]
    assert "whether this genbench reads them is unknown (one it does not read only" in unrecorded
    # one line each (unwrapped at 80 columns), which deletes those files and no other
    assert sorted(shlex.split(stale.split(": rm ", 1)[1])) == sorted(
        str(paths[k]) for k in ("older", "otherwise")
    )
    assert shlex.split(unrecorded.split(": rm ", 1)[1]) == [str(paths["unrecorded"])]


def test_no_command_where_every_features_file_is_todays(tmp_path):
    ds = Ring8(cache_dir=tmp_path / "cache")
    reference_features(ds, Raw(ds, cache_dir=tmp_path / "cache"), "train", tmp_path / "cache")
    args = ["list", "cache", "--cache-dir", str(tmp_path / "cache"), "--data-dir", str(tmp_path / "data")]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})
    assert r.exit_code == 0, r.output
    assert " rm " not in r.stdout and "features file" not in r.stdout


@pytest.mark.parametrize("record", ["{not json", "[1, 2]"])
def test_a_file_whose_record_cannot_be_read_is_not_said_to_be_extracted_again(tmp_path, monkeypatch, record):
    """A features file whose key record is damaged (not JSON, not a dict) beside intact arrays was
    listed as "unreadable: a run that needs them extracts them again", or as stale and "never read",
    while a run, which finds the file by its name, read it: whether this genbench reads it is unknown."""
    ds = Ring8(cache_dir=tmp_path)
    ext = Raw(ds, cache_dir=tmp_path)
    made = reference_features(ds, ext, "train", tmp_path)
    path = cache_path(ds, ext, "train", tmp_path)
    np.savez(path, features=made.features.astype(np.float32), **{KEY_RECORD: np.array(record)})
    (entry,) = [e for e in genbench.cache_entries(tmp_path, tmp_path / "data").entries if e.path == path]
    assert (entry.kind, entry.what) == (
        "features",
        "train features of ring8 (raw) (its record of its key cannot be read: whether this genbench "
        "reads them is unknown)",
    )
    monkeypatch.setattr(Raw, "extract", lambda self, x: pytest.fail("extracted again"))
    np.testing.assert_array_equal(reference_features(ds, ext, "train", tmp_path).features, made.features)
