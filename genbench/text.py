"""Plain-text pieces shared by messages and captions."""

from __future__ import annotations

import re
import unicodedata


def and_list(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (one item as it is)."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def seed_words(seeds: str) -> str:
    """Seeds in words: "2" -> "seed 2", "1,2" -> "seeds 1, 2"."""
    listed = seeds.split(",")
    return f"{'seed' if len(listed) == 1 else 'seeds'} {', '.join(listed)}"


#: what markdown would read as syntax in a name or a message: a table's column separator, emphasis,
#: code, HTML, strikethrough and math (GitHub renders $...$). An underscore inside a word
#: (``train_steps``) emphasizes nothing
_SPECIAL = r"[\\`*|<~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
#: ... and a "](" that makes a link; brackets alone stay (``ddim[steps=10]`` is no link)
_MARKDOWN = re.compile(_SPECIAL + r"|\](?=[(\[])")
_BRACKETS = re.compile(_SPECIAL + r"|[\[\]]")


#: a line break and the spaces around it: markdown ends a table row or a list item's paragraph there
_LINE_BREAK = re.compile(r"[ \t]*(?:\r\n|\r|\n)\s*")
#: the control characters a terminal acts on (ESC starts an escape sequence), tab aside
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def one_line(text: object) -> str:
    """``text`` on one line, each line break (and the indentation after it) one space: a plugin's
    multi-line error (``ValueError("bad shape\\n\\nexpected ...")``, a traceback it formatted) broke
    the board's list of runs without samples, or a table row, over several lines. The result JSON
    keeps the full text. Any other control character is written as its Python escape: a name in a
    result file someone sent (``"copy\\x1b[2J"``) put the terminal's escape sequence into the board,
    which ``cat`` ran and LaTeX refused as an invalid character."""
    text = str(text)
    text = _LINE_BREAK.sub(" ", text).strip() if _LINE_BREAK.search(text) else text
    return _CONTROL.sub(lambda m: ascii(m.group(0))[1:-1], text) if _CONTROL.search(text) else text


def printable(text: object) -> str:
    """``text`` with each character a terminal would act on (a line break, ``\\x1b[`` starting an
    escape sequence) written as its Python escape: what a results folder someone sent records (a
    package's name, a file's path), printed in a hint, can neither forge a line nor drive the terminal.
    A space other than " " (a no-break space, macOS's "10.00.00\\u202fAM" in a screenshot's name) is
    printed as one, as it is: written as its escape, a path on a console line could not be copied."""
    return "".join(
        c if c.isprintable() or unicodedata.category(c) == "Zs" else ascii(c)[1:-1] for c in str(text)
    )


def md_text(text: object) -> str:
    """``text`` escaped to read as itself in markdown, in a table cell too, on one line
    (:func:`one_line`): names come from users (``genbench eval --name 'a|b'`` added a column to every
    table of its board) and errors from plugins (``__init__()`` rendered as a bold "init")."""
    return _MARKDOWN.sub(lambda m: "\\" + m.group(0), one_line(text))


def md_link_text(text: object) -> str:
    """``text`` for a link's ``[...]``: as :func:`md_text`, with its brackets escaped too unless they
    pair up and make no link of their own (an unpaired "]" ended the link early)."""
    text = one_line(text)
    depth = 0
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            break
    pattern = _MARKDOWN if depth == 0 and "](" not in text else _BRACKETS
    return pattern.sub(lambda m: "\\" + m.group(0), text)


def md_code(text: object) -> str:
    """``text`` as a markdown code span, fenced with more backticks than it holds in a row (a
    backslash escapes nothing inside one), on one line (:func:`one_line`)."""
    text = one_line(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def option_setting(metric: str, name: str, value: object) -> str:
    """One metric option as ``--metric-option`` spells it and the board's caption and the console's
    protocol line name it: "kid.subsets=50", ``None`` as "none"."""
    return f"{metric}.{name}={'none' if value is None else value}"


def md_section(title: str, intro: str, items: list[str]) -> list[str]:
    """A board's section of notes in markdown, as lines: its heading, ``intro``, then a bullet per
    item of ``items``; none at all without items."""
    if not items:
        return []
    return ["", f"## {title}", "", intro, "", *(f"- {x}" for x in items)]
