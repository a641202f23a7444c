"""Statistics files of other FID libraries: what their format or their name says of their features.

* torch-fidelity caches FID statistics as ``{input}-{extractor}-stat-fid-{layer}.pt`` in
  ``$TORCH_HOME/fidelity_cache`` (``metric_fid.fid_featuresdict_to_statistics_cached``): a
  ``torch.save`` zip whose ``data.pkl`` pickles ``{'mu': ndarray, 'sigma': ndarray}``. It is read
  here with EDM2's arrays-only unpickler (:mod:`genbench.features.edm2_stats`: nothing a file names
  is called, a pickled tensor is refused), and its name's extractor is checked against the run's:
  ``inception-v3-compat`` is ``--features inception`` (:data:`FIDELITY_FEATURES`).
* clean-fid names its statistics ``{name}_{mode}[_{model}]_{split}_{res}.npz``, its own
  (``cifar10_legacy_tensorflow_train_32.npz``) as ``make_custom_stats``' (``{name}_clean_custom_na.npz``):
  ``clean`` mode's are of its antialiased resize (``--features clean-inception``),
  ``legacy_tensorflow``'s of TensorFlow's resize (``--features inception``). The name is all a
  clean-fid file says of its features, so a mismatch is warned of, not refused
  (:func:`cleanfid_mode_warning`).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from genbench.errors import MetricInputError

#: torch-fidelity's feature extractor name -> the genbench ``--features`` that computes its features
FIDELITY_FEATURES = {"inception-v3-compat": "inception"}
#: clean-fid's mode -> the genbench ``--features`` of its Inception statistics
CLEANFID_FEATURES = {"clean": "clean-inception", "legacy_tensorflow": "inception"}
_FIDELITY_NAME = re.compile(r"-(?P<extractor>[a-z0-9-]+?)-stat-fid-(?P<layer>[^-]+)\.pt$", re.IGNORECASE)
#: a mode followed by no model modifier: ``_clean_clip_vit_b_32_`` files are of CLIP, not Inception
_CLEANFID_NAME = re.compile(r"_(?P<mode>clean|legacy_tensorflow|legacy_pytorch)_(?!clip)", re.IGNORECASE)


def torch_pickle(path: Path) -> str | None:
    """The ``data.pkl`` member of a ``torch.save`` zip at ``path``, or None for any other file (an
    ``.npz`` is a zip of ``.npy`` members and has none)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return None
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    return pickles[0] if len(pickles) == 1 and any(n.endswith("/version") for n in names) else None


def fidelity_entry(path: Path, member: str, features: str | None, fix: str) -> dict[str, Any]:
    """torch-fidelity's ``{'mu', 'sigma'}`` dict from the ``torch.save`` zip at ``path``; a file of
    another extractor than ``features`` (the run's, by the name torch-fidelity's cache gives it), a
    pickled tensor or anything but a dict is a one-line :class:`MetricInputError`."""
    from genbench.features.edm2_stats import _ArraysOnly

    where = f"reference statistics {path}"
    known = _fidelity_features(path)
    if known is not None and features is not None and known[1] != features:
        extractor, mine = known
        raise MetricInputError(
            f"{where} are torch-fidelity's statistics of its {extractor} features, which are "
            f"--features {mine}'s, not {features}'s; pass --features {mine}"
        )
    try:
        with zipfile.ZipFile(path) as z, z.open(member) as fh:
            # a pickled tensor names torch's rebuild function first: refused as any other callable
            data = _ArraysOnly(fh, where, fix).load()
    except MetricInputError:
        raise
    except Exception as e:
        raise MetricInputError(
            f"cannot read {where} (a torch.save file, not torch-fidelity's statistics: "
            f"{type(e).__name__}); {fix}"
        ) from None
    if not isinstance(data, dict):
        raise MetricInputError(
            f"{where} hold a saved {type(data).__name__}, not torch-fidelity's dict of mu and sigma; {fix}"
        )
    return data


def _fidelity_features(path: Path) -> tuple[str, str] | None:
    """(torch-fidelity's extractor, its genbench features) as the cache's file name gives them."""
    match = _FIDELITY_NAME.search(path.name)
    if match is None:
        return None
    extractor = match["extractor"].lower()
    for name, mine in FIDELITY_FEATURES.items():
        if extractor.endswith(name):  # the input's own name may hold hyphens too: match the end
            return name, mine
    return None


def cleanfid_mode_warning(path: Path, features: str) -> str | None:
    """A warning when ``path``'s name is clean-fid's for statistics of another mode than
    ``features`` computes (``cifar10_clean_train_32.npz`` under ``--features inception``); None
    otherwise, and for a name that says nothing of a mode."""
    if not path.name.lower().endswith(".npz"):
        return None
    match = _CLEANFID_NAME.search(path.name)
    if match is None:
        return None
    mode = match["mode"].lower()
    theirs = CLEANFID_FEATURES.get(mode)
    if theirs == features:
        return None
    needs = f"--features {theirs}" if theirs else "pytorch-fid's Inception, which genbench does not compute"
    return (
        f"reference statistics {path} are named as clean-fid's {mode!r} mode statistics, which are of "
        f"{needs}, not --features {features}; FID against them compares other features (it is computed "
        "all the same)"
    )
