"""Spatial Inception features for sFID (Nash et al. 2021, "Generating Images with Sparse
Representations"), as ADM's evaluator computes them (Dhariwal & Nichol 2021, openai/guided-diffusion
``evaluations/evaluator.py``).

ADM's evaluator takes the TF Inception graph's tensor ``mixed_6/conv:0`` beside ``pool_3:0`` from one
pass of the same images (resized to 299 inside the graph), keeps its first 7 channels
(``spatial[..., :7]``: N x 17 x 17 x 7 at 299 x 299) and flattens them to 2023 numbers per image; sFID
is the Fréchet distance of Gaussians fitted to those. Here the network is torch-fidelity's port of
that graph, the one the ``inception`` features run, with the same weights and preprocessing.

The tap: the graph's blocks ``mixed``, ``mixed_1`` ... ``mixed_10`` are torch-fidelity's ``Mixed_5b``,
``5c``, ``5d``, ``6a``, ``6b``, ``6c``, ``6d``, ``6e``, ``7a``, ``7b``, ``7c``, so ``mixed_6`` is
``Mixed_6d``, an InceptionC block whose ``conv`` (the branch without a tower) is ``branch1x1``: a
1 x 1 convolution, batch norm and ReLU to 192 channels on the 17 x 17 grid. Its output is
transposed to TF's N x H x W x C before flattening, so the features are in the order of ADM's and
the statistics in its reference batches (``mu_s``, ``sigma_s``) apply to them as they are: the
Fréchet distance is invariant under one permutation of the coordinates of both sets, but not under
one applied to a single set. The logits are Inception's (``logits_unbiased``), so IS is the same
under these features as under ``inception``.

What was checked here, and what was not: the machines genbench is tested on have neither
TensorFlow nor the real weights (offline). The tests check, on random weights in torch-fidelity's
layout, that the features are ``Mixed_6d.branch1x1``'s output channels [:7] in N x H x W x C order,
2023 wide at any input size, and that sFID is FID on them. That ``mixed_6/conv`` is the output of
``Mixed_6d.branch1x1`` (after its ReLU) and that torch-fidelity's converted weights keep the graph's
channel order follow from the two networks' structure and names (the order of blocks, the 17 x 17 x
192 shape); they were not compared with TensorFlow's numbers, so sFID here is ADM's definition on
torch-fidelity's port, equal to ADM's published values only as far as that port reproduces the graph
(as for FID).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from genbench.features.inception import Inception, to_uint8
from genbench.registry import register_features

#: the torch-fidelity module whose output is the TF graph's ``mixed_6/conv:0``
TAP = "Mixed_6d.branch1x1"
#: the tensor's name in the TF graph ADM's evaluator reads (guided-diffusion's FID_SPATIAL_NAME)
TF_TAP = "mixed_6/conv:0"
#: the channels ADM keeps (``spatial[..., :7]``) and the grid at 299 x 299: 7 x 17 x 17 = 2023
CHANNELS = 7
GRID = 17
DIM = CHANNELS * GRID * GRID


def spatial_of(output: torch.Tensor) -> torch.Tensor:
    """The tap's output (N x C x H x W) as ADM's features: channels [:7] in TF's N x H x W x C order,
    flattened as ADM's reshape does (a copy: the block's later in-place ReLUs never reach it)."""
    return output[:, :CHANNELS].permute(0, 2, 3, 1).reshape(len(output), -1)


@contextmanager
def tapping(model: torch.nn.Module, keep: Callable[[torch.Tensor], object]) -> Iterator[None]:
    """``keep(spatial_of(tap output))`` for each forward pass of ``model`` inside the block. Registered
    for the block only: the network may be the run's ``inception`` extractor's, which every other
    metric reads through, and a hook left on it is a change to that network."""

    def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
        keep(spatial_of(output))  # returns None: a hook's return value would replace the output

    handle = model.get_submodule(TAP).register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@register_features("inception-spatial")
class InceptionSpatial(Inception):
    """torch-fidelity's Inception-v3: ``mixed_6/conv`` channels [:7] (2023-d, sFID), unbiased logits."""

    description = (
        "Inception-v3 mixed_6/conv[..., :7] (2023-d spatial features: FID on them is sFID, as ADM's "
        "evaluator) and logits via torch-fidelity"
    )

    def __init__(self, *args: Any, beside: Inception | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        #: the ``inception`` extractor whose loaded network this one runs (one copy in memory)
        self._beside = beside

    @classmethod
    def beside(cls, inception: Inception) -> InceptionSpatial:
        """The spatial features of ``inception``'s network: its weights, device and batch size, and
        its network object itself (loaded once for both)."""
        return cls(
            inception.dataset,
            cache_dir=inception.cache_dir,
            device=inception.device,
            weights=inception.weights,
            batch_size=inception.batch_size,
            beside=inception,
        )

    @property
    def model(self) -> torch.nn.Module:
        return self._beside.model if self._beside is not None else super().model

    def fingerprint(self) -> str:
        # the network's (which covers the weights file's content), and the tensor taken from it
        base = self._beside.fingerprint() if self._beside is not None else super().fingerprint()
        return f"{base};tap={TF_TAP}[...,:{CHANNELS}]-nhwc"

    def feature_dim(self) -> int:
        return DIM

    @property
    def network_of(self) -> Inception | None:
        """The ``inception`` extractor whose network (and pass) this one taps, if built beside one."""
        return self._beside

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        taken: list[torch.Tensor] = []
        with tapping(self.model, taken.append):
            _, logits = self.model(to_uint8(x, self.name))
        return taken[0], logits

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),  # its fingerprint is this class's
            "layers": [f"{TF_TAP}[...,:{CHANNELS}]", "logits_unbiased"],
            "tap": f"{TAP}[:, :{CHANNELS}], flattened as N x {GRID} x {GRID} x {CHANNELS} (ADM's sFID)",
        }


def spatial_tap(extractor: object) -> InceptionSpatial | None:
    """sfid's spatial features on ``extractor``'s network (:meth:`InceptionSpatial.beside`): for
    genbench's own ``inception`` extractor, not a subclass or a plugin, whose network may be another;
    None for any other."""
    return InceptionSpatial.beside(extractor) if type(extractor) is Inception else None
