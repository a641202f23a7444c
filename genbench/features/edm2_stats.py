"""EDM2's reference statistics (Karras et al. 2024, NVlabs/edm2), read as ``--reference-stats FILE.pkl``.

EDM2's ``calculate_metrics.py ref`` writes (and its published ``dataset-refs/img512.pkl`` and
``img64.pkl`` are) a pickled dict keyed by metric, ``{'num_images': int, 'fid': {'mu': (2048,),
'sigma': (2048, 2048)}, 'fd_dinov2': {'mu': (1024,), 'sigma': (1024, 1024)}}``, float64 numpy arrays
(``torch.float64`` accumulators as ``.numpy()``), with Python's default pickle protocol.

Which genbench features each entry is in (:data:`ENTRY_FEATURES`), from EDM2's source:

* ``fd_dinov2``: its ``DINOv2Detector`` (default ``resize_mode='torch'``), whose preprocessing
  :mod:`genbench.features.dinov2` follows step by step: ``--features dinov2``.
* ``fid``: its ``InceptionV3Detector``, StyleGAN's TorchScript ``inception-2015-12-05.pkl`` called on
  the uint8 images as they are (512 x 512 for img512). The network resizes them to 299 x 299 itself,
  emulating ``tf.image.resize_bilinear`` (``grid_sample``, bilinear, no antialiasing), which is the
  TF1 bilinear resize of torch-fidelity's ``inception-v3-compat`` (its
  ``interpolate_bilinear_2d_like_tensorflow1x``), of the same TensorFlow weights: ``--features
  inception``. Not ``clean-inception``: that is the same TorchScript network's file but clean-fid's
  antialiased PIL bicubic resize before it, and at 512 px the two resizes give other features (the
  aliasing clean-fid is about), so its FID against this entry would mean nothing. The match is by
  reading the two codes, not by numbers: the real weights are not on the offline test machines.

A pickle runs any callable it names while it loads, so a downloaded file is never ``pickle.load``-ed
as it is (as checkpoints load with torch's ``weights_only``): :class:`_ArraysOnly` resolves only the
globals that dicts of numpy arrays need, and refuses any other before calling anything.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from genbench.errors import MetricInputError

#: EDM2's entry -> the ``--features`` whose features it holds statistics of (see the module's docstring)
ENTRY_FEATURES = {"fid": "inception", "fd_dinov2": "dinov2"}
#: suffixes read as a pickle (a zip aside); any file whose first byte is pickle's PROTO opcode too
SUFFIXES = (".pkl", ".pickle")
_PROTO = b"\x80"  # every pickle of protocol 2 or later begins with it; no zip (.npz) or .npy does
_ZIP = b"PK"

#: (module, name) a dict of numpy arrays pickles with: arrays (protocols 2-4 and 5), their dtypes,
#: numpy scalars, and the bytes of protocol 2 (``_codecs.encode``, as torch's weights_only allows)
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


def is_pickle(path: Path) -> bool:
    """Whether ``path`` is to be read as a pickle: by its first byte, else by its suffix (a zip, an
    ``.npz`` however named, never is)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError:
        return False
    return head[:1] == _PROTO or (path.suffix.lower() in SUFFIXES and head != _ZIP)


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that resolves only :data:`_ALLOWED` (numpy 1's ``numpy.core`` and numpy 2's
    ``numpy._core`` alike, whichever wrote the file) and refuses any other global unresolved, so that
    nothing a file names is ever called."""

    def __init__(self, fh: Any, where: str, fix: str):
        super().__init__(fh)
        self._where, self._fix = where, fix

    def find_class(self, module: str, name: str) -> Any:
        # numpy 2 pickles numpy._core.*, numpy 1 numpy.core.*; either loads under either numpy
        canonical = (
            module.replace("numpy._core", "numpy.core", 1) if module.startswith("numpy._core") else module
        )
        if (canonical, name) not in _ALLOWED:
            raise MetricInputError(
                f"{self._where} is a pickle that calls {module}.{name} when loaded, so it was not loaded "
                f"(only dicts of numpy arrays, EDM2's format, are read from a pickle); {self._fix}"
            )
        if canonical.startswith("numpy.core"):
            modern = canonical.replace("numpy.core", "numpy._core", 1)
            try:  # numpy 2: numpy.core is a deprecated alias of numpy._core
                return getattr(importlib.import_module(modern), name)
            except ImportError:  # numpy 1
                pass
        return getattr(importlib.import_module(canonical), name)


def read_entries(path: Path, fix: str) -> dict[str, Any]:
    """The dict an EDM2 statistics pickle holds, loaded by :class:`_ArraysOnly`; a file that is no
    such pickle, or names any other callable, is a one-line :class:`MetricInputError` ending in ``fix``."""
    where = f"reference statistics {path}"
    try:
        with open(path, "rb") as fh:
            data = _ArraysOnly(fh, where, fix).load()
    except MetricInputError:
        raise
    except Exception as e:  # a text file, an empty or cut-off one: pickle's own words are its internals
        raise MetricInputError(
            f"cannot read {where} (not a readable pickle: {type(e).__name__}); {fix}"
        ) from None
    if not isinstance(data, dict):
        raise MetricInputError(
            f"{where} hold a pickled {type(data).__name__}, not EDM2's dict of statistics by metric; {fix}"
        )
    return data


def num_images(path: Path) -> int | None:
    """How many images the EDM2 statistics at ``path`` are of (its ``num_images``, which
    ``calculate_metrics.py`` records beside the entries, 2 at least), or None: not such a pickle, or no
    count a protocol may record (the statistics' own errors are :func:`edm2_entry`'s to give)."""
    if not is_pickle(path):
        return None
    try:
        count = read_entries(path, "").get("num_images")
    except MetricInputError:
        return None
    # an int (EDM2's int(...)) or a numpy integer; a bool is no count
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 2:
        return None
    return int(count)


def describe(entries: list[str]) -> str:
    """EDM2 entries with the ``--features`` each needs: ``fid (--features inception), ...``."""
    if not entries:
        return "no entries of mu and sigma"
    named = (
        f"{e} (--features {ENTRY_FEATURES[e]})" if e in ENTRY_FEATURES else f"{e} (no genbench features)"
        for e in entries
    )
    return ", ".join(named)


def edm2_entry(path: Path, features: str | None, fix: str) -> dict[str, Any]:
    """The entry of the EDM2 statistics pickle at ``path`` that holds statistics of ``features`` (the
    run's extractor's name): ``fd_dinov2`` under ``dinov2``, ``fid`` under ``inception``. Any other
    features, or a file without that entry, is a one-line error naming the entries the file has and
    the ``--features`` each needs."""
    data = read_entries(path, fix)
    entries = [str(k) for k, v in data.items() if isinstance(v, dict)]
    if not entries:  # a dict of mu and sigma themselves: no --features could name an entry
        held = ", ".join(str(k) for k in data) or "nothing"
        raise MetricInputError(
            f"reference statistics {path} are a pickled dict of {held}, not EDM2's statistics by metric "
            f"({{'fid': {{'mu': ..., 'sigma': ...}}, ...}}); {fix}"
        )
    wanted = next((e for e, f in ENTRY_FEATURES.items() if f == features), None)
    if wanted is None and features is None:  # called without the run's features (the API)
        raise MetricInputError(
            f"reference statistics {path} are EDM2's, of features {describe(entries)}; pass the "
            "features they are to be compared in (features='dinov2' or 'inception')"
        )
    if wanted is None:
        raise MetricInputError(
            f"reference statistics {path} are EDM2's, of features {describe(entries)}, none of them "
            f"--features {features}'s; pass the --features an entry needs"
        )
    if wanted not in data or not isinstance(data[wanted], dict):
        raise MetricInputError(
            f"reference statistics {path} have no {wanted!r} entry, the one of --features {features}; "
            f"they have {describe(entries)}"
        )
    return data[wanted]
