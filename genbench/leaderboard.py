"""pandas leaderboards: results -> one row per model (variant) with mean and std over seeds.

Columns use stable snake_case names: a metric's mean is ``<metric>``, its standard deviation over
seeds (ddof=1) ``<metric>_std``. Per-run spreads a metric reports itself (KID's and IS's spread
over subsets) stay in the result JSONs; the leaderboard's ``_std`` is always over seeds. A metric
not computed is left empty. Rows are ranked by FID (rows without one, e.g. all seeds failed, follow
unranked); flagged rows (memorized, collapsed, diverged) keep their place but carry their flags, so
a copying model cannot top a board silently.

Seeds are averaged only within one protocol (:mod:`genbench.protocols` says which fields make
one): runs of one model under different protocols become separate rows whose label names what
differs ("copy (N=200)"), ranked within their protocol. Seeds of one label trained under different
model configs are split the same way ("ddpm (config 3f9a1c)"). A row's seeds are its ok seeds: a
failed or diverged seed has no numbers, so it is named apart, with its error. A cell averaged over
fewer seeds than its row has (a metric failed or was not run for some seeds) is marked and explained
in a note. A cell's mean, spread and note are :mod:`genbench.cells`' (this module groups the runs
into rows; :mod:`genbench.board_csv` the rows into a CSV); which columns are metrics, and in which table, is
:mod:`genbench.metric_columns`'. The markdown is written by :mod:`genbench.markdown`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import pandas as pd

from genbench.cells import row_cells
from genbench.device_caption import device_kind
from genbench.environment import machine_as_written, machine_text
from genbench.metric_columns import METRIC_COLUMNS, is_extra_metric, metric_columns
from genbench.metrics.kid_subset import used_metric_options
from genbench.missing_training_log import no_training_log
from genbench.protocols import (
    PROTOCOL_FIELDS,
    canonical_json,
    merged_settings,
    protocol_differences,
    protocol_keys,
    protocol_order,
)
from genbench.provenance import (
    SHORT_DIGEST,
    joined_metric_sources,
    joined_texts,
    metric_sources_text,
    model_source_text,
    recorded_source_text,
)
from genbench.rerun_notes import failed_reruns
from genbench.result_folders import as_folders, merged, read_folder
from genbench.results import Result
from genbench.text import one_line
from genbench.unreadable_results import none_readable
from genbench.weights_notes import other_than_shipped


def load_results(out: Path | Sequence[Path]) -> list[Result]:
    """The results under ``out``, or under each of several folders merged into one set
    (:func:`load_folders`). A result file that cannot be read is left out, said on one line
    (:mod:`genbench.unreadable_results`); none readable at all is an error."""
    if not isinstance(out, str | os.PathLike):
        return [r for _, r in load_folders(out)]
    results, files = read_folder(Path(out))
    if not results:
        raise none_readable(str(out), files)
    return results


def load_folders(out: Path | Sequence[Path]) -> list[tuple[Path, Result]]:
    """Each result under ``out`` (a folder `genbench run --out` wrote, or several: results made on
    two machines, or two batches of seeds) with the folder it was read from, under which its figures
    are. Several folders are merged as if they were one (:func:`genbench.result_folders.merged`)."""
    folders = as_folders(out)
    read = [(folder, *read_folder(folder)) for folder in folders]
    loaded = [(folder, r) for folder, results, _ in read for r in results]
    if not loaded:  # a folder whose every file is unreadable takes no other folder's results down
        raise none_readable(", ".join(map(str, folders)), sum(files for _, _, files in read))
    if len(folders) == 1:  # one folder holds one result per file: nothing to merge, as always
        return loaded
    return merged(loaded, list(run_rows(results_frame([r for _, r in loaded]))))


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
            "mode_labeller": r.protocol.get("mode_labeller"),
            # how a class-conditional model's labels were drawn (None for an unconditional model)
            "sample_labels": (r.protocol.get("sample_labels") or {}).get("drawn"),
            "metric_versions": canonical_json(r.protocol.get("metric_versions")),
            # the options used: KID's default subset size as its size, which the caption names
            "metric_options": canonical_json(used_metric_options(r.protocol)),
            "metric_errors": dict(r.metric_errors),
            "model_config": model_config(r),
            # the package (and version) whose code made the model: a plugin's row named neither
            "model_source": model_source_text(r.environment),
            # and of the dataset, extractor and metrics that scored it (None: not recorded)
            "dataset_source": recorded_source_text(r.environment, "dataset"),
            "features_source": recorded_source_text(r.environment, "features"),
            "metric_sources": metric_sources_text(r.environment),
            # the hardware behind the Cost columns: sampling ran on this run's machine; train_s was
            # timed where the checkpoint was trained (unknown for checkpoints that predate recording it)
            "machine": machine_text(r.environment),
            # and what its samples and features were computed on, which the Quality caption names
            # where a row's seeds differ in it (a CPU seed and a GPU seed draw other samples)
            "device": device_kind(r.environment),
            # the genbench release and sources that ran it: a row of seeds run by two says so
            "genbench_code": genbench_code(r.environment),
            "trained_on": trained_on(r),
            # its weights came with no training log: a metric reading it (gan_dynamics) had nothing
            "no_training_log": no_training_log(r),
            # what samples/s and peak memory were measured per (the batch a run sampled in)
            "batch_size": sampled_batch(r.protocol),
            # the weights it sampled (None without any): rows that sampled one checkpoint seed by
            # seed (DDIM's over DDPM's) are compared seed by seed in the board's FID gaps
            "checkpoint": (r.training or {}).get("checkpoint"),
            "other_weights": other_than_shipped(r.training or {}),  # not the shipped ones of its key
            # the model whose weights it sampled (ddim's ddpm), whose training its train_s timed
            "weights_from": (r.training or {}).get("weights_from"),
            # the error of a later run of this seed that failed, kept beside it: its numbers are older
            "failed_rerun": r.failed_rerun,
        }
        row.update(r.metrics)
        for key, value in r.metrics.items():
            # NaN or Infinity (strict JSON has neither: a result of an earlier genbench, or edited):
            # the runner now refuses such a value as its metric's error, so it is one here too, never
            # a mean of inf (its spread hidden) nor a cell said to have no value recorded
            if not math.isfinite(value):
                row[key] = np.nan
                if not key.endswith("_std"):  # a per-run spread has no cell of its own
                    row["metric_errors"][key] = f"recorded {value}, not a finite number"
        if "train_s" not in row and "train_s" in r.timings:
            row["train_s"] = r.timings["train_s"]
        rows.append(row)
    return pd.DataFrame(rows)


def sampled_batch(protocol: dict[str, Any]) -> Any:
    """The batch a run sampled in: ``--batch-size``, or all its samples at once when they were fewer
    (``--samples 200`` at the default 500 drew one batch of 200, which the board's caption called
    "batches of 500"). The recorded batch size as it is when either is no number."""
    size, n = protocol.get("batch_size"), protocol.get("num_samples")
    return n if _number(size) and _number(n) and 0 < n < size else size


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def trained_on(r: Result) -> str | None:
    """Where ``r``'s train_s was timed: "" for a model with nothing to train (a control), None when
    its checkpoint predates recording the machine."""
    if r.training.get("trainable") is False:
        return ""
    where = r.training.get("trained_on")
    return machine_as_written(where) if isinstance(where, str) else where


def aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (dataset, label, protocol); ranked by FID within each protocol."""
    frame, metric_cols = _keyed(frame)
    out = []
    for dataset, runs in frame.groupby("dataset", sort=False):
        _, suffixes = protocol_differences(list(runs["protocol_key"]))
        order = protocol_order(runs)
        for (label, key), g in runs.groupby(["label", "protocol_key"], sort=False):
            for config, part, differs in config_groups(g):
                row = _identity(dataset, label, part, key, suffixes[key], order[key], config)
                row.update(row_cells(part[part["status"] == "ok"], metric_cols))
                # what the board's FID gaps test (genbench.fid_gaps): each ok seed's FID and weights
                row["fid_by_seed"] = _by_seed(part[part["status"] == "ok"], "fid")
                row["failed_seed_errors"] = _seed_errors(part[part["status"] != "ok"])
                row.update(timing_facts(part[part["status"] == "ok"]))
                # what its ok seeds ran on, and by which genbench: {value: seeds}
                row["device_seeds"] = seeds_by(part[part["status"] == "ok"], "device")
                row["genbench_code_seeds"] = seeds_by(part[part["status"] == "ok"], "genbench_code")
                row["other_weight_seeds"] = seeds_by(part[part["status"] == "ok"], "other_weights")
                row["config_differs"] = differs
                out.append(row)
    agg = pd.DataFrame(out)
    if "fid" in agg:
        agg = agg.sort_values(["dataset", "protocol_order", "fid"], na_position="last", kind="stable")
    # always a column, the CSV's first: without one (a run without FID) every later column moved
    agg.insert(0, "rank", fid_ranks(agg))
    return agg.reset_index(drop=True)


def _keyed(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with each run's ``protocol_key`` (and a ``model_config`` column), and its metric
    columns: what :func:`aggregate` and :func:`run_rows` group the runs by."""
    frame = _with_failed_metric_columns(frame)
    metric_cols = [c for c in frame.columns if c in METRIC_COLUMNS or is_extra_metric(frame, c)]
    frame = frame.assign(protocol_key=protocol_keys(frame, metric_cols))
    if "model_config" not in frame:  # a frame made without it (older callers): nothing to split
        frame = frame.assign(model_config=None)
    return frame, metric_cols


#: what tells one board row from another: (dataset, label, protocol_key, config_tag)
RowKey = tuple[str, str, str, str]


def run_rows(frame: pd.DataFrame) -> pd.Series:
    """Each run's (each row of ``frame``'s) board row as :func:`aggregate` makes it, as a
    :data:`RowKey`: a label's runs under two protocols or configs are two rows, so (label, seed)
    alone cannot say which row a run is in once two folders hold the same seed under two protocols
    (:func:`genbench.result_folders.merged`, :func:`genbench.row_figures.row_runs`)."""
    keys = pd.Series(None, index=frame.index, dtype=object)
    if frame.empty:
        return keys
    frame, _ = _keyed(frame)
    for (dataset, label, key), g in frame.groupby(["dataset", "label", "protocol_key"], sort=False):
        for config, part, _ in config_groups(g):
            for i in part.index:
                keys[i] = (dataset, label, key, _config_tag(config))
    return keys


def _config_tag(config: str) -> str:
    """A row's ``config_tag`` from :func:`config_groups`' short hash ("" when not split by config)."""
    return f"config {config}" if config else ""


def _by_seed(ok: pd.DataFrame, column: str) -> dict[int, tuple[float, str | None]]:
    """``{seed: (value, checkpoint)}`` of the runs ``ok`` with a value of ``column``."""
    if column not in ok:
        return {}
    values = pd.to_numeric(ok[column], errors="coerce")
    weights = ok["checkpoint"] if "checkpoint" in ok else pd.Series(None, index=ok.index)
    return {
        int(seed): (float(v), w if isinstance(w, str) else None)
        for seed, v, w in sorted(zip(ok["seed"], values, weights, strict=True))
        if not math.isnan(v)
    }


def _seed_errors(failed: pd.DataFrame) -> str:
    """The runs ``failed`` (a row's seeds without samples) as JSON ``{"seed": "status: error"}``, in
    seed order, each on one line as the markdown's "Runs without samples" lists it: the CSV named
    the seeds (``failed_seeds``) but not why they have no samples. "{}" for none."""
    errors = failed["error"] if "error" in failed else pd.Series("", index=failed.index)
    texts = {
        int(seed): one_line(f"{status}: {error if isinstance(error, str) else ''}")
        for seed, status, error in zip(failed["seed"], failed["status"], errors, strict=True)
    }
    return json.dumps({str(seed): texts[seed] for seed in sorted(texts)}, ensure_ascii=False)


def fid_ranks(agg: pd.DataFrame) -> pd.Series:
    """Each row's rank by FID within its (dataset, protocol), as Int64 (no "1.0" in the CSV). Only
    rows with an FID have a place in a ranking by FID: a row whose seeds all failed, or whose FID
    failed or was not run (every row of a run without FID), has none. Equal FIDs share the best of
    their places, as on any leaderboard (1, 1, 3): which of them is listed first says nothing."""
    if "fid" not in agg:
        return pd.Series(pd.NA, index=agg.index, dtype="Int64")
    ranked = agg[agg["fid"].notna()]
    rank = ranked.groupby(["dataset", "protocol_order"])["fid"].rank(method="min")
    return rank.reindex(agg.index).astype("Int64")


def _identity(
    dataset: str, label: str, g: pd.DataFrame, key: str, suffix: str, order: int, config: str = ""
) -> dict[str, object]:
    """A row's identity, status and protocol (the protocol fields are the key's, shared by its runs);
    ``config`` names the row's model config when its label's runs were split by config."""
    ok = g[g["status"] == "ok"]
    protocol = json.loads(key) if key else {}
    config_tag = _config_tag(config)
    tags = "; ".join(t for t in (suffix, config_tag) if t)
    return {
        "dataset": dataset,
        "model": g["model"].iloc[0],
        "variant": g["variant"].iloc[0],
        "label": label,
        "row_label": f"{label} ({tags})" if tags else label,
        # what tells the rows of one label and protocol apart, for a figure of one protocol
        "config_tag": config_tag,
        "protocol": suffix,
        # the seeds its cells average: a failed seed has no numbers, so it is named apart (and its
        # error listed under the table), never counted among the seeds a mean is over
        "seeds": _seed_list(ok["seed"]),
        "failed_seeds": _seed_list(g.loc[g["status"] != "ok", "seed"]),
        "n_ok": len(ok),
        "flags": ",".join(sorted({f for fl in g["flags"] for f in fl.split(",") if f})),
        "flag_seeds": _flag_seeds(ok),
        "status": "ok" if len(ok) == len(g) else ";".join(sorted(set(g["status"]))),
        **{f: None if protocol.get(f) is None else str(protocol[f]) for f in PROTOCOL_FIELDS},
        "metric_versions": merged_settings(g["metric_versions"]),
        "metric_options": merged_settings(g["metric_options"]),
        **{c: _sources(g, c) for c in ("model_source", "dataset_source", "features_source")},
        # how its conditional samples' labels were drawn, which the caption names (not a protocol
        # field: an unconditional row beside it draws none, and is ranked with it)
        "sample_labels": joined_texts(g["sample_labels"]) if "sample_labels" in g else None,
        "metric_sources": joined_metric_sources(g["metric_sources"]) if "metric_sources" in g else None,
        "protocol_key": key,
        "protocol_order": order,
        "failed_reruns": failed_reruns(g),
    }


def _sources(g: pd.DataFrame, column: str) -> str | None:
    """The packages and versions whose code made a row's models (``column`` "model_source"), or
    scored them ("dataset_source", "features_source"): "pkg 1.0; pkg 1.1" when its seeds were run
    under two releases of a plugin, None when none recorded one (results of an older genbench, or a
    frame made without the column)."""
    return joined_texts(g[column]) if column in g else None


def _flag_seeds(ok: pd.DataFrame) -> dict[str, str]:
    """The flags that only some of the row's ok seeds earned, with those seeds: a row is flagged
    when any seed is, and "**collapsed**" alone said so of a model that collapsed on 1 seed of 3."""
    earned = [{f for f in fl.split(",") if f} for fl in ok["flags"]]
    return {
        flag: _seed_list(ok["seed"][np.array([flag in e for e in earned])])
        for flag in sorted(set().union(*earned))
        if not all(flag in e for e in earned)
    }


def seeds_by(ok: pd.DataFrame, column: str) -> dict[str, str]:
    """Each value of ``column`` among a row's ok runs ``ok`` with the seeds that had it, in seed
    order ("" and missing values, not recorded, left out): one entry where they all agree."""
    if column not in ok:
        return {}
    found: dict[str, list[int]] = {}
    for seed, value in sorted(zip(ok["seed"], ok[column], strict=True), key=lambda sv: int(sv[0])):
        if isinstance(value, str) and value:
            found.setdefault(value, []).append(int(seed))
    return {value: ",".join(map(str, seeds)) for value, seeds in found.items()}


def genbench_code(environment: dict[str, Any]) -> str:
    """The genbench release and source digest that ran a result ("genbench 0.1.0 (source
    b4f2987ae2eb241d)"): the version alone where it recorded no digest, "" where neither."""
    version, digest = environment.get("genbench"), environment.get("source_digest")
    if not version:
        return ""
    return f"genbench {version}" + (f" (source {digest})" if digest else "")


def _seed_list(seeds: pd.Series) -> str:
    return ",".join(str(s) for s in sorted(int(s) for s in seeds))


# -- where a row's Cost cells were measured -------------------------------------------------------


#: the per-row columns that say where its Cost cells were measured (:func:`timing_facts`)
TIMING_FACTS = ("sampled_on", "trained_on", "batch_size")


def machines_named(values: Iterable[object]) -> set[str]:
    """The machines ``values`` name: "" is a control's (nothing trained), None or NaN one unrecorded."""
    return {m for m in values if isinstance(m, str) and m}


def timing_facts(ok: pd.DataFrame) -> dict[str, str]:
    """Where the Cost cells of a row (its ok runs ``ok``) were measured: the machines its timed seeds
    sampled on, those its trained checkpoints were trained on ("not recorded" for a checkpoint that
    predates recording it) and the batches it sampled in; each "" when none was measured, and
    several values joined when its seeds differ. samples/s and memory of rows sampled on two
    machines compare the machines as much as the models: without these the CSV could not tell."""
    empty = pd.Series(np.nan, index=ok.index)
    timed = ok[ok.get("samples_per_s", empty).notna()]
    trained = ok[ok.get("train_s", empty).notna()]
    where = trained.get("trained_on", pd.Series(None, index=trained.index, dtype=object))
    sampled_on = sorted(machines_named(timed.get("machine", [])))
    # None or NaN: a checkpoint written before the machine was recorded
    trained_on = sorted(machines_named(where))
    trained_on += ["not recorded"] if where.isna().any() else []
    batches = sorted({int(b) for b in timed.get("batch_size", pd.Series(dtype=float)).dropna()})
    return {
        "sampled_on": "; ".join(sampled_on),
        "trained_on": "; ".join(trained_on),
        "batch_size": ",".join(map(str, batches)),
    }


# -- seeds of one label trained under different model configs ------------------------------------


def model_config(r: Result) -> str | None:
    """What made the run's model, as canonical JSON: its config and the training facts that change
    the weights (the model's ``version``, ``--amp``; for a model of a file that ``--include`` named,
    or of a script or notebook, its code's digest, which keys its checkpoint as ``version`` does).
    None when the run recorded none (an eval)."""
    made: dict[str, Any] = {
        "config": r.config,
        **{k: r.training[k] for k in ("model_version", "amp") if k in r.training},
    }
    for field in ("model_file_sha256", "model_class_sha256"):
        digest = r.environment.get(field)
        if isinstance(digest, str) and digest:
            # seeds run before and after an edit to the file (the notebook's class) are other code
            # (other checkpoints): their mean, one row naming both digests, described neither
            made[field] = digest[:SHORT_DIGEST]
    return canonical_json(made) if r.config or r.training else None


def config_groups(g: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    """``g`` (one label's runs under one protocol) split by model config: ``[("", g, "")]`` when its
    runs share one, else one ``(short hash, runs, what differs)`` per config. Seeds trained with
    another config (an edited config file, a genbench upgrade, ``--amp``) are other networks: their
    mean would describe neither. A run that recorded no config (failed before its config was
    resolved) joins the label's only config, else keeps a row of its own."""
    configs = g["model_config"].fillna("")
    known = [c for c in dict.fromkeys(configs) if c]
    if len(known) <= 1:
        return [("", g, "")]
    parsed = {c: _flatten(json.loads(c)) for c in known}
    fields = sorted({k for p in parsed.values() for k in p})
    varying = [k for k in fields if len({json.dumps(p.get(k), default=str) for p in parsed.values()}) > 1]
    out = []
    for config, part in g.groupby(configs, sort=False):
        if not config:
            out.append(("unrecorded", part, "no config recorded"))
            continue
        short = hashlib.sha256(config.encode()).hexdigest()[:6]
        differs = ", ".join(f"{k}={json.dumps(parsed[config].get(k), default=str)}" for k in varying)
        out.append((short, part, differs))
    return out


def _flatten(made: dict[str, object]) -> dict[str, object]:
    """``{"config": {"lr": 1}, "amp": true}`` -> ``{"lr": 1, "amp": true}``."""
    config = made.get("config") or {}
    return {
        **(config if isinstance(config, dict) else {}),
        **{k: v for k, v in made.items() if k != "config"},
    }


def _with_failed_metric_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with an empty column for each value of a metric that failed wherever it ran, so that
    its cells show the failure instead of the column vanishing."""
    failed = {
        c
        for errors in frame["metric_errors"]
        for metric in errors
        for c in metric_columns(metric)
        if not c.endswith("_std")  # per-run spreads are no columns of their own
    }
    return frame.assign(**{c: np.nan for c in sorted(failed - set(frame.columns))})


__all__ = [
    "TIMING_FACTS",
    "aggregate",
    "load_results",
    "results_frame",
]
