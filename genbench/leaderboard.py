"""pandas leaderboards: results -> one row per model (variant) with mean and std over seeds.

Columns use stable snake_case names: a metric's mean is ``<metric>``, its standard deviation over
seeds (ddof=1) ``<metric>_std``. Per-run spreads a metric reports itself (KID's and IS's spread
over subsets) stay in the result JSONs; the leaderboard's ``_std`` is always over seeds. A metric
not computed is left empty. Rows are ranked by FID; flagged rows (memorized, collapsed, diverged)
keep their place but carry their flags, so a copying model cannot top a board silently.

Seeds are averaged only within one protocol: the protocol fields that change the numbers
(:data:`PROTOCOL_FIELDS`, plus the version and options of any metric whose settings differ between
runs of the dataset). Runs of one model under different protocols become separate rows whose label
names what differs ("copy (N=200)"), ranked within their protocol. A metric's options split rows
even for the runs where that metric failed (e.g. an invalid ``fid.backend``): such a run was asked to
measure something else, and its row shows the failure. A cell averaged over fewer seeds than its row
has (a metric failed or was not run for some seeds) is marked and explained in a note.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

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
#: protocol fields that change the numbers, with the name a row label gives them. Seed, device and
#: batch size are left out: they say how a run was made, not what it measured.
PROTOCOL_FIELDS: dict[str, str] = {
    "num_samples": "N",
    "reference_split": "reference",
    "reference_stats": "reference stats",
    "features": "features",
    "features_fingerprint": "features fingerprint",
    "dataset_fingerprint": "dataset fingerprint",
}
#: what marks a cell not averaged over all of its row's seeds (explained in the notes below the tables)
PARTIAL_MARK = "†"


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
            "reference_stats": r.protocol.get("reference_stats"),
            "dataset_fingerprint": r.protocol.get("dataset_fingerprint"),
            "metric_versions": _canonical(r.protocol.get("metric_versions")),
            "metric_options": _canonical(r.protocol.get("metric_options")),
            "metric_errors": dict(r.metric_errors),
        }
        row.update(r.metrics)
        if "train_s" not in row and "train_s" in r.timings:
            row["train_s"] = r.timings["train_s"]
        rows.append(row)
    return pd.DataFrame(rows)


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (dataset, label, protocol); ranked by FID within each protocol."""
    frame = _with_failed_metric_columns(frame)
    metric_cols = [c for c in frame.columns if c in METRIC_COLUMNS or _is_extra_metric(frame, c)]
    frame = frame.assign(protocol_key=protocol_keys(frame))
    out = []
    for dataset, runs in frame.groupby("dataset", sort=False):
        _, suffixes = protocol_differences(list(runs["protocol_key"]))
        order = _protocol_order(runs)
        for (label, key), g in runs.groupby(["label", "protocol_key"], sort=False):
            row = _identity(dataset, label, g, key, suffixes[key], order[key])
            row.update(_cells(g[g["status"] == "ok"], metric_cols))
            out.append(row)
    agg = pd.DataFrame(out)
    if "fid" in agg:
        agg = agg.sort_values(["dataset", "protocol_order", "fid"], na_position="last", kind="stable")
        agg.insert(0, "rank", agg.groupby(["dataset", "protocol_order"]).cumcount() + 1)
    return agg.reset_index(drop=True)


def _identity(
    dataset: str, label: str, g: pd.DataFrame, key: str, suffix: str, order: int
) -> dict[str, object]:
    """A row's identity, status and protocol (the protocol fields are the key's, shared by its runs)."""
    ok = g[g["status"] == "ok"]
    protocol = json.loads(key) if key else {}
    return {
        "dataset": dataset,
        "model": g["model"].iloc[0],
        "variant": g["variant"].iloc[0],
        "label": label,
        "row_label": f"{label} ({suffix})" if suffix else label,
        "protocol": suffix,
        "seeds": ",".join(str(s) for s in sorted(g["seed"])),
        "n_ok": len(ok),
        "flags": ",".join(sorted({f for fl in g["flags"] for f in fl.split(",") if f})),
        "status": "ok" if len(ok) == len(g) else ";".join(sorted(set(g["status"]))),
        **{f: None if protocol.get(f) is None else str(protocol[f]) for f in PROTOCOL_FIELDS},
        "metric_versions": _merged(g["metric_versions"]),
        "metric_options": _merged(g["metric_options"]),
        "protocol_key": key,
        "protocol_order": order,
    }


def _with_failed_metric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with an empty column for each value of a metric that failed wherever it ran, so that
    its cells show the failure instead of the column vanishing."""
    failed = {
        c
        for errors in frame["metric_errors"]
        for metric in errors
        for c in _metric_columns(metric)
        if not c.endswith("_std")  # per-run spreads are no columns of their own
    }
    return frame.assign(**{c: np.nan for c in sorted(failed - set(frame.columns))})


def _cells(ok: pd.DataFrame, metric_cols: list[str]) -> dict[str, object]:
    """Mean and std over the ok seeds per metric, with a note for each cell that misses some seeds."""
    row: dict[str, object] = {}
    notes: dict[str, CellNote] = {}
    for c in metric_cols:
        vals = pd.to_numeric(ok[c], errors="coerce")
        have = vals.dropna()
        row[c] = float(have.mean()) if len(have) else np.nan
        row[f"{c}_std"] = float(have.std(ddof=1)) if len(have) > 1 else np.nan
        note = _cell_note(c, ok, vals)
        if note is not None:
            notes[c] = note
    row["notes"] = "; ".join(note_lines(notes, metric_cols))
    row["cell_notes"] = notes
    return row


# -- protocols ---------------------------------------------------------------------------------


def protocol_keys(frame: pd.DataFrame) -> pd.Series:
    """Each run's protocol as canonical JSON ("" when it recorded none), comparable within a dataset."""
    keys = pd.Series("", index=frame.index, dtype=object)
    for _, runs in frame.groupby("dataset", sort=False):
        settings = {i: _metric_settings(run) for i, run in runs.iterrows()}
        varying = _varying_metrics(list(settings.values()))
        for i, run in runs.iterrows():
            keys[i] = _protocol_key(run, settings[i], varying)
    return _adopt_unrecorded(frame, keys)


def _protocol_key(run: pd.Series, settings: dict[str, dict[str, Any]], varying: list[str]) -> str:
    fields = {f: _plain(run.get(f)) for f in PROTOCOL_FIELDS}
    if all(v is None for v in fields.values()) and not settings:
        return ""  # failed before sampling: nothing was measured
    metrics = {m: settings.get(m) for m in varying}
    return json.dumps({**fields, "metrics": metrics}, sort_keys=True, default=str)


def _metric_settings(run: pd.Series) -> dict[str, dict[str, Any]]:
    """metric -> its version and options in one run."""
    versions = json.loads(run["metric_versions"]) if isinstance(run.get("metric_versions"), str) else {}
    options = json.loads(run["metric_options"]) if isinstance(run.get("metric_options"), str) else {}
    return {m: {"version": versions.get(m), "options": options.get(m, {})} for m in {*versions, *options}}


def _varying_metrics(settings: list[dict[str, dict[str, Any]]]) -> list[str]:
    """Metrics whose version or options differ between the runs of a dataset that computed them.

    Only these enter the protocol: a run that did not compute a metric has no value for it (a marked
    cell), which is no reason to split the metrics the runs share into two rows.
    """
    seen: dict[str, set[str]] = {}
    for run in settings:
        for metric, setting in run.items():
            seen.setdefault(metric, set()).add(json.dumps(setting, sort_keys=True, default=str))
    return sorted(m for m, values in seen.items() if len(values) > 1)


def _adopt_unrecorded(frame: pd.DataFrame, keys: pd.Series) -> pd.Series:
    """A run without a protocol joins its model's only protocol, else its dataset's only one.

    It has no numbers, so this only decides which row counts its failure (one row, as when every run
    shares a protocol); with several candidates it keeps a row of its own rather than guess.
    """
    out = keys.copy()
    for i in keys.index[keys == ""]:
        for scope in (["dataset", "label"], ["dataset"]):
            same = (frame[scope] == frame.loc[i, scope]).all(axis=1)
            known = set(keys[same]) - {""}
            if len(known) == 1:
                out[i] = known.pop()
                break
    return out


def _protocol_order(runs: pd.DataFrame) -> dict[str, int]:
    """One dataset's protocols in board order: most ok runs first (ties: first seen), unrecorded last."""
    ok = runs[runs["status"] == "ok"]
    keys = list(dict.fromkeys(runs["protocol_key"]))
    counts = {k: int((ok["protocol_key"] == k).sum()) for k in keys}
    return {k: i for i, k in enumerate(sorted(keys, key=lambda k: (k == "", -counts[k])))}


def protocol_differences(keys: list[str]) -> tuple[list[str], dict[str, str]]:
    """What sets one dataset's protocols apart: the names of the fields that differ, and per key the
    label suffix giving its values ("N=200, features=raw"). With one protocol nothing differs."""
    known = {k: json.loads(k) for k in dict.fromkeys(keys) if k}
    suffixes = {k: "" for k in keys}
    if len(known) <= 1:
        return [], suffixes
    names: list[str] = []
    parts: dict[str, list[str]] = {k: [] for k in known}
    for field, name in PROTOCOL_FIELDS.items():
        if _field_differs(list(known.values()), field):
            names.append(name)
            for k, p in known.items():
                parts[k].append(f"{name}={_show(field, p[field])}")
    for metric in next(iter(known.values()))["metrics"]:
        differing, texts = _metric_differences(metric, {k: p["metrics"][metric] for k, p in known.items()})
        names += differing
        for k, text in texts.items():
            parts[k].append(text)
    suffixes.update({k: ", ".join(p for p in ps if p) for k, ps in parts.items()})
    suffixes[""] = "protocol not recorded"
    return names, suffixes


def _field_differs(protocols: list[dict[str, Any]], field: str) -> bool:
    # a fingerprint that only follows the features name tells the reader nothing the name does not
    scope = "features" if field == "features_fingerprint" else None
    seen: dict[object, set[str]] = {}
    for p in protocols:
        seen.setdefault(p[scope] if scope else None, set()).add(json.dumps(p[field], default=str))
    return any(len(values) > 1 for values in seen.values())


def _metric_differences(
    metric: str, settings: dict[str, dict[str, Any] | None]
) -> tuple[list[str], dict[str, str]]:
    """The differing version and options of ``metric`` ("fid.backend"), and per key their values."""
    present = [s for s in settings.values() if s is not None]
    version_differs = len({s["version"] for s in present}) > 1
    option_names = sorted({o for s in present for o in s["options"]})
    differing = [
        o for o in option_names if len({json.dumps(s["options"].get(o), default=str) for s in present}) > 1
    ]
    names = ([f"{metric} version"] if version_differs else []) + [f"{metric}.{o}" for o in differing]
    if any(s is None for s in settings.values()):
        names.append(f"whether {metric} ran")
    texts = {}
    for k, s in settings.items():
        if s is None:
            texts[k] = f"no {metric}"
            continue
        shown = [f"{metric} v{s['version']}"] if version_differs else []
        shown += [f"{metric}.{o}={_show(o, s['options'].get(o))}" for o in differing]
        texts[k] = ", ".join(shown)
    return names, texts


def _show(field: str, value: object) -> str:
    if value is None:
        return "none"
    if field == "reference_stats":
        return Path(str(value)).name
    if field.endswith("fingerprint"):  # network and weights; the preprocessing after ":" is in the JSONs
        return str(value).split(":")[0]
    return str(value)


def _plain(value: object) -> object:
    """A frame cell as JSON: NaN -> None, and 200.0 -> 200 (pandas makes an int column with gaps float)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical(value: object) -> str | None:
    """Settings as canonical JSON text, so equal settings compare equal (None when not recorded)."""
    return json.dumps(value, sort_keys=True, default=str) if value else None


def _merged(texts: pd.Series) -> str | None:
    """A row's metric settings: the union over its runs (they agree on every metric they share)."""
    merged: dict[str, Any] = {}
    for text in texts.dropna():
        merged.update(json.loads(text))
    return _canonical(merged)


# -- cells over fewer seeds than their row -----------------------------------------------------


@dataclass(frozen=True)
class CellNote:
    """Why a cell is not a mean over all of its row's ok seeds."""

    seeds_with: tuple[int, ...]  # the seeds its value is over
    n_seeds: int  # the row's ok seeds
    missing: tuple[tuple[int, str], ...]  # (seed, why it has no value)

    def text(self, columns: str) -> str:
        why = "; ".join(f"seed {seed}: {reason}" for seed, reason in self.missing)
        if not self.seeds_with:
            return f"{columns}: no value; {why}"
        used = ", ".join(map(str, self.seeds_with))
        return (
            f"{columns} from {len(self.seeds_with)} of {self.n_seeds} seeds "
            f"({'seed' if len(self.seeds_with) == 1 else 'seeds'} {used}); {why}"
        )


def _cell_note(column: str, ok: pd.DataFrame, values: pd.Series) -> CellNote | None:
    have = values.notna()
    if have.all():
        return None
    missing = [
        (int(seed), _why_missing(column, errors))
        for seed, errors in ok.loc[~have, ["seed", "metric_errors"]].itertuples(index=False)
    ]
    if not have.any() and all(why is None for _, why in missing):
        return None  # computed for no seed and no error (e.g. does not apply): an empty cell, as always
    return CellNote(
        tuple(sorted(int(s) for s in ok.loc[have, "seed"])),
        len(ok),
        tuple((seed, why or "no value recorded") for seed, why in sorted(missing)),
    )


def _why_missing(column: str, errors: dict[str, str]) -> str | None:
    """The recorded error of the metric that fills ``column``, if it failed."""
    from genbench.runner import metric_message

    reasons = [metric_message(m, why) for m, why in errors.items() if column in _metric_columns(m)]
    return "; ".join(reasons) or None


@cache
def _metric_columns(metric: str) -> frozenset[str]:
    """The columns ``metric`` fills: the names of its ``higher_is_better`` (its own name if unloadable)."""
    from genbench import registry

    try:
        columns = frozenset(registry.metrics.get(metric).higher_is_better)
    except Exception:  # an uninstalled or broken plugin must not stop the report
        columns = frozenset()
    return columns or frozenset({metric})


def note_lines(notes: dict[str, CellNote], columns: list[str]) -> list[str]:
    """One line per explanation of ``columns``' notes; columns with the same explanation share it."""
    grouped: dict[CellNote, list[str]] = {}
    for c in columns:
        if c in notes:
            grouped.setdefault(notes[c], []).append(c)
    return [note.text(", ".join(cols)) for note, cols in grouped.items()]


def _is_extra_metric(frame: pd.DataFrame, col: str) -> bool:
    """Metric columns of third-party metrics: numeric, not identity, not a per-run spread."""
    skip = {"seed", "num_samples", "rank"}
    if col in skip or col.endswith("_std") or not pd.api.types.is_numeric_dtype(frame[col]):
        return False
    return col not in {"dataset", "model", "variant", "label", "status", "error", "flags"}


def fmt(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return ""
    digits = 4 if abs(mean) < 1 else 3
    text = f"{mean:.{digits}g}" if abs(mean) < 1e4 else f"{mean:.0f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f" ± {std:.2g}"
    return text


# -- markdown ----------------------------------------------------------------------------------


def protocol_caption(
    frame: pd.DataFrame, agg: pd.DataFrame, dataset: str, describe_features: dict[str, str]
) -> str:
    runs = frame[frame["dataset"] == dataset]
    seeds = ", ".join(str(s) for s in sorted({int(s) for s in runs["seed"]}))
    if not (runs["status"] == "ok").any():
        return (
            f"No run produced samples (seeds {seeds}), so there are no numbers; the errors are listed below."
        )
    keys = list(agg.loc[agg["dataset"] == dataset, "protocol_key"])
    protocols = [json.loads(k) for k in dict.fromkeys(keys) if k]
    caption = _protocol_sentence(protocols, seeds, describe_features)
    differing, _ = protocol_differences(keys)
    if differing:
        caption += (
            f" Rows differ in {_and(differing)}: a row's label names its values; seeds are averaged, and "
            f"rows ranked, only within one protocol (the CSV has every protocol field)."
        )
    return caption


def _protocol_sentence(protocols: list[dict[str, Any]], seeds: str, describe_features: dict[str, str]) -> str:
    def values(field: str) -> list[str]:
        found = {p[field] for p in protocols if p[field] is not None}
        return [_show(field, v) for v in sorted(found, key=lambda v: (str(type(v)), v))]

    n, splits, stats, feats = (
        values(f) for f in ("num_samples", "reference_split", "reference_stats", "features")
    )
    clauses = []
    if n or splits:
        sampled = f"N = {', '.join(n)} samples per model and seed" if n else "samples per model and seed"
        clauses.append(sampled + (f" vs the **{'/'.join(splits)}** split" if splits else ""))
    if stats:
        clauses.append(f"FID against the reference statistics {', '.join(f'`{s}`' for s in stats)}")
    if feats:
        clauses.append(f"features: {'; '.join(describe_features.get(f, f) for f in feats)}")
    clauses += [f"seeds {seeds}", "cells are mean ± std over seeds"]
    return f"Protocol: {'; '.join(clauses)}."


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def shown_columns(agg: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns a table shows: those with a value, or a note (a metric that failed everywhere)."""
    notes = agg["cell_notes"] if "cell_notes" in agg else pd.Series([{}] * len(agg), index=agg.index)
    return [c for c in columns if c in agg and (agg[c].notna().any() or any(c in n for n in notes))]


def markdown_table(agg: pd.DataFrame, columns: list[str]) -> str:
    cols = shown_columns(agg, columns)
    if not cols:
        return ""
    if set(cols) <= DIAGNOSTIC:  # e.g. GAN dynamics: only the rows they describe
        agg = agg[agg[cols].notna().any(axis=1)]
    notes = agg["cell_notes"] if "cell_notes" in agg else pd.Series([{}] * len(agg), index=agg.index)
    several = "protocol" in agg and agg["protocol"].astype(bool).any()
    table = pd.DataFrame(
        {
            "rank": agg.get("rank", pd.Series(range(1, len(agg) + 1))),
            "model": agg.get("row_label", agg["label"]),
            # rows of different protocols come from different seeds: say which
            **({"seeds": agg["seeds"]} if several else {}),
            "flags": [_flag_text(f, s) for f, s in zip(agg["flags"], agg["status"], strict=True)],
            **{
                c + ("" if c in DIAGNOSTIC else " ↓" if c in LOWER_IS_BETTER else " ↑"): [
                    _cell_text(m, s, n.get(c)) for m, s, n in zip(agg[c], agg[f"{c}_std"], notes, strict=True)
                ]
                for c in cols
            },
        }
    )
    return table.to_markdown(index=False)


def _cell_text(mean: float, std: float, note: CellNote | None) -> str:
    text = fmt(mean, std)
    if note is None:
        return text
    return f"{text or 'error'} {PARTIAL_MARK}"  # no value but a note: the metric failed


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
    lines = [f"# Leaderboard: {dataset}", "", protocol_caption(frame, agg, dataset, describe_features)]
    if a["n_ok"].any():  # with no samples there is nothing to rank or flag
        lines += [
            "",
            "Ranked by FID (lower is better). Flags: **memorized** (copies training data), **collapsed** "
            "(misses modes), **diverged**/**failed** (no samples); a flagged row is not a usable model, "
            "however low its FID.",
        ]
    if "high_quality" in a and a["high_quality"].notna().any() and set(a["features"].dropna()) == {"raw"}:
        lines.append(
            "\nOn raw 2D coordinates FID compares only means and covariances: a Gaussian fitted to the "
            "data scores about 0 while its samples fall between the modes. Read `high_quality` (share "
            "of samples within 3 std of a mode) and `modes_covered` (PacGAN) beside it."
        )
    shown: list[str] = []
    for title, cols in SECTIONS.items():
        table = markdown_table(a, cols)
        if table:
            lines += ["", f"## {title}", "", table]
            shown += shown_columns(a, cols)
    lines += _notes_markdown(a, shown)
    failed = frame[(frame["dataset"] == dataset) & (frame["status"] != "ok")]
    if len(failed):
        lines += ["", "## Runs without samples", ""]
        lines += [f"- {r.label} seed {r.seed}: {r.status}: {r.error}" for r in failed.itertuples()]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"- [{name}]({path})" for name, path in figures.items()]
    return "\n".join(lines) + "\n"


def _notes_markdown(agg: pd.DataFrame, columns: list[str]) -> list[str]:
    lines = [
        f"- {row.row_label}: {line}"
        for row in agg.itertuples()
        for line in note_lines(row.cell_notes, columns)
    ]
    if not lines:
        return []
    return [
        "",
        "## Notes",
        "",
        f"Cells marked {PARTIAL_MARK} are not a mean over all of their row's seeds:",
        "",
        *lines,
    ]


#: identity, status and protocol columns of the CSV, in order (the metric columns follow); columns
#: added later go after the earlier ones, so that their positions stay as they were
CSV_FRONT = [
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
    "protocol",  # what sets this row's protocol apart from the dataset's others ("" with one protocol)
    "reference_stats",
    "features_fingerprint",
    "dataset_fingerprint",
    "metric_versions",
    "metric_options",
    "notes",  # cells over fewer seeds than the row, and why
]
#: aggregate columns for rendering only
INTERNAL = {"row_label", "protocol_key", "protocol_order", "cell_notes"}


def to_csv_frame(agg: pd.DataFrame) -> pd.DataFrame:
    metric = [c for c in agg.columns if c not in CSV_FRONT and c not in INTERNAL]
    ordered = [c for c in METRIC_COLUMNS if c in metric]
    ordered += sorted(c for c in metric if not c.endswith("_std") and c not in ordered)
    cols = [c for c in CSV_FRONT if c in agg] + [x for c in ordered for x in (c, f"{c}_std") if x in agg]
    return agg[cols]


__all__ = [
    "CellNote",
    "aggregate",
    "leaderboard_markdown",
    "load_results",
    "protocol_keys",
    "results_frame",
    "to_csv_frame",
]
