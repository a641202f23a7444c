"""LaTeX leaderboards: ``<dataset>.tex`` beside the markdown board, its tables for ``\\input{}``
into a paper, a ``table`` (booktabs rules) per section, each captioned with the board's protocol.

Every cell, header and caption is converted from the markdown board's own text
(:func:`genbench.markdown.board_tables`, :func:`~genbench.markdown.board_preamble`), never
recomputed or re-rounded, so the .tex cannot disagree with the .md. The converter reads the subset
of markdown that :mod:`genbench.text` writes (backslash escapes, ``**bold**``, code spans) and
escapes what LaTeX would read as syntax. Written by hand rather than with pandas'
``Styler.to_latex``: that needs jinja2, which genbench does not depend on, and its escaping would
see the markdown's ``**`` and backslashes as text; the tabular itself is a join of cells.
"""

from __future__ import annotations

import re
import string

import pandas as pd

from genbench.config_splits import CONFIGS_INTRO, config_split_lines
from genbench.fid_gaps import GAPS_CSV_SUFFIX
from genbench.fid_gaps import TITLE as GAPS_TITLE
from genbench.markdown import (
    FAILED_TITLE,
    NOTES_INTRO,
    board_notes,
    board_preamble,
    board_tables,
    failed_run_lines,
)
from genbench.rerun_notes import RERUNS_INTRO, rerun_lines
from genbench.source_notes import genbench_code_intro, genbench_code_lines
from genbench.text import md_text, one_line
from genbench.weights_notes import OTHER_WEIGHTS_INTRO, other_weights_lines

#: what pdflatex reads as syntax, or prints as another glyph in its default OT1 encoding (``<``
#: as "¡", ``|`` as "—"), and the symbols genbench's boards write that pdflatex may not know
#: as raw UTF-8, each as LaTeX. Brackets and asterisks go in braces: a row that starts with "["
#: or "*" after ``\\`` (or "[" after ``\midrule``) would be read as their optional argument or star.
#: A second hyphen is kept apart from the first: ``--`` and ``---`` are LaTeX's dashes
#: (``--metric-option`` would read "–metric-option").
_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",  # the kernel's since LaTeX 2020-02 (textcomp before)
    "[": "{[}",
    "]": "{]}",
    "*": "{*}",
    "-": "-{}",  # only before another hyphen (_SPECIAL)
    "±": r"$\pm$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "†": r"\dag{}",
    "×": r"$\times$",
    "²": r"\textsuperscript{2}",
    "³": r"\textsuperscript{3}",
    "‖": r"$\Vert$",
    "≈": r"$\approx$",
    "Δ": r"$\Delta$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "−": "$-$",
    "–": "--",
    "—": "---",
    "…": r"\ldots{}",
}
_SPECIAL = re.compile("-(?=-)|" + "|".join(re.escape(c) for c in _LATEX if c != "-"))


def latex_text(text: object) -> str:
    """``text`` escaped to read as itself in LaTeX, on one line (:func:`~genbench.text.one_line`)."""
    return _SPECIAL.sub(lambda m: _LATEX[m.group(0)], one_line(text))


_BACKTICKS = re.compile(r"`+")
_PUNCTUATION = frozenset(string.punctuation)


def markdown_to_latex(text: str) -> str:
    """Markdown as :mod:`genbench.text` writes it, in LaTeX: a backslash-escaped character as
    itself, ``**bold**`` as ``\\textbf{}``, a code span as ``\\texttt{}`` (CommonMark's rules: it
    ends at the next run of as many backticks, and one space is stripped from each end when both
    have one), everything else escaped (:func:`latex_text`). An unmatched ``**`` or backtick run
    is text, as markdown shows it."""
    out: list[str] = []
    plain: list[str] = []
    bold_at: int | None = None

    def flush() -> None:
        if plain:
            out.append(latex_text("".join(plain)))
            plain.clear()

    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in _PUNCTUATION:
            plain.append(text[i + 1])
            i += 2
        elif char == "`":
            opened = _BACKTICKS.match(text, i)
            assert opened is not None  # text[i] is a backtick
            run = opened.group(0)
            close = next((m for m in _BACKTICKS.finditer(text, i + len(run)) if m.group(0) == run), None)
            if close is None:
                plain.append(run)
                i += len(run)
                continue
            code = text[i + len(run) : close.start()]
            if code.startswith(" ") and code.endswith(" ") and code.strip(" "):
                code = code[1:-1]
            flush()
            out.append(rf"\texttt{{{latex_text(code)}}}")
            i = close.end()
        elif text.startswith("**", i):
            flush()
            if bold_at is None:
                bold_at = len(out)
                out.append(r"\textbf{")
            else:
                out.append("}")
                bold_at = None
            i += 2
        else:
            plain.append(char)
            i += 1
    flush()
    if bold_at is not None:  # never closed: markdown shows the asterisks
        out[bold_at] = latex_text("**")
    return "".join(out)


def _slug(text: str) -> str:
    """``text`` for a ``\\label``: lowercase letters and digits, runs of anything else one "-"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cell(value: object) -> str:
    """A cell as the markdown writes it (``missingval=""``; tabulate's ``str`` of the rest)."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def latex_tabular(cells: pd.DataFrame, align: list[str]) -> list[str]:
    """:func:`genbench.markdown.table_cells`' table as a booktabs ``tabular``: numbers right-aligned,
    names and flags left, as in the markdown."""
    spec = "".join("l" if a == "left" else "r" for a in align)

    def row(texts: list[object]) -> str:
        return " & ".join(markdown_to_latex(_cell(t)) for t in texts) + r" \\"

    return [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        row(list(cells.columns)),
        r"\midrule",
        *(row(list(values)) for values in cells.itertuples(index=False, name=None)),
        r"\bottomrule",
        r"\end{tabular}",
    ]


def leaderboard_latex(
    frame: pd.DataFrame,
    agg: pd.DataFrame,
    dataset: str,
    describe_features: dict[tuple[str, str | None], str],
) -> str:
    """``dataset``'s board in LaTeX: a ``table`` per section of the markdown board, its caption the
    section, the board's protocol, ranking and flags, the section's own caption, the notes on its
    cells over fewer seeds, what differs between a label's rows of other model configs, the
    errors of the runs without samples, the seeds whose later rerun failed, the seeds that scored
    other weights than the shipped ones and the rows of seeds run by different genbench code;
    labelled ``tab:<dataset>-<section>``."""
    name = one_line(dataset)
    preamble = board_preamble(frame, agg, dataset, describe_features)
    tables = board_tables(frame, agg, dataset)
    lines = [
        f"% Leaderboard: {name}, the tables of {name}.md cell for cell ({name}.csv has the numbers",
        "% unrounded). Written by `genbench report` (genbench.reporting.write_report): regenerate it,",
        "% do not edit it. Needs \\usepackage{booktabs} in the document's preamble, nothing else; then",
        "% \\input{} this file. A wide table fits a two-column paper as table* (or in graphicx's \\resizebox).",
    ]
    if any(t.title == GAPS_TITLE for t in tables):  # written only for a board with the table
        lines.append(f"% {name}{GAPS_CSV_SUFFIX} beside it has the FID gaps table's numbers unrounded.")
    # why seeds have no samples: the markdown's section under its tables, which a table read in a
    # paper lacked (its flags name the seeds, not their errors)
    failed = failed_run_lines(frame, dataset)
    if not tables:  # TeX comments, escaped as the captions are: the line before says "listed below"
        listed = (
            [f"% {FAILED_TITLE}:", *(f"% - {markdown_to_latex(line)}" for line in failed)] if failed else []
        )
        return "\n".join([*lines, f"% No tables: {one_line(preamble[0])}", *listed]) + "\n"
    a = agg[agg["dataset"] == dataset]
    # what tells a label's rows "(config 1a2b3c)" apart: the markdown's section under the tables,
    # which a table read in a paper lacks
    splits = config_split_lines(a)
    reruns = rerun_lines(a)  # its older values look current: every table says so, as the markdown does
    # seeds that scored the cache's checkpoint of other weights than the shipped ones: the markdown's
    # section, without which a paper's table of locally trained weights read as the published board's
    weights = other_weights_lines(a)
    code = genbench_code_lines(a)  # rows of seeds two genbench releases ran: the markdown's section
    for table in tables:
        title = f"{table.title} ({md_text(dataset)} leaderboard)."
        caption = [title, *preamble]
        caption += [table.caption] if table.caption else []
        notes = board_notes(a, table.columns)
        caption += [f"{NOTES_INTRO} {'; '.join(notes)}."] if notes else []
        caption += [f"{CONFIGS_INTRO} What differs: {'; '.join(splits)}."] if splits else []
        caption += [f"{FAILED_TITLE}: {'; '.join(failed)}."] if failed else []
        caption += [f"{RERUNS_INTRO} {'; '.join(reruns)}."] if reruns else []
        caption += [f"{OTHER_WEIGHTS_INTRO} {'; '.join(weights)}."] if weights else []
        caption += [f"{genbench_code_intro(a)} {' '.join(f'{x}.' for x in code)}"] if code else []
        lines += [
            "",
            r"\begin{table}",
            r"\centering",
            # the short form for \listoftables, which would otherwise print the whole protocol paragraph
            rf"\caption[{markdown_to_latex(title)}]{{{markdown_to_latex(' '.join(caption))}}}",
            rf"\label{{tab:{_slug(dataset)}-{_slug(table.title)}}}",
            *latex_tabular(table.cells, table.align),
            r"\end{table}",
        ]
    return "\n".join(lines) + "\n"
