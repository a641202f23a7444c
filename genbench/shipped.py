"""Trained checkpoints that ship with a model (:attr:`genbench.api.GenerativeModel.shipped_checkpoints`):
where one is found, and why none can be, said before any training.

A run whose cache lacks a checkpoint loads the shipped one of the same key instead of training
(:func:`genbench.training.train_or_load`); a folder that a pip install left out (setuptools installs
a package's data files only where listed) made every run train anew, in silence.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from genbench.api import GenerativeModel
from genbench.portable_names import kept_path

if TYPE_CHECKING:
    from genbench.weights_owner import Owner


def shipped_checkpoint(cls: type[GenerativeModel], subdir: Path) -> Path | None:
    """The model.pt of ``subdir`` that ships with ``cls``, or None; in a folder of the name genbench
    gave it before it spelled unportable names apart (``con/`` for ``_con/``) where the package has
    that one."""
    if cls.shipped_checkpoints is None:
        return None
    path = kept_path(Path(cls.shipped_checkpoints), subdir) / "model.pt"
    return path if path.is_file() else None


def missing_shipped_folder(name: str, cls: type[GenerativeModel]) -> str | None:
    """Why none of ``cls``'s shipped checkpoints can load: the folder it declares does not exist (a
    package installed without its data files, which setuptools leaves out unless listed); or None.

    Without it every run trained the model anew, in silence, where its author meant the shipped
    weights to be sampled."""
    if cls.shipped_checkpoints is None or not cls.trainable or Path(cls.shipped_checkpoints).is_dir():
        return None
    folder = Path(cls.shipped_checkpoints)
    fix = "list them as its package's data files"
    module = sys.modules.get(cls.__module__)
    # the package whose folder holds the module's file: the module itself when it is a package's
    # __init__.py, its parent otherwise; "" for a top-level module, which has no package data.
    # Split off the module's name, a class in pkg/__init__.py got no line, and one in
    # pkg/sub/__init__.py was told pkg's, which installed nothing
    package = getattr(module, "__package__", None) or ""
    module_file = getattr(module, "__file__", None)
    if package and module_file and folder.is_relative_to(Path(module_file).parent):
        inside = folder.relative_to(Path(module_file).parent).as_posix()  # package data is per package
        key = f'"{package}"' if "." in package else package  # unquoted, TOML reads a.b as a table
        fix = f'list them in its pyproject.toml: [tool.setuptools.package-data] {key} = ["{inside}/**/*.pt"]'
    return (
        f"model {name!r} declares shipped_checkpoints = {str(folder)!r}, a folder that does not exist, "
        f"so it trains where the cache has none; if its checkpoints ship with its package, {fix}"
    )


def missing_shipped_folders(
    models: list[tuple[str, type[GenerativeModel], list[dict[str, str]], Owner | None]],
) -> list[str]:
    """Why the planned models that train (a ``weights_from`` model's owner in its stead) can load none
    of the checkpoints they declare shipped, once per model."""
    trained = {(owner.name, owner.cls) if owner else (name, cls) for name, cls, _, owner in models}
    return [
        why for name, cls in sorted(trained, key=lambda t: t[0]) if (why := missing_shipped_folder(name, cls))
    ]
