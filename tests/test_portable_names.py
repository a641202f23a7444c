"""Result folder names that mean the same on every machine (:mod:`genbench.portable_names`): a row
named after a Windows device (``con``, ``nul.txt``) had a folder Windows cannot make, one ending in
a dot (``a.``) had the folder of another row (``a``) there, and ``.``, ``..`` or an empty name is no
folder of its own anywhere. Results written under the old names are still read as their row's."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there

from genbench.portable_names import spelled_from, unportable
from genbench.result_folders import read_folder
from genbench.results import Result, safe_name, skipped_results

#: labels Windows takes for a device, or for another label, or that are no folder anywhere
UNPORTABLE = [
    "con", "CON", "Con.txt", "nul.tar.gz", "aux", "prn", "com1", "COM9", "lpt0", "lpt9.x",
    "a.", "a..", "a_.", "m[x=1.]", "...", ".", "..", "", "//",
]  # fmt: skip
#: labels that look alike but are none of those: their folders are as they always were
PORTABLE = ["console", "com10", "connect.txt", "a.b", "nul-gan", "ddpm[steps=10]", "a b", ".hidden"]


@pytest.mark.parametrize("label", UNPORTABLE)
def test_unportable_labels_are_spelled_apart(label: str) -> None:
    name = safe_name(label)
    assert unportable(name) is None, name
    assert name.startswith("_") or name.endswith("_")  # which no other label's folder does


@pytest.mark.parametrize("label", PORTABLE)
def test_other_labels_keep_their_folder(label: str) -> None:
    name = safe_name(label)
    assert unportable(name) is None and not name.startswith("_") and not name.endswith("_")


def test_distinct_labels_keep_distinct_folders_case_aside() -> None:
    """Labels whose folders differed (case aside, as shared_folders compares them) still differ."""
    labels = UNPORTABLE + PORTABLE + ["_con", "con_", "a._", "a", "a_", "nul", "_..", "x.", "x"]
    # one label per folder name genbench gave before: labels of one name shared their folder already
    before = {re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_").casefold(): label for label in labels}
    names = [safe_name(label).casefold() for label in before.values()]
    assert len(set(names)) == len(names), sorted(names)


@pytest.fixture
def points(tmp_path: Path) -> Path:
    samples = tmp_path / "points.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    return samples


def _eval(cli, samples: Path, out: Path, cache_dir: Path, name: str):
    return cli(
        "eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir,
        "--no-progress", "--metrics", "fid", "--no-figures", "--name", name,
    )  # fmt: skip


def test_eval_names_a_device_or_a_dotted_name_apart_and_reports_it(cli, tmp_path, cache_dir, points):
    """`--name con` wrote ``<out>/ring8/con/``, which Windows cannot make; `--name a.` wrote ``a.``,
    which Windows takes for ``a``: there the second row's result replaced the first's."""
    out = tmp_path / "runs"
    for name in ("con", "a.", "a"):
        r = _eval(cli, points, out, cache_dir, name)
        assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (out / "ring8").iterdir()) == ["_con", "a", "a._"]
    results, files = read_folder(out)
    assert files == 3 and sorted(r.label for r in results) == ["a", "a.", "con"]


@pytest.mark.parametrize("name", [".", "..", "_", "@ #"])
def test_eval_refuses_a_name_of_no_folder(cli, tmp_path, cache_dir, points, name):
    """``..`` wrote ``<out>/seed0.json``, and ``.`` or a name of punctuation ``<out>/ring8/seed0.json``,
    where no report looks."""
    out = tmp_path / "runs"
    line = single_line_error(_eval(cli, points, out, cache_dir, name))
    assert line.startswith(f"error: --name {name!r} cannot name a result;")
    assert not list(tmp_path.rglob("seed*.json"))


def test_results_under_the_old_folder_names_are_read_and_replaced_there(cli, tmp_path, cache_dir, points):
    """A results folder written before: ``con/`` and ``a./`` (Linux made them) are still their rows'
    folders, read by the report with nothing said, and a rerun writes there (a second folder of
    the row would have doubled its seed)."""
    out = tmp_path / "runs"
    for name in ("con", "a."):
        assert _eval(cli, points, out, cache_dir, name).exit_code == 0
    shutil.move(out / "ring8/_con", out / "ring8/con")  # as genbench wrote them before
    shutil.move(out / "ring8/a._", out / "ring8/a.")
    results, files = read_folder(out)
    assert files == 2 and sorted(r.label for r in results) == ["a.", "con"]
    assert skipped_results(out) == []
    for r in results:
        assert r.path(out).parent.name == ("con" if r.label == "con" else "a.")
    r = _eval(cli, points, out, cache_dir, "con")  # the same samples again: the row's own result
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (out / "ring8").iterdir()) == ["a.", "con"]
    assert json.loads((out / "ring8/con/seed0.json").read_text())["model"] == "con"


def test_an_old_folder_of_no_folder_name_is_never_used(tmp_path: Path) -> None:
    """The old name of ``..`` is the dataset folder's parent: never a row's folder, even though it is
    there."""
    assert Result(model="..", dataset="d", seed=0).path(tmp_path).parent == tmp_path / "d" / "_.._"
    (tmp_path / "d").mkdir()
    assert Result(model=".", dataset="d", seed=0).path(tmp_path).parent == tmp_path / "d" / "_._"


def test_results_of_several_folders_are_merged_in_their_files_order(tmp_path: Path) -> None:
    """`genbench report --out A --out B` lists results as one folder holding them all would: by
    their files, an old folder's ``con/`` after ``b/`` (its file is there), not as ``_con/``."""
    from genbench.result_folders import merged
    from genbench.results import find_results

    first, second = tmp_path / "A", tmp_path / "B"
    for folder, label in ((first, "con"), (first, "b"), (second, "c")):
        Result(model=label, dataset="d", seed=0).write(folder)
    shutil.move(first / "d/_con", first / "d/con")  # as genbench wrote it before
    loaded = [
        (first, Result(model="con", dataset="d", seed=0)),
        (first, Result(model="b", dataset="d", seed=0)),
    ]
    loaded.append((second, Result(model="c", dataset="d", seed=0)))
    assert [p.parent.name for p in find_results(first)] == ["b", "con"]
    assert [r.label for _, r in merged(loaded, rows=["con", "b", "c"])] == ["b", "c", "con"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("con", "a Windows device name"),
        ("Nul.tar.gz", "a Windows device name"),
        ("aux .x", "a Windows device name"),
        ("a.", "a name Windows drops its last character of"),
        ("a ", "a name Windows drops its last character of"),
        ("..", "no folder of its own"),
        ("console", None),
        ("com10", None),
    ],
)
def test_unportable_says_why_a_raw_name_names_no_folder_of_its_own(name: str, why: str | None) -> None:
    """The names themselves, before :func:`genbench.results.safe_name` spells them apart."""
    assert unportable(name) == why


@pytest.mark.parametrize(
    ("folder", "name"), [("_con", "con"), ("a._", "a."), ("_.._", ".."), ("_nul.txt", "nul.txt")]
)
def test_a_spelled_apart_folder_reads_back_as_its_name(folder: str, name: str) -> None:
    assert spelled_from(folder) == name


@pytest.mark.parametrize("folder", ["_.", "_con.", "_a", "con", "a."])
def test_a_folder_no_name_is_spelled_as_is_its_own_name(folder: str) -> None:
    """A folder someone else made (``_.``, ``_con.``): :func:`portable` spells no name so, and the
    cache listing names it as it is, not as ``.`` or ``con.``."""
    assert spelled_from(folder) == folder
