"""The metrics a board's results name that cannot be loaded where the report runs, said once each.

A plugin metric's better direction (its columns' arrows) comes from its class's ``higher_is_better``,
which results do not record (:func:`genbench.metric_columns.column_directions`): reported where
its package is not installed, or where it fails to import, its columns had no arrow, without a
word, while the board's sources section still named the package. The report now says so on stderr,
a line per metric, naming what the results record of its code and the fix (``pip install`` its
package, ``--include`` its file); the board's files are the same either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genbench.errors import PluginLoadError
from genbench.provenance import joined_texts, source_text
from genbench.results import Result
from genbench.text import and_list, printable

#: what every line says the board lost
_LOST = "its columns are shown without a better-direction arrow"


def unloadable_metric_lines(results: list[Result]) -> list[str]:
    """A line per metric that ``results`` name (``protocol.metric_versions``, and the metrics whose
    sources ``environment.metric_sources`` records) and that cannot be loaded here: not registered
    (its package uninstalled, its file not included) or failing to import. In name order."""
    named: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        for metric in r.protocol.get("metric_versions") or {}:
            named.setdefault(str(metric), [])
        recorded = r.environment.get("metric_sources")
        for metric, source in recorded.items() if isinstance(recorded, Mapping) else ():
            if isinstance(source, Mapping):
                named.setdefault(str(metric), []).append(source)
    lines = []
    for metric, sources in sorted(named.items()):
        problem = _problem(metric)
        if problem is not None:
            lines.append(_line(metric, sources, problem))
    return lines


def _problem(metric: str) -> PluginLoadError | str | None:
    """ "uninstalled" when ``metric`` is not registered here, its load error when it fails to import,
    None when it loads."""
    from genbench import registry

    if metric not in registry.metrics:
        return "uninstalled"
    try:
        registry.metrics.get(metric)
    except PluginLoadError as e:
        return e
    return None


def _line(metric: str, sources: list[Mapping[str, Any]], problem: PluginLoadError | str) -> str:
    recorded = joined_texts(source_text(s) for s in sources)
    said = f" ({printable(recorded)}, in the results)" if recorded else ""
    if isinstance(problem, PluginLoadError):  # its error names the plugin's package and the fix
        return f"metric {metric!r}{said} is installed here but fails to load: {_LOST}; {problem}"
    return f"metric {metric!r}{said} is not installed here: {_LOST}; {_fix(sources)}"


def _fix(sources: list[Mapping[str, Any]]) -> str:
    """How to make an unregistered metric known to the report, from what its results record."""
    from genbench import __version__
    from genbench.registry import is_genbench

    dists = sorted({d for s in sources if isinstance(d := s.get("distribution"), str) and d})
    ours = [d for d in dists if is_genbench(d)]
    others = [d for d in dists if not is_genbench(d)]
    # as recorded, but no terminal escape sequence or second line of a result file someone sent
    files = sorted({printable(f) for s in sources if isinstance(f := s.get("file"), str) and f})
    fixes = []
    if others:
        fixes.append(f"pip install {' '.join(printable(d) for d in others)}")
    fixes += [f"pass --include {f}" for f in files]
    if ours and not fixes:  # a metric of another genbench release, which this one does not have
        versions = and_list(sorted({printable(s.get("distribution_version")) for s in sources}))
        return f"this genbench ({__version__}) has no such metric; report with genbench {versions}"
    if not fixes:  # nothing recorded of its code (no seed produced a value), or a notebook's class
        return "install its package, or pass --include the file that registers it"
    return " or ".join(fixes)
