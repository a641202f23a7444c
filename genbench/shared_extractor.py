"""What one metric cannot change for the next: the feature extractor's networks.

Every metric is handed the run's feature extractor (memorization extracts the test split with it),
and with it the networks it holds: a metric plugin's ``.train()`` (BatchNorm then normalises each
batch by its own statistics, and updates its running ones at every extraction), forward hook,
``.double()``, ``.to(...)``, swapped layer or in-place write into a weight changed the features of
every later metric and model, all recorded "ok" (or failed them: a ``.double()`` network refuses
float inputs). A copy of the networks for each metric would cost a copy of Inception's 91 MiB of
weights each; instead each network's state is fingerprinted (:func:`fingerprint`, 0.8 ms for
Inception-v3's 298 modules and 660 tensors) after each metric, and a metric that changed it (its
``requires_grad`` too) fails alone while the networks are put back as they were before the first
metric (:meth:`SharedExtractor.restore`).

What the fingerprint cannot see: a write through ``weight.data`` or ``weight.numpy()`` (they do
not bump the tensor's ``_version``); a buffer a kernel updates in place without bumping it
(BatchNorm's running statistics: seen through its mode, and through ``num_batches_tracked``, a
Python ``add_``, once it is back in eval mode); and networks held other than as an ``nn.Module``
attribute of the extractor (inside a list or another object), or in torch's global module hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from genbench.features.base import FeatureExtractor

#: every hook dict an ``nn.Module`` keeps (forward, pre-forward, backward, state dict...), in the
#: names of this torch release
HOOK_DICTS = tuple(k for k, v in vars(nn.Module()).items() if "hooks" in k and isinstance(v, dict))


#: what :func:`fingerprint` calls a change of the networks' modules and tensors themselves
STRUCTURE = "modules, parameters or buffers"


def networks(extractor: FeatureExtractor) -> dict[str, nn.Module]:
    """The ``nn.Module`` attributes of ``extractor`` (Inception's ``_model``, a plugin's ``net``),
    by attribute name. One built lazily later (``_model`` is None until the first extraction) is
    not among them: building it is no change to what was extracted with."""
    return {k: v for k, v in vars(extractor).items() if isinstance(v, nn.Module)}


def _tensors(module: nn.Module) -> list[tuple[str, torch.Tensor | None]]:
    """``module``'s own parameters and buffers (not its children's), by name."""
    return [*module._parameters.items(), *module._buffers.items()]


def fingerprint(extractor: FeatureExtractor, attrs: dict[str, nn.Module]) -> dict[str, tuple[Any, ...]]:
    """What extracting with ``attrs`` (the networks :func:`networks` found) depends on, by what a
    change of it is called: the modules and tensors themselves, each module's train/eval mode and
    hooks, and each tensor's storage, dtype, device, shape, requires_grad and in-place write counter
    (``_version``). Cheap: no value is read."""
    structure: list[Any] = []
    modes: list[bool] = []
    hooks: list[Any] = []
    storage: list[Any] = []
    grads: list[bool] = []
    writes: list[int] = []
    for attr, root in attrs.items():
        structure.append((attr, id(getattr(extractor, attr, None))))
        for name, m in root.named_modules():
            structure.append((name, id(m)))
            modes.append(m.training)
            hooks.append(tuple(tuple(getattr(m, k, None) or ()) for k in HOOK_DICTS))
            for key, t in _tensors(m):
                structure.append((key, id(t)))
                if t is not None:
                    storage.append((t.data_ptr(), t.dtype, t.device, tuple(t.shape)))
                    grads.append(t.requires_grad)
                    writes.append(t._version)
    return {
        STRUCTURE: tuple(structure),
        "train/eval mode": tuple(modes),
        "hooks": tuple(hooks),
        "dtype, device or storage": tuple(storage),
        "requires_grad": tuple(grads),
        "weights written in place": tuple(writes),
    }


def _held(d: Any, key: str) -> Any:
    """``d.get(key)`` for a module's dicts, TorchScript's too (which have no ``get`` and cannot be
    iterated but through ``keys()``)."""
    return d[key] if key in d else None


@dataclass
class _KeptTensor:
    """One parameter or buffer as it was: the object, a CPU copy of its values, its device and its
    requires_grad."""

    tensor: torch.Tensor
    values: torch.Tensor
    device: torch.device
    requires_grad: bool

    @classmethod
    def of(cls, t: torch.Tensor | None) -> _KeptTensor | None:
        if t is None:
            return None
        return cls(t, t.detach().to("cpu", copy=True), t.device, t.requires_grad)

    def restored(self) -> torch.Tensor:
        """The object, its values, dtype, device and requires_grad put back: into the very object, so
        that another holder of the network (the classifier's per-process cache, which the mode labels
        read too) sees them as they were."""
        t = self.tensor
        t.data = self.values.to(self.device, copy=True)
        t.requires_grad_(self.requires_grad)
        return t


@dataclass
class _KeptModule:
    """One module's state as it was: what :meth:`SharedExtractor.restore` puts back."""

    module: nn.Module
    training: bool
    hooks: dict[str, dict[Any, Any]]
    children: dict[str, nn.Module | None]
    params: dict[str, _KeptTensor | None]
    buffers: dict[str, _KeptTensor | None]

    @classmethod
    def of(cls, m: nn.Module) -> _KeptModule:
        hooks = {k: dict(d) for k in HOOK_DICTS if isinstance(d := getattr(m, k, None), dict)}
        params = {k: _KeptTensor.of(t) for k, t in m._parameters.items()}
        buffers = {k: _KeptTensor.of(t) for k, t in m._buffers.items()}
        return cls(m, m.training, hooks, dict(m._modules), params, buffers)

    def restore(self) -> None:
        m = self.module
        m.training = self.training  # this module's alone: .train() would set its children's
        for k, kept in self.hooks.items():
            d = getattr(m, k)
            d.clear()
            d.update(kept)
        for name in [n for n in m._modules.keys() if n not in self.children]:  # noqa: SIM118 (TorchScript)
            del m._modules[name]
        for name, child in self.children.items():
            if _held(m._modules, name) is not child:
                m._modules[name] = child
        tables: list[tuple[dict[str, Any], dict[str, _KeptTensor | None]]] = [
            (m._parameters, self.params),
            (m._buffers, self.buffers),
        ]
        for where, kept_tensors in tables:
            for key in [k for k in where.keys() if k not in kept_tensors]:  # noqa: SIM118
                del where[key]
            for key, kept_tensor in kept_tensors.items():
                if kept_tensor is None:
                    where[key] = None
                    continue
                t = kept_tensor.restored()
                if _held(where, key) is not t:
                    where[key] = t


class SharedExtractor:
    """The networks of the extractor every metric of one (model, seed) is handed, as they were
    before the first metric: their fingerprint, and their state to put back (a CPU copy of every
    weight: 91 MiB for Inception-v3, taken in 25 ms on a 2-core CPU)."""

    def __init__(self, extractor: FeatureExtractor):
        self.extractor = extractor
        self._attrs = networks(extractor)
        self._kept = [_KeptModule.of(m) for root in self._attrs.values() for m in root.modules()]
        self._fingerprint = fingerprint(extractor, self._attrs)

    def changed(self) -> list[str]:
        """What of the networks differs from the state kept ("train/eval mode", "hooks"...)."""
        now = fingerprint(self.extractor, self._attrs)
        changed = [what for what, before in self._fingerprint.items() if now[what] != before]
        # the others are listed module by module, tensor by tensor: once those differ, they all do
        return [STRUCTURE] if STRUCTURE in changed else changed

    def restore(self) -> None:
        """Put the networks back as they were kept: the extractor's attributes, then each module's
        mode, hooks, children, and each tensor's values, dtype, device and requires_grad."""
        for attr, root in self._attrs.items():
            setattr(self.extractor, attr, root)
        for kept in self._kept:
            kept.restore()
        self._fingerprint = fingerprint(self.extractor, self._attrs)
