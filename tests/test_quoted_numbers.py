"""The numbers README.md, docs/metrics.md and docs/digits-findings.md quote in prose from the published boards:
spreads, ratios and the paired t-tests between DDIM's samplers and DDPM. The README's tables are
checked against the boards' CSVs in test_leaderboard.py; these sentences are typed by hand too, and
a board regenerated without them (or a figure mistyped: the docs had DDIM-100's excess on seed 0 as
6.58, the board's per-seed FIDs give 6.57) publishes two sets of numbers.

Each check finds its sentence by a pattern and compares every number in it with the value
computed from the board, to the digits the text shows. A sentence reworded so that its pattern no
longer matches fails too: reword the pattern with it. The 8-seed study (`make ddim-gap`) reads
results under runs/, which no checkout holds, so it is not checked here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genbench.fid_gaps import paired_gap, welch_gap

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"(-?[\d.]+k?)"  # a quoted number; "119k" is 119 thousand


def _text(path: str) -> str:
    return " ".join((ROOT / path).read_text().split())  # the prose wraps anywhere


def _board(name: str) -> pd.DataFrame:
    return pd.read_csv(ROOT / f"leaderboards/{name}.csv").set_index("label")


def _fids(board: pd.DataFrame, label: str) -> np.ndarray:
    by_seed = json.loads(board.loc[label, "fid_by_seed"])
    return np.array([by_seed[s] for s in sorted(by_seed, key=int)])


def _agrees(text: str, value: float) -> bool:
    """``text`` is ``value`` rounded to the digits it shows (half a unit of its last digit)."""
    scale = 1e3 if text.endswith("k") else 1.0
    digits = text.rstrip("k")
    last = 10.0 ** -len(digits.partition(".")[2]) * scale
    return abs(float(digits) * scale - value) <= last / 2 + 1e-9


def _check(text: str, pattern: str, values: list[float]) -> None:
    """Every number ``pattern`` captures in ``text`` (``{n}`` is a number) is its value."""
    m = re.search(pattern.replace("{n}", NUMBER), text)
    assert m is not None, f"no sentence matches {pattern!r}: reworded? reword the pattern with it"
    for got, want in zip(m.groups(), values, strict=True):
        assert _agrees(got, want), (pattern, got, want)


def _pct(gap_values: tuple[float, ...], base: float) -> list[float]:
    return [100 * v / base for v in gap_values]


@pytest.fixture(scope="module")
def digits() -> pd.DataFrame:
    return _board("digits")


@pytest.mark.parametrize("doc", ["README.md", "docs/digits-findings.md"])
def test_the_ddim_step_curve_and_its_paired_tests(doc, digits):
    text = _text(doc)
    steps = ["ddim[steps=10]", "ddim[steps=20]", "ddim", "ddim[steps=100]"]
    fids = [_fids(digits, label) for label in steps]
    _check(text, r"steps grow \({n}, {n}, {n}, {n} at 10, 20, 50, 100\)", [f.mean() for f in fids])
    falls = [
        paired_gap(better, worse) for worse, better in zip(fids[:-1], fids[1:], strict=True)
    ]  # each fall
    if doc == "README.md":
        _check(text, r"paired t-tests: p = {n}, {n} and {n} from 10 to 20", [g.p for g in falls])
        return
    expected = []
    for g in falls:  # the docs quote the change from fewer steps to more: minus the gap
        expected += [-g.delta, -g.high, -g.low, g.p]
    _check(
        text,
        r"10 to 20 steps {n}, 95% CI \[{n}, {n}\], p = {n}; 20 to 50 {n}, \[{n}, {n}\], p = {n}; "
        r"50 to 100 {n}, \[{n}, {n}\], p = {n}\)",
        expected,
    )
    _check(text, r"cannot see the last of these \(p = {n}\)", [welch_gap(fids[3], fids[2]).p])


def _ddim_100_gaps(digits: pd.DataFrame):
    """DDPM's, DDIM-100's (eta 0) and DDIM-100's (eta 1) per-seed FIDs, and each DDIM row's paired
    gap over DDPM: what the findings and the README quote of the three-seed board."""
    ddpm, d100 = _fids(digits, "ddpm"), _fids(digits, "ddim[steps=100]")
    eta1 = _fids(digits, "ddim[eta=1,steps=100]")
    return ddpm, d100, eta1, paired_gap(ddpm, d100), paired_gap(ddpm, eta1)


def test_the_three_seed_ddim_gap_in_the_findings(digits):
    text = _text("docs/digits-findings.md")
    ddpm, d100, eta1, g, g1 = _ddim_100_gaps(digits)
    _check(
        text,
        r"DDIM-100 exceeds DDPM by {n}, {n} and {n} \(paired mean {n}, 95% CI \[{n}, {n}\], p = {n}\), "
        r"\+{n}% to \+{n}% of DDPM's mean FID",
        [*(d100 - ddpm), g.delta, g.low, g.high, g.p, *_pct((g.low, g.high), ddpm.mean())],
    )
    _check(
        text,
        r"at eta = 1 the excess is {n}, \[{n}, {n}\], \+{n}% to \+{n}%",
        [g1.delta, g1.low, g1.high, *_pct((g1.low, g1.high), ddpm.mean())],
    )
    _check(text, r"\*\*{n}% above\*\* DDPM", [100 * (d100.mean() / ddpm.mean() - 1)])
    _check(
        text,
        r"{n} ± {n} here \(\+{n}%",
        [eta1.mean(), eta1.std(ddof=1), 100 * (eta1.mean() / ddpm.mean() - 1)],
    )


def test_the_three_seed_ddim_gap_in_the_readme(digits):
    text = _text("README.md")
    ddpm, d100, eta1, g, g1 = _ddim_100_gaps(digits)
    _check(
        text,
        r"DDIM-100's excess, \[{n}, {n}\] FID, is \+{n}% to \+{n}% of DDPM's {n}, .*? "
        r"\(at eta = 1, \+{n}% to \+{n}%\)",
        [
            g.low,
            g.high,
            *_pct((g.low, g.high), ddpm.mean()),
            ddpm.mean(),
            *_pct((g1.low, g1.high), ddpm.mean()),
        ],
    )
    _check(text, r"\*\*{n}% above\*\* DDPM", [100 * (d100.mean() / ddpm.mean() - 1)])
    _check(text, r"at eta = 1 it is {n}% above", [100 * (eta1.mean() / ddpm.mean() - 1)])


@pytest.mark.parametrize("doc", ["README.md", "docs/digits-findings.md"])
def test_speed_spreads_and_gan_numbers(doc, digits):
    text = _text(doc)
    ddpm, ddim = digits.loc["ddpm"], digits.loc["ddim"]
    sps = [ddim["samples_per_s"], ddim["samples_per_s_std"], ddpm["samples_per_s"], ddpm["samples_per_s_std"]]
    _check(text, r"\({n} ± {n} vs {n} ± {n} samples/s, {n}x", [*sps, sps[0] / sps[2]])
    _check(text, r"C_T = {n} ± {n}", [ddpm["ct"], ddpm["ct_std"]])
    sat, ns = digits.loc["gan-sat"], digits.loc["gan-ns"]
    _check(text, r"on digits: {n} ± {n} vs {n} ± {n}", [sat["fid"], sat["fid_std"], ns["fid"], ns["fid_std"]])
    _check(
        text,
        r"\(norm {n} for NS and {n} for the saturating loss",
        [ns["grad_norm_g_early"], sat["grad_norm_g_early"]],
    )
    train = (ddpm["train_s"], ddpm["train_s_std"])
    _check(
        text, r"{n} ± {n} s for the shipped" if doc == "README.md" else r"\(DDPM {n} ± {n} s\)", list(train)
    )


def test_the_readme_prose_on_the_controls_floor_and_2d_gradients(digits):
    text = _text("README.md")
    floor = float(re.search(r"is FID ([\d.]+) \(from fewer samples", text).group(1))
    _check(
        text,
        r"lowest FID of the trained baselines, {n}x the train/test floor",
        [digits.loc["ddpm", "fid"] / floor],
    )
    _check(text, r"C_T = {n}\), `collapse`", [digits.loc["copy", "ct"]])
    _check(text, r"\(mode KL {n} = log 10\)", [digits.loc["collapse", "mode_kl"]])
    ratio = [
        _board(d).loc["gan-ns", "grad_norm_g_early"] / _board(d).loc["gan-sat", "grad_norm_g_early"]
        for d in ("ring8", "grid25")
    ]
    _check(text, r"a {n}x \(ring8\) to {n}x \(grid25\) larger gradient", ratio)


def test_the_readme_prose_on_the_conditional_board():
    text = _text("README.md")
    board = _board("conditional/digits")
    gan_cond, gan_ns, ddpm_cond = board.loc["gan-cond"], board.loc["gan-ns"], board.loc["ddpm-cond"]
    _check(
        text,
        r"\(`gan-cond` {n} ± {n}, `gan-ns` {n} ± {n}\)",
        [
            gan_cond["samples_per_s"],
            gan_cond["samples_per_s_std"],
            gan_ns["samples_per_s"],
            gan_ns["samples_per_s_std"],
        ],
    )
    _check(text, r"`gan-cond`'s `train_s` \({n} ± {n} s\)", [gan_cond["train_s"], gan_cond["train_s_std"]])
    _check(text, r"2000 steps, {n} ± {n} s here\)", [ddpm_cond["train_s"], ddpm_cond["train_s_std"]])
    _check(text, r"on it `ddpm` samples {n}/s", [board.loc["ddpm", "samples_per_s"]])


def test_the_fid_inf_paragraph_in_the_metrics_page():
    """docs/metrics.md's FID and IS against their extrapolations to infinitely many samples, from
    leaderboards/extrapolated/ (`make leaderboards-extrapolated`)."""
    text = _text("docs/metrics.md")
    board = _board("extrapolated/digits")
    values = []
    for label in ("ddpm", "gan-sat", "gan-ns", "vae"):
        row = board.loc[label]
        values += [row["fid"], row["fid_std"], row["fid_inf"], row["fid_inf_std"]]
    _check(
        text,
        r"DDPM {n} ± {n} vs {n} ± {n} \(the bias is [\d]+% of its FID\), GAN-sat {n} ± {n} vs {n} ± {n}, "
        r"GAN-NS {n} ± {n} vs {n} ± {n}, VAE {n} ± {n} vs {n} ± {n};",
        values,
    )
    gaps = board["fid"] - board["fid_inf"]
    ddpm = board.loc["ddpm"]
    _check(
        text,
        r"FID at N is {n} to {n} above FID_inf for every model",
        [gaps.min(), gaps.max()],
    )
    _check(text, r"\(the bias is {n}% of its FID\)", [100 * (ddpm["fid"] - ddpm["fid_inf"]) / ddpm["fid"]])
    _check(text, r"IS {n} vs IS_inf {n} for DDPM", [ddpm["is"], ddpm["is_inf"]])
    others = (board["is_inf"] - board["is"]).drop("ddpm")
    _check(text, r"and {n} to {n} higher for the others", [others.min(), others.max()])
    # "FID_inf spreads more over seeds" was said of every model, and GAN-NS's spreads less (5.95 < 6.31)
    wider = int((board["fid_inf_std"] > board["fid_std"]).sum())
    _check(text, r"FID_inf spreads more over seeds for {n} of the {n}\s+models", [wider, len(board)])


def test_agrees_reads_the_digits_shown():
    # a value rounds to the text at the text's precision, and only there
    assert _agrees("72.5", 72.515) and _agrees("73", 72.515) and not _agrees("72", 72.515)
    assert _agrees("119k", 119407.0) and not _agrees("120k", 119407.0)
    assert _agrees("-21.2", -21.2414) and not _agrees("6.58", 6.5748)


def test_the_readme_floor_is_the_test_split_scored_as_the_board(tmp_path):
    """ "The floor, the 360 held-out test images scored the same way, is FID 7.14": the test split's
    FID against the train split in the shipped classifier's features, as the board scores samples."""
    from genbench.data.digits import Digits
    from genbench.features.classifier import Classifier
    from genbench.metrics.fid import frechet_distance, gaussian_statistics

    data = Digits(cache_dir=tmp_path)
    features = Classifier(data, cache_dir=tmp_path)
    test, train = (features.extract(data.load(split)[0]).features for split in ("test", "train"))
    assert len(test) == 360 and len(train) == 1437
    floor = frechet_distance(*gaussian_statistics(test), *gaussian_statistics(train))
    _check(
        _text("README.md"),
        r"The floor, the 360 held-out test images scored the same way, is FID {n} ",
        [floor],
    )
