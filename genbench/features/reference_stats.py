"""Reference statistics files: a user's (mu, sigma), read and validated, and those `genbench stats`
writes.

Read from an ``.npz`` (keys ``mu`` and ``sigma``: pytorch-fid's, clean-fid's and genbench's own
format), EDM2's pickle (:mod:`genbench.features.edm2_stats`) or torch-fidelity's cached ``.pt``
(:mod:`genbench.features.library_stats`). A file `genbench stats` wrote records how it was made under
the key :data:`MADE_KEY`: the dataset, split and features (checked against a run's by
:func:`check_stats_features`), and the rows per extraction call and the arithmetic that the feature
cache keys apart (:mod:`genbench.features.reference`; :func:`stats_extraction_warning` names a
difference). Results record a file by its name and a hash of its bytes (:func:`stats_identity`).
"""

from __future__ import annotations

import io
import json
import shlex
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genbench.errors import MetricInputError
from genbench.features.base import MIN_BATCH_ROWS
from genbench.features.reference import arithmetic
from genbench.io import atomic_write, file_sha256
from genbench.results import STATS_HASH

if TYPE_CHECKING:
    from genbench.features.base import FeatureExtractor

#: the key of a statistics file that records how it was made (:func:`genbench.statistics.stats`)
MADE_KEY = "genbench"
#: the key of :func:`stats_made`'s record of an EDM2 pickle: how many images its statistics are of
EDM2_IMAGES = "num_images"
#: the keys of sfid's spatial statistics, as ADM's reference batches hold them beside mu and sigma
SPATIAL_KEYS = ("mu_s", "sigma_s")


def load_reference_stats(
    path: Path,
    dim: int | None = None,
    keys: tuple[str, str] = ("mu", "sigma"),
    fix: str | None = None,
    features: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) from a user's statistics file (``mu``: D, ``sigma``: D x D), validated, float64.

    An ``.npz`` (keys ``mu`` and ``sigma``): the format of pytorch-fid and clean-fid statistics files,
    so theirs load directly; torch-fidelity's cached ``*-stat-fid-*.pt`` too
    (:mod:`genbench.features.library_stats`). A pickle (``.pkl``, or a file that begins as one): EDM2's reference
    statistics (``calculate_metrics.py ref``, its ``dataset-refs/img512.pkl``), a dict keyed by
    metric, of which the entry of ``features`` (the run's extractor's name) is read
    (:mod:`genbench.features.edm2_stats`, which never runs what a pickle names).
    ``dim``, when given, is the feature dimension the statistics must have (2048 for Inception).
    ``keys``: the mean's and covariance's keys (``("mu_s", "sigma_s")``: the spatial statistics of
    ADM's reference batches, for sFID); ``fix``: what a file without them is to be replaced with.
    """
    from genbench.features.edm2_stats import edm2_entry, is_pickle
    from genbench.features.library_stats import fidelity_entry, torch_pickle

    path = Path(path)
    mu_key, sigma_key = keys
    fix = fix or (
        f"make one with `genbench stats --out FILE.npz --dataset NAME`, or save an .npz with {mu_key} (D,) "
        f"and {sigma_key} (D, D), or pass EDM2's .pkl or torch-fidelity's .pt"
    )
    if path.is_dir():
        raise MetricInputError(
            f"reference statistics {path} is a directory, not an .npz file (or .pkl); {fix}"
        )
    if not path.is_file():
        raise MetricInputError(f"reference statistics {path} not found; {fix}")
    if is_pickle(path):
        label = f"{path} (EDM2's entry for --features {features})"
        mu, sigma = _arrays(edm2_entry(path, features, fix), keys, f"reference statistics {label}", fix)
    elif member := torch_pickle(path):  # torch-fidelity's cached statistics, a torch.save zip
        label = str(path)
        entry = fidelity_entry(path, member, features, fix)
        mu, sigma = _arrays(entry, keys, f"reference statistics {label}", fix)
    else:
        label = str(path)
        mu, sigma = _npz_arrays(path, keys, fix)
    _check_stats(mu, sigma, label, fix)
    if dim is not None and mu.shape[0] != dim:
        raise MetricInputError(
            f"reference statistics {label} have dimension {mu.shape[0]} but the features have {dim}; "
            f"compute them with the same feature extractor (--features)"
        )
    return mu, sigma


def _npz_arrays(path: Path, keys: tuple[str, str], fix: str) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` of the ``.npz`` at ``path``, as float64."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return _arrays(npz, keys, f"reference statistics {path}", fix)
    except MetricInputError:
        raise
    except Exception as e:
        # an empty or text file: numpy's EOFError, or its advice to allow pickles, says neither
        why = type(e).__name__ if zipfile.is_zipfile(path) else "not an .npz archive"
        raise MetricInputError(f"cannot read reference statistics {path} ({why}); {fix}") from None


def _arrays(found: Any, keys: tuple[str, str], where: str, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` of ``found`` (an open ``.npz`` or an EDM2 entry), as float64."""
    names = [str(k) for k in (found.files if hasattr(found, "files") else found)]
    missing = [k for k in keys if k not in names]
    if missing:
        raise MetricInputError(
            f"{where} lack {', '.join(missing)} (has {', '.join(names) or 'nothing'}); {fix}"
        )
    try:
        raw = [np.asarray(found[k]) for k in keys]
        # complex values lost their imaginary part (a ComplexWarning), strings and bools were parsed
        if odd := [f"{k} ({a.dtype})" for k, a in zip(keys, raw, strict=True) if a.dtype.kind not in "fiu"]:
            raise TypeError(f"{' and '.join(odd)} not of real numbers")
        mu, sigma = (a.astype(np.float64) for a in raw)
    except (TypeError, ValueError) as e:  # a pickled string or object array where numbers belong
        raise MetricInputError(f"{where}: {' and '.join(keys)} are not numeric arrays ({e}); {fix}") from None
    if mu.shape == (1,) and sigma.ndim == 0:  # np.cov of one feature: clean-fid's, pytorch-fid's and
        sigma = sigma.reshape(1, 1)  # torch-fidelity's writers save its variance as a 0-d sigma
    return mu, sigma


def stats_made(path: Path) -> dict[str, Any] | None:
    """How the statistics in ``path`` were made, as :func:`genbench.statistics.stats` recorded it, or
    as EDM2's pickle records it (``{"num_images": n}``, all it says: no dataset, split or features);
    None for a file that records nothing (clean-fid's, pytorch-fid's, ADM's reference batches, or one
    saved without ``made``) or cannot be read (:func:`load_reference_stats` says why)."""
    from genbench.features.edm2_stats import is_pickle, num_images

    if is_pickle(path):
        count = num_images(path)
        return {EDM2_IMAGES: count} if count is not None else None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if MADE_KEY not in npz.files:
                return None
            made = json.loads(str(npz[MADE_KEY]))
    except Exception:
        return None
    return made if isinstance(made, dict) else None


def made_reference(made: dict[str, Any] | None, dataset: str) -> dict[str, Any]:
    """The reference split, its size and the dataset fingerprint that a `genbench stats` record
    ``made`` gives, as a result's protocol records them, when it is of ``dataset``; each None
    otherwise (a file that records nothing, clean-fid's, or a value a result may not record). EDM2's
    record gives the size alone: the images its statistics are of, whatever the run calls them (it
    names no dataset), so FD_DINOv2 against ``img512.pkl`` names its count as a split's FID does."""
    if made and EDM2_IMAGES in made:  # checked by edm2_stats.num_images
        return {"reference_split": None, "num_reference": made[EDM2_IMAGES], "dataset_fingerprint": None}
    made = made if made and made.get("dataset") == dataset else {}
    split, size, fingerprint = made.get("split"), made.get("num_examples"), made.get("dataset_fingerprint")
    return {
        "reference_split": split if split in ("train", "test") else None,
        "num_reference": size if isinstance(size, int) and not isinstance(size, bool) else None,
        "dataset_fingerprint": fingerprint if isinstance(fingerprint, str) else None,
    }


def check_stats_features(made: dict[str, Any] | None, features: dict[str, Any], path: Path) -> None:
    """Raise when the statistics were computed with other features than ``features`` (the
    extractor's ``info()``): Inception's and clean-fid's Inception both give 2048 numbers, so FID
    against the other's statistics is a number without meaning that no dimension check catches."""
    theirs = (made or {}).get("features")
    if not isinstance(theirs, dict):
        return
    mine = (features.get("name"), features.get("fingerprint"))
    if (theirs.get("name"), theirs.get("fingerprint")) != mine:
        recompute = f"recompute them with `genbench stats --features {mine[0]}`"
        # the same name: "pass --features mynet" named the features already in use, a fix that
        # could never work; their weights (or preprocessing) are what changed
        fix = (
            f"the {mine[0]} features' weights or preprocessing changed since: {recompute}, or use the "
            "weights they were computed with"
            if theirs.get("name") == mine[0]
            else f"pass --features {theirs.get('name')} or {recompute}"
        )
        raise MetricInputError(
            f"reference statistics {path} were computed with features {theirs.get('name')!r} "
            f"({theirs.get('fingerprint')}), not {mine[0]!r} ({mine[1]}); {fix}"
        )


def stats_extraction_warning(
    made: dict[str, Any] | None, extractor: FeatureExtractor, path: Path, dataset: str, split: str
) -> str | None:
    """What differs when the statistics in ``path`` were computed from features extracted otherwise
    than ``extractor`` extracts them, in the ways the feature cache keys apart
    (:func:`~genbench.features.reference.cache_key`): in calls of other rows, where that changes them
    (:func:`~genbench.features.reference.batch_rows`: fewer than ``MIN_BATCH_ROWS``), and in other
    arithmetic (:func:`~genbench.features.reference.arithmetic`: device type, the CPU's instruction
    set, TF32 on CUDA). One warning names every difference and the one `genbench stats`
    command that matches them all (of ``dataset`` as the command was given it, and its reference
    ``split``); None when nothing differs, or for what the file does not record
    (one of an older genbench, or clean-fid's). Statistics made with ``genbench stats --batch-size 2``
    gave a default run another FID (in the ninth digit) than the statistics of its own reference
    features; statistics made on a GPU (TF32) or an AVX-512 CPU, used on an AVX2 CPU, another still,
    with nothing said."""
    made = made or {}
    rows, arith = _rows_difference(made, extractor), _arithmetic_difference(made, extractor)
    differences = [d for d in (rows, arith) if d]
    if not differences:
        return None
    theirs, mine, why = (list(column) for column in zip(*differences, strict=True))
    # both flags, whichever differs: `genbench stats` defaults to 500 rows and --device auto, so
    # naming one alone made statistics that differ in the other (at --batch-size 2 on the CPU,
    # `genbench stats --device cpu` wrote 64-row statistics). The instruction set and TF32 setting
    # are the machine's (and its plugins'), which no flag sets. The dataset, split and features too:
    # the command named none, so it failed as given (--out and --dataset are required), and completed
    # by hand it took stats' defaults (the train split, the dataset's features), which the next run
    # warned of or refused in turn
    command = shlex.join(
        ["genbench", "stats", "--dataset", dataset, "--reference-split", split, "--features", extractor.name]
        + ["--batch-size", str(extractor.batch_size), "--device", str(extractor.device)]
    )
    command += " --out PATH"  # a new file, or the same one: what the user keeps is theirs to say
    return (
        f"reference statistics {path} were made from features {' and '.join(theirs)}, this command's "
        f"{' and '.join(mine)}; {'; '.join(why)}, so FID against the file differs from FID against the "
        f"statistics of this command's own reference features. It is computed against the file all "
        f"the same; `{command}` on this machine makes matching statistics"
    )


def _rows_difference(made: dict[str, Any], extractor: FeatureExtractor) -> tuple[str, str, str] | None:
    """(theirs, this command's, why it matters) when the rows per call differ."""
    theirs = made.get("batch_rows")
    if not isinstance(theirs, int) or isinstance(theirs, bool) or theirs < 1:
        return None
    theirs, mine = min(theirs, MIN_BATCH_ROWS), extractor.fewest_rows
    if theirs == mine:
        return None

    def calls(rows: int) -> str:
        return f"{rows} rows" if rows < MIN_BATCH_ROWS else f"{MIN_BATCH_ROWS} or more rows"

    size = extractor.batch_size
    return (
        f"extracted {calls(theirs)} at a time",
        f"{calls(mine)} at a time (--batch-size {size})",
        f"calls of fewer than {MIN_BATCH_ROWS} rows take other kernels (around the ninth digit)",
    )


def _arithmetic_difference(made: dict[str, Any], extractor: FeatureExtractor) -> tuple[str, str, str] | None:
    """(theirs, this command's, why it matters) when the arithmetic differs."""
    theirs, mine = made.get("arithmetic"), arithmetic(extractor.device)
    if not isinstance(theirs, str) or theirs == mine:
        return None
    return (
        f"computed in {theirs} arithmetic",
        f"computed in {mine} arithmetic (--device {extractor.device})",
        "another device, CPU instruction set or TF32 setting rounds otherwise (TF32 on CUDA moves "
        "Inception features in the third or fourth digit)",
    )


def stats_identity(path: Path) -> str:
    """``--reference-stats`` as results record it in their protocol: the file's name and a hash of
    its bytes. The path as typed made ``./s.npz`` and ``s.npz`` (or one file on two machines) two
    protocols, and statistics rewritten in place one. A file that cannot be read is recorded as
    typed: FID fails on it and says why, and a result without an FID is never kept from a rerun."""
    path = Path(path)
    try:
        digest = file_sha256(path)
    except OSError:
        return str(path)
    return f"{path.name} {STATS_HASH}{digest[:16]}"


def save_reference_stats(
    path: Path,
    mu: np.ndarray,
    sigma: np.ndarray,
    *,
    made: dict[str, Any] | None = None,
    spatial: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Write (mu, sigma) as an ``.npz`` that :func:`load_reference_stats` (and clean-fid) read;
    ``made``: how they were made (:func:`genbench.statistics.stats`), under the key ``genbench``;
    ``spatial``: sfid's (mu, sigma), under ADM's keys :data:`SPATIAL_KEYS`."""
    fix = "pass mu of shape (D,) and sigma of shape (D, D)"
    arrays: dict[str, Any] = {}  # Any: numpy types savez's **kwds as its allow_pickle
    for keys, pair in ((("mu", "sigma"), (mu, sigma)), (SPATIAL_KEYS, spatial)):
        if pair is not None:
            m, s = (np.asarray(a, dtype=np.float64) for a in pair)
            _check_stats(m, s, "statistics to save", fix)
            arrays.update(zip(keys, (m, s), strict=True))
    if made is not None:  # a string array: readable without pickle, ignored by clean-fid's loader
        arrays[MADE_KEY] = np.array(json.dumps(made, sort_keys=True))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(Path(path), lambda fh: fh.write(buf.getvalue()), fix="choose a writable path")


def _check_stats(mu: np.ndarray, sigma: np.ndarray, where: str, fix: str) -> None:
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise MetricInputError(
            f"{where}: mu has shape {mu.shape} and sigma {sigma.shape}, expected (D,) and (D, D); {fix}"
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise MetricInputError(f"{where}: mu or sigma holds NaN or inf values; {fix}")
    # a sigma that is no covariance matrix made the trace of sqrt(sigma1 sigma2) complex or larger
    # than the traces, and FID came out as 0 (clipped) for any samples
    scale = float(np.abs(sigma).max()) if sigma.size else 0.0
    asymmetry = float(np.abs(sigma - sigma.T).max()) if sigma.size else 0.0
    if asymmetry > 1e-6 * scale:
        raise MetricInputError(
            f"{where}: sigma is not symmetric (entries differ from their transpose by up to {asymmetry:.3g}), "
            f"so it is no covariance matrix; {fix}"
        )
    # positive semidefinite up to rounding: a Cholesky factor of sigma + 1e-4 max(diag) I exists (as
    # float32 storage or fewer samples than dimensions leave eigenvalues a little below 0); a
    # Cholesky is 20x faster than the eigenvalues of a 2048 x 2048 matrix
    shift = 1e-4 * float(sigma.diagonal().max(initial=0.0)) + np.finfo(np.float64).tiny
    try:
        np.linalg.cholesky(sigma + shift * np.eye(len(sigma)))
    except np.linalg.LinAlgError:
        raise MetricInputError(
            f"{where}: sigma has negative eigenvalues (it is not positive semidefinite), so it is no "
            f"covariance matrix; {fix}"
        ) from None
