"""A board's CSV (``<dataset>.csv``): the aggregated rows (:func:`genbench.leaderboard.aggregate`)
with their identity, status and protocol columns first, in a fixed order, then each metric's mean
and ``_std``; the columns used only to render the markdown left out, and the per-seed FIDs and
failed reruns as JSON. ``genbench.leaderboard_frame`` returns this frame."""

from __future__ import annotations

import json

import pandas as pd

from genbench.leaderboard import TIMING_FACTS
from genbench.metric_columns import METRIC_COLUMNS

#: identity, status and protocol columns of the CSV, in order (the metric columns follow); columns
#: added later go after the earlier ones, so that their positions stay as they were, but for
#: ``row_label``, which is read beside the label it extends
CSV_FRONT = [
    "rank",
    "dataset",
    "model",
    "variant",
    "label",
    # the row's name on the markdown board, unique within it: "ddpm (config 3f9a1c)", "copy (N=200)";
    # two rows of one label (other protocols or configs) shared their ``label``, and a CSV joined
    # with the markdown, or with another board, could not tell them apart
    "row_label",
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
    "mode_labeller",
    "metric_versions",
    "metric_options",
    "notes",  # cells over fewer seeds than the row, and why
    "config_differs",  # for a label whose seeds were trained under different configs: this row's values
    # the row's seeds without samples (diverged or failed), which no cell averages: without them a
    # CSV said "diverged;ok" but not which seeds, nor how many of the row's seeds ran
    "failed_seeds",
    # where the Cost cells were measured (samples/s of two machines are no comparison of models)
    *TIMING_FACTS,
    # the package and version that provides the row's model (last: the columns before kept their places)
    "model_source",
    # those of its dataset, extractor and each metric with a value (JSON); only in the CSV of a board
    # where some result recorded them (:data:`RECORDED_ONLY`)
    "dataset_source",
    "features_source",
    "metric_sources",
    # how a class-conditional row's labels were drawn (protocol.sample_labels.drawn)
    "sample_labels",
    # each ok seed's FID, JSON {"seed": fid} unrounded (what the FID gaps test; fid and fid_std are
    # their mean and spread), and each seed without samples' error, JSON {"seed": "status: error"}
    "fid_by_seed",
    "failed_seed_errors",
    # each seed whose later rerun failed (its values are the earlier run's), JSON {"seed": "error"}:
    # the markdown and LaTeX boards said so, the CSV did not
    "failed_reruns",
]
#: columns a result records only since they were added: a board of results written before has none of
#: them, and its CSV stays as it was, byte for byte, rather than gain empty columns
RECORDED_ONLY = ("dataset_source", "features_source", "metric_sources", "sample_labels")
#: aggregate columns for rendering only
INTERNAL = {
    "config_tag",
    "protocol_key",
    "protocol_order",
    "cell_notes",
    "flag_seeds",
    "device_seeds",
    "genbench_code_seeds",
    "other_weight_seeds",
}


def to_csv_frame(agg: pd.DataFrame) -> pd.DataFrame:
    metric = [c for c in agg.columns if c not in CSV_FRONT and c not in INTERNAL]
    ordered = [c for c in METRIC_COLUMNS if c in metric]
    ordered += sorted(c for c in metric if not c.endswith("_std") and c not in ordered)
    front = [c for c in CSV_FRONT if c in agg and (c not in RECORDED_ONLY or agg[c].notna().any())]
    cols = front + [x for c in ordered for x in (c, f"{c}_std") if x in agg]
    csv = agg[cols]
    if "fid_by_seed" in csv:
        csv = csv.assign(fid_by_seed=[fid_by_seed_json(v) for v in csv["fid_by_seed"]])
    if "failed_reruns" in csv:
        csv = csv.assign(
            failed_reruns=[
                json.dumps({str(s): e for s, e in sorted(v.items())} if isinstance(v, dict) else {})
                for v in csv["failed_reruns"]
            ]
        )
    return csv


def fid_by_seed_json(by_seed: dict[int, tuple[float, str | None]] | float) -> str:
    """A row's ``fid_by_seed`` as the CSV writes it: JSON ``{"seed": fid}`` in seed order, each FID
    as Python's repr (read back exactly). Only FID: it ranks the board and the FID gaps test it; the
    other metrics' per-seed values are each result's (``results_frame`` has one row per seed), and a
    column per metric would double the CSV for numbers a reader seldom needs. The checkpoint each
    seed sampled (which makes a gap's test paired) stays out: a path per seed, and the FID gaps CSV
    names the test. "{}" for a row without an FID."""
    if not isinstance(by_seed, dict):  # a frame aggregated without it
        return "{}"
    return json.dumps({str(seed): fid for seed, (fid, _) in sorted(by_seed.items())})
