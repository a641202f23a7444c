"""The result schema: one JSON per (model, variant, dataset, seed), written atomically.

Every result carries its protocol (number of samples, reference split, feature extractor and its
fingerprint, seed, metric versions and options) and its environment (versions, device, git
commit: recorded by :mod:`genbench.environment`), so every number can be traced to how it was
obtained. Results are found under ``--out`` and read back here, each field's type checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from genbench.io import atomic_write_json, json_text
from genbench.layout import dataset_folder
from genbench.portable_names import NOT_FOLDERS, exactly_there, portable

#: in a protocol's ``reference_stats`` ("stats.npz sha256:..."), what separates the file's name
#: from the hash of its bytes (:func:`genbench.features.reference_stats.stats_identity` writes it)
STATS_HASH = "sha256:"

SCHEMA_VERSION = 1
Status = Literal["ok", "diverged", "failed"]
#: the leaderboard's identity and protocol columns (``results_frame``, ``aggregate``): a metric
#: value under one of these names would overwrite the column, so the runner refuses it
RESERVED_METRIC_KEYS = frozenset(
    {
        "dataset",
        "model",
        "variant",
        "label",
        "seed",
        "seeds",
        "failed_seeds",
        "n_ok",
        "rank",
        "status",
        "error",
        "flags",
        "flag_seeds",
        "num_samples",
        "reference_split",
        "features",
        "features_fingerprint",
        "reference_stats",
        "dataset_fingerprint",
        "mode_labeller",
        "metric_versions",
        "metric_options",
        "metric_errors",
        "row_label",
        "protocol",
        "protocol_key",
        "protocol_order",
        "notes",
        "cell_notes",
        "fid_by_seed",
        "failed_seed_errors",
        "checkpoint",
        "model_config",
        "model_source",
        "dataset_source",
        "features_source",
        "metric_sources",
        "sample_labels",
        "config_differs",
        "config_tag",
        "machine",
        "trained_on",
        "no_training_log",
        "sampled_on",
        "batch_size",
        "failed_rerun",
        "failed_reruns",
        "device",
        "device_seeds",
        "genbench_code",
        "genbench_code_seeds",
        "other_weights",
        "weights_from",
        "other_weight_seeds",
    }
)


@dataclass
class Result:
    """One run's (one seed's) outcome, written to :meth:`path` as JSON: what :func:`genbench.run`
    and :func:`genbench.evaluate` return, and what the boards are made of."""

    model: str  # registered model name
    dataset: str
    seed: int
    variant: str = ""  # config overrides that make this a variant, e.g. "steps=10"
    status: Status = "ok"
    error: str | None = None  # why status is not ok
    error_kind: str | None = None  # "user" (fixable input: exit 2), "plugin" (a model's bug), "diverged"
    protocol: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)  # metric -> why it was not computed
    #: metric -> "user" (fixable input: exit 2) or "plugin" (the metric's own bug: exit 1)
    metric_error_kinds: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)  # "memorized", "collapsed", "diverged"
    config: dict[str, Any] = field(default_factory=dict)  # the model's resolved config
    timings: dict[str, float] = field(default_factory=dict)  # wall times in seconds
    environment: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # figure name -> path
    #: the samples this result scored, kept beside it by ``--save-samples``: ``name`` (the file, in the
    #: result's folder) and ``sha256`` (of the float32 values, as `genbench eval` records the samples it
    #: scores in ``protocol.samples``); empty when none are kept (:mod:`genbench.saved_samples`)
    samples_file: dict[str, str] = field(default_factory=dict)
    training_log: list[dict[str, float]] = field(default_factory=list)
    #: how the weights were obtained: checkpoint path, loaded or trained, steps, resumed_from
    training: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @property
    def label(self) -> str:
        """The leaderboard row's name: ``model``, or ``model[variant]`` (``ddim[steps=10]``)."""
        return f"{self.model}[{self.variant}]" if self.variant else self.model

    @property
    def failed_rerun(self) -> str | None:
        """The error of a later run of this seed that failed, which genbench kept beside this result
        (:meth:`failed_path`) rather than replace it, as :func:`load_result` found it there; None when
        there is none, or this result was not read from its file. Never written into the result."""
        return self.__dict__.get("_failed_rerun")

    def path(self, out: str | os.PathLike[str]) -> Path:
        """Where this result is written under the results folder ``out``:
        ``out/<dataset>/<label as a file name>/seed<seed>.json`` (:func:`label_folder`; the dataset's
        folder: :func:`genbench.layout.dataset_folder`)."""
        folder = dataset_folder(Path(out), self.dataset)
        return folder / label_folder(folder, self.label) / f"seed{self.seed}.json"

    def failed_path(self, out: str | os.PathLike[str]) -> Path:
        """Where a failed run of this seed is written when the earlier result in :meth:`path` is
        kept (``runner.write_result``); :func:`find_results` never reads it."""
        return self.path(out).with_name(f"seed{self.seed}.failed.json")

    def aside_path(self, out: str | os.PathLike[str]) -> Path:
        """Where this result is written when another process wrote, while this one ran, a result at
        :meth:`path` that it must not replace (``runner.write_result``, ``evaluate``): named by a hash
        of its protocol, so that asides of different protocols keep apart; :func:`find_results`
        never reads it."""
        text = json.dumps(self.protocol, sort_keys=True, default=str)
        return self.path(out).with_name(
            f"seed{self.seed}.aside-{hashlib.sha256(text.encode()).hexdigest()[:10]}.json"
        )

    def written_aside(self, out: str | os.PathLike[str]) -> Path | None:
        """:meth:`aside_path` when that file holds this result, as written there (another process
        wrote :meth:`path` while this result was made), else None: what a command's last line names
        in place of the report, which does not read it."""
        aside = self.aside_path(out)
        if not aside.is_file():
            return None
        try:
            return aside if aside.read_text() == json_text(asdict(self)) else None
        except OSError:  # unreadable: nothing this command can say of it
            return None

    def write(self, out: str | os.PathLike[str], to: Path | None = None) -> Path:
        """Write this result atomically to :meth:`path`, or to ``to`` (a file beside it: a failure
        kept apart from an earlier result, :meth:`failed_path`; one written aside,
        :meth:`aside_path`); returns where."""
        path = to if to is not None else self.path(out)
        atomic_write_json(path, asdict(self))
        return path


#: the longest name :func:`safe_name` gives: a file name holds 255 bytes, and figures add a suffix
MAX_NAME = 200


def safe_name(label: str) -> str:
    """A file-system-safe directory name for a model label. A label too long for a file name (a
    ``--set`` sweep point over long lists, a long ``--name``) keeps its start and a hash of the
    whole, so that distinct labels stay apart: writing it failed after all the work was done. A name
    that is no folder of its own on some file system (``con``, ``a.``, ``..``) is spelled apart
    (:func:`genbench.portable_names.portable`: ``_con``, ``a._``, ``_.._``)."""
    return _shortened(portable(_spelled(label)), label)


def names_no_folder(label: str) -> bool:
    """Whether ``label`` is spelled, in a folder name's characters, as no folder of its own (``..``,
    ``.``, or nothing: ``///``): :func:`safe_name` spells it apart (``_.._``), but no row should be
    named so (`genbench eval --name ..` is refused)."""
    return _spelled(label) in NOT_FOLDERS


def _spelled(label: str) -> str:
    """``label`` in the characters a folder name keeps, '_' for each run of the others, none at its
    ends."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", label).strip("_")


def _shortened(name: str, label: str) -> str:
    if len(name) > MAX_NAME:  # ASCII: characters are bytes
        digest = hashlib.sha256(label.encode()).hexdigest()[:16]
        name = f"{name[: MAX_NAME - len(digest) - 1]}-{digest}"
    return name


def label_folder(folder: Path, label: str) -> str:
    """The name of ``label``'s folder in the dataset's results folder ``folder``: :func:`safe_name`,
    or the name genbench gave it before it spelled unportable names apart (``con`` for ``_con``,
    ``a.`` for ``a._``) where a folder of exactly that name is there, so that results written then
    are still read, replaced and skipped as their row's (never ``..``, ``.`` or ``''``: no folder of
    a row). Windows never made such a folder, and ``a.`` there is another row's ``a``."""
    name = safe_name(label)
    old = _shortened(_spelled(label), label)
    # this exact name: not a case or a dot Windows drops
    return old if old != name and exactly_there(folder, old) else name


#: the type each field of a result JSON must have (a hand-edited file is checked before it is used)
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "model": str,
    "dataset": str,
    "seed": int,
    "variant": str,
    "status": str,
    "error": (str, type(None)),
    "error_kind": (str, type(None)),
    "protocol": dict,
    "metrics": dict,
    "metric_errors": dict,
    "metric_error_kinds": dict,
    "flags": list,
    "config": dict,
    "timings": dict,
    "environment": dict,
    "artifacts": dict,
    "samples_file": dict,
    "training_log": list,
    "training": dict,
    "schema": int,
}


#: the fields every result genbench has written records, since its first result schema (the others,
#: samples_file or training, were added later, and a result written before them loads without them)
_REQUIRED_FIELDS = ("model", "dataset", "seed", "status", "protocol", "metrics")


def load_result(path: Path) -> Result:
    """Read a result JSON; raises ValueError naming the first field that is not what genbench wrote
    (a hand-edited ``"seed": "zero"`` would otherwise fail deep inside the leaderboard), and
    :class:`GenbenchError` for a file from a newer genbench."""
    from genbench.errors import GenbenchError

    data = _json(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema", SCHEMA_VERSION)
    # first: a newer genbench may have changed any field's type, and its result is not corrupt
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
        raise GenbenchError(
            f"{path} was written by a newer genbench (result schema {schema}, this one reads "
            f"{SCHEMA_VERSION}); upgrade genbench to report it"
        )
    # a file holding a result's identity alone ({"model": ..., "dataset": ..., "seed": 1}: a partial
    # copy, a hand-made stub) was read as an ok seed without a value, its row's cells all marked
    missing = [key for key in _REQUIRED_FIELDS if key not in data]
    if missing:
        raise ValueError(f"it records no {', '.join(missing)}, which every result genbench writes has")
    for key, typ in _FIELD_TYPES.items():
        value = data.get(key)
        if key in data and (not isinstance(value, typ) or isinstance(value, bool) and typ is int):
            raise ValueError(f"field {key!r} is {value!r}, not {getattr(typ, '__name__', 'text or null')}")
    if data.get("status", "ok") not in get_args(Status) or data.get("seed", 0) < 0:
        raise ValueError(
            f"status {data.get('status')!r} or seed {data.get('seed')!r} is not one genbench writes"
        )
    for key, value in data.get("metrics", {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"metric {key!r} is {value!r}, not a number")
        if key in RESERVED_METRIC_KEYS:  # would overwrite the leaderboard's column of that name
            raise ValueError(f"metric {key!r} has the name of a leaderboard column")
    for key, value in data.get("timings", {}).items():  # null: not timed, as the board shows it
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"timings[{key!r}] is {value!r}, not a number")
    _check_items("flags", data.get("flags", []), str)
    # read by the report's figures: a figure's path, a GAN log's rows (each was a traceback)
    _check_items("artifacts", data.get("artifacts", {}), str)
    _check_items("samples_file", data.get("samples_file", {}), str)
    _check_items("training_log", data.get("training_log", []), dict)
    for key in ("metric_errors", "metric_error_kinds"):
        _check_items(key, data.get(key, {}), str)
    _check_protocol(data.get("protocol", {}))
    data.pop("schema", None)
    # keys a later genbench may add (its readers ignore what they do not know): this one keeps the
    # fields it knows, rather than refusing every result such a version writes
    result = Result(**{k: v for k, v in data.items() if k in _FIELD_TYPES})
    if (failed := _failed_rerun(Path(path))) is not None:
        result.__dict__["_failed_rerun"] = failed  # not a field: asdict() must not write it
    return result


def _json(text: str) -> Any:
    """``text`` parsed as JSON; a ValueError, as for any other malformed JSON, where it nests deeper
    than Python's parser recurses (a file of 100000 "[": the RecursionError was a traceback)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("its JSON nests deeper than any result genbench writes") from None


def _failed_rerun(path: Path) -> str | None:
    """The error, on one line, of the failed rerun kept beside the result at ``path``
    (``seed<N>.failed.json`` beside ``seed<N>.json``); None when there is none.

    Whether that failure came after the result is not read from the files' times (a copy or a
    checkout of the folder sets them anew, in no order): results record no time of their own, and
    genbench writes the file only for a failure after an ok or diverged result of its seed, and
    removes it when a later run of that seed succeeds (``runner.write_result``)."""
    if not _RESULT_NAME.fullmatch(path.name):
        return None
    failed = path.with_name(f"{path.stem}.failed.json")
    if not failed.is_file():
        return None
    try:
        data = _json(failed.read_text())
    except (OSError, ValueError):  # its error is lost, not the fact that the rerun failed
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    return " ".join(str(error).split()) if error else "its error could not be read"


#: protocol fields the leaderboard reads, with their types (each may also be null)
_PROTOCOL_TYPES: dict[str, type | tuple[type, ...]] = {
    "features": dict,
    "num_samples": int,
    "reference_split": str,
    "reference_stats": str,
    "dataset_fingerprint": str,
    "mode_labeller": str,
    "metric_versions": dict,
    "metric_options": dict,
}


def _check_protocol(protocol: dict[str, Any]) -> None:
    for key, typ in _PROTOCOL_TYPES.items():
        value = protocol.get(key)
        if value is not None and (not isinstance(value, typ) or isinstance(value, bool)):
            raise ValueError(f"protocol.{key} is {value!r}, not {getattr(typ, '__name__', typ)}")
    for key in ("name", "fingerprint"):
        value = (protocol.get("features") or {}).get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"protocol.features.{key} is {value!r}, not str")
    _check_items("protocol.metric_versions", protocol.get("metric_versions") or {}, (int, str))
    _check_items("protocol.metric_options", protocol.get("metric_options") or {}, dict)


def _check_items(name: str, items: list[Any] | dict[str, Any], typ: type | tuple[type, ...]) -> None:
    """Raise ValueError naming the first item (a dict's value) of ``items`` that is not a ``typ``."""
    pairs = items.items() if isinstance(items, dict) else enumerate(items)
    for key, value in pairs:
        if not isinstance(value, typ) or isinstance(value, bool):
            what = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise ValueError(f"{name}[{key!r}] is {value!r}, not {what}")


#: the name of a result file; ``seed*.json`` also matched backup copies ("seed0 (1).json",
#: "seed0-old.json") and the failed attempts kept beside a result ("seed0.failed.json")
_RESULT_NAME = re.compile(r"seed([0-9]+)\.json")
#: a failed rerun kept beside an earlier result (:meth:`Result.failed_path`)
_FAILED_NAME = re.compile(r"seed([0-9]+)\.failed\.json")
#: a result written aside (:meth:`Result.aside_path`)
_ASIDE_NAME = re.compile(r"seed([0-9]+)\.aside-[0-9a-f]+\.json")
#: a seed's number at the start of a file's name ("seed2 (1).json", "seed2-old.json")
_SEED_PREFIX = re.compile(r"seed([0-9]+)(?![0-9])")


def find_results(out: Path) -> list[Path]:
    """The result files under ``out``: each ``<dataset>/<label>/seed<N>.json``, never a copy beside
    one. Whether its content belongs there is checked where it is read (``leaderboard.load_results``,
    which also warns of each file that looks like a result but is not one, :func:`skipped_results`)."""
    return sorted(p for p in Path(out).glob("*/*/seed*.json") if _RESULT_NAME.fullmatch(p.name))


def skipped_results(out: Path) -> list[str]:
    """A line for each JSON file in (or below) a model's folder of ``out`` that the report does not
    read, saying what it is and what to do: a result written aside, a failed rerun whose result is
    gone, a copy ("seed2 (1).json"), a file in a folder below. Not a failed rerun beside its result
    (the board notes it on the row, :attr:`Result.failed_rerun`), nor a hidden file (an atomic
    write's temp file, an editor's); genbench writes nothing else there but ``.npz`` samples."""
    out = Path(out)
    files = [
        p
        for p in sorted(out.glob("*/*/**/*.json"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    ]
    nested = _nested_folders(out, files)
    lines = [
        f"{inner} is not read by the report: it is a results folder of its own ({_count(n, 'result')}) "
        f"inside {out}; report it with --out {inner}, or move it out of {out} and pass both folders' "
        "--out to one report"
        for inner, n in nested.items()
    ]
    for path in files:
        if any(inner in path.parents for inner in nested):
            continue  # said of its folder, once
        parts = path.relative_to(out).parts
        folder, name = path.parent, path.name
        if len(parts) == 3 and _RESULT_NAME.fullmatch(name):
            continue  # read
        said = f"{path} is not read by the report: "
        if len(parts) == 3 and (m := _FAILED_NAME.fullmatch(name)):
            if (folder / f"seed{m[1]}.json").exists():
                continue  # noted on its row
            lines.append(
                said + f"the failure of a rerun of seed {m[1]}, kept beside a result seed{m[1]}.json that "
                f"is gone; rename it to seed{m[1]}.json to list the failure on the board, or delete it"
            )
        elif len(parts) == 3 and (m := _ASIDE_NAME.fullmatch(name)):
            lines.append(
                said + f"a result written aside by a run or evaluation that found seed{m[1]}.json written "
                f"by another process while it ran; to report it, move it to {parts[0]}/{parts[1]}/"
                f"seed{m[1]}.json in an --out of its own, or delete it"
            )
        else:
            model = out / parts[0] / parts[1]
            where = (
                "it is in a folder below its model's" if len(parts) > 3 else "its name is not seed<N>.json"
            )
            seed = m[1] if (m := _SEED_PREFIX.match(name)) else "<N>"
            home = model / f"seed{seed}.json"
            if home.exists():
                fix = f"{home.name} is there already: delete it if it is a copy, or move it out of {out}"
            else:
                fix = f"move it to {home} to include it (seed {seed}'s result), or out of {out}"
            lines.append(said + f"{where}; {fix}")
    return lines


def _nested_folders(out: Path, files: list[Path]) -> dict[Path, int]:
    """The folders below ``out`` that are results folders of their own (``genbench run --out
    out/sub``, or one copied in whole), each with its number of results: a file is one of its
    results when the result it holds belongs exactly there, ``<sub>/<dataset>/<label>/seed<N>.json``
    (:meth:`Result.path`). Its every file was warned of as misplaced, with the advice to move it
    into a dataset folder named after ``sub``. A copy in a model's subfolder does not match (its
    dataset and label are not the two folders above it)."""
    nested: dict[Path, int] = {}
    for path in files:
        parts = path.relative_to(out).parts
        if len(parts) < 4 or not _RESULT_NAME.fullmatch(path.name):
            continue
        inner = out.joinpath(*parts[:-3])
        try:
            belongs = load_result(path).path(inner) == path
        except Exception:  # noqa: BLE001 - unreadable: warned of as a file of its own below
            belongs = False
        if belongs:
            nested[inner] = nested.get(inner, 0) + 1
    return nested


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
