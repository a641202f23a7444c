"""The class-conditional GAN (baselines.gan_cond): the projection discriminator against its closed form,
the generator's conditioning, the labels' checks, resumable training, the training log, and a short
ring8 training whose samples land on the mode of their label.

Every test here fails on the code before gan-cond (the module, its configs and its entry point did
not exist), except ``test_gan_keys_and_outputs_are_unchanged``, a regression guard: its numbers were
recorded from that code and it checks they still hold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from baselines import configs
from baselines.gan import GanNS, GanSat
from baselines.gan_cond import GanCond, ProjectionDiscriminator
from genbench.api import DataSpec, TrainContext
from genbench.checkpoint import load_checkpoint
from genbench.errors import GenbenchError
from genbench.model_config import resolve_model_config
from genbench.registry import models as model_registry

pytestmark = pytest.mark.usefixtures("one_thread")

K = 4
POINTS = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=64, num_modes=K)
IMAGES = DataSpec(
    name="tiny", kind="image", shape=(1, 8, 8), value_range=(-1.0, 1.0), num_train=32, num_modes=K
)
TINY = dict(steps=6, batch_size=8, z_dim=8, g_width=8, d_width=8, min_res=2, hidden=16, layers=1, log_every=1)


def tiny(cls: type, spec: DataSpec, **kw):
    return cls(spec, cls.Config(**{**TINY, **kw}))


def data_for(spec: DataSpec, n: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    if spec.kind == "image":
        return torch.rand(n, *spec.shape, generator=g) * 2 - 1
    return torch.randn(n, *spec.shape, generator=g)


def ctx(n: int, path: Path | None = None, every: int = 0, **kw) -> TrainContext:
    kw.setdefault("labels", torch.arange(n) % K)
    return TrainContext(
        seed=0, device=torch.device("cpu"), checkpoint_path=path, checkpoint_every=every, **kw
    )


def test_the_projection_term_on_known_features_and_embeddings():
    """D(x, y) = psi(phi(x)) + embed(y) . phi(x) with phi the identity: w . x + b + E[y] . x."""

    class Known(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Identity(), nn.Linear(3, 1))

    D = ProjectionDiscriminator(Known(), num_classes=2)
    with torch.no_grad():
        D.psi.weight.copy_(torch.tensor([[1.0, 0.0, -1.0]]))
        D.psi.bias.fill_(0.5)
        D.embed.weight.copy_(torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 1.0]]))
    x = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [-1.0, 4.0, 0.5]])
    out = D(x, torch.tensor([0, 1, 1]))
    # (1 - 3 + 0.5) + 0 ; (1 - 3 + 0.5) + (2 + 3) ; (-1 - 0.5 + 0.5) + (-2 + 0.5)
    torch.testing.assert_close(out, torch.tensor([-1.5, 3.5, -2.5]), rtol=0, atol=1e-6)
    # gan-cond's: gan-ns's stack as phi (DCGAN's flattened 4x4 features; the MLP's last hidden layer)
    for spec, width in ((IMAGES, 16 * 2 * 2), (POINTS, 16)):
        d = tiny(GanCond, spec).D
        assert isinstance(d, ProjectionDiscriminator) and d.embed.weight.shape == (K, width)
        x = data_for(spec, 5)
        y = torch.tensor([0, 1, 2, 3, 1])
        d.eval()
        h = d.phi(x)
        torch.testing.assert_close(d(x, y), d.psi(h).squeeze(1) + (d.embed.weight[y] * h).sum(1))


@pytest.mark.parametrize("spec", [IMAGES, POINTS], ids=["dcgan", "mlp"])
def test_the_generator_output_changes_with_the_label(spec):
    model = tiny(GanCond, spec)
    z = torch.randn(1, TINY["z_dim"], generator=torch.Generator().manual_seed(0)).repeat(K, 1)
    model.G.eval()
    with torch.no_grad():
        out = model.G(z, torch.arange(K)).flatten(1)
        again = model.G(z[:2], torch.tensor([3, 3])).flatten(1)
    assert torch.cdist(out, out)[torch.ones(K, K).triu(1).bool()].min() > 1e-4  # every pair differs
    torch.testing.assert_close(again[0], out[3])  # the same z and label, the same output
    torch.testing.assert_close(again[0], again[1])
    # and through sample: the same generator seed, other labels, other samples
    a = model.sample(K, generator=torch.Generator().manual_seed(1), labels=torch.zeros(K, dtype=torch.long))
    b = model.sample(K, generator=torch.Generator().manual_seed(1), labels=torch.ones(K, dtype=torch.long))
    assert not torch.allclose(a, b)


def test_fakes_are_generated_for_classes_drawn_from_the_train_labels():
    """baselines/gan_cond.py: each fake's class is drawn from the train labels, so in their
    proportions (as the harness's stratified sample labels are), not uniformly over the K classes:
    on imbalanced classes the generator would otherwise learn the rare ones as often as the common."""
    labels = torch.tensor([2] * 90 + [0] * 10)
    y = tiny(GanCond, POINTS)._fake_labels(labels, 20000, torch.Generator().manual_seed(0))
    share = torch.bincount(y, minlength=K).double() / len(y)
    # binomial(20000, 0.1): sd 0.002, the bound is 5 sd
    torch.testing.assert_close(
        share, torch.tensor([0.1, 0.0, 0.9, 0.0], dtype=torch.float64), rtol=0, atol=0.01
    )


def test_labels_are_checked():
    model = tiny(GanCond, POINTS)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(GenbenchError, match=r"must be an int64 tensor of shape \(3,\), got torch.int32"):
        model.sample(3, generator=gen, labels=torch.zeros(3, dtype=torch.int32))
    with pytest.raises(GenbenchError, match=r"must be an int64 tensor of shape \(3,\)"):
        model.sample(3, generator=gen, labels=torch.zeros(2, dtype=torch.long))
    with pytest.raises(GenbenchError, match=r"must lie in \[0, 4\), got 0 to 4"):
        model.sample(3, generator=gen, labels=torch.tensor([0, 1, K]))
    with pytest.raises(GenbenchError, match=r"must lie in \[0, 4\), got -1 to 1"):
        model.sample(3, generator=gen, labels=torch.tensor([-1, 0, 1]))
    data = data_for(POINTS, 8)
    with pytest.raises(GenbenchError, match="trains on class labels, and none were given"):
        model.fit(data, ctx(8, labels=None))
    with pytest.raises(GenbenchError, match=r"the train labels must lie in \[0, 4\)"):
        model.fit(data, ctx(8, labels=torch.arange(8)))
    with pytest.raises(GenbenchError, match="dataset 'ring8' has none .no num_modes.; use gan-ns"):
        GanCond(dataclasses.replace(POINTS, num_modes=None))


@pytest.mark.parametrize("spec", [IMAGES, POINTS], ids=["dcgan-batchnorm", "mlp"])
def test_resume_equals_uninterrupted(tmp_path, spec):
    data = data_for(spec, 32)
    straight = tiny(GanCond, spec)
    rows: list[dict] = []
    straight.fit(data, ctx(32, tmp_path / "a.pt", log=lambda step, values: rows.append(values)))
    # the log of gan-ns, every step (log_every=1)
    assert set(rows[0]) == {"d_real", "d_fake", "loss_d", "loss_g", "grad_norm_g"} and len(rows) >= 6

    def interrupt(step: int, total: int, values: dict) -> None:
        if step == 4:
            raise KeyboardInterrupt

    first = tiny(GanCond, spec)
    with pytest.raises(KeyboardInterrupt):  # stopped after the checkpoint at step 3
        first.fit(data, ctx(32, tmp_path / "b.pt", every=3, progress=interrupt))
    resumed = tiny(GanCond, spec)
    assert resumed.fit(data, ctx(32, tmp_path / "b.pt", every=3))["resumed_from"] == 3
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
            assert ka == kb
            torch.testing.assert_close(va, vb, rtol=0, atol=0)
    # the labels reach the training: others train other weights
    other = tiny(GanCond, spec)
    other.fit(data, ctx(32, labels=(torch.arange(32) + 1) % K))
    assert not torch.equal(other.D.embed.weight, straight.D.embed.weight)


def test_a_short_ring8_training_puts_each_labels_samples_on_its_mode():
    """Measured (800 samples, 100 per label, nearest of the 8 means): untrained 0.10-0.13 (chance,
    1/8); after these 300 steps 1.0 for seeds 0, 1, 2 (0.87-0.97 after 150), about 1.5 s each."""
    from genbench.data.toy2d import Ring8

    ring = Ring8()
    train, labels = ring.load("train")
    cfg = dataclasses.replace(
        resolve_model_config(GanCond, "ring8", {}),
        steps=300,
        hidden=32,
        layers=2,
        z_dim=8,
        lr_g=2e-3,
        lr_d=2e-3,
    )
    model = GanCond(ring.spec, cfg)
    y = torch.arange(800) % 8
    means = torch.as_tensor(ring.means).float()

    def hit_rate() -> float:
        x = model.sample(800, generator=torch.Generator().manual_seed(0), labels=y)
        return float((torch.cdist(x, means).argmin(1) == y).float().mean())

    assert hit_rate() < 0.3  # the untrained generator does not
    model.fit(train, TrainContext(seed=0, device=torch.device("cpu"), labels=labels))
    assert hit_rate() >= 0.9


def test_registered_conditional_with_gan_ns_s_config_on_every_dataset():
    assert model_registry.get("gan-cond") is GanCond and GanCond.conditional and not GanNS.conditional
    for folder in sorted(p for p in configs.CONFIG_DIR.iterdir() if (p / "gan-ns.toml").exists()):
        ds = folder.name
        assert dataclasses.asdict(resolve_model_config(GanCond, ds, {})) == dataclasses.asdict(
            resolve_model_config(GanNS, ds, {})
        ), ds


def test_gan_keys_and_outputs_are_unchanged():
    """Regression guard (passes on the old code by design): the shipped digits gan-ns and gan-sat
    still load strictly, and their samples, keys and a tiny training's log are the values recorded
    before the training hooks were added."""
    spec = DataSpec(name="digits", kind="image", shape=(1, 8, 8), value_range=(-1.0, 1.0), num_train=1437)
    for cls, name, total, first in (
        (GanNS, "gan-ns", -96.03997803, [-0.99995446, -0.99999875, -0.96990305, 0.70683748]),
        (GanSat, "gan-sat", -88.91759491, [-0.99998254, -0.99998784, -0.75337589, 0.41933095]),
    ):
        model = cls(spec, resolve_model_config(cls, "digits", {}))
        (path,) = (configs.WEIGHTS_DIR / "digits" / name).glob("seed0-*/model.pt")
        model.load_state_dict(load_checkpoint(path)["state"])
        assert (len(model.G.state_dict()), len(model.D.state_dict())) == (8, 4)
        x = model.sample(4, generator=torch.Generator().manual_seed(0))
        assert float(x.sum()) == pytest.approx(total, abs=1e-3)
        torch.testing.assert_close(x[0, 0, 0, :4], torch.tensor(first), rtol=0, atol=1e-5)
    recorded = {  # the last logged step of a 6-step training, and 4 samples' sum after it
        ("image", GanNS): (0.51195502, 0.50267565, 1.36872149, 0.68802345, 0.46572071, 0.20597726),
        ("image", GanSat): (0.51195431, 0.50267279, 1.36871755, -0.69842529, 0.46119192, 0.20574066),
        ("points", GanNS): (0.51770914, 0.49158671, 1.34466767, 0.70609105, 0.21331398, -2.42443919),
        ("points", GanSat): (0.51770914, 0.49158713, 1.34466851, -0.68076456, 0.20623514, -2.42458081),
    }
    last: dict = {}  # the last logged values
    for (kind, cls), values in recorded.items():
        spec = dataclasses.replace(IMAGES if kind == "image" else POINTS, num_modes=None)
        model = tiny(cls, spec)
        last.clear()
        model.fit(
            data_for(spec, 32 if kind == "image" else 64),
            ctx(0, labels=None, log=lambda _, values: last.update(values)),
        )
        x = model.sample(4, generator=torch.Generator().manual_seed(0))
        got = (*last.values(), float(x.sum()))
        assert got == pytest.approx(values, abs=1e-5), (kind, cls.__name__)
