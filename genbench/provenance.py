"""Which code made a result, and which installed package provides it at which version: the model,
the dataset, the feature extractor and each metric that produced a value. Recorded in a result's
``environment`` beside genbench's and torch's versions: a third-party plugin's numbers named no
package nor version, and a plugin upgrade that moved them could not be told from the results.

The built-ins and baselines are genbench's, at the running code's version (as ``environment``); a
class registered from a script or a test belongs to no distribution (None), and is named by its
module. A class of a file that ``--include`` named belongs to no distribution either, and its module
(:mod:`genbench.includes`) says nothing once the file is edited: its source records the file and
the sha256 of the content that ran (:data:`FILE_FIELDS`), as a plugin's records its version; so
does a class of the script that runs, and a notebook cell's class records the sha256 of its source
(:data:`CLASS_FIELDS`, :mod:`genbench.script_code`). The leaderboard reads a result's sources as
text ("genbench-example-plugin 0.1.0", "my_model.py sha256 1a2b3c4d5e6f"), and joins a row's seeds'
texts, so that seeds run under two releases of a plugin, or two versions of a file, name both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

#: what is recorded of one piece of code; a model's, dataset's and extractor's keys in the
#: environment are these prefixed with its kind (``model_class``, ``dataset_distribution``, ...)
SOURCE_FIELDS = ("class", "distribution", "distribution_version")
#: what is recorded besides of a class from a file that ``--include`` named, or of the script that
#: runs (absolute path, sha256 of its content), and of no other: the results of every other class
#: keep the keys they had
FILE_FIELDS = ("file", "file_sha256")
#: what is recorded besides of a class defined in a notebook (:mod:`genbench.script_code`): the sha256
#: of its source, which keys its checkpoints; a script's class records its file as an included one
CLASS_FIELDS = ("class_sha256",)
#: how many hex digits of a file's sha256 its source text shows (as git's short hashes)
SHORT_DIGEST = 12


def code_source(cls: type) -> dict[str, str | None]:
    """Which code ``cls`` is: the class (``module:qualname``), and the installed distribution that
    provides its module with that distribution's version (genbench's own: the running code's); for a
    class of an included file or of the script that runs, that file and its content's sha256
    (:data:`FILE_FIELDS`); for a class of a notebook cell, its source's (:data:`CLASS_FIELDS`)."""
    from genbench.distributions import distribution_of, version_of
    from genbench.registry import is_genbench
    from genbench.script_code import edited_code

    module = getattr(cls, "__module__", "") or ""
    qualified = f"{module}:{getattr(cls, '__qualname__', cls.__name__)}"
    code = edited_code(cls)
    if code is not None:
        digest = (
            {"file": str(code.file), "file_sha256": code.sha256}
            if code.file is not None
            else {"class_sha256": code.sha256}
        )
        return {"class": qualified, "distribution": None, "distribution_version": None, **digest}
    dist = distribution_of(module)
    if dist is not None and is_genbench(dist):
        import genbench

        version: str | None = genbench.__version__
    else:
        version = version_of(dist)
    return {
        "class": qualified,
        "distribution": dist,
        "distribution_version": version,
    }


def model_source(cls: type) -> dict[str, str | None]:
    """:func:`code_source` of a run's model class, as its environment records it (``model_class``,
    ``model_distribution``, ``model_distribution_version``)."""
    return _prefixed("model", code_source(cls))


def scoring_sources(dataset: object, extractor: object, metrics: Iterable[Any]) -> dict[str, Any]:
    """What a result's environment records of the code that scored it: the sources of the classes
    of ``dataset`` and ``extractor`` (``dataset_*``, ``features_*``; none for no extractor, where no
    metric read features), and ``metric_sources``, metric name -> its class's source, for
    ``metrics`` (those that produced a value)."""
    return {
        **_prefixed("dataset", code_source(type(dataset))),
        **(_prefixed("features", code_source(type(extractor))) if extractor is not None else {}),
        "metric_sources": {m.name: code_source(type(m)) for m in metrics},
    }


def _prefixed(kind: str, source: Mapping[str, str | None]) -> dict[str, str | None]:
    return {f"{kind}_{k}": source[k] for k in (*SOURCE_FIELDS, *FILE_FIELDS, *CLASS_FIELDS) if k in source}


def source_text(source: Mapping[str, Any]) -> str | None:
    """A :func:`code_source` in a few words ("genbench-example-plugin 0.1.0"); an included file's
    name and short digest ("my_model.py sha256 1a2b3c4d5e6f": an edit is another text, as a release
    is); the module for a class of no distribution, with its source's short digest for a notebook's
    ("__main__ sha256 1a2b3c4d5e6f"); None when nothing was recorded. Anything but text (a
    hand-edited file) is read as not recorded."""
    dist, version = source.get("distribution"), source.get("distribution_version")
    if isinstance(dist, str) and dist:
        return f"{dist} {version}" if isinstance(version, str) and version else dist
    file, digest = source.get("file"), source.get("file_sha256")
    if isinstance(file, str) and file:
        name = PurePath(file).name
        return f"{name} sha256 {digest[:SHORT_DIGEST]}" if isinstance(digest, str) and digest else name
    cls, digest = source.get("class"), source.get("class_sha256")
    if not isinstance(cls, str) or not cls:
        return None
    module = cls.partition(":")[0]
    return f"{module} sha256 {digest[:SHORT_DIGEST]}" if isinstance(digest, str) and digest else module


def recorded_source_text(environment: Mapping[str, Any], kind: str) -> str | None:
    """A result's recorded source of its ``kind`` ("model", "dataset" or "features") as text; None
    when the run recorded none (a result written before it was recorded, an evaluation of saved
    samples for the model, a run that failed before scoring)."""
    return source_text(
        {k: environment.get(f"{kind}_{k}") for k in (*SOURCE_FIELDS, *FILE_FIELDS, *CLASS_FIELDS)}
    )


def model_source_text(environment: Mapping[str, Any]) -> str | None:
    """:func:`recorded_source_text` of a result's model, for the leaderboard."""
    return recorded_source_text(environment, "model")


def metric_sources_text(environment: Mapping[str, Any]) -> dict[str, str] | None:
    """Metric -> its recorded source as text, for the metrics that produced a value; None when the
    run recorded none."""
    recorded = environment.get("metric_sources")
    if not isinstance(recorded, Mapping):
        return None
    texts = {m: source_text(s) for m, s in recorded.items() if isinstance(s, Mapping)}
    return {m: t for m, t in texts.items() if t is not None} or None


def joined_texts(texts: Iterable[object]) -> str | None:
    """A row's seeds' source texts as one ("pkg 1.0; pkg 1.1" when they were run under two releases:
    a mean over both is then named as one), None when none recorded one."""
    found = sorted({t for t in texts if isinstance(t, str) and t})
    return "; ".join(found) or None


def joined_metric_sources(per_run: Iterable[object]) -> str | None:
    """A row's seeds' :func:`metric_sources_text` as canonical JSON, each metric's texts joined as
    :func:`joined_texts` joins them; None when none recorded one."""
    seen: dict[str, list[object]] = {}
    for texts in per_run:
        if isinstance(texts, Mapping):
            for metric, text in texts.items():
                seen.setdefault(metric, []).append(text)
    joined = {m: joined_texts(ts) for m, ts in seen.items()}
    joined = {m: t for m, t in joined.items() if t is not None}
    return json.dumps(joined, sort_keys=True) if joined else None


def is_genbench_text(text: str) -> bool:
    """Whether every source a (joined) text names is genbench itself."""
    from genbench.registry import is_genbench

    return all(is_genbench(part.split(" ")[0]) for part in text.split("; "))
