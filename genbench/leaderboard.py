"""pandas leaderboards: results -> one row per model (variant) with mean and std over seeds.

Columns use stable snake_case names: a metric's mean is ``<metric>``, its standard deviation over
seeds (ddof=1) ``<metric>_std``. Per-run spreads a metric reports itself (KID's and IS's spread
over subsets) stay in the result JSONs; the leaderboard's ``_std`` is always over seeds. A metric
not computed is left empty. Rows are ranked by FID; flagged rows (memorized, collapsed, diverged)
keep their place but carry their flags, so a copying model cannot top a board silently.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from genbench.errors import GenbenchError
from genbench.results import Result, find_results, load_result

#: metric columns in display order, with the table they appear in
SECTIONS: dict[str, list[str]] = {
    "Quality": ["fid", "kid", "is", "precision", "recall", "density", "coverage"],
    "Memorization and modes": [
        "memorization_rate",
        "authpct",
        "ct",
        "modes_covered",
        "mode_kl",
        "high_quality",
    ],
    "Cost": ["samples_per_s", "nfe", "peak_memory_mb", "train_s"],
    # GAN rows only (empty columns are dropped): is the generator's gradient vanishing?
    "GAN training dynamics": ["grad_norm_g_early", "grad_norm_g_final", "d_real_final", "d_fake_final"],
}
METRIC_COLUMNS = [c for cols in SECTIONS.values() for c in cols]
#: diagnostics without a better direction (shown without an arrow, only for rows that have them)
DIAGNOSTIC = {"grad_norm_g_early", "grad_norm_g_final", "d_real_final", "d_fake_final"}
LOWER_IS_BETTER = {"fid", "kid", "mode_kl", "memorization_rate", "peak_memory_mb", "train_s", "nfe"}


def load_results(out: Path) -> list[Result]:
    paths = find_results(out)
    if not paths:
        raise GenbenchError(f"no results under {out}; run `genbench run --out {out}` first")
    results = []
    for path in paths:
        try:
            results.append(load_result(path))
        except (ValueError, TypeError, KeyError) as e:
            raise GenbenchError(
                f"result file {path} is unreadable ({e}); delete it and rerun that model"
            ) from e
    return results


def results_frame(results: list[Result]) -> pd.DataFrame:
    """One row per result: identity, status, protocol and every metric value."""
    rows = []
    for r in results:
        row = {
            "dataset": r.dataset,
            "model": r.model,
            "variant": r.variant,
            "label": r.label,
            "seed": r.seed,
            "status": r.status,
            "error": r.error or "",
            "flags": ",".join(r.flags),
            "num_samples": r.protocol.get("num_samples"),
            "reference_split": r.protocol.get("reference_split"),
            "features": (r.protocol.get("features") or {}).get("name"),
            "features_fingerprint": (r.protocol.get("features") or {}).get("fingerprint"),
        }
        row.update(r.metrics)
        if "train_s" not in row and "train_s" in r.timings:
            row["train_s"] = r.timings["train_s"]
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (dataset, label); ranked by FID within each dataset."""
    metric_cols = [c for c in frame.columns if c in METRIC_COLUMNS or _is_extra_metric(frame, c)]
    out = []
    for (dataset, label), g in frame.groupby(["dataset", "label"], sort=False):
        ok = g[g["status"] == "ok"]
        row: dict[str, object] = {
            "dataset": dataset,
            "model": g["model"].iloc[0],
            "variant": g["variant"].iloc[0],
            "label": label,
            "seeds": ",".join(str(s) for s in sorted(g["seed"])),
            "n_ok": len(ok),
            "flags": ",".join(sorted({f for fl in g["flags"] for f in fl.split(",") if f})),
            "status": "ok" if len(ok) == len(g) else ";".join(sorted(set(g["status"]))),
            "num_samples": _unique(g["num_samples"]),
            "reference_split": _unique(g["reference_split"]),
            "features": _unique(g["features"]),
        }
        for c in metric_cols:
            vals = pd.to_numeric(ok[c], errors="coerce").dropna() if c in ok else pd.Series(dtype=float)
            row[c] = float(vals.mean()) if len(vals) else np.nan
            row[f"{c}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else np.nan
        out.append(row)
    agg = pd.DataFrame(out)
    if "fid" in agg:
        agg = agg.sort_values(["dataset", "fid"], na_position="last", kind="stable")
        agg.insert(0, "rank", agg.groupby("dataset").cumcount() + 1)
    return agg.reset_index(drop=True)


def _is_extra_metric(frame: pd.DataFrame, col: str) -> bool:
    """Metric columns of third-party metrics: numeric, not identity, not a per-run spread."""
    skip = {"seed", "num_samples", "rank"}
    if col in skip or col.endswith("_std") or not pd.api.types.is_numeric_dtype(frame[col]):
        return False
    return col not in {"dataset", "model", "variant", "label", "status", "error", "flags"}


def _unique(s: pd.Series) -> object:
    vals = sorted({str(v) for v in s.dropna()})
    return vals[0] if len(vals) == 1 else ("/".join(vals) if vals else None)


def fmt(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    digits = 4 if abs(mean) < 1 else 3
    text = f"{mean:.{digits}g}" if abs(mean) < 1e4 else f"{mean:.0f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.2g}"
    return text


def protocol_caption(frame: pd.DataFrame, dataset: str, describe_features: dict[str, str]) -> str:
    g = frame[frame["dataset"] == dataset]
    n = sorted({int(v) for v in g["num_samples"].dropna()})
    splits = sorted({str(v) for v in g["reference_split"].dropna()})
    feats = sorted({str(v) for v in g["features"].dropna()})
    seeds = sorted({int(s) for s in g["seed"]})
    n_text = f"N = {n[0]}" if len(n) == 1 else f"N = {', '.join(map(str, n))} (varies by row, see CSV)"
    feat_text = "; ".join(describe_features.get(f, f) for f in feats)
    return (
        f"Protocol: {n_text} samples per model and seed vs the **{'/'.join(splits)}** split; "
        f"features: {feat_text}; seeds {', '.join(map(str, seeds))}; cells are mean ± std over seeds."
    )


def markdown_table(agg: pd.DataFrame, columns: list[str]) -> str:
    cols = [c for c in columns if c in agg and agg[c].notna().any()]
    if not cols:
        return ""
    if set(cols) <= DIAGNOSTIC:  # e.g. GAN dynamics: only the rows they describe
        agg = agg[agg[cols].notna().any(axis=1)]
    table = pd.DataFrame(
        {
            "rank": agg.get("rank", pd.Series(range(1, len(agg) + 1))),
            "model": agg["label"],
            "flags": [_flag_text(f, s) for f, s in zip(agg["flags"], agg["status"], strict=True)],
            **{
                c + ("" if c in DIAGNOSTIC else " ↓" if c in LOWER_IS_BETTER else " ↑"): [
                    fmt(m, s) for m, s in zip(agg[c], agg[f"{c}_std"], strict=True)
                ]
                for c in cols
            },
        }
    )
    return table.to_markdown(index=False)


def _flag_text(flags: str, status: str) -> str:
    parts = [f"**{f}**" for f in flags.split(",") if f]
    if status != "ok" and "diverged" not in flags:
        parts.append(f"**{status}**")
    return " ".join(parts)


def leaderboard_markdown(
    frame: pd.DataFrame,
    agg: pd.DataFrame,
    dataset: str,
    figures: dict[str, str],
    describe_features: dict[str, str],
) -> str:
    a = agg[agg["dataset"] == dataset]
    lines = [f"# Leaderboard: {dataset}", "", protocol_caption(frame, dataset, describe_features), ""]
    lines.append(
        "Ranked by FID (lower is better). Flags: **memorized** (copies training data), **collapsed** "
        "(misses modes), **diverged**/**failed** (no samples); a flagged row is not a usable model, "
        "however low its FID."
    )
    if "high_quality" in a and a["high_quality"].notna().any() and set(a["features"].dropna()) == {"raw"}:
        lines.append(
            "\nOn raw 2D coordinates FID compares only means and covariances: a Gaussian fitted to the "
            "data scores about 0 while its samples fall between the modes. Read `high_quality` (share "
            "of samples within 3 std of a mode) and `modes_covered` (PacGAN) beside it."
        )
    for title, cols in SECTIONS.items():
        table = markdown_table(a, cols)
        if table:
            lines += ["", f"## {title}", "", table]
    failed = frame[(frame["dataset"] == dataset) & (frame["status"] != "ok")]
    if len(failed):
        lines += ["", "## Runs without samples", ""]
        lines += [f"- {r.label} seed {r.seed}: {r.status}: {r.error}" for r in failed.itertuples()]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"- [{name}]({path})" for name, path in figures.items()]
    return "\n".join(lines) + "\n"


def to_csv_frame(agg: pd.DataFrame) -> pd.DataFrame:
    front = [
        "rank",
        "dataset",
        "model",
        "variant",
        "label",
        "seeds",
        "n_ok",
        "status",
        "flags",
        "num_samples",
        "reference_split",
        "features",
    ]
    metric = [c for c in agg.columns if c not in front]
    ordered = [c for c in METRIC_COLUMNS if c in metric]
    ordered += sorted(c for c in metric if not c.endswith("_std") and c not in ordered)
    cols = [c for c in front if c in agg] + [x for c in ordered for x in (c, f"{c}_std") if x in agg]
    return agg[cols]


__all__ = ["aggregate", "leaderboard_markdown", "load_results", "results_frame", "to_csv_frame"]
