"""Leaderboards: mean and std over seeds, FID ranking, flags kept visible, empty cells for gaps."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from genbench.leaderboard import aggregate, leaderboard_markdown, results_frame, to_csv_frame
from genbench.results import Result, find_results, load_result


def result(model, seed, fid, variant="", flags=(), status="ok", **metrics):
    return Result(
        model=model,
        dataset="toy",
        seed=seed,
        variant=variant,
        status=status,
        flags=list(flags),
        error=None if status == "ok" else "diverged at step 7",
        protocol={
            "num_samples": 100,
            "reference_split": "train",
            "features": {"name": "raw", "fingerprint": "abc"},
        },
        metrics={} if status != "ok" else {"fid": fid, **metrics},
    )


@pytest.fixture
def results():
    return [
        result("ddpm", 0, 2.0, samples_per_s=10.0),
        result("ddpm", 1, 4.0, samples_per_s=12.0),
        result("copy", 0, 0.1, flags=["memorized"], memorization_rate=1.0),
        result("gan", 0, 9.0),
        result("gan", 1, float("nan"), status="diverged", flags=["diverged"]),
        result("ddim", 0, 3.0, variant="steps=10"),
    ]


def test_mean_std_over_seeds_and_rank(results):
    agg = aggregate(results_frame(results))
    ddpm = agg[agg["label"] == "ddpm"].iloc[0]
    assert ddpm["fid"] == pytest.approx(3.0)
    assert ddpm["fid_std"] == pytest.approx(math.sqrt(2.0))  # sample std (ddof=1) of 2 and 4
    assert ddpm["seeds"] == "0,1" and ddpm["n_ok"] == 2
    assert list(agg["label"]) == ["copy", "ddpm", "ddim[steps=10]", "gan"]
    assert list(agg["rank"]) == [1, 2, 3, 4]
    gan = agg[agg["label"] == "gan"].iloc[0]
    assert gan["fid"] == 9.0 and math.isnan(gan["fid_std"])  # one ok seed: no spread
    assert "diverged" in gan["flags"] and gan["status"] != "ok"
    assert math.isnan(agg[agg["label"] == "gan"]["memorization_rate"].iloc[0])  # not computed: empty


def test_markdown_marks_flags_and_states_protocol(results):
    frame = results_frame(results)
    agg = aggregate(frame)
    md = leaderboard_markdown(frame, agg, "toy", {}, {"raw": "`raw`"})
    assert "N = 100" in md and "**train** split" in md and "`raw`" in md and "seeds 0, 1" in md
    copy_row = next(ln for ln in md.splitlines() if "| copy" in ln)
    assert "**memorized**" in copy_row
    assert "3 ± 1.4" in md  # ddpm fid mean ± std
    assert "gan seed 1: diverged: diverged at step 7" in md


def test_csv_columns_are_stable_snake_case(results):
    csv = to_csv_frame(aggregate(results_frame(results)))
    cols = list(csv.columns)
    assert cols[:4] == ["rank", "dataset", "model", "variant"]
    assert (
        cols.index("fid")
        < cols.index("fid_std")
        < cols.index("memorization_rate")
        < cols.index("samples_per_s")
    )


def test_results_round_trip(tmp_path, results):
    for r in results:
        r.write(tmp_path)
    paths = find_results(tmp_path)
    assert len(paths) == len(results)
    loaded = sorted((load_result(p) for p in paths), key=lambda r: (r.label, r.seed))
    assert [r.label for r in loaded] == sorted(r.label for r in results)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temp files


def test_per_run_spreads_are_not_confused_with_seed_spreads():
    rs = [result("m", s, 1.0 + s, kid=0.1, kid_std=0.05) for s in (0, 1, 2)]
    agg = aggregate(results_frame(rs))
    assert agg["kid_std"].iloc[0] == pytest.approx(0.0)  # spread over seeds, not KID's subset std
    assert isinstance(pd.DataFrame(agg), pd.DataFrame)
