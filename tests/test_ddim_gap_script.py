"""benchmarks/ddim_gap.py's table (`make ddim-gap`): each DDIM row's paired excess over DDPM, in FID
and in percent of DDPM's mean FID over the seeds the pairs are of, on rows made up here."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from bench_scripts import BENCHMARKS, load_script  # tests/ is on the path: pytest puts it there
from scipy import stats

SCRIPT = BENCHMARKS / "ddim_gap.py"


@pytest.fixture
def ddim_gap():
    return load_script(SCRIPT)


def table(
    ddim_gap, monkeypatch, capsys, rows: dict[str, dict[int, tuple[float, str]]]
) -> dict[str, list[str]]:
    """The script's table for the board rows ``rows`` ({label: fid_by_seed}), by row label."""
    agg = pd.DataFrame({"dataset": "digits", "row_label": list(rows), "fid_by_seed": list(rows.values())})
    monkeypatch.setattr(ddim_gap, "load_results", lambda out: [])
    monkeypatch.setattr(ddim_gap, "results_frame", lambda results: None)
    monkeypatch.setattr(ddim_gap, "aggregate", lambda frame: agg)
    monkeypatch.setattr(sys, "argv", [str(SCRIPT)])
    ddim_gap.main()
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| ddim")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in ln.strip("|").split("|")] for ln in lines)}


def test_the_percentage_is_of_ddpm_over_the_pairs_own_seeds(ddim_gap, monkeypatch, capsys):
    """DDPM at seeds 0, 1, 2 scores 10, 10, 40; DDIM only at seeds 0 and 1, 12 and 13 over the same
    checkpoints: an excess of 2.5 over a DDPM of 10 at those seeds, +25%. Over all of DDPM's seeds
    (mean 20) it read +12%, a seed the DDIM row has no part in halving its percentage. The interval
    is the paired t's on 1 degree of freedom: 2.5 ± t(0.975, 1) x 0.5."""
    ddpm = {0: (10.0, "c0"), 1: (10.0, "c1"), 2: (40.0, "c2")}
    rows = table(ddim_gap, monkeypatch, capsys, {"ddpm": ddpm, "ddim": {0: (12.0, "c0"), 1: (13.0, "c1")}})
    seeds, excess, interval, pct, p = rows["ddim"]
    half = stats.t.ppf(0.975, 1) * 0.5
    assert (seeds, excess, interval) == ("2", "2.50", f"[{2.5 - half:.2f}, {2.5 + half:.2f}]")
    assert pct == f"+25% [{100 * (2.5 - half) / 10:+.0f}%, {100 * (2.5 + half) / 10:+.0f}%]"
    assert p == f"{stats.ttest_rel([12.0, 13.0], [10.0, 10.0]).pvalue:.2g}"


def test_with_every_seed_paired_the_percentage_is_of_ddpm_s_mean(ddim_gap, monkeypatch, capsys):
    ddpm = {0: (10.0, "c0"), 1: (12.0, "c1"), 2: (14.0, "c2")}
    ddim = {0: (13.0, "c0"), 1: (14.0, "c1"), 2: (18.0, "c2")}  # excess 3, 2, 4: mean 3 of DDPM's 12
    rows = table(ddim_gap, monkeypatch, capsys, {"ddpm": ddpm, "ddim": ddim})
    assert rows["ddim"][1] == "3.00" and rows["ddim"][3].startswith("+25% [")
