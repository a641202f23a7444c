"""A feature network's checkpoint file, found and loaded into the network genbench writes for it
(``dinov2``'s ViT, ``clip``'s image tower): the file given, else the cached or downloaded one, and a
strict load whose every failure is one line naming the file, what differs and the fix. The
extractors keep what is their own: where the file comes from, how it is read (``torch.load``, or
safetensors for CLIP) and the words of their errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import torch

from genbench.errors import GenbenchError
from genbench.features.fetch_weights import missing

M = TypeVar("M", bound=torch.nn.Module)


def given_or_fetched(given: Path | None, fetch: Callable[[], Path], what: str, instead: str) -> Path:
    """The weights file: ``given`` (the flag's or the environment's, which must be a file), else
    ``fetch()``'s (the cached or downloaded one). ``what`` names the weights in the error ("DINOv2")."""
    if given is None:
        return fetch()
    if not given.is_file():
        raise GenbenchError(f"{what} weights {given} {missing(given)}; {instead}")
    return given


def load_strict(
    model: M,
    path: Path,
    read: Callable[[Path], object],
    *,
    what: str,
    network: str,
    instead: str,
    given: bool,
) -> M:
    """``model`` with the state ``read(path)`` returns loaded with ``strict=True``, in eval mode and
    without gradients. A file that cannot be read, is no state dict or is another network's
    (``network`` names the expected one) is one :class:`GenbenchError`; its fix is ``instead`` for a
    file the user gave (``given``), else deleting the cached file first. ``read`` raises
    :class:`UnreadableWeights` for a malformed file of a format of its own (CLIP's safetensors)."""
    fix = instead if given else f"delete it to download it again, or {instead}"
    try:
        state = read(path)
    except OSError as e:
        raise GenbenchError(f"cannot read {what} weights {path} ({e.strerror or e}); {instead}") from None
    except UnreadableWeights as e:
        raise GenbenchError(f"{path} {e}; {fix}") from None
    except Exception as e:
        raise GenbenchError(f"{path} is not a PyTorch state dict ({type(e).__name__}); {fix}") from None
    # torch's own error says nothing on its first line ("Error(s) in loading state_dict for
    # VisionTransformer:") and lists every key after it: what differs is said here instead
    mismatch = state_dict_mismatch(state, model)
    if mismatch is not None:
        raise GenbenchError(f"{path} is not {network} weights ({mismatch}); {fix}")
    try:
        model.load_state_dict(cast(dict[str, Any], state), strict=True)  # a dict: a mismatch otherwise
    except Exception as e:
        raise GenbenchError(
            f"{path} is not {network} weights ({type(e).__name__}: {str(e).splitlines()[0][:200]}); {fix}"
        ) from None
    return model.eval().requires_grad_(False)


class UnreadableWeights(ValueError):
    """Raised by a ``read`` of :func:`load_strict` for a file of its format that is malformed; its
    text completes "PATH ..." ("is not a readable safetensors file (why)")."""


def state_dict_mismatch(state: object, model: torch.nn.Module, shown: int = 3) -> str | None:
    """Why ``state`` does not load into ``model`` with ``strict=True``, in a few words (the first
    ``shown`` keys of each kind: missing, unexpected, of another shape), or None where it does. A
    with-registers checkpoint (``dinov2_vitl14_reg4``) has ``register_tokens`` unexpected, timm's
    conversion lacks ``mask_token``, a training checkpoint nests its weights under ``teacher`` or
    ``model``, another size has every shape wrong: each is named by what differs."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a state dict"
    expected = model.state_dict()

    def some(what: str, keys: list[str]) -> str:
        more = f", and {len(keys) - shown} more" if len(keys) > shown else ""
        return f"{len(keys)} {what}: " + ", ".join(keys[:shown]) + more

    def shape(value: object) -> str:
        return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__

    absent = [k for k in expected if k not in state]
    unexpected = [str(k) for k in state if k not in expected]
    wrong = [
        f"{k} {shape(state[k])} (not {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and not (isinstance(state[k], torch.Tensor) and state[k].shape == v.shape)
    ]
    parts = [
        some("missing", absent) if absent else "",
        some("unexpected", unexpected) if unexpected else "",
        some("of another shape", wrong) if wrong else "",
    ]
    return "; ".join(p for p in parts if p) or None
