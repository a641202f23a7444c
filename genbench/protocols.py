"""Which runs share a protocol: the fields of a result's protocol that change its numbers, as
one comparable key per run, and what sets a dataset's protocols apart (for row labels and captions).

Seeds are averaged only within one protocol (:mod:`genbench.leaderboard`): :data:`PROTOCOL_FIELDS`,
plus the version and options of any metric whose settings differ between runs of the dataset. A
metric's options split rows even for the runs where that metric failed (e.g. an invalid
``fid.backend``): such a run was asked to measure something else, and its row shows the failure.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genbench.metrics.kid_subset import follows_samples
from genbench.metrics.unset_options import unset_rule
from genbench.results import STATS_HASH

#: protocol fields that change the numbers, with the name a row label gives them. Seed, device and
#: batch size are left out: they say how a run was made, not what it measured.
PROTOCOL_FIELDS: dict[str, str] = {
    "num_samples": "N",
    "reference_split": "reference",
    "reference_stats": "reference stats",
    "features": "features",
    "features_fingerprint": "features fingerprint",
    "dataset_fingerprint": "dataset fingerprint",
    # the classifier that labelled modes, when it is not the feature extractor (--features raw on digits)
    "mode_labeller": "mode labeller",
}


def protocol_keys(frame: pd.DataFrame, metric_cols: list[str]) -> pd.Series:
    """Each run's protocol as canonical JSON ("" when it recorded none), comparable within a dataset.
    ``metric_cols``: the frame's metric columns (the leaderboard's), which say whether a run has numbers."""
    keys = pd.Series("", index=frame.index, dtype=object)
    for _, runs in frame.groupby("dataset", sort=False):
        settings = {i: _metric_settings(run) for i, run in runs.iterrows()}
        varying = _varying_metrics(list(settings.values()))
        extractors = {
            (plain(run.get("features")), plain(run.get("features_fingerprint")))
            for _, run in runs.iterrows()
            if plain(run.get("features")) is not None
        }
        for i, run in runs.iterrows():
            keys[i] = _protocol_key(run, settings[i], varying, extractors)
    return _adopt_unrecorded(frame, keys, metric_cols)


def _protocol_key(
    run: pd.Series,
    settings: dict[str, dict[str, Any]],
    varying: list[str],
    extractors: set[tuple[Any, Any]] | None = None,
) -> str:
    fields = {f: plain(run.get(f)) for f in PROTOCOL_FIELDS}
    if fields["num_samples"] is not None and fields["features"] is None and len(extractors or ()) == 1:
        # a run whose metrics read no features (memorization in pixels, modes): nothing of its numbers
        # depends on them, so it shares the dataset's one extractor's protocol; its mode labeller is
        # then that extractor's, which records none (a row "copy (features=none)" beside the others)
        (name, fingerprint) = next(iter(extractors or ()))
        labeller = fields["mode_labeller"]
        fields.update(features=name, features_fingerprint=fingerprint)
        fields["mode_labeller"] = None if labeller == fingerprint else labeller
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


def _adopt_unrecorded(frame: pd.DataFrame, keys: pd.Series, metric_cols: list[str]) -> pd.Series:
    """A run without a protocol and without numbers joins its model's only protocol, else its
    dataset's only one.

    Having no numbers, it only decides which row counts its failure (one row, as when every run
    shares a protocol); with several candidates it keeps a row of its own rather than guess. An ok
    run with numbers (a hand-made or older result) is never adopted: what it measured is unknown, so
    its numbers stay in a row of its own ("protocol not recorded"), never in another protocol's mean.
    """
    out = keys.copy()
    numbers = (frame["status"] == "ok") & frame[metric_cols].notna().any(axis=1)
    for i in keys.index[(keys == "") & ~numbers]:
        for scope in (["dataset", "label"], ["dataset"]):
            same = (frame[scope] == frame.loc[i, scope]).all(axis=1)
            known = set(keys[same]) - {""}
            if len(known) == 1:
                out[i] = known.pop()
                break
    return out


def protocol_order(runs: pd.DataFrame) -> dict[str, int]:
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
    # runs that recorded no protocol beside ones that did: a row of their own, which must say so
    unrecorded = ["whether the protocol was recorded"] if "" in suffixes and known else []
    if unrecorded:
        suffixes[""] = "protocol not recorded"
    if len(known) <= 1:
        return unrecorded, suffixes
    names: list[str] = []
    parts: dict[str, list[str]] = {k: [] for k in known}
    for field, name in PROTOCOL_FIELDS.items():
        if _field_differs(list(known.values()), field):
            names.append(name)
            shown = show_values(field, [p[field] for p in known.values()])
            for k, text in zip(known, shown, strict=True):
                parts[k].append(f"{name}={text}")
    samples = {k: p["num_samples"] for k, p in known.items()}
    for metric in next(iter(known.values()))["metrics"]:
        settings = {k: p["metrics"][metric] for k, p in known.items()}
        differing, texts = _metric_differences(metric, settings, samples)
        names += differing
        for k, text in texts.items():
            parts[k].append(text)
    suffixes.update({k: ", ".join(p for p in ps if p) for k, ps in parts.items()})
    return names + unrecorded, suffixes


def _field_differs(protocols: list[dict[str, Any]], field: str) -> bool:
    # a fingerprint that only follows the features name tells the reader nothing the name does not;
    # nor does a mode labeller that only follows it: under the classifier's features the features
    # label the modes (no labeller recorded), under raw ones the classifier, and "mode
    # labeller=none" beside features=classifier read as if no modes had been labelled
    scope = "features" if field in ("features_fingerprint", "mode_labeller") else None
    seen: dict[object, set[str]] = {}
    for p in protocols:
        seen.setdefault(p[scope] if scope else None, set()).add(json.dumps(p[field], default=str))
    return any(len(values) > 1 for values in seen.values())


def _metric_differences(
    metric: str, settings: dict[str, dict[str, Any] | None], samples: dict[str, Any] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The differing version and options of ``metric`` ("fid.backend"), and per key their values.
    ``samples``: each key's N, which KID's default subset size follows (:func:`_follows_n`)."""
    ran = {k: s for k, s in settings.items() if s is not None}
    versions = [s["version"] for s in ran.values()]
    version_differs = len({json.dumps(v, default=str) for v in versions}) > 1
    differing = [o for o in _options_differing(ran) if not _follows_n(metric, o, ran, samples or {})]
    names = ([f"{metric} version"] if version_differs else []) + [f"{metric}.{o}" for o in differing]
    if any(s is None for s in settings.values()):
        names.append(f"whether {metric} ran")
    # through show_values, as the protocol fields: a version edited from 1 into "1" read "v1" twice
    shown_versions = dict(zip(ran, show_values("version", versions), strict=True))
    options = {o: _shown_option(metric, o, ran) for o in differing}
    texts = {}
    for k, s in settings.items():
        if s is None:
            texts[k] = f"no {metric}"
            continue
        shown = [f"{metric} v{shown_versions[k]}"] if version_differs else []
        shown += [f"{metric}.{o}={options[o][k]}" for o in differing]
        texts[k] = ", ".join(shown)
    return names, texts


def _follows_n(
    metric: str, option: str, ran: Mapping[Any, dict[str, Any]], samples: Mapping[Any, Any]
) -> bool:
    """Whether ``option`` of ``metric`` differs between the protocols ``ran`` only as their N does:
    KID's subset size, unset, is min(1000, N) (:func:`~genbench.metrics.kid_subset.follows_samples`),
    so protocols at N=200 and N=300 read "N=200, kid.subset_size=200". Where any protocol's size
    was set otherwise every label names its size, as the sizes then tell rows apart that N does not."""
    if (metric, option) != ("kid", "subset_size"):
        return False
    return all(follows_samples(s["options"].get(option), samples.get(k)) for k, s in ran.items())


def options_apart(protocols: list[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """The ``(metric, option)`` pairs whose values differ between ``protocols`` (those of one
    dataset) that ran the metric, each with whether it differs only as N does (:func:`_follows_n`):
    row labels name the others' values, and a caption naming the options every row shares leaves
    all of them out. Options of a metric that differs are not left out with it: at N=200 and N=300
    KID's settings differ (its subset size follows N), and the caption named none of them."""
    ran: dict[str, dict[int, dict[str, Any]]] = {}
    for i, p in enumerate(protocols):
        for metric, setting in (p.get("metrics") or {}).items():
            if setting is not None:
                ran.setdefault(metric, {})[i] = setting
    samples = {i: p.get("num_samples") for i, p in enumerate(protocols)}
    return {
        (metric, o): _follows_n(metric, o, settings, samples)
        for metric, settings in ran.items()
        for o in _options_differing(settings)
    }


def _options_differing(ran: Mapping[Any, dict[str, Any]]) -> list[str]:
    """The options of one metric whose values differ between the protocols ``ran`` that ran it (each
    protocol's ``{"version": ..., "options": ...}``), sorted; an option a protocol did not record
    differs from any value (:func:`_option_key`)."""
    names = sorted({o for s in ran.values() for o in s["options"]})
    return [o for o in names if len({_option_key(s["options"], o) for s in ran.values()}) > 1]


def _option_key(options: dict[str, Any], name: str) -> str | None:
    """An option's value as comparable text; None where the run recorded none (a result of a
    version of the metric that had no such option), which is not its value null."""
    return json.dumps(options[name], default=str) if name in options else None


def _shown_option(metric: str, name: str, ran: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Per protocol key, option ``name``'s value as a row label shows it. An option one run recorded
    as null and another not at all read "none" in both labels: two rows of one model, with one label,
    that the board did not say why it kept apart. Null, where the option's default is a rule
    (``fid_inf.min_size``), is the rule: "none" named no value."""
    recorded = {k: s["options"][name] for k, s in ran.items() if name in s["options"]}
    texts = show_values(name, list(recorded.values()))
    rule = unset_rule(metric, name)
    texts = [rule if v is None and rule else t for v, t in zip(recorded.values(), texts, strict=True)]
    shown = dict(zip(recorded, texts, strict=True))
    return {k: shown.get(k, "not recorded") for k in ran}


def show_value(field: str, value: object) -> str:
    if value is None:
        return "none"
    if field == "reference_stats":  # "stats.npz sha256:..." (or a path that could not be read)
        return Path(str(value).split(f" {STATS_HASH}")[0]).name
    if field.endswith("fingerprint"):  # network and weights; the preprocessing after ":" is in the JSONs
        return str(value).split(":")[0]
    return str(value)


def show_values(field: str, values: list[object]) -> list[str]:
    """``values`` of one field as :func:`show_value` shortens them, except where two different
    values would read the same (``/a/stats.npz`` and ``/b/stats.npz``, fingerprints that differ only
    after ":"): those are shown in full, and if even that reads the same, with a short hash."""
    texts = [show_value(field, v) for v in values]
    for shown in (lambda v: "none" if v is None else str(v), _with_hash):
        meaning: dict[str, set[str]] = {}
        for v, text in zip(values, texts, strict=True):
            meaning.setdefault(text, set()).add(json.dumps(v, sort_keys=True, default=str))
        texts = [shown(v) if len(meaning[t]) > 1 else t for v, t in zip(values, texts, strict=True)]
    return texts


def _with_hash(value: object) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:6]
    return f"{value} #{digest}"


def plain(value: object) -> object:
    """A frame cell as JSON: NaN -> None, and 200.0 -> 200 (pandas makes an int column with gaps float)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical_json(value: object) -> str | None:
    """Settings as canonical JSON text, so equal settings compare equal (None when not recorded)."""
    return json.dumps(value, sort_keys=True, default=str) if value else None


def merged_settings(texts: pd.Series) -> str | None:
    """A row's metric settings: the union over its runs (they agree on every metric they share)."""
    merged: dict[str, Any] = {}
    for text in texts.dropna():
        merged.update(json.loads(text))
    return canonical_json(merged)
