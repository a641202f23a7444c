"""``GenerativeModel.to``: the base class moves the networks a plugin holds as attributes, so a
plugin written on a laptop, with no ``to`` of its own, runs on a GPU machine. Checked on the meta
device, which every machine has: on the CPU alone the run's device is the CPU and nothing moves.
And the device ``fit`` is handed (``TrainContext.device``), given as a string as a script writes it."""

from __future__ import annotations

import torch

from genbench import GenerativeModel
from genbench.api import DataSpec

SPEC = DataSpec(name="points", kind="points", shape=(2,), value_range=None, num_train=10)


class Held(GenerativeModel):
    """A network, a list of networks and a tensor, held as attributes, and no ``to`` of its own."""

    def __init__(self, spec, config):
        super().__init__(spec, config)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 2))
        self.heads = [torch.nn.Linear(2, 2)]  # in a list: the subclass's to move
        self.mean = torch.zeros(2)  # a tensor: the subclass's to move

    def sample(self, n, *, generator):
        return self.net(torch.randn(n, 2, generator=generator, device=generator.device))

    def state_dict(self):
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state):
        self.net.load_state_dict(state["net"])


def test_the_base_to_moves_the_networks_a_plugin_holds():
    model = Held(SPEC, None).to("meta")
    assert model.device == torch.device("meta")
    # on the old code the base to() recorded the device only: the network stayed on the CPU
    assert {p.device.type for p in model.net.parameters()} == {"meta"}
    # what the docstring leaves to the subclass stays where it was
    assert model.heads[0].weight.device.type == "cpu" and model.mean.device.type == "cpu"


def test_moving_to_the_cpu_keeps_the_parameters_an_optimizer_holds():
    model = Held(SPEC, None)
    weight = model.net[0].weight
    optimizer = torch.optim.SGD(model.net.parameters(), lr=0.1)
    model.to("cpu")
    assert model.net[0].weight is weight and optimizer.param_groups[0]["params"][0] is weight


def test_the_baselines_train_from_a_context_given_its_device_as_a_string():
    """``TrainContext(seed=0, device="cuda")`` in a script: DDPM's fit read ``ctx.device.type`` and
    failed with an AttributeError (the VAE and GAN wrapped it in ``torch.device`` themselves). The
    CPU's name stands in for "cuda": the context holds a torch.device either way."""
    from baselines.ddpm import DDPM
    from baselines.gan import GanNS
    from baselines.vae import VAE
    from genbench.api import TrainContext

    assert TrainContext(seed=0, device="cuda:1").device == torch.device("cuda:1")
    spec = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=32)
    train = torch.randn(32, 2)
    small = {
        DDPM: {"mlp_hidden": 8, "mlp_depth": 1, "batch_size": 8, "train_steps": 2, "warmup": 1},
        VAE: {"hidden": 8, "layers": 1, "batch_size": 8, "steps": 2},
        GanNS: {"hidden": 8, "layers": 1, "batch_size": 8, "steps": 2},
    }
    for cls, fields in small.items():
        model = cls(spec, cls.Config(**fields))
        model.fit(train, TrainContext(seed=0, device="cpu"))
        assert model.sample(4, generator=torch.Generator().manual_seed(0)).shape == (4, 2), cls
