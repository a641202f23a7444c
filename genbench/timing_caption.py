"""Where the Cost table's rows were timed, in its caption and columns: the machines sampling and
training were timed on, the batch sizes sampled in, and which rows (or which of a row's seeds) were
timed differently. samples/s, peak memory and ``train_s`` depend on these as much as on the model,
and no protocol field names them (:func:`genbench.leaderboard.timing_facts` records them per row).
:mod:`genbench.markdown` writes them under and into the Cost table; :mod:`genbench.figure_notes`
tags each figure point with them."""

from __future__ import annotations

import pandas as pd

from genbench.leaderboard import TIMING_FACTS, machines_named, timing_facts
from genbench.text import and_list, md_code, md_text

#: the Cost table's header of each of :data:`TIMING_FACTS`
FACT_HEADERS = {"sampled_on": "sampled on", "trained_on": "trained on", "batch_size": "batch"}


def differing_timing_facts(agg: pd.DataFrame) -> dict[str, str]:
    """The :data:`TIMING_FACTS` columns whose values differ between ``agg``'s rows that have one,
    with their Cost table headers: the caption named every machine and batch size, but not which
    row was timed where, so a row timed on a GPU sat beside one timed on a CPU as a faster model."""
    return {
        c: FACT_HEADERS[c]
        for c in TIMING_FACTS
        if c in agg and agg[c].fillna("").astype(str).replace("", None).dropna().nunique() > 1
    }


def timing_caption(runs: pd.DataFrame, rows: pd.DataFrame | None = None) -> str | None:
    """The machines behind the Cost columns: sampling was timed on each run's own, ``train_s`` where
    its checkpoint was trained (which a checkpoint written before genbench recorded it does not name),
    and the rows whose seeds were timed on different machines (their cells average them); on a board
    without samples/s (``--metrics fid``), where ``train_s`` was timed alone. ``rows``:
    the board's rows (:func:`genbench.leaderboard.aggregate`'s), which name a row whose label was
    split by protocol or config apart from its label's others; without them each label is one row."""
    ok = runs[runs["status"] == "ok"]
    # only the runs that measured the figure: `genbench eval` of saved samples timed no sampling
    timed = ok[ok["samples_per_s"].notna()] if "samples_per_s" in ok and "machine" in ok else ok.iloc[:0]
    sampled = [md_text(m) for m in sorted(machines_named(timed.get("machine", [])))]
    # the runs whose train_s was measured (none when the frame records no training machines)
    if "train_s" in ok and "trained_on" in ok:
        fitted = ok[ok["train_s"].notna()]
    else:
        fitted = ok.iloc[:0].assign(trained_on=None)
    trained = [md_text(m) for m in sorted(machines_named(fitted["trained_on"]))]
    unknown = bool(fitted["trained_on"].isna().any())
    # a board without samples/s (`--metrics fid`) still shows train_s: it was said to be timed nowhere
    where = f"Sampling timed on {'; '.join(sampled)}; `train_s`" if sampled else "`train_s` timed"
    if not sampled and not trained and not unknown:
        return None
    if sampled and trained in ([], sampled) and not unknown:
        caption = f"Timed on {'; '.join(sampled)}."
    elif not trained:
        caption = (
            f"{where} when the checkpoints were trained, on a machine they do not name "
            "(they predate recording it)."
        )
    elif unknown:
        caption = (
            f"{where} on {'; '.join(trained)}, and for checkpoints that predate recording it, "
            "on a machine they do not name."
        )
    else:
        caption = f"{where} on {'; '.join(trained)}."
    caption += borrowed_training(ok[ok["train_s"].notna()] if "train_s" in ok else ok.iloc[:0])
    if rows is None:  # each label one row
        rows = pd.DataFrame([{"label": label, **timing_facts(g)} for label, g in ok.groupby("label")])
    names = rows.get("row_label", rows.get("label", pd.Series(dtype=object)))

    def several(column: str, sep: str) -> list[str]:
        """The rows whose seeds differ in ``column`` (one with an unrecorded value differs in nothing
        known), as code."""
        values = rows.get(column, pd.Series("", index=rows.index)).fillna("").astype(str)
        found = [
            n for n, v in zip(names, values, strict=True) if len(set(v.split(sep)) - {"", "not recorded"}) > 1
        ]
        return [md_code(n) for n in sorted(found)]

    mixed = sorted(set(several("sampled_on", "; ")) | set(several("trained_on", "; ")))
    if mixed:
        caption += f" The Cost cells of {', '.join(mixed)} average seeds timed on different machines."
    # samples/s and peak memory (one batch's) depend on the batch size, which is no protocol field
    # (the samples do not, to rounding): a row whose seeds ran at two sizes averaged them unsaid
    shown = sorted({int(b) for b in timed["batch_size"].dropna()}) if "batch_size" in timed else []
    if shown:
        caption += f" Sampled in batches of {' and '.join(map(str, shown))}."
    varied = several("batch_size", ",")
    if varied:
        caption += f" The Cost cells of {', '.join(varied)} average seeds sampled at different batch sizes."
    differing = differing_timing_facts(rows)
    if differing:
        columns = and_list([f"`{header}`" for header in differing.values()])
        what = and_list(
            list(dict.fromkeys("batch sizes" if c == "batch_size" else "machines" for c in differing))
        )
        caption += (
            f" Rows were timed differently ({columns} in the table): their Cost cells compare the "
            f"{what} as much as the models."
        )
    return caption


def borrowed_training(fitted: pd.DataFrame) -> str:
    """The sentence "The `train_s` of `ddim` is `ddpm`'s ..." for the runs of ``fitted`` that sampled another
    model's trained weights (their ``weights_from``), whose training their ``train_s`` timed: the
    column showed ddim's and a sampler plugin's as if each had trained for as long."""
    if "weights_from" not in fitted:
        return ""
    borrowed = fitted[fitted["weights_from"].notna()]
    sentences = []
    for owner, runs in borrowed.groupby("weights_from", sort=True):
        models = sorted(set(runs["model"]))
        they, sample, train = ("they", "sample", "train") if len(models) > 1 else ("it", "samples", "trains")
        sentences.append(
            f" The `train_s` of {and_list([md_code(m) for m in models])} is {md_code(owner)}'s, whose "
            f"trained weights {they} {sample} (`weights_from`): {they} {train} nothing."
        )
    return "".join(sentences)
