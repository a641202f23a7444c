"""The board's FID gaps: t-tests between neighbouring ranks (genbench.fid_gaps), paired where two
rows sampled one checkpoint per seed and Welch's otherwise, against their closed forms and scipy's
ttest_rel and ttest_ind, and where the boards show them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from test_latex_board import (
    board,
    md_reads,
    md_tables,
    reads,
    tex_tables,
)  # tests/ is on the path: pytest puts it there
from test_leaderboard import result, run_result

from genbench.board_csv import to_csv_frame
from genbench.fid_gaps import fid_gaps, p_text, paired_gap, welch_gap
from genbench.leaderboard import aggregate, results_frame

#: Student's t quantiles at 0.975 in closed form (Hill 1970): with a = 4p(1 - p), on 2 degrees of
#: freedom (2p - 1) sqrt(2 / a), on 4 degrees 2 sqrt(q - 1) with q = cos(arccos(sqrt(a)) / 3) / sqrt(a)
#: (scipy's own quantile agrees to 1e-15 today, to 2e-10 at genbench's floor, scipy 1.10: QUANTILE)
_A = 4 * 0.975 * 0.025
QUANTILE = 1e-9
T975_DF2 = 0.95 * math.sqrt(2 / _A)  # 4.3027
T975_DF4 = 2 * math.sqrt(math.cos(math.acos(math.sqrt(_A)) / 3) / math.sqrt(_A) - 1)  # 2.7764


def test_welch_gap_of_two_equal_variance_triples_is_the_closed_form():
    """1, 2, 3 against 4, 5, 6: variances 1, so se = sqrt(1/3 + 1/3) and Welch's df = (2/3)^2 /
    (2 * (1/3)^2 / 2) = 4; t = 3 / se."""
    gap = welch_gap([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    se = math.sqrt(2 / 3)
    assert gap.delta == 3.0 and gap.df == pytest.approx(4.0, rel=1e-12)
    assert (gap.low, gap.high) == pytest.approx((3 - T975_DF4 * se, 3 + T975_DF4 * se), rel=QUANTILE)
    assert gap.p == pytest.approx(2 * stats.t.sf(3 / se, 4), rel=1e-12)
    assert gap.untested is None


def test_a_row_whose_seeds_agree_leaves_the_other_rows_spread_alone():
    """0, 0, 0 against 1, 2, 3: se^2 = 1/3 from the second row alone, and df = its n - 1 = 2."""
    gap = welch_gap([0.0, 0.0, 0.0], [1.0, 2.0, 3.0])
    half = T975_DF2 * math.sqrt(1 / 3)
    assert gap.df == pytest.approx(2.0, rel=1e-12)
    assert (gap.low, gap.high) == pytest.approx((2 - half, 2 + half), rel=QUANTILE)


@pytest.mark.parametrize("sizes", [(3, 3), (2, 5), (4, 2), (10, 3)])
def test_welch_gap_agrees_with_scipy(sizes):
    rng = np.random.default_rng(sum(sizes))
    a = rng.normal(10, 1, sizes[0])
    b = rng.normal(11, 3, sizes[1])
    gap = welch_gap(a, b)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert gap.delta == pytest.approx(b.mean() - a.mean(), rel=1e-12)
    assert gap.p == pytest.approx(ref.pvalue, rel=1e-10)
    if hasattr(ref, "confidence_interval"):  # scipy >= 1.11 (the duality below checks it on 1.10)
        ci = ref.confidence_interval(0.95)
        assert (gap.low, gap.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # the interval at confidence 1 - p just reaches 0: the test and the interval are one
    at_p = welch_gap(a, b, level=1 - gap.p)
    assert min(abs(at_p.low), abs(at_p.high)) == pytest.approx(0.0, abs=1e-7)  # scipy 1.10: 1e-9


def test_paired_gap_is_the_t_test_of_the_per_seed_differences():
    """2, 4, 6 against 1, 2, 3: differences 1, 2, 3, mean 2, std 1, se 1/sqrt(3) on 2 degrees of freedom."""
    gap = paired_gap([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    half = T975_DF2 / math.sqrt(3)
    assert gap.delta == 2.0 and gap.df == 2
    assert (gap.low, gap.high) == pytest.approx((2 - half, 2 + half), rel=QUANTILE)
    assert gap.p == pytest.approx(2 * stats.t.sf(2 * math.sqrt(3), 2), rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 7])
def test_paired_gap_agrees_with_scipy(n):
    rng = np.random.default_rng(n)
    shared = rng.normal(0, 5, n)  # the training noise two samplers of one checkpoint share
    a, b = shared + rng.normal(10, 0.5, n), shared + rng.normal(11, 0.5, n)
    gap, ref = paired_gap(a, b), stats.ttest_rel(b, a)
    assert gap.p == pytest.approx(ref.pvalue, rel=1e-10)
    if hasattr(ref, "confidence_interval"):  # scipy >= 1.11
        ci = ref.confidence_interval(0.95)
        assert (gap.low, gap.high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    at_p = paired_gap(a, b, level=1 - gap.p)
    assert min(abs(at_p.low), abs(at_p.high)) == pytest.approx(0.0, abs=1e-7)  # scipy 1.10: 1e-9


def test_no_test_without_two_seeds_or_without_spread():
    one = welch_gap([1.0], [2.0, 3.0])
    assert one.untested == "one seed" and one.delta == 1.5 and math.isnan(one.p) and math.isnan(one.low)
    flat = welch_gap([0.0, 0.0], [5.0, 5.0, 5.0])
    assert flat.untested == "no spread over seeds" and flat.delta == 5.0 and math.isnan(flat.p)
    assert paired_gap([1.0, 2.0], [3.0, 4.0]).untested == "no spread over seeds"  # differences 2, 2
    assert paired_gap([1.0], [3.0]).untested == "one seed"


def with_weights(r, checkpoint):
    r.training = {"checkpoint": checkpoint, "loaded": True}
    return r


def test_rows_that_sampled_one_checkpoint_per_seed_are_paired_and_others_are_not():
    """ddim and ddpm sampled ddpm's checkpoint at each seed: paired. ddim-x sampled another one at
    seed 2 (a retrained checkpoint), and the gaussian none: Welch's."""
    fids = {"ddpm": (13.9, 13.2, 14.1), "ddim": (20.5, 17.8, 20.9), "ddim-x": (22.2, 18.8, 22.2)}
    rs = [
        with_weights(run_result(m, s, fid[s]), f"/w/ddpm/seed{s}.pt")
        for m, fid in fids.items()
        for s in range(3)
    ]
    rs[-1].training["checkpoint"] = "/w/ddpm-retrained/seed2.pt"
    rs += [run_result("gaussian", s, 30.0 + s) for s in range(3)]
    gaps = fid_gaps(aggregate(results_frame(rs))).set_index("label")
    assert list(gaps["test"]) == ["paired", "Welch", "Welch"]
    assert gaps.loc["ddpm", "p"] == pytest.approx(
        stats.ttest_rel(fids["ddim"], fids["ddpm"]).pvalue, rel=1e-10
    )
    welch = stats.ttest_ind(fids["ddim-x"], fids["ddim"], equal_var=False).pvalue
    assert gaps.loc["ddim", "p"] == pytest.approx(welch, rel=1e-10)
    # a failed seed leaves the rows' seeds unequal: Welch's over the seeds each has
    rs[2] = run_result("ddpm", 2, status="failed")
    assert fid_gaps(aggregate(results_frame(rs)))["test"].iloc[0] == "Welch"


def test_gaps_pair_neighbouring_ranks_within_a_protocol_over_the_seeds_with_an_fid():
    """Two protocols (200 and 50 samples) are two rankings: no pair crosses them. A diverged seed
    and a seed whose FID failed are not among the values tested."""
    rs = [run_result("a", s, fid) for s, fid in enumerate((1.0, 2.0, 3.0))]
    rs += [run_result("b", s, fid) for s, fid in enumerate((4.0, 5.0, 6.0))]
    rs += [run_result("b", 3, status="failed")]
    rs += [run_result("c", s, fid) for s, fid in enumerate((9.0, 9.5))]
    rs += [run_result("c", 2, metrics={"kid": 0.1}, metric_errors={"fid": "boom"})]
    rs += [run_result("d", s, 2.0 * s, num_samples=50) for s in (0, 1)]
    rs += [run_result("e", s, 10.0 + s, num_samples=50) for s in (0, 1)]
    gaps = fid_gaps(aggregate(results_frame(rs)))
    pairs = [(g.label.split(" ")[0], g.next_label.split(" ")[0]) for g in gaps.itertuples()]
    assert pairs == [("a", "b"), ("b", "c"), ("d", "e")]
    ab, bc = gaps.iloc[0], gaps.iloc[1]
    assert (ab["n"], ab["next_n"], bc["next_n"]) == (3, 3, 2)
    assert ab["p"] == pytest.approx(welch_gap([1, 2, 3], [4, 5, 6]).p, rel=1e-12)
    assert bc["p"] == pytest.approx(stats.ttest_ind([9.0, 9.5], [4.0, 5.0, 6.0], equal_var=False).pvalue)


def test_the_board_shows_the_gaps_after_quality_in_markdown_and_latex():
    rs = [result("ddpm", s, 2.0 + s) for s in (0, 1, 2)]
    rs += [result("gan", s, 20.0 + 3 * s) for s in (0, 1, 2)]
    rs += [result("copy", s, 0.0, flags=["memorized"], memorization_rate=1.0) for s in (0, 1, 2)]
    md, tex = board(rs)
    mds, texs = md_tables(md), tex_tables(tex)
    assert list(mds)[:2] == list(texs)[:2] == ["Quality", "FID gaps"]
    header, *rows = mds["FID gaps"]
    assert header == ["rank", "model", "next", "Δ fid", "95% CI", "p", "test"]
    gap = welch_gap([2.0, 3.0, 4.0], [20.0, 23.0, 26.0])  # ddpm at 2 + s, gan at 20 + 3s
    assert rows[1] == [
        "2",
        "ddpm",
        "3: gan",
        "20",
        f"[{gap.low:.3g}, {gap.high:.3g}]",
        f"{gap.p:.2g}",
        "Welch",
    ]
    # copy's 0s against 2, 3, 4: t = 3 / sqrt(1/3) on 2 degrees of freedom
    assert rows[0][:4] == ["1", "copy", "2: ddpm", "3"]
    assert rows[0][5] == f"{2 * stats.t.sf(3 * math.sqrt(3), 2):.2g}"
    caption, spec, tex_rows = texs["FID gaps"]
    assert [[reads(c) for c in row] for row in tex_rows] == [
        [md_reads(c) for c in row] for row in mds["FID gaps"]
    ]
    assert spec == "rllrrrl" and "Welch" in caption and tex.isascii()
    # the CSV has the means, and each seed's FID (what the gaps test) as JSON
    csv = to_csv_frame(aggregate(results_frame(rs))).set_index("label")
    assert json.loads(csv.loc["gan", "fid_by_seed"]) == {"0": 20.0, "1": 23.0, "2": 26.0}


@pytest.mark.parametrize(
    "rs",
    [
        [result("ddpm", 0, 2.0), result("gan", 0, 5.0)],  # one seed per row: nothing to test
        [result("ddpm", s, 2.0 + s) for s in (0, 1)],  # one ranked row
    ],
)
def test_no_gaps_table_where_no_pair_can_be_tested(rs):
    md, tex = board(rs)
    assert "FID gaps" not in md and "FID gaps" not in tex


def test_p_is_written_to_two_digits_and_as_a_bound_below_a_thousandth():
    assert [p_text(p) for p in (0.04567, 0.5, 1.0, 0.001, 0.000999, 1e-9)] == [
        "0.046",
        "0.5",
        "1",
        "0.001",
        "< 0.001",
        "< 0.001",
    ]


def test_a_tested_pair_beside_an_untested_one_shows_its_interval_and_p():
    """copy has one seed: its pair with gaussian has no test, and the gaussian-collapse pair one. The
    frame held the tested pair's missing reason as NaN, which printed "nan" for its CI and p."""
    rs = [result("copy", 0, 0.0)]
    rs += [result("gaussian", s, 1.0 + s) for s in (0, 1, 2)]
    rs += [result("collapse", s, 10.0 + 2 * s) for s in (0, 1, 2)]
    md, _ = board(rs)
    header, *rows = md_tables(md)["FID gaps"]
    assert header == ["rank", "model", "next", "seeds", "Δ fid", "95% CI", "p", "test"]
    assert rows[0][3:] == ["1 vs 3", "2", "one seed", "one seed", "Welch"]
    gap = welch_gap([1.0, 2.0, 3.0], [10.0, 12.0, 14.0])
    assert rows[1][3:] == ["3 vs 3", "10", f"[{gap.low:.3g}, {gap.high:.3g}]", f"{gap.p:.2g}", "Welch"]
