"""Folder names that mean the same on every machine's file system.

A result's folder is named after its row's label (:func:`genbench.results.safe_name`), which keeps
letters, digits and ``_.=-``. Linux creates any such name, but Windows does not: a name that is one
of its device names (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM0``..``COM9``, ``LPT0``..``LPT9``, in
any case, alone or before an extension: ``nul.txt``) opens the device, and a trailing dot is dropped
(``a.`` is the folder ``a``, another row's). ``.`` and ``..`` are no folder of their own anywhere,
and an empty name is the folder above. :func:`portable` spells each of these apart. Checkpoints'
folders (``<cache>/checkpoints/<dataset>/<model>/``: :func:`genbench.training.checkpoint_subdir`)
are spelled so too, a plugin's model or dataset being free to be named ``con`` or ``aux``; a folder
genbench made before under the old name is still found where it is (:func:`kept_path`).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Windows's device names, which no file or folder can take, with or without an extension
#: (Microsoft's "Naming Files, Paths, and Namespaces" lists the 0s too; Python's
#: ``ntpath.isreserved`` leaves them out): compared upper-case with the part before the first '.'
WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{port}{i}" for port in ("COM", "LPT") for i in range(10)}
)

#: names that are no folder of their own on any file system
NOT_FOLDERS = ("", ".", "..")


def unportable(name: str) -> str | None:
    """Why the folder name ``name`` does not name one folder of its own on every file system (a
    phrase: "a Windows device name"), or None when it does."""
    if name in NOT_FOLDERS:
        return "no folder of its own"
    if _device(name):
        return "a Windows device name"
    if name.endswith((".", " ")):
        return "a name Windows drops its last character of"
    return None


def portable(name: str) -> str:
    """``name``, a :func:`genbench.results.safe_name` spelling (never starting or ending with '_'),
    as a folder name every file system holds as itself: a name :func:`unportable` refuses gets a '_'
    before it when it is no folder or a device name (``_con``, ``_nul.txt``), and one after it when
    it ends in a dot (``a._``; ``..`` both: ``_.._``). No other name starts or ends with '_', so
    distinct names stay distinct."""
    if name in NOT_FOLDERS or _device(name):
        name = f"_{name}"
    if name.endswith("."):
        name = f"{name}_"
    return name


def spelled_from(folder: str) -> str:
    """The name :func:`portable` spells as ``folder`` (``con`` for ``_con``, ``a.`` for ``a._``,
    ``..`` for ``_.._``), or ``folder`` itself, which is its own spelling for any other."""
    name = folder
    if name.endswith("._"):
        name = name[:-1]
    if name.startswith("_") and (name[1:] in NOT_FOLDERS or _device(name[1:])):
        name = name[1:]
    return name if portable(name) == folder else folder


def exactly_there(parent: Path, name: str, *, file: bool = False) -> bool:
    """Whether ``parent`` holds a folder (a file, with ``file``) of exactly the name ``name``: not
    one a case-insensitive file system or Windows takes it for (``Con``, ``a`` for ``a.``), and
    never ``''``, ``.`` or ``..`` (``parent`` itself, or the folder above)."""
    path = parent / name
    if name in NOT_FOLDERS or not (path.is_file() if file else path.is_dir()):
        return False
    try:
        return name in os.listdir(parent)
    except OSError:
        return False


def kept_path(root: Path, subdir: Path) -> Path:
    """``root / subdir``, ``subdir`` a path of :func:`portable` names, where each folder whose name
    was spelled apart is the one genbench made before it spelled it so (``con/`` for ``_con/``) when
    a folder of exactly that old name is there: what Linux made then is still found and used (a
    plugin model ``con``'s checkpoints, not trained again)."""
    folder = Path(root)
    for part in Path(subdir).parts:
        old = spelled_from(part)
        folder = folder / (old if old != part and exactly_there(folder, old) else part)
    return folder


def _device(name: str) -> bool:
    """Whether Windows opens a device for the file name ``name`` (``nul``, ``Con.txt``, ``aux .x``)."""
    return name.partition(".")[0].rstrip(" ").upper() in WINDOWS_DEVICES
