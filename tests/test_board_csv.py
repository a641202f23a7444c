"""The board's CSV (`<dataset>.csv`): what the markdown board says, in columns that a reader
loading it in pandas can join on, with the numbers unrounded."""

from __future__ import annotations

import io
import json
import statistics

import pandas as pd
import pytest
from test_latex_board import md_reads, md_tables  # tests/ is on the path: pytest puts it there
from test_leaderboard import result

from genbench.leaderboard import aggregate, results_frame, to_csv_frame
from genbench.markdown import leaderboard_markdown


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
