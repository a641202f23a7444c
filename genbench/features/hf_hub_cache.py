"""A model file already in the Hugging Face hub cache, where transformers (``from_pretrained``) and
``huggingface_hub`` put what they download, so a feature network's checkpoint a user already has is
not downloaded again into genbench's cache.

Found without the ``huggingface_hub`` package (genbench does not depend on it), by its documented
layout and variables: the cache is ``$HF_HUB_CACHE`` (its older name ``$HUGGINGFACE_HUB_CACHE``), else
``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``; a
model ``owner/name`` lives in ``models--owner--name/``, each downloaded revision in
``snapshots/<commit>/`` (links to ``blobs/``, made once a download completes) and ``refs/main`` names
the commit of the revision last fetched as ``main``.
"""

from __future__ import annotations

import os
from pathlib import Path


def hub_cache_dir() -> Path:
    """The hub cache folder, as ``huggingface_hub.constants.HF_HUB_CACHE`` resolves it."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache).expanduser() / "huggingface" / "hub"


def hub_cached_file(repo: str, filenames: tuple[str, ...]) -> Path | None:
    """The first of ``filenames`` (in that order) in the cached snapshot of model ``repo``
    (``"owner/name"``): the one ``refs/main`` names first, then the others, newest first. None when
    no snapshot holds one (a broken link, an interrupted download's, counts as none)."""
    model = hub_cache_dir() / f"models--{repo.replace('/', '--')}"
    snapshots = model / "snapshots"
    try:
        revisions = sorted(
            (p for p in snapshots.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
        )
    except OSError:  # no such model cached, or a folder that cannot be read: as good as none
        return None
    try:
        main = (model / "refs" / "main").read_text().strip()
    except OSError:
        main = ""
    revisions.sort(key=lambda p: p.name != main)  # stable: main first, the rest newest first
    for revision in revisions:
        for name in filenames:
            path = revision / name
            if path.is_file():  # follows the link: a dangling one is no file
                return path
    return None
