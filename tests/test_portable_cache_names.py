"""Checkpoint folders that mean the same on every machine's file system: a plugin model or dataset
named after a Windows device (``con``, ``aux``, ``nul``, ``com1``) had its checkpoints in
``<cache>/checkpoints/<dataset>/<model>/``, a folder Windows cannot make. They are spelled apart as
result folders are (:func:`genbench.portable_names.portable`); every other name keeps its folder,
and a checkpoint folder of the old name that Linux made is still loaded."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from cli_models import Counting, NormalPoints, TinyTrained  # tests/ is on the path: pytest puts it there

from genbench import RunConfig, cache_entries, registry, run
from genbench.api import DataSpec
from genbench.portable_names import kept_path, portable, spelled_from, unportable
from genbench.training import checkpoint_subdir

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)

POINTS = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=64, num_modes=8)
#: names a plugin may register (lower-case letters, digits, '-', '_') that Windows opens a device for
DEVICES = ["con", "aux", "nul", "prn", "com1", "com0", "lpt9"]
#: names that look alike but are none of those: their folders are as they always were
ORDINARY = ["vae", "ring8", "console", "com10", "nul-gan", "aux_model", "con_"]
#: what a dataset's or model's ``name`` (a property a plugin may override) or a label may be
SPELLED = [*DEVICES, *ORDINARY, "a.", "a..", ".", "..", "", "CON", "nul.txt", "a_", "a.b"]


@pytest.mark.parametrize("name", SPELLED)
def test_spelled_from_undoes_portable(name: str) -> None:
    assert spelled_from(portable(name)) == name


@pytest.mark.parametrize("folder", ["_con", "a._", "_.._", "_", "vae", "a_", "_x", "x._y", "seed0-3f9a"])
def test_spelled_from_is_the_name_a_folder_of_genbench_was_made_for(folder: str) -> None:
    """``_x`` and ``a_`` are no spelling of another name (:func:`portable` keeps them as they are)."""
    assert portable(spelled_from(folder)) == folder


def _subdir(dataset: str, name: str, seed: int = 0) -> Path:
    model = TinyTrained(POINTS, TinyTrained.Config())
    return checkpoint_subdir(dataset, name, model, seed, amp=False)


@pytest.mark.parametrize("name", DEVICES)
def test_a_model_or_dataset_named_after_a_device_gets_a_folder_windows_makes(name: str) -> None:
    subdir = _subdir(name, name)
    assert subdir.parts[:2] == (f"_{name}", f"_{name}")
    assert all(unportable(part) is None for part in subdir.parts)


@pytest.mark.parametrize("name", ORDINARY)
def test_an_ordinary_name_keeps_its_checkpoint_folder(name: str) -> None:
    """Existing caches are still found: ``<dataset>/<model>/seed<N>-<key>`` as it always was (the
    shipped digits checkpoints, made before, are still found: test_training)."""
    subdir = _subdir("ring8", name, seed=3)
    assert subdir.parts[:2] == ("ring8", name)
    assert subdir.name.startswith("seed3-") and len(subdir.parts) == 3


def test_kept_path_uses_a_folder_of_the_old_name_only_where_it_is_exactly_there(tmp_path: Path) -> None:
    subdir = Path("_aux", "_con", "seed0-abc")
    assert kept_path(tmp_path, subdir) == tmp_path / subdir
    (tmp_path / "aux" / "con").mkdir(parents=True)  # as Linux made them before
    assert kept_path(tmp_path, subdir) == tmp_path / "aux" / "con" / "seed0-abc"
    assert kept_path(tmp_path, Path("_AUX", "x")) == tmp_path / "_AUX" / "x"  # `AUX` is not there
    (tmp_path / "a").mkdir()  # Windows's folder for `a.`: not the folder of `a.`
    assert kept_path(tmp_path, Path("a._")) == tmp_path / "a._"
    assert kept_path(tmp_path, Path("_.._")) == tmp_path / "_.._"  # `..` is there, and never used


# -- a run ------------------------------------------------------------------------------------------


@pytest.fixture
def devices(register):
    """A plugin model ``con`` and a points dataset ``aux``, registered for the test alone."""

    register(registry.datasets, "aux", type("Aux", (NormalPoints,), {}))
    return register(registry.models, "con", type("Con", (Counting,), {}))  # its own counts


def _config(tmp_path: Path, out: str, **kw) -> RunConfig:
    base = dict(models=["con"], dataset="aux", samples=100, metrics=["fid"], device="cpu")
    base.update(out=tmp_path / out, cache_dir=tmp_path / "cache", progress=False, figures=False)
    return RunConfig(**{**base, **kw})


def test_a_plugin_named_after_a_device_trains_into_a_folder_windows_makes(tmp_path, devices):
    (first,) = run(_config(tmp_path, "a"))
    assert first.status == "ok", first.error
    checkpoints = tmp_path / "cache" / "checkpoints"
    assert sorted(p.relative_to(checkpoints).parts[:2] for p in checkpoints.glob("*/*")) == [("_aux", "_con")]
    assert Path(first.training["checkpoint"]).relative_to(checkpoints).parts[:2] == ("_aux", "_con")
    (second,) = run(_config(tmp_path, "b"))
    assert second.training["loaded"] and devices.fits == 1
    listing = cache_entries(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    assert [e.what for e in listing.entries if e.kind == "checkpoint"] == ["con on aux, seed 0"]
    sampled = devices.samples
    (skipped,) = run(_config(tmp_path, "a", skip_done=True))  # its checkpoint is the one it records
    assert asdict(skipped) == asdict(first) and devices.samples == sampled


def test_a_checkpoint_in_the_old_folder_is_still_loaded(tmp_path, devices):
    """A cache Linux filled before: ``checkpoints/aux/con/`` is loaded, not trained again, and the
    results that record it are still done (--skip-done)."""
    (first,) = run(_config(tmp_path, "a"))
    checkpoints = tmp_path / "cache" / "checkpoints"
    shutil.move(checkpoints / "_aux/_con", checkpoints / "_aux/con")  # as genbench made them before
    shutil.move(checkpoints / "_aux", checkpoints / "aux")
    (second,) = run(_config(tmp_path, "b"))
    assert second.status == "ok" and second.training["loaded"] and devices.fits == 1
    assert Path(second.training["checkpoint"]).relative_to(checkpoints).parts[:2] == ("aux", "con")
    assert not (checkpoints / "_aux").exists()
    sampled = devices.samples
    (skipped,) = run(
        _config(tmp_path, "a", skip_done=True)
    )  # recorded under `_aux/_con`, found under `aux/con`
    assert asdict(skipped) == asdict(first) and devices.samples == sampled
    (skipped,) = run(_config(tmp_path, "b", skip_done=True))  # recorded under `aux/con`
    assert asdict(skipped) == asdict(second) and devices.samples == sampled
