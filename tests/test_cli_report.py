"""`genbench report`: where it writes, the run figures it copies, and the results it counts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from cli_helpers import (  # tests/ is on the path: pytest puts it there
    fill_disk_writing,
    run_args,
    single_line_error,
)

import genbench
from genbench.results import Result, find_results


def test_report_writes_beside_the_results_and_leaves_the_published_leaderboards_alone(
    cli, tmp_path, cache_dir, monkeypatch
):
    """`genbench report`'s default was `leaderboards/`, which in a clone holds the published boards:
    run's closing "next: genbench report --out runs" and the README's commands wrote the user's runs
    over them. The default is now `leaderboards/` under --out."""
    monkeypatch.chdir(tmp_path)  # as from a clone's root, whose leaderboards/ is published
    (tmp_path / "leaderboards").mkdir()
    out = Path("runs")
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
    r = cli(*run_args(out, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert f"next: genbench report --out {out}" in r.stderr
    r = cli("report", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert (out / "leaderboards/ring8.md").exists() and not list((tmp_path / "leaderboards").iterdir())
    # the CSV and the LaTeX tables beside the markdown, and said to be
    assert (out / "leaderboards/ring8.csv").exists() and (out / "leaderboards/ring8.tex").exists()
    assert "ring8.md, .csv and .tex" in r.stderr
    assert set(genbench.report(out)) == {"ring8"}
    assert not list((tmp_path / "leaderboards").iterdir())
    root = Path(__file__).resolve().parent.parent
    for page in (root / "README.md", *(root / "docs").glob("*.md")):  # the commands moved to docs/
        text = page.read_text()
        assert "--leaderboards leaderboards`" not in text and '"leaderboards")' not in text, page.name


def test_report_from_another_directory_or_of_moved_runs_keeps_the_run_figures(
    cli, tmp_path, cache_dir, monkeypatch
):
    """A run records its figures under --out as given (relative to where it started): a report from
    another directory, or of runs moved elsewhere, dropped every sample and nearest-neighbour grid."""
    import shutil

    monkeypatch.chdir(tmp_path)
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--metrics", "fid,memorization"]
    assert cli(*run_args(Path("runs"), cache_dir, *args)).exit_code == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    for out in (tmp_path / "runs", tmp_path / "moved"):
        if not out.exists():
            shutil.move(tmp_path / "runs", out)  # copied from a cluster, say
        boards = tmp_path / f"boards-{out.name}"
        assert cli("report", "--out", str(out), "--leaderboards", str(boards)).exit_code == 0
        assert sorted(p.name for p in (boards / "ring8").glob("copy-*.png")) == [
            "copy-nearest_neighbours.png",
            "copy-samples.png",
        ]
        assert "ring8/copy-samples.png" in (boards / "ring8.md").read_text()


def test_a_report_out_of_disk_while_copying_a_run_figure_keeps_the_previous_copy(
    cli, tmp_path, cache_dir, monkeypatch
):
    """The report copied each run's figures beside the board with shutil.copyfile, which empties the
    previous copy first: a report killed or out of disk mid-copy left a truncated PNG where the last
    board's figure was, and a full disk was an OSError, not a line naming the fix."""
    out, boards = tmp_path / "runs", tmp_path / "lb"
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "100", "--metrics", "fid,memorization"]
    assert cli(*run_args(out, cache_dir, *args)).exit_code == 0
    assert cli("report", "--out", str(out), "--leaderboards", str(boards)).exit_code == 0
    before = {p.name: p.read_bytes() for p in (boards / "ring8").glob("copy-*.png")}
    assert sorted(before) == ["copy-nearest_neighbours.png", "copy-samples.png"]

    fill_disk_writing(monkeypatch, lambda path: path.name.startswith("copy-"))
    line = single_line_error(cli("report", "--out", str(out), "--leaderboards", str(boards)))
    assert "No space left on device" in line and "--leaderboards" in line
    assert {p.name: p.read_bytes() for p in (boards / "ring8").glob("copy-*.png")} == before
    assert not list(boards.rglob("*.tmp"))


def test_report_without_results(cli, tmp_path):
    line = single_line_error(
        cli("report", "--out", str(tmp_path / "none"), "--leaderboards", str(tmp_path / "lb"))
    )
    assert "genbench run" in line


def test_report_counts_each_seed_once_and_names_a_file_in_another_results_place(cli, tmp_path):
    """A backup copy beside a result ("seed0 (1).json", "seed0-old.json") was read as a result too,
    so the report averaged seed 0 twice; a result file under another result's name is left out,
    named on an error: line."""
    import shutil

    out, boards = tmp_path / "runs", tmp_path / "boards"
    proto = {"num_samples": 100, "reference_split": "train", "features": {"name": "raw", "fingerprint": "x"}}
    for seed, fid in ((0, 1.0), (1, 3.0)):
        Result(model="m", dataset="ring8", seed=seed, protocol=proto, metrics={"fid": fid}).write(out)
    for stray in ("seed0 (1).json", "seed0-old.json", "seed0.failed.json", "seed0.json.bak"):
        shutil.copy(out / "ring8/m/seed0.json", out / "ring8/m" / stray)
    assert [p.name for p in find_results(out)] == ["seed0.json", "seed1.json"]
    r = cli("report", "--out", str(out), "--leaderboards", str(boards))
    assert r.exit_code == 0, r.output
    row = pd.read_csv(boards / "ring8.csv").iloc[0]
    assert (row["seeds"], row["n_ok"], row["fid"]) == ("0,1", 2, 2.0)
    # the copies are said (a .failed.json beside its result is noted on the board instead)
    warned = [ln for ln in r.stderr.splitlines() if ln.startswith("warning: ")]
    assert [ln.split("/ring8/m/")[1].split(" is not read")[0] for ln in warned] == [
        "seed0 (1).json",
        "seed0-old.json",
    ]
    for stray in ("seed0 (1).json", "seed0-old.json"):
        (out / "ring8/m" / stray).unlink()

    for name in ("seed2.json", "seed00.json"):  # seed 0's result under another seed's name
        shutil.copy(out / "ring8/m/seed0.json", out / "ring8/m" / name)
        shutil.rmtree(boards)  # the board written below is this report's
        r = cli("report", "--out", str(out), "--leaderboards", str(boards))
        assert r.exit_code == 2, r.output  # left out, named; the board of the others is written
        (line,) = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("wrote ")]
        assert line.startswith("error: ") and f"ring8/m/{name}" in line and "ring8/m/seed0.json" in line
        assert pd.read_csv(boards / "ring8.csv").iloc[0]["seeds"] == "0,1"
        (out / "ring8/m" / name).unlink()


def test_report_with_a_file_where_a_figure_folder_goes(cli, tmp_path, cache_dir):
    """A file named like the dataset inside --leaderboards was a FileExistsError traceback."""
    out, boards = tmp_path / "runs", tmp_path / "lb"
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    assert cli(*run_args(out, cache_dir, *args, "--no-figures")).exit_code == 0
    boards.mkdir()
    (boards / "ring8").touch()
    line = single_line_error(cli("report", "--out", str(out), "--leaderboards", str(boards)))
    assert f"{boards / 'ring8'} is not writable" in line and "--leaderboards" in line
