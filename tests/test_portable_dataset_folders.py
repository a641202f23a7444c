"""Dataset folders that mean the same on every machine's file system: a plugin dataset named after a
Windows device (``con``, ``aux``, ``nul``) had its results in ``<out>/con/``, its run figures in
``<out>/con/figures/`` and its board in ``<leaderboards>/con.md`` and ``<leaderboards>/con/``, which
Windows cannot make. They are spelled apart as row and checkpoint folders are
(:func:`genbench.portable_names.portable`); every other dataset keeps its paths, and a results
folder ``con/`` that Linux made is still read, skipped and written where it is."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from cli_models import Counting, NormalPoints  # tests/ is on the path: pytest puts it there

from genbench import RunConfig, registry, report, run
from genbench.layout import figures_dir
from genbench.portable_names import unportable
from genbench.reporting import written_files
from genbench.results import Result

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)

#: dataset names a plugin may register that Windows opens a device for, and a ``name`` property's
#: name ending in a dot (Windows's folder of ``a.`` is another dataset's ``a``), each with its folder
SPELLED_APART = {n: f"_{n}" for n in ("con", "aux", "nul", "prn", "com1", "lpt9")} | {"a.": "a._"}
#: dataset names that look alike, and the built-in ones: their paths are as they always were
ORDINARY = ["ring8", "digits", "cifar10", "mnist", "console", "com10", "nul-gan", "con_", "my-photos"]


def _paths(out: Path, dataset: str) -> list[Path]:
    result = Result(model="vae", dataset=dataset, seed=2, variant="steps=10")
    return [result.path(out), figures_dir(out, dataset), *written_files(out / "leaderboards", dataset)]


@pytest.mark.parametrize(("dataset", "folder"), SPELLED_APART.items())
def test_a_dataset_named_after_a_device_gets_folders_windows_makes(
    tmp_path: Path, dataset: str, folder: str
) -> None:
    paths = _paths(tmp_path, dataset)
    for path in paths:
        assert all(unportable(part) is None for part in path.relative_to(tmp_path).parts), path
    result, figures, md, csv, tex = paths
    assert result == tmp_path / folder / "vae_steps=10" / "seed2.json"
    assert figures == tmp_path / folder / "figures"
    assert [md.name, csv.name, tex.name] == [f"{folder}.md", f"{folder}.csv", f"{folder}.tex"]


@pytest.mark.parametrize("dataset", ORDINARY)
def test_an_ordinary_dataset_keeps_its_paths_byte_for_byte(tmp_path: Path, dataset: str) -> None:
    out = str(tmp_path)
    assert [str(p) for p in _paths(tmp_path, dataset)] == [
        f"{out}/{dataset}/vae_steps=10/seed2.json",
        f"{out}/{dataset}/figures",
        f"{out}/leaderboards/{dataset}.md",
        f"{out}/leaderboards/{dataset}.csv",
        f"{out}/leaderboards/{dataset}.tex",
    ]


def test_a_results_folder_of_the_old_name_is_still_used_where_it_is_exactly_there(tmp_path: Path) -> None:
    (tmp_path / "con").mkdir()  # as Linux made it before
    (tmp_path / "AUX").mkdir()  # not `aux`'s folder: a case-insensitive file system's take on it
    assert Result(model="vae", dataset="con", seed=0).path(tmp_path) == tmp_path / "con/vae/seed0.json"
    assert figures_dir(tmp_path, "con") == tmp_path / "con" / "figures"
    assert Result(model="vae", dataset="aux", seed=0).path(tmp_path) == tmp_path / "_aux/vae/seed0.json"


def test_a_board_of_the_old_name_is_still_replaced_where_it_is_exactly_there(tmp_path: Path) -> None:
    """An earlier report's ``con.md`` is replaced, not left stale beside a new ``_con.md``."""
    assert written_files(tmp_path, "con")[0] == tmp_path / "_con.md"
    (tmp_path / "CON.md").write_text("another dataset's board, or a case-insensitive file system's")
    assert written_files(tmp_path, "con")[0] == tmp_path / "_con.md"
    (tmp_path / "con.md").write_text("# Leaderboard: con")  # as a report on Linux wrote it before
    assert [p.name for p in written_files(tmp_path, "con")] == ["con.md", "con.csv", "con.tex"]


# -- a run and its report -----------------------------------------------------------------------------


@pytest.fixture
def con(register):
    """A plugin points dataset ``con`` and a model ``tiny-fit`` that counts its samplings, registered
    for the test alone."""

    register(registry.datasets, "con", type("Con", (NormalPoints,), {}))
    return register(registry.models, "tiny-fit", type("Tiny", (Counting,), {}))  # its own counts


def _config(tmp_path: Path, **kw) -> RunConfig:
    base = dict(models=["tiny-fit"], dataset="con", samples=100, metrics=["fid"], device="cpu")
    base.update(out=tmp_path / "out", cache_dir=tmp_path / "cache", progress=False, figures=True)
    return RunConfig(**{**base, **kw})


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_plugin_dataset_named_con_is_run_and_reported_in_folders_windows_makes(tmp_path, con, cli):
    (first,) = run(_config(tmp_path))
    assert first.status == "ok", first.error
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["_con"]
    assert "_con/tiny-fit/seed0.json" in _files(out)
    assert any(f.startswith("_con/figures/tiny-fit-seed0/") for f in _files(out))
    reported = cli("report", "--out", out)
    assert reported.exit_code == 0, reported.output
    assert "# Leaderboard: con" in reported.stdout and "tiny-fit" in reported.stdout  # `con`'s board
    boards = out / "leaderboards"
    wrote = f"wrote {boards / '_con.md'}, .csv and .tex"
    assert wrote in " ".join(reported.stderr.split()), reported.stderr
    assert {"_con.md", "_con.csv", "_con.tex"} <= set(_files(boards))
    assert any(f.startswith("_con/tiny-fit") for f in _files(boards)), _files(boards)  # its run figures
    assert all(unportable(part) is None for f in _files(out) for part in Path(f).parts)
    sampled = con.samples
    (skipped,) = run(_config(tmp_path, skip_done=True))
    assert asdict(skipped) == asdict(first) and con.samples == sampled


def test_a_results_folder_con_made_before_is_still_reported_and_skipped(tmp_path, con):
    """A results folder Linux filled before: ``<out>/con/`` is read by the report, its runs are
    skipped (--skip-done), and a new seed's result is written beside them, not into ``_con/``."""
    (first,) = run(_config(tmp_path))
    out = tmp_path / "out"
    shutil.move(out / "_con", out / "con")  # as genbench wrote it before
    (out / "leaderboards").mkdir()
    (out / "leaderboards" / "con.md").write_text("# Leaderboard: con\n")  # an earlier report's
    pages = report(out)
    assert "tiny-fit" in pages["con"]
    assert (out / "leaderboards" / "con.md").read_text() == pages["con"]  # replaced, not left stale
    boards = _files(out / "leaderboards")
    assert not any(f.startswith("_con") for f in boards), boards
    assert any(f.startswith("con/tiny-fit") for f in boards), boards  # its run figures found
    sampled = con.samples
    (skipped,) = run(_config(tmp_path, skip_done=True))
    assert asdict(skipped) == asdict(first) and con.samples == sampled
    (second,) = run(_config(tmp_path, seeds=[1], figures=False))
    assert second.status == "ok" and (out / "con/tiny-fit/seed1.json").is_file()
    assert not (out / "_con").exists()
