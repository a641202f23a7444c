"""`genbench list cache` (``genbench.cache_entries``): what the cache holds, one row an entry that
``rm -r`` may delete (a checkpoint's folder, a resumable training state, a features file, a
classifier, downloaded weights, a dataset's files, a killed write's temp file), its size, when last
used and what deleting it costs. Before, a researcher over quota read the code to learn what
``~/.cache/genbench`` held: `genbench list cache` was "unknown kind 'cache'", and the Python API
had no ``cache_entries``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there
from typer.testing import CliRunner

import genbench
from genbench.checkpoint import save_checkpoint
from genbench.cli.main import app
from genbench.text import printable

DAY = 24 * 3600.0


def _cache(root: Path) -> dict[str, Path]:
    """A cache as runs leave it: two vae checkpoints of two configs, an interrupted ddpm training, a
    features file, a classifier, downloaded weights, a killed write's temp file, locks, and the
    default data dir inside it holding mnist's files."""
    vae = root / "checkpoints" / "ring8" / "vae"
    paths = {
        "vae100": vae / "seed0-0a1b2c3d4e5f",
        "vae200": vae / "seed1-9f8e7d6c5b4a",
        "ddpm": root / "checkpoints" / "ring8" / "ddpm" / "seed0-00aa11bb22cc",
        "features": root / "features" / "fashion-mnist-train-clean-inception-0123456789abcdef0123.npz",
        "classifier": root / "classifiers" / "31c2bde07182bb0e.pt",
        "weights": root / "weights" / "pt_inception-2015-12-05-6726825d.pth",
        "temp": root / "features" / ".ring8-test-raw-aa.npz.x1y2z3.tmp",
        "mnist": root / "data" / "mnist",
    }
    for key, steps in (("vae100", 100), ("vae200", 200)):
        w = torch.zeros(1000 * steps // 100)
        save_checkpoint(paths[key] / "model.pt", {"state": {"w": w}, "config": {"steps": steps, "lr": 1e-3}})
    save_checkpoint(paths["ddpm"] / "train.pt", {"state": {"w": torch.zeros(3000)}, "step": 40})
    (vae / "seed0-0a1b2c3d4e5f.lock").touch()
    paths["features"].parent.mkdir(parents=True)
    np.savez(paths["features"], features=np.zeros((50, 8), np.float32))
    paths["features"].with_name(paths["features"].name + ".lock").touch()
    paths["temp"].write_bytes(b"\0" * 700)
    meta = {"test_accuracy": 0.98, "train_examples": 1437, "num_classes": 10, "made_on": "here"}
    save_checkpoint(paths["classifier"], {"state_dict": {}, "meta": meta})
    paths["weights"].parent.mkdir(parents=True)
    paths["weights"].write_bytes(b"\1" * 5000)
    paths["mnist"].mkdir(parents=True)
    (paths["mnist"] / "train-images-idx3-ubyte.gz").write_bytes(b"\2" * 2000)
    return paths


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in [path, *path.rglob("*")] if f.is_file())


def test_cache_entries_names_each_entry_its_size_and_what_deleting_it_costs(tmp_path):
    paths = _cache(tmp_path / "cache")
    listing = genbench.cache_entries(tmp_path / "cache", tmp_path / "cache" / "data")
    by_path = {e.path: e for e in listing.entries}
    assert set(by_path) == set(paths.values())  # one entry each, no lock file
    kinds = {key: by_path[p].kind for key, p in paths.items()}
    assert kinds == {
        "vae100": "checkpoint",
        "vae200": "checkpoint",
        "ddpm": "training state",
        "features": "unrecorded features",  # its key's inputs unrecorded: tests/test_feature_key_record.py
        "classifier": "classifier",
        "weights": "weights",
        "temp": "temp file",
        "mnist": "dataset",
    }
    assert by_path[paths["vae100"]].what == "vae on ring8, seed 0"
    assert by_path[paths["vae100"]].config == {"steps": 100, "lr": 1e-3}
    assert by_path[paths["ddpm"]].what == "ddpm on ring8, seed 0, interrupted at step 40"
    assert by_path[paths["features"]].what == (
        "train features of fashion-mnist (clean-inception), written before genbench recorded how its key is made"
    )
    assert by_path[paths["classifier"]].what == "a dataset's classifier (10 classes, 1437 train examples)"
    assert "trained again" in by_path[paths["vae100"]].if_deleted
    assert "starts over" in by_path[paths["ddpm"]].if_deleted
    for p, e in by_path.items():
        assert e.size == _bytes(p), p
    assert listing.size == _bytes(tmp_path / "cache")  # the locks are empty: nothing is left out
    sizes = [e.size for e in listing.entries]
    assert sizes == sorted(sizes, reverse=True)


def test_a_training_whose_lock_is_held_is_running_not_interrupted(tmp_path):
    """A training state whose lock a live process holds was listed as "interrupted", deleting which
    "starts it over", in the middle of that training."""
    from filelock import FileLock

    paths = _cache(tmp_path / "cache")
    lock = FileLock(paths["ddpm"].parent / f"{paths['ddpm'].name}.lock")
    with lock:
        (held,) = [
            e
            for e in genbench.cache_entries(tmp_path / "cache", tmp_path / "x").entries
            if e.path == paths["ddpm"]
        ]
    (free,) = [
        e
        for e in genbench.cache_entries(tmp_path / "cache", tmp_path / "x").entries
        if e.path == paths["ddpm"]
    ]
    assert (held.kind, free.kind) == ("running training", "training state")
    assert (
        held.what
        == "ddpm on ring8, seed 0, being trained now (a genbench process holds its lock; last saved at step 40)"
    )
    assert held.if_deleted.startswith("do not delete it") and "starts over" in free.if_deleted


def test_listing_is_no_use_of_an_entry(tmp_path):
    """Reading a checkpoint's config for the listing leaves its access time as it was: the next
    listing's "last used" is not the time of this one."""
    paths = _cache(tmp_path / "cache")
    model = paths["vae100"] / "model.pt"
    old = model.stat().st_mtime - 30 * DAY
    for f in model.parent.iterdir():
        os.utime(f, (old, old))
    os.utime(model.parent, (old, old))
    for _ in range(2):
        entry = next(e for e in genbench.cache_entries(tmp_path / "cache").entries if e.path == model.parent)
        assert entry.last_used == pytest.approx(old)
    assert model.stat().st_atime == pytest.approx(old)


def test_a_checkpoint_replaced_while_listed_keeps_its_own_times(tmp_path, monkeypatch):
    """A training saves its state every few minutes, by a rename over the old file: one that landed
    while the listing read the old file had its times set to the old file's, by its path."""
    paths = _cache(tmp_path / "cache")
    state = paths["ddpm"] / "train.pt"
    old = state.stat().st_mtime - 30 * DAY
    os.utime(state, (old, old))
    newer = tmp_path / "newer.pt"
    save_checkpoint(newer, {"state": {"w": torch.zeros(3000)}, "step": 60})
    saved = newer.stat().st_mtime_ns
    load = torch.load

    def replaced_meanwhile(path, *args, **kwargs):
        payload = load(path, *args, **kwargs)
        if Path(path) == state:
            os.replace(newer, state)
        return payload

    monkeypatch.setattr(torch, "load", replaced_meanwhile)
    genbench.cache_entries(tmp_path / "cache")
    assert state.stat().st_mtime_ns == saved


def _list_cache(cache_dir: Path, data_dir: Path):
    """`genbench list cache` of ``cache_dir`` and ``data_dir``, wide enough for no row to wrap; it
    must succeed."""
    args = ["list", "cache", "--cache-dir", str(cache_dir), "--data-dir", str(data_dir)]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})
    assert r.exit_code == 0, r.output
    return r


def test_list_cache_shows_rows_the_total_and_where(tmp_path):
    paths = _cache(tmp_path / "cache")
    r = _list_cache(tmp_path / "cache", tmp_path / "cache" / "data")
    rows = {ln.split("│")[5].strip(): ln for ln in r.stdout.splitlines() if ln.startswith("│")}
    vae = rows["checkpoints/ring8/vae/seed0-0a1b2c3d4e5f"]
    # the config field that tells the two vae checkpoints apart, not only their keys
    assert "checkpoint" in vae and "vae on ring8, seed 0, steps=100" in vae
    assert "steps=200" in rows["checkpoints/ring8/vae/seed1-9f8e7d6c5b4a"]
    assert "dataset" in rows["data/mnist"] and "2.0 KiB" in rows["data/mnist"]  # 2000 B
    assert "4.9 KiB" in rows["weights/pt_inception-2015-12-05-6726825d.pth"]
    assert len(rows) == len(paths)
    total = genbench.cache_entries(tmp_path / "cache", tmp_path / "cache" / "data").size
    assert f"8 entries, {total / 1024:.1f} KiB in all; cache: {tmp_path / 'cache'}" in " ".join(
        r.stdout.split()
    )
    assert "checkpoint: trained again by the next run that needs it" in " ".join(r.stdout.split())


def test_list_cache_of_an_empty_or_absent_cache(tmp_path):
    r = _list_cache(tmp_path / "none", tmp_path / "nodata")
    assert "0 entries, 0 B in all" in r.stdout
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "x.bin").write_bytes(b"\0" * 10)  # one entry: "1 entries" it said
    r = _list_cache(tmp_path / "one", tmp_path / "nodata")
    assert "1 entry, 10 B in all" in r.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["list", "cache", "vae"], "genbench list cache takes no name"),
        (
            ["list", "models", "--cache-dir", "c"],
            "--cache-dir goes with cache: genbench list cache --cache-dir c",
        ),
    ],
)
def test_a_wrong_list_cache_is_one_line_exit_2(args, expected):
    assert expected in single_line_error(CliRunner().invoke(app, args))


def test_a_misspelt_cache_is_suggested():
    r = CliRunner().invoke(app, ["list", "cach"])
    assert (
        "unknown kind 'cach'; did you mean 'cache'? (use one of models, datasets, metrics, features or cache)"
        in (single_line_error(r))
    )


def test_a_downloads_lock_and_part_beside_the_weights_are_no_weights(tmp_path):
    """A download of weights leaves ``<name>.lock`` beside them, and a cut-off one ``<name>.part`` and
    its resume record ``<name>.part.json`` (data/download.py): they were listed as weights named
    ``....pth.lock`` and ``....pth.part``, deleting which was said to download them again."""
    weights = tmp_path / "cache" / "weights"
    weights.mkdir(parents=True)
    (weights / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"\1" * 5000)
    (weights / "pt_inception-2015-12-05-6726825d.pth.lock").touch()
    (weights / "ViT-B-32.pt.part").write_bytes(b"\1" * 3000)
    (weights / "ViT-B-32.pt.part.json").write_text("{}")
    listing = genbench.cache_entries(tmp_path / "cache", tmp_path / "data")
    kinds = {e.path.name: (e.kind, e.what) for e in listing.entries}
    assert kinds == {
        "pt_inception-2015-12-05-6726825d.pth": ("weights", "pt_inception-2015-12-05-6726825d.pth"),
        "ViT-B-32.pt.part": ("partial download", "ViT-B-32.pt in part, a cut-off download"),
        "ViT-B-32.pt.part.json": (
            "partial download",
            "ViT-B-32.pt in part, a cut-off download (its resume record)",
        ),
    }
    assert "starts over" in listing.entries[1].if_deleted


def test_list_cache_prints_a_folder_name_as_written_not_as_markup_or_an_escape_sequence(tmp_path):
    """A cache folder named with rich markup and control characters: its title read the "[red]" as
    markup (it vanished, the rest red), and the title, the total's line and the ``rm`` line to
    paste put the raw ESC (the terminal cleared) and line break (the command split) on the console.
    They are printed as written (:func:`genbench.text.printable`), the ``rm`` line's paths in
    ``$'...'`` quoting, which the shell reads back as the folder's own name (a backslash in it too:
    ``b\\nd`` unescaped there would read back as a line break)."""
    root = tmp_path / "c[red]x\x1b[2J\nq'b\\nd"
    paths = _cache(root)
    r = _list_cache(root, root / "data")
    assert "\x1b" not in r.stdout and "[red]x" in r.stdout
    lines = r.stdout.splitlines()
    assert lines[0].strip() == f"cache: {printable(str(root))}"  # the table's title
    assert f"cache: {printable(str(root))} (--cache-dir" in " ".join(r.stdout.split())
    rm = next(line for line in lines if ": rm " in line).split(": rm ", 1)[1]
    said = subprocess.run(["bash", "-c", f"printf '%s\\0' {rm}"], capture_output=True, check=True)
    assert said.stdout.decode().split("\0")[:-1] == [str(paths["features"])]


@pytest.mark.skipif(os.fsencode("\udcff") != b"\xff", reason="a file system encoding that escapes no bytes")
# the bounds of the bytes Python reads as surrogates too, \udc80 and \udcff (mutation audit)
@pytest.mark.parametrize("raw", [b"/cache/caf\xe9\x1b/features.npz", b"/cache/\x80/f", b"/cache/\xff/f"])
def test_the_rm_lines_path_of_bytes_no_text_encodes_reads_back_as_those_bytes(raw: bytes):
    """A cache folder whose name holds a byte that is no UTF-8 (a Latin-1 "é", b"\\xe9", from an old
    disk): Python reads it as a surrogate ("\\udce9"), which the rm line wrote as bash's
    ``$'\\udce9'``, three other bytes: the command to paste named a file that is not there."""
    from genbench.cli.cache_table import shell_word

    said = subprocess.run(
        ["bash", "-c", f"printf '%s' {shell_word(os.fsdecode(raw))}"], capture_output=True, check=True
    )
    assert said.stdout == raw


def test_a_dataset_folder_without_files_is_no_entry(tmp_path):
    """A download that fails offline leaves its dataset's folder empty, for the files its error says
    to put there (as does one whose lock alone is left): it was listed as "cifar10's files", 0 B,
    last used "?", whose deletion costs "downloaded again on next use", though nothing was there."""
    data = tmp_path / "data"
    (data / "cifar10").mkdir(parents=True)
    (data / "mnist" / "raw").mkdir(parents=True)
    (data / "mnist" / "train-images-idx3-ubyte.gz.lock").touch()
    (data / "fashion-mnist").mkdir()
    (data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\2" * 20)
    listing = genbench.cache_entries(tmp_path / "cache", data)
    assert [(e.kind, e.path.name) for e in listing.entries] == [("dataset", "fashion-mnist")]
