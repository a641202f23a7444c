"""How far DDIM's FID is above DDPM's over the same checkpoints, seed by seed (issue #3's "DDIM at 100
steps within 25% of DDPM at 1000").

Every DDIM row samples the DDPM checkpoint of its seed, so the seeds pair up: the per-seed excess
``fid(ddim) - fid(ddpm)`` cancels the training noise both rows share, and its paired t interval
(:func:`genbench.fid_gaps.paired_gap`) is far narrower than the two rows' spreads suggest. The board's
FID-gaps table tests neighbouring ranks only; this compares each DDIM row with DDPM directly, in FID
and in percent of DDPM's mean FID over the same seeds (taken as fixed). Reads the results of
``make ddim-gap`` (or any --out holding ddpm and ddim rows of one protocol); prints a markdown
table (tests/test_ddim_gap_script.py checks its arithmetic on made-up rows).

    python benchmarks/ddim_gap.py [--out runs/ddim-gap] [--dataset digits]
"""

from __future__ import annotations

import argparse

from genbench.fid_gaps import LEVEL, paired_gap
from genbench.leaderboard import aggregate, load_results, results_frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/ddim-gap")
    parser.add_argument("--dataset", default="digits")
    args = parser.parse_args()
    agg = aggregate(results_frame(load_results(args.out)))
    rows = agg[agg["dataset"] == args.dataset].set_index("row_label")
    if "ddpm" not in rows.index:
        raise SystemExit(f"error: no ddpm row of {args.dataset} under {args.out}; run `make ddim-gap` first")
    ddpm = rows.loc["ddpm", "fid_by_seed"]
    base = sum(f for f, _ in ddpm.values()) / len(ddpm)
    print(f"DDPM-1000: FID {base:.2f} over seeds {', '.join(map(str, sorted(ddpm)))}\n")
    print(f"| row | seeds | excess over DDPM | {LEVEL:.0%} CI | in % of DDPM | p |")
    print("|:--|--:|--:|--:|--:|--:|")
    for label, by_seed in rows["fid_by_seed"].items():
        if not label.startswith("ddim") or not isinstance(by_seed, dict):
            continue
        seeds = sorted(set(by_seed) & set(ddpm))
        # the same checkpoint at every seed is what makes the pairs (recorded as training.checkpoint)
        shared = [s for s in seeds if by_seed[s][1] is not None and by_seed[s][1] == ddpm[s][1]]
        if len(shared) < 2:
            print(f"| {label} | {len(shared)} | (fewer than 2 seeds over ddpm's checkpoints) | | | |")
            continue
        gap = paired_gap([ddpm[s][0] for s in shared], [by_seed[s][0] for s in shared])
        # DDPM's mean over the pairs' own seeds: over all of DDPM's, a seed that this row lacks moved
        # the percentage of an excess it has no part in
        paired_base = sum(ddpm[s][0] for s in shared) / len(shared)
        pct = [100 * v / paired_base for v in (gap.delta, gap.low, gap.high)]
        print(
            f"| {label} | {len(shared)} | {gap.delta:.2f} | [{gap.low:.2f}, {gap.high:.2f}] | "
            f"{pct[0]:+.0f}% [{pct[1]:+.0f}%, {pct[2]:+.0f}%] | {gap.p:.2g} |"
        )


if __name__ == "__main__":
    main()
