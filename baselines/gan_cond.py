"""Class-conditional GAN: gan-ns with a projection discriminator and a class-conditional generator.

- Discriminator: the projection discriminator of Miyato & Koyama (2018, "cGANs with projection
  discriminator", eq. 3 with their ``v = embed(y)``): ``D(x, y) = psi(phi(x)) + embed(y) . phi(x)``,
  where ``phi`` is gan-ns's discriminator up to its last layer (the DCGAN stack's flattened features,
  or the MLP's last hidden layer), ``psi`` that last linear layer, and ``embed`` a learned class
  embedding of ``phi``'s width (Glorot-uniform, as in their code). Unlike theirs, the networks have
  no spectral normalisation: they are gan-ns's, so the comparison with gan-ns isolates the conditioning.
- Generator: the class as a one-hot vector concatenated to ``z`` (Mirza & Osindero 2014), into
  gan-ns's generator with ``z_dim + K`` inputs. Its first layer is linear, so this *is* a learned
  class embedding (a column of that layer per class) added to the projection of ``z``, with no
  hyperparameter of its own. Conditional batch normalisation (de Vries et al. 2017; Miyato & Koyama)
  was not chosen: the MLP generator of ring8 and grid25 has no batchnorm to condition, and the
  digits generator has a single one, so it would have been two mechanisms for the same job.

Training is gan-ns's (:class:`baselines.gan._GAN`: the non-saturating loss, ``d_steps`` discriminator
steps per generator step, Adam, the same log of ``d_real``, ``d_fake``, ``loss_d``, ``loss_g`` and
``grad_norm_g``) through its hooks: a real example is judged with its own class, and each fake is
generated and judged for a class drawn from the train labels (so in their proportions, as the
harness's stratified sampling labels are), by the noise generator, saved in the checkpoint, so a
resumed run ends with an uninterrupted one's weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.configs import dataset_defaults as _dataset_defaults
from baselines.ddpm_cond import check_labels, fit_labels
from baselines.gan import _GAN, GanConfig
from baselines.gan_nets import seeded
from genbench.api import DataSpec, TrainContext
from genbench.errors import GenbenchError
from genbench.registry import register_model


class OneHotGenerator(nn.Module):
    """``G(z, y) = net([z, one_hot(y)])`` (Mirza & Osindero 2014); ``net`` takes ``z_dim + K`` inputs."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net, self.num_classes = net, num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], dim=1))


class ProjectionDiscriminator(nn.Module):
    """``D(x, y) = psi(phi(x)) + embed(y) . phi(x)`` (Miyato & Koyama 2018), one logit per example.

    Built from an unconditional discriminator whose ``net`` ends in the linear layer ``psi``;
    ``phi`` is the rest of it."""

    def __init__(self, unconditional: nn.Module, num_classes: int):
        super().__init__()
        net = unconditional.net
        if not isinstance(net, nn.Sequential):
            raise TypeError(f"the discriminator's net must be an nn.Sequential, got {type(net).__name__}")
        layers = list(net)
        self.psi = layers[-1]
        if not isinstance(self.psi, nn.Linear) or self.psi.out_features != 1:
            raise TypeError(f"the discriminator must end in a linear layer to one logit, got {self.psi}")
        self.phi = nn.Sequential(*layers[:-1])
        self.embed = nn.Embedding(num_classes, self.psi.in_features)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.phi(x)
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(1)


@register_model("gan-cond")
class GanCond(_GAN):
    """Class-conditional GAN: projection discriminator (Miyato & Koyama 2018), one-hot conditioned
    generator (Mirza & Osindero 2014), gan-ns's non-saturating loss and training."""

    Config = GanConfig
    saturating = False
    conditional = True
    shipped_checkpoints = None  # nothing ships (the weights folder holds the unconditional GANs')

    def __init__(self, spec: DataSpec, config: GanConfig | None = None):
        if not spec.num_modes:  # before _build, whose class tables need the count
            raise GenbenchError(
                f"{self.registered_name} draws samples for classes, and dataset {spec.name!r} has none "
                "(no num_modes); use gan-ns"
            )
        super().__init__(spec, config)

    @property
    def num_classes(self) -> int:
        return int(self.spec.num_modes or 0)

    @classmethod
    def dataset_defaults(cls, dataset: str) -> dict[str, Any]:
        return _dataset_defaults("gan-cond", dataset)

    def _build(self, seed: int) -> None:
        k = self.num_classes
        with seeded(seed):
            g, d = self._networks(self.config.z_dim + k)
            self.G: nn.Module = OneHotGenerator(g, k)
            self.D: nn.Module = ProjectionDiscriminator(d, k)  # its embedding drawn under the seed too
        self.G.to(self.device)
        self.D.to(self.device)

    # -- training (_GAN.fit, with these hooks) ------------------------------------------------------
    def _train_labels(self, ctx: TrainContext, n: int) -> torch.Tensor | None:
        return fit_labels(self.registered_name, ctx, n, self.num_classes, self.device)

    def _fake_labels(self, labels: torch.Tensor | None, n: int, gen: torch.Generator) -> torch.Tensor | None:
        assert labels is not None  # _train_labels gave them
        return labels[torch.randint(0, len(labels), (n,), generator=gen).to(labels.device)]

    # -- sampling -----------------------------------------------------------------------------------
    # ignore[override]: a conditional model of an unconditional one's class, its sample needs the
    # labels the harness hands every conditional model (GenerativeModel.sample says so)
    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        check_labels(labels, n, self.num_classes, f"{self.registered_name}'s sample labels")
        return self._generate(n, generator, labels)


__all__ = ["GanCond", "OneHotGenerator", "ProjectionDiscriminator"]
