"""`genbench report --out A --out B`: results of several folders (two machines, two batches of seeds)
as one board, each run once; and where a folder without results of its own points to the right one.

Before, Typer kept the last --out alone (a board of B, exit 0, no word), and copying one folder into
the other by hand replaced a result of another protocol that had the same file name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there
from test_leaderboard_row_figures import figure_links, run, write_with_grids  # toy results, grids

import genbench
from genbench.errors import GenbenchError
from genbench.reporting import write_report
from genbench.row_figures import board_rows, row_runs


def csv_rows(boards: Path) -> dict[str, tuple[str, int, float]]:
    """The board's rows: row label (with its protocol) -> (seeds, n_ok, fid)."""
    frame = pd.read_csv(boards / "toy.csv", dtype={"seeds": str}, keep_default_na=False)
    return {
        f"{row.label} ({row.protocol})" if row.protocol else row.label: (row.seeds, row.n_ok, row.fid)
        for row in frame.itertuples()
    }


@pytest.fixture
def two_machines(tmp_path):
    """Folder A with copy seeds 0, 1 and ddpm seed 0; folder B with copy seed 2 and ddpm seed 1."""
    a, b = tmp_path / "A", tmp_path / "B"
    write_with_grids(a, [run("copy", 0, 1.0), run("copy", 1, 2.0), run("ddpm", 0, 5.0)])
    write_with_grids(b, [run("copy", 2, 6.0), run("ddpm", 1, 7.0)])
    return a, b


def test_two_folders_make_the_board_one_folder_holding_both_would(cli, tmp_path, two_machines):
    """The old CLI reported B alone (copy seeds "2"); the API took no list (a TypeError)."""
    a, b = two_machines
    r = cli("report", "--out", a, "--out", b, "--leaderboards", tmp_path / "lb")
    assert r.exit_code == 0, r.output
    # the seeds of both folders in one row: mean FID of 1, 2 and 6 is 3
    assert csv_rows(tmp_path / "lb") == {"copy": ("0,1,2", 3, 3.0), "ddpm": ("0,1", 2, 6.0)}
    # the board, figures and all, is the one of a folder holding both (no file of A is one of B's)
    union = tmp_path / "union"
    for folder in (a, b):
        shutil.copytree(folder, union, dirs_exist_ok=True)
    pages = write_report(union, tmp_path / "lb_union")
    assert r.stdout == pages["toy"] + "\n"
    for name in ("toy.csv", "toy.tex", *(f"toy/{p.name}" for p in (tmp_path / "lb_union/toy").iterdir())):
        assert (tmp_path / "lb" / name).read_bytes() == (tmp_path / "lb_union" / name).read_bytes(), name
    assert "copy: samples (seed 0)" in pages["toy"]

    # API = CLI: a list (or tuple) of folders, str or Path, makes the same board
    assert genbench.report((str(a), b), tmp_path / "lb_api") == {"toy": pages["toy"]}
    assert (tmp_path / "lb_api/toy.csv").read_bytes() == (tmp_path / "lb/toy.csv").read_bytes()


def test_one_folder_in_a_list_is_that_folder(cli, two_machines):
    """`--out A` alone, or a list of one, writes beside A's results as always (no --leaderboards)."""
    a, _ = two_machines
    genbench.report([a])
    assert csv_rows(a / "leaderboards") == {"copy": ("0,1", 2, 1.5), "ddpm": ("0", 1, 5.0)}
    assert cli("report", "--out", a).exit_code == 0


def test_several_folders_need_a_place_for_their_board(cli, two_machines):
    """The old CLI wrote B's board to B/leaderboards, exit 0. A board of A and B under the first
    folder's leaderboards/ would sit beside A's results as if it were theirs."""
    a, b = two_machines
    line = single_line_error(cli("report", "--out", a, "--out", b))
    assert "--leaderboards" in line
    assert not (a / "leaderboards").exists() and not (b / "leaderboards").exists()
    with pytest.raises(GenbenchError, match="--leaderboards"):
        genbench.report([a, b])
    # the same folder named twice is one folder, whose board goes where it always did; so is one
    # spelled two ways (A and B/../A), which is one folder once resolved
    for twice in (Path(f"{a}/"), b / ".." / a.name):
        genbench.report([a, twice])
        assert csv_rows(a / "leaderboards") == {"copy": ("0,1", 2, 1.5), "ddpm": ("0", 1, 5.0)}
    for bad, said in (([], "at least one"), (3, "a str, a Path or a list")):
        with pytest.raises(GenbenchError, match=said):
            genbench.report(bad, "lb")


def test_a_run_in_two_folders_is_counted_once_when_its_files_record_the_same(cli, tmp_path, two_machines):
    """B holding a copy of A's copy seed 0 (a batch copied along): seeds "0,1,2", not seed 0 twice.
    The old CLI read B alone ("0,2")."""
    a, b = two_machines
    shutil.copy(a / "toy/copy/seed0.json", b / "toy/copy/seed0.json")  # in both folders now
    r = cli("report", "--out", a, "--out", b, "--leaderboards", tmp_path / "lb")
    assert r.exit_code == 0, r.output
    assert csv_rows(tmp_path / "lb")["copy"] == ("0,1,2", 3, 3.0)


def test_a_run_in_two_folders_with_different_records_is_refused_naming_both(cli, tmp_path, two_machines):
    """Seed 0 of copy in A at FID 1 and in B at FID 4: which to report is the user's to say, not a
    silent pick (the old CLI reported B's, exit 0)."""
    a, b = two_machines
    run_b = run("copy", 0, 4.0)
    run_b.write(b)
    line = single_line_error(cli("report", "--out", a, "--out", b, "--leaderboards", tmp_path / "lb"))
    assert str(a / "toy/copy/seed0.json") in line and str(b / "toy/copy/seed0.json") in line
    assert "metrics" in line and "--out" in line
    assert not (tmp_path / "lb").exists()


def test_one_seed_under_two_protocols_in_two_folders_is_two_rows_with_their_own_grids(cli, tmp_path):
    """copy seed 0 at --samples 100 in A and at --samples 200 in B share a file name: a copy by hand
    replaced one. Read from both folders they are two rows, as two protocols of one folder are, and
    each row's grid is its own run's (the runs were matched to rows by label and seed, which put
    both in one row, and the other had no grid)."""
    a, b = tmp_path / "A", tmp_path / "B"
    write_with_grids(a, [run("copy", 0, 1.0), run("copy", 1, 3.0)])
    write_with_grids(b, [run("copy", 0, 5.0, n=200)])
    (b / "toy/figures/copy-seed0/samples.png").write_bytes(b"B's seed 0 at N=200")
    pages = genbench.report([a, b], tmp_path / "lb")
    assert csv_rows(tmp_path / "lb") == {"copy (N=100)": ("0,1", 2, 2.0), "copy (N=200)": ("0", 1, 5.0)}
    grids = {
        text.split(":")[0]: (tmp_path / "lb" / path).read_bytes()
        for text, path in figure_links(pages["toy"]).items()
        if "samples" in text
    }
    assert grids == {"copy (N=100)": b"copy seed 0 samples", "copy (N=200)": b"B's seed 0 at N=200"}
    # each run in its own row (row_runs matched by label and seed, both runs to the row listed last)
    rs = [run("copy", 0, 1.0), run("copy", 0, 5.0, n=200)]
    shown = {row.row_label: [r.metrics["fid"] for r in runs] for row, runs in row_runs(rs, board_rows(rs))}
    assert shown == {"copy (N=100)": [1.0], "copy (N=200)": [5.0]}


def test_a_folder_without_results_of_its_own_names_the_out_to_report(cli, tmp_path, two_machines):
    """A dataset's folder given as --out, or the folder holding both --out folders, said "run
    `genbench run --out X` first": a costly rerun of results that were there."""
    a, b = two_machines
    # a copy beside a result in A: the folder looked into is not the one reported, so no warning of
    # its files may come before the error (single_line_error: one line)
    (a / "toy/copy/seed0 (1).json").write_bytes((a / "toy/copy/seed0.json").read_bytes())
    for inside in (a / "toy", a / "toy/copy"):
        line = single_line_error(cli("report", "--out", inside))
        assert f"`genbench report --out {a}`" in line and "genbench run" not in line
    line = single_line_error(cli("report", "--out", tmp_path))
    assert f"`genbench report --out {a} --out {b} --leaderboards DIR`" in line and "genbench run" not in line
    # nothing under it at all: a run is still what it takes
    (tmp_path / "empty").mkdir()
    assert "genbench run --out" in single_line_error(cli("report", "--out", tmp_path / "empty"))


def test_a_folder_inside_another_given_folder_is_refused(cli, tmp_path, two_machines):
    """`--out A --out A/sub` counted no run twice (a result is <dataset>/<label>/seed<N>.json under
    one of them), but a results folder A/sub was reported while A's report warned of each of its
    results as "not read by the report" (and to move it into A/sub/toy/), and `--out A --out A/toy`
    said "no results under A/toy: report A", which it was doing (result_folders.as_folders)."""
    a, b = two_machines
    shutil.copytree(b, a / "sub")  # a results folder of its own inside A
    lb = tmp_path / "lb"
    for given in ([a, a / "sub"], [a / "sub", f"{a}/"]):
        line = single_line_error(
            cli("report", *(x for o in given for x in ("--out", o)), "--leaderboards", lb)
        )
        assert line == (
            f"error: --out {a / 'sub'} is a results folder inside --out {a}, "
            "whose report does not read it; "
            f"move {a / 'sub'} out of {a} and pass both"
        ), line
    for inside in (a / "toy", a / "toy/copy", a / "none"):  # part of A's results (or nothing at all)
        line = single_line_error(cli("report", "--out", a, "--out", inside, "--leaderboards", lb))
        assert line == (
            f"error: --out {inside} is a folder inside --out {a}, whose report reads every result under "
            f"it already; drop --out {inside}"
        )
    assert not lb.exists()
    with pytest.raises(GenbenchError, match="drop --out"):
        genbench.report([a / "toy", a], lb)
    # folders side by side, or one named twice, are no folder inside another
    assert genbench.report([a / "sub", b, f"{b}/"], lb)
