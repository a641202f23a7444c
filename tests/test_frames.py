"""``genbench.results_frame``, ``genbench.leaderboard_frame``, ``genbench.fid_gaps_frame`` and
``genbench.training_log_frame``: a notebook's DataFrames of the results, of the boards, of their FID
gaps and of the results' training logs, without writing anything.
Before, a notebook ran ``genbench.report`` and ``pd.read_csv`` of the CSVs it wrote; the board and
gaps frames are those CSVs' rows and columns, made by the code that writes them, and the results
frame joins the board on ``dataset`` and ``row_label``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_leaderboard import result  # tests/ is on the path: pytest puts it there

import genbench
from genbench.errors import GenbenchError

pytestmark = pytest.mark.usefixtures("one_thread")


def listing(folder: Path) -> list[tuple[str, int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
    )


def toy_results(out: Path) -> None:
    """Dataset ``toy``: a failed seed, a flagged row, and one label under two protocols (two rows)."""
    rs = [result("ddpm", s, 2.0 + s / 3, samples_per_s=10.0 + s) for s in (0, 1, 2)]
    rs += [result("gan", 0, 9.0), result("gan", 1, 0.0, status="failed")]
    rs += [result("copy", s, 0.1 * s, flags=["memorized"], memorization_rate=1.0) for s in (0, 1)]
    other = result("copy", 2, 0.5)  # seed 2: a label's seed is one file whatever its protocol
    other.protocol = {**other.protocol, "num_samples": 200}
    rs.append(other)
    for r in rs:
        r.write(out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir) -> Path:
    """A tiny real run (two models, two seeds on ring8) beside the toy board."""
    out = tmp_path_factory.mktemp("frames") / "runs"
    config = genbench.RunConfig(
        models=["copy", "gaussian"],
        dataset="ring8",
        seeds=[0, 1],
        samples=20,
        metrics=["fid"],
        out=out,
        cache_dir=cache_dir,
        progress=False,
        figures=False,
    )
    assert {r.status for r in genbench.run(config)} == {"ok"}
    toy_results(out)
    return out


def assert_reads_as(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` holds what the CSV at ``path`` does as pandas reads it: the same columns and rows,
    numbers of the same dtype and equal to the last digit (the CSV writes a float's repr, which
    Python's ``float`` reads back exactly), text as text, and an empty cell where the frame has None
    or ""."""
    csv = pd.read_csv(path)
    cells = pd.read_csv(path, dtype=str, keep_default_na=False)  # each cell's text as written
    assert list(frame.columns) == list(csv.columns)
    assert list(frame.index) == list(range(len(csv)))
    for column in csv:
        mine, read = frame[column], csv[column]
        if read.dtype.kind in "if":
            written = [float(t) if t else np.nan for t in cells[column]]
            np.testing.assert_array_equal(pd.to_numeric(mine).to_numpy(float), written, column)
            if mine.dtype.kind == "f":  # the metrics: floats as read, NaN where a cell is empty
                assert read.dtype == mine.dtype, column
        else:
            text = [None if v is None or v == "" or v != v else str(v) for v in mine]
            assert text == [None if v != v else str(v) for v in read], column


def test_the_board_frame_is_the_csv_that_report_writes_and_nothing_is_written(runs, tmp_path):
    before = listing(runs)
    boards = genbench.leaderboard_frame(runs)
    per_result = genbench.results_frame(str(runs))
    assert listing(runs) == before  # no leaderboards/ folder, no file touched

    pages = genbench.report(runs, tmp_path / "lb")
    assert list(boards) == list(pages) == ["ring8", "toy"]
    for dataset, frame in boards.items():
        assert_reads_as(frame, tmp_path / "lb" / f"{dataset}.csv")
        # a reader's plain read_csv, as the notebook did before, to its last digit or so
        pd.testing.assert_frame_equal(
            frame[["fid", "fid_std", "n_ok"]],
            pd.read_csv(tmp_path / "lb" / f"{dataset}.csv")[["fid", "fid_std", "n_ok"]],
        )
    toy = boards["toy"].set_index("row_label")
    assert list(toy.index) == ["copy (N=100)", "ddpm (N=100)", "gan (N=100)", "copy (N=200)"]
    assert toy.loc["ddpm (N=100)", "fid"] == pytest.approx(2.0 + 1 / 3, rel=1e-15)
    assert (toy.loc["gan (N=100)", "n_ok"], toy.loc["gan (N=100)", "failed_seeds"]) == (1, "1")
    assert boards["ring8"]["n_ok"].tolist() == [2, 2]
    # as docs/commands.md says: numbers as numbers, the rest as the CSV's text, on every board
    assert toy["rank"].dtype == "Int64" and toy["fid"].dtype == float
    assert toy["seeds"].tolist() == ["0,1", "0,1,2", "0", "2"]
    assert toy["num_samples"].tolist() == ["100", "100", "100", "200"]

    # the results frame: a row per result file, each with the board row it is a seed of
    files = sorted(runs.glob("*/*/seed*.json"))
    assert len(per_result) == len(files) == 4 + 8
    assert per_result.columns.get_loc("row_label") == per_result.columns.get_loc("label") + 1
    for path in files:
        recorded = json.loads(path.read_text())
        row = per_result[
            (per_result["dataset"] == recorded["dataset"])
            & (per_result["label"] == path.parent.name)
            & (per_result["seed"] == recorded["seed"])
            & (per_result["num_samples"] == recorded["protocol"]["num_samples"])
        ]
        assert len(row) == 1 and row["status"].item() == recorded["status"]
        fid = recorded["metrics"].get("fid", np.nan)
        assert row["fid"].item() == fid or (np.isnan(fid) and np.isnan(row["fid"].item()))
    # each board row's FID is the mean of its ok results' FIDs
    ok = per_result[per_result["status"] == "ok"]
    means = ok.groupby(["dataset", "row_label"])["fid"].agg(["mean", "size"])
    board = pd.concat(boards.values()).set_index(["dataset", "row_label"])
    assert sorted(means.index) == sorted(board.index)
    assert means["size"].to_dict() == board["n_ok"].to_dict()
    np.testing.assert_allclose(means["mean"], board.loc[means.index, "fid"], rtol=1e-14)
    failed = per_result[per_result["status"] == "failed"]
    assert failed[["row_label", "seed"]].values.tolist() == [["gan (N=100)", 1]]
    assert np.isnan(failed["fid"].item()) and failed["error"].item() == "diverged at step 7"


def test_the_gaps_frame_is_the_fid_gaps_csv_that_report_writes_and_nothing_is_written(runs, tmp_path):
    before = listing(runs)
    gaps = genbench.fid_gaps_frame(str(runs))
    assert listing(runs) == before

    genbench.report(runs, tmp_path / "lb")
    written = sorted(p.name for p in (tmp_path / "lb").glob("*.fid_gaps.csv"))
    assert written == ["ring8.fid_gaps.csv", "toy.fid_gaps.csv"]
    assert list(gaps) == ["ring8", "toy"]
    for dataset, frame in gaps.items():
        path = tmp_path / "lb" / f"{dataset}.fid_gaps.csv"
        assert_reads_as(frame, path)  # every cell, "" where read_csv gives NaN (a tested pair's why)
        numbers = ["rank", "next_rank", "n", "next_n", "delta_fid", "ci_low", "ci_high", "p", "df"]
        pd.testing.assert_frame_equal(frame[numbers], pd.read_csv(path)[numbers])
    # ring8: copy and gaussian over seeds 0 and 1, one pair, by Welch's test
    ring8 = gaps["ring8"]
    assert (len(ring8), ring8["test"].item(), ring8["untested"].item()) == (1, "Welch", "")
    assert (ring8["n"].item(), ring8["next_n"].item()) == (2, 2)
    # toy: copy's two seeds against ddpm's three; gan's one ok seed has no test; N=200 is alone
    toy = gaps["toy"]
    assert toy[["row_label", "next_row_label", "n", "next_n"]].values.tolist() == [
        ["copy (N=100)", "ddpm (N=100)", 2, 3],
        ["ddpm (N=100)", "gan (N=100)", 3, 1],
    ]
    assert toy["delta_fid"].tolist() == pytest.approx([(2.0 + 1 / 3) - 0.05, 9.0 - (2.0 + 1 / 3)])
    assert toy["untested"].iloc[0] == "" and toy["untested"].iloc[1] != ""
    assert np.isnan(toy["p"].iloc[1]) and 0 < toy["p"].iloc[0] < 1


def test_a_board_without_a_gaps_table_has_no_key_as_report_writes_no_file(tmp_path):
    """One ranked row (copy's; ddpm's one seed diverged) has no pair to test: ``report`` writes no
    ``toy.fid_gaps.csv``, and the gaps frame has no ``toy``, where the board frame has."""
    out = tmp_path / "runs"
    for r in (result("copy", 0, 1.0), result("copy", 1, 2.0), result("ddpm", 0, 0.0, status="diverged")):
        r.write(out)
    assert genbench.fid_gaps_frame(out) == {}
    assert list(genbench.leaderboard_frame(out)) == ["toy"]
    genbench.report(out, tmp_path / "lb")
    assert sorted(p.name for p in (tmp_path / "lb").iterdir() if p.is_file()) == [
        "toy.csv",
        "toy.md",
        "toy.tex",
    ]


def test_folders_read_as_one_board_need_no_leaderboards(tmp_path):
    """``report`` of two folders needs ``leaderboards`` (where to write); the frames write nothing."""
    a, b = tmp_path / "A", tmp_path / "B"
    for r in (result("copy", 0, 1.0), result("ddpm", 0, 5.0)):
        r.write(a)
    for r in (result("copy", 1, 2.0), result("ddpm", 1, 7.0)):
        r.write(b)
    before = listing(tmp_path)
    boards = genbench.leaderboard_frame([a, str(b)])
    per_result = genbench.results_frame((a, b))
    assert listing(tmp_path) == before
    genbench.report([a, b], tmp_path / "lb")
    assert_reads_as(boards["toy"], tmp_path / "lb/toy.csv")
    assert boards["toy"][["row_label", "seeds", "fid"]].values.tolist() == [
        ["copy", "0,1", 1.5],
        ["ddpm", "0,1", 6.0],
    ]
    assert sorted(per_result[["label", "seed"]].values.tolist()) == [
        ["copy", 0],
        ["copy", 1],
        ["ddpm", 0],
        ["ddpm", 1],
    ]


def test_a_bad_out_is_the_one_line_error_of_report(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "missing", tmp_path / "empty", tmp_path / "a_file", "", None, 5, []):
        with pytest.raises(GenbenchError) as reported:
            genbench.report(out)
        frames = (genbench.leaderboard_frame, genbench.results_frame, genbench.fid_gaps_frame)
        for frame in (*frames, genbench.training_log_frame):
            with pytest.raises(GenbenchError) as framed:
                frame(out)
            assert str(framed.value) == str(reported.value), out
            assert "\n" not in str(framed.value)
    assert sorted(os.listdir(tmp_path)) == ["a_file", "empty"]  # no leaderboards/ made anywhere


def test_the_training_log_frame_is_a_row_per_logged_step_of_each_result(tmp_path):
    """The curves behind a board row were only in each result file's ``training_log``: a row per
    logged step, with the result's identity and board row, a column per value, NaN where a model
    logged none of it or the file holds null (a NaN logged), and no row for a result with no log."""
    out = tmp_path / "runs"
    gan = [result("gan", s, 9.0 + s) for s in (0, 1)]
    for s, r in enumerate(gan):
        r.training_log = [
            {"step": 1.0, "d_real": 0.5 + s, "grad_norm_g": 0.25},
            {"step": 10.0, "d_real": 0.75, "grad_norm_g": None},  # NaN or inf, as JSON holds it
        ]
    vae = result("vae", 0, 3.0, variant="steps=10")
    vae.training_log = [{"step": 10.0, "loss": -1.5, "kl": 2.0}]
    for r in [*gan, vae, result("copy", 0, 0.1)]:  # copy trains nothing: no log, no row
        r.write(out)
    before = listing(tmp_path)
    curves = genbench.training_log_frame(out)
    assert listing(tmp_path) == before  # nothing written
    ids = ["dataset", "model", "variant", "label", "row_label", "seed", "status"]
    assert list(curves.columns) == [*ids, "step", "d_real", "grad_norm_g", "loss", "kl"]
    assert curves["step"].dtype == "int64"
    got = curves.sort_values(["label", "seed", "step"])
    assert got[["label", "row_label", "seed", "step"]].values.tolist() == [
        ["gan", "gan", 0, 1],
        ["gan", "gan", 0, 10],
        ["gan", "gan", 1, 1],
        ["gan", "gan", 1, 10],
        ["vae[steps=10]", "vae[steps=10]", 0, 10],
    ]
    np.testing.assert_array_equal(got["d_real"], [0.5, 0.75, 1.5, 0.75, np.nan])
    np.testing.assert_array_equal(got["grad_norm_g"], [0.25, np.nan, 0.25, np.nan, np.nan])
    np.testing.assert_array_equal(got["loss"], [np.nan] * 4 + [-1.5])
    # its row_label joins the board, as results_frame's does
    board = genbench.leaderboard_frame(out)["toy"]
    assert set(curves["row_label"]) <= set(board["row_label"])
    # and a folder of results without any log is an empty frame of the same identity columns
    bare = tmp_path / "bare"
    result("copy", 0, 0.1).write(bare)
    empty = genbench.training_log_frame(bare)
    assert list(empty.columns) == [*ids, "step"] and empty.empty


def test_a_logged_value_named_as_an_identity_column_keeps_both(tmp_path):
    """A plugin that logs a value under an identity column's name (its own ``seed``, a ``status``)
    overwrote the result's seed and status in the frame; the value is ``logged_<name>`` beside them."""
    out = tmp_path / "runs"
    r = result("gan", 1, 9.0)
    r.training_log = [{"step": 1.0, "seed": 7.0, "status": 0.5, "loss": 2.0}]
    r.write(out)
    curves = genbench.training_log_frame(out)
    row = curves.iloc[0]
    assert (row["seed"], row["status"], row["logged_seed"], row["logged_status"], row["loss"]) == (
        1,
        "ok",
        7.0,
        0.5,
        2.0,
    )
