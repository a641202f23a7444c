"""Errors the harness shows to users as one clear line (exit code 2, no traceback), and the
category of its warnings."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class GenbenchError(Exception):
    """A user-facing error: the message names the problem and the fix.

    The CLI prints ``error: <message>`` on one line and exits with ``exit_code``.
    """

    exit_code = 2


class UnknownNameError(GenbenchError):
    """A model, dataset, metric or feature extractor name that is not registered."""


class RegistrationError(GenbenchError):
    """A plugin registered an invalid name or object."""


class PluginLoadError(GenbenchError):
    """A plugin's module failed to import; other plugins are unaffected."""


class DataError(GenbenchError):
    """A dataset file is missing, corrupt or has the wrong format."""


class UnsupportedDataError(GenbenchError):
    """A model cannot handle a dataset's shape or kind."""


class PluginOutputError(GenbenchError):
    """A plugin returned a batch with the wrong shape, dtype, range or non-finite values."""


class StateContentError(PluginOutputError):
    """A model's state holds an object that genbench does not load from a checkpoint (it loads them
    with torch's ``weights_only`` unpickler, which builds no arbitrary object): raised at its save,
    as a plugin's bug, since the file written would not load back on the next run."""

    def __init__(self, refused: str, holder: str = "the state", who: str = ""):
        #: what was refused, in words (``a mod.Config object``)
        self.refused = refused
        super().__init__(
            f"{who}{holder} holds {refused}, which genbench does not load from a checkpoint "
            f"(unpickling it could run code); make {holder} hold only tensors, numbers, strings, "
            "lists, tuples and dicts"
        )


class CheckpointError(GenbenchError):
    """A checkpoint is missing, corrupt or was written by another config."""


class MetricInputError(GenbenchError):
    """A metric's inputs are invalid (too few samples, NaN features, missing keys)."""


class GenbenchWarning(UserWarning):
    """What genbench's console says on a ``warning:`` line (a set field a command ignores, a
    metric's caveat, a plugin that changed torch's settings). The console writes to a notebook's
    cell whatever ``sys.stderr`` is, so a Python caller silences these as it silences any warning:
    ``warnings.filterwarnings("ignore", category=genbench.GenbenchWarning)``, or with a
    ``message=`` pattern for some (:func:`warning_ignored`)."""


def warning_ignored(text: str) -> bool:
    """Whether Python's warning filters (``warnings.filterwarnings``, ``simplefilter``, ``-W``)
    ignore ``text`` as a :class:`GenbenchWarning` of module ``genbench``: the warning is raised
    into a record with the caller's filters, so they match it as they match any (the first that
    matches decides). Only "ignore" silences: the console says a warning once per command whatever
    the action, and "error" does not stop the command."""
    with warnings.catch_warnings(record=True) as shown:  # the caller's filters, kept as they are
        try:
            # a registry of its own: "default" and "module" show it, however often it was said
            warnings.warn_explicit(text, GenbenchWarning, "genbench", 0, module="genbench", registry={})
        except GenbenchWarning:  # an "error" filter
            return False
    return not shown


class Diverged(Exception):
    """Raised by a model's ``fit`` when its training loss becomes NaN or inf.

    Not a user error: the runner records the model as ``diverged at step N`` and goes on.
    """

    def __init__(self, step: int, loss: float | None = None, why: str | None = None):
        self.step = step
        self.loss = loss
        detail = f"loss={loss}" if loss is not None else why  # why: what else showed it (NaN weights)
        super().__init__(f"diverged at step {step}" + (f" ({detail})" if detail else ""))


#: (torch's words, the fix) for plugin exceptions whose cause is known
_FIXES = (
    # a tensor made on one device from a generator on another: the run's generator lives on the
    # run's device (CUDA on a GPU machine), and torch.randn(n, generator=generator) works on the CPU only
    (
        re.compile(r"Expected a '\w+' device type for generator but found '\w+'"),
        "draw the noise on the generator's device (the run's): "
        "torch.randn(..., generator=generator, device=generator.device)",
    ),
    # an op with no deterministic CUDA kernel, under --deterministic (genbench.determinism)
    (
        re.compile(r"does not have a deterministic implementation|makes the algorithm non-deterministic"),
        "pass --no-deterministic (RunConfig(deterministic=False)) to train with torch's "
        "non-deterministic CUDA kernels: retraining then gives other weights",
    ),
    # the process's first cuBLAS product came before `import genbench` set CUBLAS_WORKSPACE_CONFIG
    (
        re.compile(r"CUBLAS_WORKSPACE_CONFIG"),
        "set CUBLAS_WORKSPACE_CONFIG=:4096:8 before the process's first CUDA matrix product "
        "(import genbench first), or pass --no-deterministic",
    ),
)


def said(error: BaseException) -> str:
    """``str(error)``, or a stand-in when the exception's own ``__str__`` raises (a plugin's exception
    class that reads an attribute its ``__init__`` never set): formatting it inside the handler that
    records a plugin's failure raised there, and the whole run stopped on a traceback."""
    try:
        return str(error)
    except Exception as e:
        return f"(its message cannot be shown: {type(error).__name__}.__str__ raised {type(e).__name__})"


def plugin_fix(error: BaseException) -> str:
    """The fix for a plugin's exception whose cause is known, as "; <fix>", else ""."""
    text = said(error)
    return next((f"; {fix}" for words, fix in _FIXES if words.search(text)), "")


def attempt(call: Callable[[], T]) -> T | BaseException:
    """``call()``'s value, or what a plugin's own bug raised in it (sys.exit and a plugin's own
    BaseException too); a GenbenchError (the user's input) and Ctrl-C are raised."""
    try:
        return call()
    except (GenbenchError, KeyboardInterrupt):
        raise
    except BaseException as e:
        return e
