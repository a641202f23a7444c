"""A feature network's weights file, fetched as the datasets are (:func:`genbench.data.download.ensure_file`).

Into the folder its library reads it from (so a cache that library filled keeps working), resumed
after a cut-off from its ``.part``, downloaded once by the runs sharing that folder (the others wait
for it), and checked against its digest before it takes its name. torch.hub's own download (what
torch-fidelity calls) does none of these: a cluster array's jobs starting together each downloaded
the 91 MB file, and a download cut off started over. Every failure is one line naming the
extractor's fix (its ``--inception-weights PATH`` or variable).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from genbench.data.download import DownloadFailed, ensure_file
from genbench.errors import DataError, GenbenchError


def fetch_weights(
    url: str,
    directory: Path,
    expected: str | None,
    offline: Callable[[str], str],
    instead: str,
    writable: str,
) -> Path:
    """The weights file ``url`` names, in ``directory``, verified against ``expected`` (an md5 or
    ``"sha256:<prefix>"``, :mod:`genbench.data.digest`; None: none known) and downloaded if missing.

    Errors (:class:`GenbenchError`, one line): ``offline(reason)`` when no download worked; a present
    file that fails its check says to delete it or ``instead`` (pass a local file); a folder that
    cannot be written names ``writable``.
    """
    name = url.rsplit("/", 1)[-1]
    dest = directory / name
    if not dest.exists():
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GenbenchError(f"cannot create {directory} ({e.strerror or e}); {writable}") from None
    try:
        return ensure_file(dest, expected, [url[: -len(name)]], fix=writable)
    except DownloadFailed as e:
        raise GenbenchError(offline(e.reason)) from None
    except DataError as e:  # present, but not the file (corrupt, another version) or unreadable
        raise GenbenchError(f"{e}, or {instead}") from None


def missing(path: Path) -> str:
    """What is wrong with a weights path given that is no file: "not found", or, for a folder (the
    hub cache's ``checkpoints/`` given instead of the file in it), that it is one."""
    return "is a folder, not a file" if path.is_dir() else "not found"


def hub_checkpoints_dir() -> Path:
    """torch.hub's checkpoints folder (``$TORCH_HOME/hub/checkpoints``), where
    ``torch.hub.load_state_dict_from_url`` puts a file: what :func:`hub_checkpoint` fetches into, and
    what `genbench list features NAME` names (``FeatureExtractor.weights_folders``)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def hub_checkpoint(url: str, expected: str | None, offline: Callable[[str], str], instead: str) -> Path:
    """:func:`fetch_weights` into torch.hub's checkpoints folder (``$TORCH_HOME/hub/checkpoints``):
    the place and name ``torch.hub.load_state_dict_from_url`` uses, so either finds the other's file."""
    return fetch_weights(
        url,
        hub_checkpoints_dir(),
        expected,
        offline,
        instead,
        writable=f"set $TORCH_HOME to a writable folder, or {instead}",
    )


def given_weights(weights: Path | None, env: str) -> Path | None:
    """The local weights file given to an extractor: its ``weights`` argument (the flag), else the
    environment variable ``env``; None when neither is set."""
    if weights is not None:
        return weights
    value = os.environ.get(env)
    return Path(value).expanduser() if value else None
