"""The board's CSVs (`<dataset>.csv`, `<dataset>.fid_gaps.csv`): what the markdown board says, in
columns that a reader loading them in pandas can join on, with the numbers unrounded."""

from __future__ import annotations

import io
import json
import statistics

import pandas as pd
import pytest
from test_latex_board import md_reads, md_tables  # tests/ is on the path: pytest puts it there
from test_leaderboard import result

from genbench.board_csv import to_csv_frame
from genbench.fid_gaps import welch_gap
from genbench.leaderboard import aggregate, results_frame
from genbench.markdown import leaderboard_markdown
from genbench.reporting import write_report


def csv_of(rs) -> tuple[pd.DataFrame, str]:
    """The board CSV of ``rs`` as a reader loads it, and the markdown board beside it."""
    frame = results_frame(rs)
    agg = aggregate(frame)
    md = leaderboard_markdown(frame, agg, "toy", {}, {})
    return pd.read_csv(io.StringIO(to_csv_frame(agg).to_csv(index=False))), md


def test_each_csv_row_is_named_as_the_markdown_names_it():
    """ddpm's seeds trained under two configs and copy's run at two sample counts are four rows of
    two labels: the CSV's ``label`` named them "ddpm", "ddpm", "copy", "copy", and the markdown's
    "(config 105f90)" or "(N=200)" was nowhere in it, so its rows could not be joined with the
    markdown's, nor with another board's. ``row_label`` is the markdown's name, beside ``label``."""
    rs = []
    for seed, dropout in [(0, 0.1), (1, 0.1), (2, 0.0), (3, 0.0)]:
        r = result("ddpm", seed, 2.0 + seed)
        r.config, r.training = {"dropout": dropout}, {"model_version": 1}
        rs.append(r)
    rs += [result("copy", s, 0.1 * s) for s in (0, 1)]
    other = result("copy", 0, 0.5)
    other.protocol = {**other.protocol, "num_samples": 200}
    rs.append(other)
    csv, md = csv_of(rs)
    assert csv["label"].duplicated().any()  # what a reader had to tell the rows apart by
    assert csv["row_label"].is_unique
    header, *rows = md_tables(md)["Quality"]
    assert list(csv["row_label"]) == [md_reads(row[header.index("model")]) for row in rows]
    assert list(csv["row_label"]) == [
        "copy (N=100)",
        "ddpm (N=100; config 107f04)",  # sha256 of each config's canonical JSON, to 6 digits
        "ddpm (N=100; config 04f9c5)",
        "copy (N=200)",
    ]
    columns = list(csv.columns)
    assert columns.index("row_label") == columns.index("label") + 1


def test_the_csv_has_each_seeds_fid_and_why_a_seed_has_none():
    """The CSV had each row's mean and spread of FID, not the seeds' FIDs that the FID gaps test,
    and of a seed without samples its number (``failed_seeds``), not its error, which the markdown
    lists under "Runs without samples"."""
    fids = {0: 0.1 + 0.2, 2: 1 / 3, 10: 2.0}  # 0.30000000000000004: any rounding would lose it
    rs = [result("a", seed, fid) for seed, fid in fids.items()]
    rs.append(result("a", 1, 0.0, status="diverged", flags=["diverged"]))  # "diverged at step 7"
    failed = result("a", 3, 0.0, status="failed")
    failed.error = "RuntimeError: boom\n    in sample"  # a plugin's multi-line error
    rs += [failed, result("b", 0, 5.0), result("dead", 0, 0.0, status="failed")]
    csv, md = csv_of(rs)
    csv = csv.set_index("row_label")
    by_seed = json.loads(csv.loc["a", "fid_by_seed"])
    assert list(by_seed) == ["0", "2", "10"]  # in seed order, 10 after 2
    assert by_seed == {str(seed): fid for seed, fid in fids.items()}  # exactly, as JSON reads them back
    assert csv.loc["a", "fid"] == pytest.approx(statistics.mean(by_seed.values()), rel=1e-12)
    assert csv.loc["a", "fid_std"] == pytest.approx(statistics.stdev(by_seed.values()), rel=1e-12)
    errors = json.loads(csv.loc["a", "failed_seed_errors"])
    assert errors == {"1": "diverged: diverged at step 7", "3": "failed: RuntimeError: boom in sample"}
    assert csv.loc["a", "failed_seeds"] == "1,3"
    for seed, error in errors.items():  # the markdown's lines, word for word
        assert f"- a seed {seed}: {error}\n" in md
    assert json.loads(csv.loc["b", "fid_by_seed"]) == {"0": 5.0}
    assert json.loads(csv.loc["b", "failed_seed_errors"]) == {}
    assert json.loads(csv.loc["dead", "fid_by_seed"]) == {}  # no seed with samples, no FID
    assert json.loads(csv.loc["dead", "failed_seed_errors"]) == {"0": "failed: diverged at step 7"}


#: the FID gaps CSV's columns: the markdown table's (rank, model, next, seeds, Δ fid, CI, p, test),
#: each number a column of its own, then the test's degrees of freedom and why a pair has none
GAPS_COLUMNS = [
    "dataset",
    "rank",
    "row_label",
    "next_rank",
    "next_row_label",
    "n",
    "next_n",
    "delta_fid",
    "ci_low",
    "ci_high",
    "ci_level",
    "p",
    "test",
    "df",
    "untested",
]


def test_the_report_writes_the_fid_gaps_unrounded_beside_the_board(tmp_path, cli):
    """The FID gaps were in the markdown and LaTeX boards alone, rounded to 3 digits: a reader of
    the CSVs had neither the differences nor their intervals and p. A board without the table has no
    such file (an earlier report's is removed), and the report lists the file where it wrote one."""
    out, boards = tmp_path / "runs", tmp_path / "boards"
    rs = [result("ddpm", s, 2.0 + s) for s in (0, 1, 2)]
    rs += [result("gan", s, 20.0 + 3 * s) for s in (0, 1, 2)]
    rs += [result("copy", s, 0.0, flags=["memorized"]) for s in (0, 1, 2)]
    for r in rs:
        r.write(out)
    done = cli("report", "--out", str(out), "--leaderboards", str(boards))
    assert done.exit_code == 0, done.output
    assert f"wrote {boards / 'toy.md'}, .csv, .tex and .fid_gaps.csv" in done.stderr
    gaps = pd.read_csv(boards / "toy.fid_gaps.csv", keep_default_na=False)
    assert list(gaps.columns) == GAPS_COLUMNS
    md = (boards / "toy.md").read_text()
    header, *rows = md_tables(md)["FID gaps"]
    assert list(gaps["row_label"]) == [row[header.index("model")] for row in rows]
    assert set(gaps["row_label"]) | set(gaps["next_row_label"]) <= set(
        pd.read_csv(boards / "toy.csv")["row_label"]
    )
    row = gaps.set_index("row_label").loc["ddpm"]
    gap = welch_gap([2.0, 3.0, 4.0], [20.0, 23.0, 26.0])  # ddpm at 2 + s, gan at 20 + 3s
    assert (row["rank"], row["next_rank"], row["next_row_label"], row["test"]) == (2, 3, "gan", "Welch")
    assert (row["n"], row["next_n"], row["ci_level"], row["untested"]) == (3, 3, 0.95, "")
    got = [row[c] for c in ("delta_fid", "ci_low", "ci_high", "p", "df")]
    assert got == pytest.approx([gap.delta, gap.low, gap.high, gap.p, gap.df], rel=1e-12)
    assert row["ci_low"] != float(f"{gap.low:.3g}")  # not the table's 3 digits
    assert (
        "\n% toy.fid_gaps.csv beside it has the FID gaps table's numbers" in (boards / "toy.tex").read_text()
    )

    # one model left: no pair to test, so no table and no file (the last report's is removed)
    for r in rs[3:]:
        (out / "toy" / r.model / f"seed{r.seed}.json").unlink()
    done = cli("report", "--out", str(out), "--leaderboards", str(boards))
    assert done.exit_code == 0, done.output
    assert "## FID gaps" not in (boards / "toy.md").read_text()
    assert not (boards / "toy.fid_gaps.csv").exists()
    assert "fid_gaps.csv" not in (boards / "toy.tex").read_text()
    assert f"wrote {boards / 'toy.md'}, .csv and .tex\n" in done.stderr


def test_a_board_of_two_protocols_has_a_gaps_row_per_pair_of_each(tmp_path):
    """Each protocol is its own ranking: its pairs, named by the board's row names, in the file."""
    rs = [result(m, s, fid + s) for m, fid in (("a", 1.0), ("b", 5.0)) for s in (0, 1)]
    # seeds 2 and 3: a result's file is its model's and seed's, whatever its protocol
    for r in [result(m, s, fid + 2 * s) for m, fid in (("a", 3.0), ("b", 4.0)) for s in (2, 3)]:
        r.protocol = {**r.protocol, "num_samples": 200}
        rs.append(r)
    for r in rs:
        r.write(tmp_path / "runs")
    write_report(tmp_path / "runs", tmp_path / "boards")
    gaps = pd.read_csv(tmp_path / "boards/toy.fid_gaps.csv")
    pairs = list(zip(gaps["row_label"], gaps["next_row_label"], strict=True))
    assert pairs == [("a (N=100)", "b (N=100)"), ("a (N=200)", "b (N=200)")]
    assert list(gaps["delta_fid"]) == pytest.approx([4.0, 1.0])


def test_the_csv_metric_columns_follow_the_boards_tables_not_their_names():
    """After the identity and protocol columns, each metric's mean and spread in the order of the
    board's tables (Quality: fid, kid, is; then Cost), then other metrics by name: a CSV in name
    order put `is` before `kid` and samples/s among the quality numbers."""
    rs = [
        result("ddpm", s, 3.0 + s, kid=0.1, samples_per_s=9.0, zz_plugin=1.0, **{"is": 2.0}) for s in (0, 1)
    ]
    csv, _ = csv_of(rs)
    metrics = list(csv.columns[csv.columns.get_loc("failed_reruns") + 1 :])
    assert metrics == [
        "fid", "fid_std", "kid", "kid_std", "is", "is_std", "samples_per_s", "samples_per_s_std",
        "zz_plugin", "zz_plugin_std",
    ]  # fmt: skip
