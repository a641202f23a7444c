"""The ``# ...`` comment of each field of a dataclass, read from its source: what `genbench list
models NAME` shows beside a model's config field. The comment beside the field wins; else the
comment lines right above it. Inherited fields are read from the class that declares them. A class
whose source cannot be read (built by ``make_dataclass``, or in an interactive session) has no
comments, never an error: its fields are listed all the same."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize


def field_comments(cls: type) -> dict[str, str]:
    """``{field: comment}`` for the fields of the dataclass ``cls`` that have one."""
    if not dataclasses.is_dataclass(cls):
        return {}
    out: dict[str, str] = {}
    for klass in cls.__mro__:  # the subclass's own comment first, then the base that declared it
        if klass is object or not dataclasses.is_dataclass(klass):
            continue
        for name, comment in _own_comments(klass).items():
            out.setdefault(name, comment)
    return out


def _own_comments(cls: type) -> dict[str, str]:
    """The comments of the fields annotated in ``cls``'s own body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
        comments = {
            tok.start[0]: tok.string
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT
        }
    except Exception:  # no source (a dynamic class, a REPL's), or source that no longer parses
        return {}
    body = tree.body[0] if tree.body and isinstance(tree.body[0], ast.ClassDef) else None
    if body is None:
        return {}
    lines = source.splitlines()
    out = {}
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        end = node.end_lineno or node.lineno
        # beside: on any line of the field (a default written over several lines)
        beside = [comments[n] for n in range(node.lineno, end + 1) if n in comments]
        above: list[str] = []
        n = node.lineno - 1
        while n >= 1 and n in comments and lines[n - 1].strip().startswith("#"):
            above.insert(0, comments[n])
            n -= 1
        text = " ".join(_text(c) for c in (beside or above))
        if text:
            out[node.target.id] = text
    return out


def _text(comment: str) -> str:
    """``# text`` or a Sphinx ``#: text`` as its text; ``# fmt: skip`` and the like as nothing."""
    text = comment.lstrip("#").removeprefix(":").strip()
    return "" if text.startswith(("fmt:", "noqa", "type:", "pragma")) else text
