"""Markdown leaderboards: the protocol caption, one table per section of metrics, the notes on
cells over fewer seeds, the runs without samples and the figures. What it says of seeds whose
rerun failed is :mod:`genbench.rerun_notes`'. The Cost table's caption, and
its columns of where rows were timed, are :mod:`genbench.timing_caption`'s; the Quality caption's
rows of seeds run on different devices, :mod:`genbench.device_caption`'s; the sections on code from
other packages, and on rows of seeds run by two genbench releases, :mod:`genbench.source_notes`';
the captions of columns, :mod:`genbench.column_captions`'; the section on seeds trained under
different configs, :mod:`genbench.config_splits`'."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from genbench.cells import PARTIAL_MARK, CellNote, fmt, note_lines
from genbench.column_captions import columns_caption
from genbench.config_splits import config_splits_markdown
from genbench.default_values import default_values_line
from genbench.device_caption import devices_caption
from genbench.fid_gaps import CAPTION as GAPS_CAPTION
from genbench.fid_gaps import TITLE as GAPS_TITLE
from genbench.fid_gaps import gaps_cells
from genbench.metric_columns import (
    PLUGIN_SECTION,
    SECTIONS,
    column_directions,
    column_splits,
    computed_in,
    plugin_columns,
)
from genbench.metrics.kid_subset import FOLLOWS_SAMPLES
from genbench.metrics.unset_options import unset_rule
from genbench.protocols import options_apart, protocol_differences, show_values
from genbench.rerun_notes import rerun_flags, reruns_markdown
from genbench.source_notes import sources_markdown
from genbench.text import and_list, md_code, md_link_text, md_section, md_text, option_setting, seed_words
from genbench.timing_caption import differing_timing_facts, timing_caption
from genbench.weights_notes import other_weights_markdown

#: the spread a cell shows: pandas' default, the sample std (n - 1 in the denominator); with 3 seeds it
#: is 1.22x numpy's default (n), so the board says which
SPREAD = "std (sample std, n - 1)"


def protocol_caption(
    frame: pd.DataFrame, agg: pd.DataFrame, dataset: str, describe_features: dict[tuple[str, str | None], str]
) -> str:
    runs = frame[frame["dataset"] == dataset]
    ok = runs[runs["status"] == "ok"]
    if not len(ok):
        seeds = ", ".join(str(s) for s in sorted({int(s) for s in runs["seed"]}))
        return (
            f"No run produced samples (seeds {seeds}), so there are no numbers; the errors are listed below."
        )
    # the seeds the cells are over: a failed seed has none of them (it is listed under the tables)
    seeds = ", ".join(str(s) for s in sorted({int(s) for s in ok["seed"]}))
    keys = list(agg.loc[agg["dataset"] == dataset, "protocol_key"])
    protocols = [json.loads(k) for k in dict.fromkeys(keys) if k]
    # rows on different seeds: table_cells shows each row's
    per_row = seeds_differ(agg[agg["dataset"] == dataset])
    caption = _protocol_sentence(
        protocols, seeds, describe_features, per_row_seeds=per_row, stats_metrics=stats_metrics(ok)
    )
    settings = shared_metric_settings(ok, protocols)
    if settings:
        caption += f" Metric options (`--metric-option`): {settings}."
    if drawn := _labels_drawn(agg[agg["dataset"] == dataset]):
        caption += f" {drawn}"
    differing, _ = protocol_differences(keys)
    if differing:
        averaged = "seeds are averaged"
        if ranked(agg[agg["dataset"] == dataset]):
            averaged += ", and rows ranked,"
        caption += (
            f" Rows differ in {and_list(differing)}: a row's label names its values; {averaged} only within "
            f"one protocol (the CSV has every protocol field)."
        )
    return caption


def _labels_drawn(agg: pd.DataFrame) -> str:
    """How the class-conditional rows' labels were drawn (``protocol.sample_labels``), which their
    numbers depend on (stratified labels give every class its share, as uniform draws do not): each
    way, with the rows drawn so. "" on a board without conditional rows, whose caption is as before."""
    if "sample_labels" not in agg:
        return ""
    rows: dict[str, list[str]] = {}
    for label, drawn in zip(agg.get("row_label", agg["label"]), agg["sample_labels"], strict=True):
        if isinstance(drawn, str) and drawn:
            rows.setdefault(drawn, []).append(md_code(label))
    if not rows:
        return ""
    if len(rows) == 1:  # every one alike: the Class-conditional table says which rows they are
        return f"The class-conditional rows' labels: {md_text(next(iter(rows)))}."
    ways = "; ".join(f"{', '.join(labels)}: {md_text(drawn)}" for drawn, labels in rows.items())
    return f"The class-conditional rows' labels: {ways}."


def stats_metrics(runs: pd.DataFrame) -> list[str]:
    """The metrics that ``runs`` with ``--reference-stats`` compared with the file's statistics (those
    whose ``reference`` is "stats": fid, sfid, fid_inf), in the board's column order: the caption said
    "FID against the reference statistics" where sfid compared with them too, and "vs the train
    split" of an ADM reference batch passed as both, where only precision and recall were."""
    from genbench import registry

    if "reference_stats" not in runs or "metric_versions" not in runs:
        return []
    names: set[str] = set()
    for text in runs.loc[runs["reference_stats"].notna(), "metric_versions"].dropna():
        names.update(json.loads(text) or {})
    order = {m: i for i, m in enumerate(c for cols in SECTIONS.values() for c in cols)}

    def compares_with_stats(name: str) -> bool:
        try:
            return registry.metrics.get(name).reference == "stats"
        except Exception:  # an uninstalled or broken plugin must not stop the report
            return False

    return sorted((m for m in names if compares_with_stats(m)), key=lambda m: (order.get(m, len(order)), m))


def shared_metric_settings(runs: pd.DataFrame, protocols: list[dict[str, Any]]) -> str:
    """The options every run of ``runs`` computed its metrics with, as ``--metric-option`` spells
    them ("fid.backend=torch-fidelity, prdc.k_dc=5"): the FID backend or PRDC's k change the numbers, and a
    reader of the markdown alone could not tell them apart. An option whose value differs between
    the protocols (``protocols``' "metrics") is named by each row's label, so not here; the metric's
    other options are (they were left out with it: ``kid.subsets=50`` on rows at N=200 and N=300 was
    named nowhere), and a KID subset size that only follows N is named as the rule it follows, as is
    an option left unset whose default is a rule (``fid_inf.min_size``:
    :mod:`genbench.metrics.unset_options`). A metric no run has a value of is not named: a run
    records the options of every metric it planned, and an unconditional board's caption named cas's
    and intra_fid's, which apply to class-conditional models alone."""
    apart = options_apart(protocols)
    recorded: dict[str, list[dict[str, Any]]] = {}
    for text in runs["metric_options"].dropna() if "metric_options" in runs else []:
        for metric, options in json.loads(text).items():
            if options and computed_in(runs, metric):
                recorded.setdefault(metric, []).append(options)
    shown: dict[tuple[str, str], Any] = {}
    for metric, runs_options in recorded.items():
        for name in {o for options in runs_options for o in options}:
            if (metric, name) in apart:
                if apart[metric, name]:
                    shown[metric, name] = FOLLOWS_SAMPLES
                continue
            # a run that did not record the option (an older version of the metric) is no value of it
            values = {json.dumps(o[name], sort_keys=True) if name in o else None for o in runs_options}
            # one value: an option whose value differs is in the protocol (``apart``), so two never
            # reach here; should they, naming one of them for every row would be wrong, so none is named
            only = values.pop() if len(values) == 1 else None
            if only is not None:
                value = json.loads(only)
                # unset, an option that follows a rule is named by it: "min_size=none" named no size
                if value is None:
                    value = unset_rule(metric, name)
                shown[metric, name] = value
    parts = [option_setting(m, o, v) for (m, o), v in sorted(shown.items())]
    return md_text(", ".join(parts))


def seeds_differ(agg: pd.DataFrame) -> bool:
    """Whether ``agg``'s rows with numbers average different seeds (a model run on fewer seeds, or a
    seed that failed for one model only): then each row's seeds are shown. A row without numbers
    (every seed failed) averages nothing, so its seeds differ from no one's."""
    if "seeds" not in agg:
        return False
    with_numbers = agg[agg["n_ok"] > 0] if "n_ok" in agg else agg
    return with_numbers["seeds"].nunique() > 1


def ranked(agg: pd.DataFrame) -> bool:
    """Whether any of ``agg``'s rows has a rank: rows are ranked by FID, so runs without one (e.g.
    ``--metrics prdc``) have none, and numbering their rows would rank them by nothing."""
    return "rank" in agg and bool(agg["rank"].notna().any())


def _protocol_sentence(
    protocols: list[dict[str, Any]],
    seeds: str,
    describe_features: dict[tuple[str, str | None], str],
    *,
    per_row_seeds: bool,
    stats_metrics: list[str] | None = None,
) -> str:
    def values(field: str) -> list[str]:
        found = {p[field] for p in protocols if p[field] is not None}
        return show_values(field, sorted(found, key=lambda v: (str(type(v)), v)))

    n, splits, stats = (values(f) for f in ("num_samples", "reference_split", "reference_stats"))
    # each extractor by name and fingerprint: two of one name (other weights) are two descriptions
    extractors = {(p["features"], p["features_fingerprint"]) for p in protocols if p["features"] is not None}
    feats = list(dict.fromkeys(describe_features.get(key, key[0]) for key in sorted(extractors, key=str)))
    clauses = []
    if n or splits:
        sampled = f"N = {', '.join(n)} samples per model and seed" if n else "samples per model and seed"
        # md_text: a split a result someone sent records ("train\nwarning: ...") broke the line
        clauses.append(sampled + (f" vs the **{'/'.join(map(md_text, splits))}** split" if splits else ""))
    if stats:
        named = ", ".join(md_code(m) for m in stats_metrics or ["fid"])
        clauses.append(f"{named} against the reference statistics {', '.join(md_code(s) for s in stats)}")
    if feats:
        clauses.append(f"features: {'; '.join(feats)}")
    if per_row_seeds:
        clauses += [f"seeds {seeds}", f"cells are mean ± {SPREAD} over each row's seeds (the seeds column)"]
    elif "," not in seeds:  # no spread to show: "mean ± std over seeds" promised one
        clauses += [f"seed {seeds}", "one seed, so cells have no spread"]
    else:
        clauses += [f"seeds {seeds}", f"cells are mean ± {SPREAD} over seeds"]
    return f"Protocol: {'; '.join(clauses)}."


def _cell_notes(agg: pd.DataFrame) -> pd.Series:
    """Each row's notes on cells over fewer seeds ({} for a frame aggregated without them)."""
    return agg["cell_notes"] if "cell_notes" in agg else pd.Series([{}] * len(agg), index=agg.index)


def shown_columns(agg: pd.DataFrame, columns: list[str]) -> list[str]:
    """The columns a table shows: those with a value, or a note (a metric that failed everywhere)."""
    notes = _cell_notes(agg)
    return [c for c in columns if c in agg and (agg[c].notna().any() or any(c in n for n in notes))]


def render_markdown(table: pd.DataFrame, align: list[str]) -> str:
    """:func:`table_cells`' table in markdown."""
    return table.to_markdown(index=False, missingval="", disable_numparse=True, colalign=align)


def table_cells(
    agg: pd.DataFrame,
    columns: list[str],
    directions: dict[str, bool | None],
    facts: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, list[str]] | None:
    """One table's headers and cells, as markdown text, and each column's alignment ("left" or
    "right"); None when none of ``columns`` has a value. A column's arrow is its metric's
    ``higher_is_better`` (none for a diagnostic without a better direction, or a column no installed
    metric declares). ``facts``: columns of ``agg`` shown as text after the flags, with their headers
    (the Cost table's :func:`~genbench.timing_caption.differing_timing_facts`). The markdown and the
    LaTeX board (:mod:`genbench.latex`) are both written from these texts, so they cannot disagree."""
    cols = shown_columns(agg, columns)
    if not cols:
        return None
    show_rank = ranked(agg)  # the board's, before the filter below: every table of a board has it or none
    if all(directions.get(c, True) is None for c in cols):  # e.g. GAN dynamics: only the rows they describe
        agg = agg[agg[cols].notna().any(axis=1)]
    arrow = {True: " ↑", False: " ↓", None: ""}
    notes = _cell_notes(agg)
    several = "protocol" in agg and agg["protocol"].astype(bool).any()
    several |= "config_differs" in agg and agg["config_differs"].fillna("").astype(bool).any()
    several |= seeds_differ(agg)  # one model run on (or ok on) fewer seeds than another
    table = pd.DataFrame(
        {
            # an unranked row (no FID: failed, or its FID failed) has an empty cell, not "<NA>"
            **({"rank": agg["rank"].astype(object).where(agg["rank"].notna(), None)} if show_rank else {}),
            # names are the user's (`genbench eval --name 'a|b'`): read as themselves, not as markdown
            "model": [md_text(label) for label in agg.get("row_label", agg["label"])],
            # rows of different protocols (or model configs) come from different seeds: say which
            **({"seeds": agg["seeds"]} if several else {}),
            "flags": [
                " ".join(t for t in (_flag_text(f, s, failed, seeds, partial), rerun) if t)
                for f, s, failed, seeds, partial, rerun in zip(
                    agg["flags"],
                    agg["status"],
                    _failed_seeds(agg),
                    _row_seeds(agg),
                    _partial_flags(agg),
                    rerun_flags(agg),
                    strict=True,
                )
            ],
            **{header: [md_text(v) for v in agg[c]] for c, header in (facts or {}).items()},
            **{
                md_text(c) + arrow[directions.get(c)]: [
                    _cell_text(m, s, n.get(c)) for m, s, n in zip(agg[c], agg[f"{c}_std"], notes, strict=True)
                ]
                for c in cols
            },
        }
    )
    # cells are text already: tabulate's number parsing re-read a model named 007 as 7 and wrote a
    # column without "±" in %g (1.19402e+07); numbers stay right-aligned, names and flags left
    text_columns = ("model", "seeds", "flags", *(facts or {}).values())
    align = ["left" if c in text_columns else "right" for c in table.columns]
    return table, align


def _cell_text(mean: float, std: float, note: CellNote | None) -> str:
    text = fmt(mean, std)
    if note is None:
        return text
    return f"{text or 'error'} {PARTIAL_MARK}"  # no value but a note: the metric failed


def _failed_seeds(agg: pd.DataFrame) -> pd.Series:
    """Each row's seeds without samples ("" for a frame aggregated without them)."""
    return agg["failed_seeds"] if "failed_seeds" in agg else pd.Series([""] * len(agg), index=agg.index)


def _row_seeds(agg: pd.DataFrame) -> pd.Series:
    """Each row's ok seeds ("" for a frame aggregated without them)."""
    return agg["seeds"] if "seeds" in agg else pd.Series([""] * len(agg), index=agg.index)


def _partial_flags(agg: pd.DataFrame) -> pd.Series:
    """Each row's flags that only some of its seeds earned ({} for a frame aggregated without them)."""
    return agg["flag_seeds"] if "flag_seeds" in agg else pd.Series([{}] * len(agg), index=agg.index)


def _flag_text(
    flags: str, status: str, failed_seeds: str = "", seeds: str = "", partial: dict[str, str] | None = None
) -> str:
    """A row's flags, each that only some of its seeds earned (``partial``) named with those seeds,
    and each outcome of its seeds without samples ("failed;ok" is two statuses: a seed failed,
    others did not), named with those seeds. A row that still has ``seeds`` says how many it lost
    and that its cells are over the rest: its numbers are real, and ranked, but a model that
    diverged on one seed of three is no model to use, however low its FID."""
    partial = partial or {}
    named = [f for f in flags.split(",") if f]
    named += [s for s in status.split(";") if s != "ok" and s not in named]
    parts = [
        f"**{md_text(f)}**" + (f" ({seed_words(partial[f])} only)" if f in partial else "") for f in named
    ]
    if failed_seeds and seeds:  # not among the row's seeds: say which (their errors are listed below)
        lost = len(failed_seeds.split(","))
        of = f"{seed_words(failed_seeds)} of {lost + len(seeds.split(','))} without samples"
        parts.append(f"({of}; cells over {seed_words(seeds)})")
    elif failed_seeds:
        parts.append(f"({seed_words(failed_seeds)} without samples)")
    return " ".join(parts)


def _lost_seed_rows(agg: pd.DataFrame) -> list[str]:
    """The row labels of ``agg``'s rows with numbers from some seeds, and none from others (diverged
    or failed)."""
    failed = _failed_seeds(agg).astype(bool)
    partial = agg[failed & (agg["n_ok"] > 0)]
    return list(partial.get("row_label", partial["label"]))


@dataclass(frozen=True)
class BoardTable:
    """One section of a board: its title, the caption under its heading (markdown, None for none),
    its cells and alignment (:func:`table_cells`) and the metric columns it shows."""

    title: str
    caption: str | None
    cells: pd.DataFrame
    align: list[str]
    columns: list[str]


def board_tables(frame: pd.DataFrame, agg: pd.DataFrame, dataset: str) -> list[BoardTable]:
    """``dataset``'s tables, a section each that has a value (or a note) to show, in order."""
    a = agg[agg["dataset"] == dataset]
    directions, splits = column_directions(a), column_splits(a)
    tables = []
    for title, cols in {**SECTIONS, PLUGIN_SECTION: plugin_columns(a)}.items():
        facts = differing_timing_facts(a) if title == "Cost" else None
        cells = table_cells(a, cols, directions, facts)
        if cells is None:
            continue
        shown = shown_columns(a, cols)
        if title == "Cost":
            caption = timing_caption(frame[frame["dataset"] == dataset], a)
        else:
            caption = columns_caption(shown, splits)
        if title == "Quality":  # the Cost caption names the machines its own cells were timed on
            said = [c for c in (caption, devices_caption(a[a[shown].notna().any(axis=1)])) if c]
            caption = " ".join(said) or None
        tables.append(BoardTable(title, caption, *cells, shown))
        if "fid" in shown:  # read beside the ranking's FIDs: whether its neighbours differ beyond seed noise
            gaps = gaps_cells(a)
            if gaps is not None:
                tables.append(BoardTable(GAPS_TITLE, GAPS_CAPTION, *gaps, []))
    return tables


def board_preamble(
    frame: pd.DataFrame,
    agg: pd.DataFrame,
    dataset: str,
    describe_features: dict[tuple[str, str | None], str],
) -> list[str]:
    """The paragraphs above a board's tables, in markdown: the protocol, how rows are ranked and
    what their flags mean, and on raw 2D coordinates what FID cannot see."""
    a = agg[agg["dataset"] == dataset]
    paragraphs = [protocol_caption(frame, agg, dataset, describe_features)]
    if a["n_ok"].any():  # with no samples there is nothing to rank or flag
        if not ranked(a):
            order = "Rows are not ranked: no FID was computed."
        elif a["rank"].isna().any():
            order = "Ranked by FID (lower is better); rows without an FID are not ranked."
        else:
            order = "Ranked by FID (lower is better)."
        paragraphs.append(f"{order} {_flags_legend(a)}")
        # `ddim` beside `ddim[steps=100]`: at which steps, the board said nowhere
        if defaults := default_values_line(frame[frame["dataset"] == dataset]):
            paragraphs.append(defaults)
    if "high_quality" in a and a["high_quality"].notna().any() and set(a["features"].dropna()) == {"raw"}:
        paragraphs.append(
            "On raw 2D coordinates FID compares only means and covariances: a Gaussian fitted to the "
            "data scores about 0 while its samples fall between the modes. Read `high_quality` (share "
            "of samples within 3 std of a mode) and `modes_covered` (PacGAN) beside it."
        )
    return paragraphs


def leaderboard_markdown(
    frame: pd.DataFrame,
    agg: pd.DataFrame,
    dataset: str,
    figures: dict[str, str],
    describe_features: dict[tuple[str, str | None], str],
) -> str:
    a = agg[agg["dataset"] == dataset]
    first, *rest = board_preamble(frame, agg, dataset, describe_features)
    lines = [f"# Leaderboard: {dataset}", "", first]
    for paragraph in rest:
        lines += ["", paragraph]
    shown: list[str] = []
    for table in board_tables(frame, agg, dataset):
        lines += ["", f"## {table.title}", ""]
        rendered = render_markdown(table.cells, table.align)
        lines += [table.caption, "", rendered] if table.caption else [rendered]
        shown += table.columns
    lines += _notes_markdown(a, shown)
    lines += reruns_markdown(a)
    lines += other_weights_markdown(a)
    lines += sources_markdown(a)
    lines += config_splits_markdown(a)
    failed = failed_run_lines(frame, dataset)
    if failed:
        lines += ["", f"## {FAILED_TITLE}", ""]
        lines += [f"- {line}" for line in failed]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"- [{md_link_text(name)}]({path})" for name, path in figures.items()]
    return "\n".join(lines) + "\n"


#: the section that lists the runs without samples, with their errors
FAILED_TITLE = "Runs without samples"


def failed_run_lines(frame: pd.DataFrame, dataset: str) -> list[str]:
    """``dataset``'s runs without samples (failed or diverged), a line each in markdown: "label seed
    2: failed: RuntimeError: ...". The LaTeX board's captions carry the same lines."""
    failed = frame[(frame["dataset"] == dataset) & (frame["status"] != "ok")]
    return [
        f"{md_text(r.label)} seed {r.seed}: {md_text(r.status)}: {md_text(r.error)}"
        # by label, then seed as a number: the frame's order is the result paths', where seed10
        # sorted before seed2
        for r in failed.sort_values(["label", "seed"], kind="stable").itertuples()
    ]


def _flags_legend(agg: pd.DataFrame) -> str:
    """What the flags mean. A row can have numbers and a seed without samples (2 seeds ok, 1
    diverged): then the legend says that its cells are over the seeds that remain, and names it.
    Boards without such a row keep the legend they always had."""
    legend = "Flags: **memorized** (copies training data), **collapsed** (misses modes), "
    partial = _lost_seed_rows(agg)
    if not partial:
        return legend + (
            "**diverged**/**failed** (no samples); a flagged row is not a usable model, however low its FID."
        )
    rows = and_list([md_code(label) for label in partial])
    return legend + (
        "**diverged**/**failed** (the seeds named have no samples); a flagged row is not a usable model, "
        f"however low its FID. A row with a diverged or failed seed ({rows}) averages only the seeds "
        "that remain: its numbers are real, but it is no reliable model, however high it ranks."
    )


def board_notes(agg: pd.DataFrame, columns: list[str]) -> list[str]:
    """Why each of ``agg``'s cells of ``columns`` marked :data:`PARTIAL_MARK` misses seeds, a line
    per row and explanation, in markdown ("label: fid from 2 of 3 seeds ...")."""
    return [
        f"{md_text(row.row_label)}: {md_text(line)}"
        for row in agg.itertuples()
        for line in note_lines(row.cell_notes, columns)
    ]


#: what the notes under the tables (and the LaTeX captions' notes) explain
NOTES_INTRO = f"Cells marked {PARTIAL_MARK} are not a mean over all of their row's seeds:"


def _notes_markdown(agg: pd.DataFrame, columns: list[str]) -> list[str]:
    return md_section("Notes", NOTES_INTRO, board_notes(agg, columns))
