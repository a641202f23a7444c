"""Plugins defined in a script or a notebook: the digest of their code, which keys a model's
checkpoint, and a feature extractor's fingerprint (so its cached reference features), as an included
file's content does (:mod:`genbench.includes`).

A class decorated with ``@genbench.register_model`` in the script that calls ``genbench.run`` (its
module ``__main__``), or in a notebook cell, is code a researcher edits between runs without bumping
``version``: its checkpoint key had the name, ``version``, config and seed only, so a run after an
edit to ``fit`` loaded the checkpoint of the code before, silently. Which code counts:

- a class of ``__main__`` whose functions were compiled from ``__main__.__file__`` (``python
  nb.py``, IPython's ``%run nb.py``): that file's content, hashed as ``--include`` hashes a file
  (:attr:`ScriptCode.file` is the file);
- a class of ``__main__`` without a file (a notebook cell, the REPL, ``python -c``), or of another
  module whose code lives in :mod:`linecache` only (no file on disk: a cell compiled into a module of
  its own): the class's source, and that of its bases defined the same way (a cell of a base class
  and its subclass's cell run again: the subclass's text is unchanged, its base's code is not);
  :attr:`ScriptCode.file` is None;
- nothing else: a module with a file on disk (an installed plugin, genbench's own models, a test
  module, a module beside the notebook that it imports) keeps its key, ``version`` saying when its
  checkpoints are stale; ``--include`` (``RunConfig.include``) hashes such a file where it is the
  code being edited. Modules the script or cell imports, and functions of other cells that ``fit``
  calls, are not hashed either.

The digest is taken once per class object, when it registers (the script is read as soon after it
started as genbench sees the class: a later edit to the file, while the run trains, is not what
ran), and kept while the class lives: a script run again in one process (``%run``) or a cell run
again defines a new class, read anew.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import os
import sys
import types
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ScriptCode:
    """What was hashed of a class defined in a script or a notebook."""

    file: Path | None  # the script (or included file), hashed whole; None where the class's source was
    sha256: str


#: class -> its code's digest (None: not a script's or a notebook's), taken once per class object
_known: weakref.WeakKeyDictionary[type, ScriptCode | None] = weakref.WeakKeyDictionary()


def script_code(cls: type) -> ScriptCode | None:
    """The digest of ``cls``'s code where it is defined in a script or a notebook (see the module's
    docstring), else None: its checkpoint key and its result's record are what they were."""
    if cls not in _known:
        _known[cls] = _digest(cls)
    return _known[cls]


def edited_code(cls: type) -> ScriptCode | None:
    """The code whose edits make ``cls``'s checkpoints stale and its seeds another row: the file
    ``--include`` imported it from, else its script's or notebook cell's (:func:`script_code`); None
    for any other class, whose ``version`` says so. What the checkpoint key hashes and the result
    records, from one place."""
    from genbench.includes import included_file

    included = included_file(getattr(cls, "__module__", "") or "")
    if included is not None:
        return ScriptCode(file=included.path, sha256=included.sha256)
    return script_code(cls) if isinstance(cls, type) else None


def _digest(cls: type) -> ScriptCode | None:
    from genbench.io import file_sha256  # the digest --include records of a file's bytes

    module = cls.__module__
    kind = _kind(cls, module)
    if kind is None:
        return None
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if kind == "script" and isinstance(main_file, str):  # a file: _kind said "script" for no other
        path = Path(main_file).resolve()
        try:
            return ScriptCode(file=path, sha256=file_sha256(path))
        except OSError:  # unreadable: hashed by its class's text, as a cell's
            pass
    blob = hashlib.sha256()
    for c in cls.__mro__:
        if c.__module__ == module and _kind(c, module) is not None:
            blob.update(f"{c.__qualname__}\n".encode())
            blob.update(class_text(c))
    return ScriptCode(file=None, sha256=blob.hexdigest())


def _kind(cls: type, module: str) -> str | None:
    """How ``cls`` is keyed: by ``__main__``'s file ("script"), by its source ("class"), or as before
    (None)."""
    code_file = _defined_in(cls)
    if module == "__main__":
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if isinstance(main_file, str) and os.path.isfile(main_file):
            # `python -i nb.py` then a class typed at the prompt: its code is no line of the file
            if code_file is None or _same_file(code_file, main_file):
                return "script"
        return "class"
    file = getattr(sys.modules.get(module), "__file__", None)
    if isinstance(file, str) and os.path.isfile(file):
        return None
    # a module of no file on disk: a cell's, only where its code's lines are in linecache (a class
    # made by exec or type() inside an installed package keeps its key: no sign it is being edited)
    if code_file is None or os.path.isfile(code_file) or not linecache.getlines(code_file):
        return None
    return "class"


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _functions(cls: type) -> list[types.FunctionType]:
    """The functions of ``cls``'s body (methods, static and class methods, properties' accessors)."""
    found = []
    for value in vars(cls).values():
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        for f in (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,):
            if isinstance(f, types.FunctionType):
                found.append(f)
    return found


def _code_file(cls: type) -> str | None:
    """The file ``cls``'s functions were compiled from (a path, or a name as ``<ipython-input-3>``)."""
    for f in _functions(cls):
        if f.__qualname__.startswith(f"{cls.__qualname__}."):  # not a function assigned from elsewhere
            return f.__code__.co_filename
    return None


def _defined_in(cls: type) -> str | None:
    """:func:`_code_file` of ``cls``, or of its first base of its module that has functions (``class
    Wider(Mean): width = 2`` has none of its own)."""
    for c in cls.__mro__:
        if c.__module__ == cls.__module__ and (found := _code_file(c)) is not None:
            return found
    return None


def class_text(cls: type) -> bytes:
    """``cls``'s source: its ``class`` statement's lines in :mod:`linecache`, found through the file
    its functions were compiled from (IPython puts each cell's lines there, under the cell's name);
    else :func:`inspect.getsource`, where it reads that file too (it looks a class up in its module's
    ``__file__``: on Python 3.11 it raises for a class of ``__main__`` without one, and reads the
    script for a class typed at ``python -i script.py``'s prompt); else the code of its functions, for
    a class whose lines are nowhere (``exec`` of a string, ``python -c``)."""
    lines = _cached_lines(cls)
    if lines is not None:
        return lines.encode()
    try:
        if _code_file(cls) in (None, inspect.getfile(cls)):
            return inspect.getsource(cls).encode()
    except (OSError, TypeError):
        pass
    return _code_text(cls).encode()


def _cached_lines(cls: type) -> str | None:
    """The lines of ``cls``'s ``class`` statement (with its decorators) in its functions' file as
    :mod:`linecache` has it, or None."""
    code_file = _code_file(cls)
    if code_file is None:
        return None
    lines = linecache.getlines(code_file)
    first = min(f.__code__.co_firstlineno for f in _functions(cls) if f.__code__.co_filename == code_file)
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ClassDef)
            and node.name == cls.__name__
            and node.lineno <= first <= (node.end_lineno or node.lineno)
        ):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            return "".join(lines[start - 1 : node.end_lineno])
    return None


def _code_text(cls: type) -> str:
    """The functions of ``cls``'s body as text: each one's bytecode, constants, names and defaults,
    and the class's plain attributes (``version = 2``, ``SHIFT = 5.0``). Line numbers and the file's
    name are left out (a cell run again gets another name), so a function moved down a line keeps
    its text; it over-triggers on a change of Python (other bytecode for the same source) and on a
    default whose repr names a memory address, and misses what is not of the class's body (a helper
    function ``fit`` calls, an attribute that is an object)."""
    parts = []
    for name, value in sorted(vars(cls).items()):
        # not `__firstlineno__` (Python 3.13's line number), `__module__` and the rest of their kind
        if not name.startswith("__") and isinstance(value, int | float | str | bytes | bool | type(None)):
            parts.append(f"{name}={value!r}")
    for f in sorted(_functions(cls), key=lambda f: f.__qualname__):
        parts.append(f"{f.__qualname__}{f.__defaults__!r}{f.__kwdefaults__!r}:{_code_repr(f.__code__)}")
    return "\n".join(parts)


def _code_repr(code: types.CodeType) -> str:
    # marshal.dumps would mark objects by their reference counts, which differ between processes
    consts = [_code_repr(c) if isinstance(c, types.CodeType) else _const_repr(c) for c in code.co_consts]
    fields = (code.co_code.hex(), consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    return repr((code.co_name, code.co_argcount, code.co_kwonlyargcount, code.co_flags, *fields))


def _const_repr(value: Any) -> str:
    if isinstance(value, frozenset):  # `x in {"a", "b"}`: its order changes with the hash seed
        return f"frozenset({sorted(map(_const_repr, value))})"
    if isinstance(value, tuple):
        return f"({', '.join(map(_const_repr, value))},)"
    return repr(value)
