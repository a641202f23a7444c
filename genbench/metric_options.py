"""``--metric-option METRIC.KEY=VALUE``: the flags parsed per metric (:func:`parse_metric_options`),
and each value checked against the options its metric declares and read as its default's type
(:func:`resolve_metric_options`, :func:`option_type`) by the rules of :mod:`genbench.field_values`.
Which metrics take them, and each metric's own checks of its values: :mod:`genbench.metric_checks`.
"""

from __future__ import annotations

import difflib
import types
from typing import Any

from genbench.errors import GenbenchError
from genbench.field_values import coerce, number_or_text
from genbench.flag_values import split_assignment


def parse_metric_options(items: list[str]) -> dict[str, dict[str, str]]:
    """``["fid.backend=clean-fid", "prdc.k_pr=5"]`` -> ``{"fid": {"backend": "clean-fid"}, "prdc": {"k_pr": "5"}}``.

    Values stay text here; :func:`resolve_metric_options` checks names and converts types.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        metric, name, value = split_assignment(
            item, "--metric-option", "METRIC.KEY=VALUE", "fid.backend=clean-fid"
        )
        mine = out.setdefault(metric, {})
        if name in mine:  # as --set does: the last one silently won
            raise GenbenchError(
                f"--metric-option {metric}.{name}={mine[name]} and --metric-option {metric}.{name}={value} "
                f"set the same option of {metric!r}; give it once"
            )
        mine[name] = value
    return out


def resolve_metric_options(
    metric: str,
    declared: dict[str, Any],
    given: dict[str, str],
    words: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Check ``given`` against the metric's declared options ({key: default}); convert each value to
    the type of its default: a tuple or list as ``--set`` reads one (``1:2``), items of its
    default's items' type; a number when the default is None (``0500`` and ``500`` are one
    protocol), else text. One of an option's ``words`` (``Metric.option_words``) stays as it is."""
    out: dict[str, Any] = {}
    for key, text in given.items():
        if text in (words or {}).get(key, ()):
            out[key] = text
            continue
        if key not in declared:
            close = difflib.get_close_matches(key, list(declared), n=3)
            hint = (
                f"; did you mean {', '.join(close)}?"
                if close
                else f"; options: {', '.join(declared) or 'none'}"
            )
            raise GenbenchError(f"metric {metric!r} has no option {key!r}{hint}")
        default, where = declared[key], f"{metric}.{key}"
        if default is None:
            out[key] = number_or_text(text)
        elif isinstance(default, str):
            out[key] = text
        else:
            out[key] = coerce(text, option_type(default), where)
    return out


def option_type(default: Any) -> Any:
    """The type a metric option's value is read as, from its declared ``default``: the default's
    type; a tuple or list of one item type as ``tuple[int, ...]`` (``list[int]``), items of mixed
    types as a bare ``tuple`` (``list``: each a number, else text, as a bare tuple field's); None
    for a default of None (a number, else text). `genbench list metrics NAME` shows it."""
    if default is None:
        return None
    if isinstance(default, tuple | list):
        kinds = {type(v) for v in default}
        if len(kinds) != 1:
            return tuple if isinstance(default, tuple) else list
        inner = kinds.pop()
        # built at run time as the literal tuple[inner, ...] and list[inner] are (inner is no static type)
        return (
            types.GenericAlias(tuple, (inner, ...))
            if isinstance(default, tuple)
            else types.GenericAlias(list, inner)
        )
    return type(default)
