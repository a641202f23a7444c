"""genbench.training and the baselines' training loop: a resumable state saved on other data is not
resumed, weights the last update blew up (finite, but NaN samples) are a divergence and never cached,
and an interrupted ``--retrain``'s mark is honoured by a rerun of that command only."""

from __future__ import annotations

import enum
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import (  # tests/ is on the path: pytest puts it there
    Mkdir,
    flip_a_tensor_byte,
    interrupt_training_at,
)
from cli_models import TinyTrained
from test_baselines import flat_state

from baselines.ddpm import DDPM
from baselines.gan import GanNS
from baselines.vae import VAE
from genbench import RunConfig, registry, run
from genbench.api import DataSpec, TrainContext
from genbench.errors import CheckpointError, Diverged
from genbench.registry import register_model

POINTS = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=64, num_modes=8)
IMAGES = DataSpec(name="tiny", kind="image", shape=(1, 8, 8), value_range=(-1.0, 1.0), num_train=32)
TOY = "test-training-toy"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


@register_model(TOY)
class Toy(TinyTrained):
    """cli_models' model that learns the data mean by SGD with the baselines' loop (milliseconds),
    recording the steps of every fit."""

    fits: list[int] = []  # the steps of every fit, in order

    def fit(self, train, ctx):
        Toy.fits.append(self.config.steps)
        return super().fit(train, ctx)


def config(tmp_path: Path, out: str, *overrides: str, **kw) -> RunConfig:
    base = dict(models=[TOY], dataset="ring8", samples=100, metrics=["fid"], device="cpu")
    base.update(out=tmp_path / out, cache_dir=tmp_path / "cache", progress=False, figures=False)
    base.update(checkpoint_every=5, overrides=list(overrides))
    return RunConfig(**{**base, **kw})


@contextmanager
def interrupted_at(monkeypatch: pytest.MonkeyPatch, at: int) -> Iterator[None]:
    """Ctrl-C when training reports step ``at``, within the block (which expects it)."""
    real = interrupt_training_at(monkeypatch, at)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(TrainContext, "progress", real)


@pytest.fixture
def shifting(monkeypatch):
    """A points dataset whose train split changes when its class's ``shift`` is set."""
    from genbench.data.base import Dataset

    class Shifting(Dataset):
        kind, default_features = "points", "raw"
        shift = 0.0

        def _load(self, split):
            x = torch.from_numpy(np.random.default_rng(0).standard_normal((400, 2)).astype(np.float32))
            return x + self.shift, None

    registry.datasets.discover()
    monkeypatch.setattr(registry.datasets, "_entries", dict(registry.datasets._entries))
    registry.datasets.add("test-training-shifting", Shifting, source="genbench-test-plugin")
    return Shifting


# -- 1. a resumable state saved on other data ------------------------------------------------------


def test_train_state_records_the_data_and_refuses_other_data(tmp_path):
    """train.pt did not record the data: a resume on a changed train split went on from weights
    trained on the old data, and model.pt recorded only the new digest. A state saved before the
    digest was recorded still resumes."""
    path = tmp_path / "train.pt"
    TrainContext(seed=0, device=torch.device("cpu"), checkpoint_path=path, data_digest="aaa").save_checkpoint(
        {"w": 1}, 5
    )
    same = TrainContext(seed=0, device=torch.device("cpu"), checkpoint_path=path, data_digest="aaa")
    assert same.load_checkpoint() == ({"w": 1}, 5)
    other = TrainContext(seed=0, device=torch.device("cpu"), checkpoint_path=path, data_digest="bbb")
    with pytest.raises(
        CheckpointError, match=r"other data: the train split changed since; rerun with --retrain"
    ):
        other.load_checkpoint()
    TrainContext(seed=0, device=torch.device("cpu"), checkpoint_path=path).save_checkpoint({"w": 2}, 7)
    assert torch.load(path, weights_only=False)["data_digest"] is None  # an older state: no digest
    assert other.load_checkpoint() == ({"w": 2}, 7)


def test_an_interrupted_training_is_not_resumed_on_changed_data(tmp_path, monkeypatch, shifting):
    cfg = config(tmp_path, "a", dataset="test-training-shifting")
    with interrupted_at(monkeypatch, 7):
        run(cfg)
    (partial,) = (tmp_path / "cache").glob(f"checkpoints/*/{TOY}/*/train.pt")
    monkeypatch.setattr(shifting, "shift", 5.0)
    (result,) = run(cfg)
    assert (result.status, result.error_kind) == ("failed", "user")
    assert "other data" in result.error and "--retrain" in result.error and "\n" not in result.error
    assert not (partial.parent / "model.pt").exists()  # nothing trained on mixed data is cached
    (result,) = run(config(tmp_path, "b", dataset="test-training-shifting", retrain=True))
    assert result.status == "ok" and result.training["resumed_from"] == 0


def test_an_interrupted_retrain_on_changed_data_starts_over(tmp_path, monkeypatch, shifting):
    """The rerun of an interrupted --retrain resumes its training, but not one of other data."""
    cfg = config(tmp_path, "a", dataset="test-training-shifting", retrain=True)
    with interrupted_at(monkeypatch, 7):
        run(cfg)
    monkeypatch.setattr(shifting, "shift", 5.0)
    (result,) = run(cfg)
    assert result.status == "ok" and result.training["resumed_from"] == 0


# -- 2. weights the last update blew up ------------------------------------------------------------


def tiny_vae(**kw) -> VAE:
    cfg = dict(steps=1, batch_size=8, latent_dim=4, width=8, min_res=2, hidden=16, layers=1)
    return VAE(IMAGES, VAE.Config(**{**cfg, **kw}))


def tiny_gan(**kw) -> GanNS:  # min_res 2 puts a batchnorm in D
    cfg = dict(steps=1, batch_size=8, z_dim=8, g_width=8, d_width=8, min_res=2, hidden=16, layers=1)
    return GanNS(IMAGES, GanNS.Config(**{**cfg, **kw}))


def tiny_ddpm(**kw) -> DDPM:
    cfg = dict(mlp_hidden=32, mlp_depth=1, warmup=0, batch_size=16, train_steps=1, ema_decay=0.0)
    return DDPM(POINTS, DDPM.Config(**{**cfg, **kw}))


def data(spec: DataSpec) -> torch.Tensor:
    g = torch.Generator().manual_seed(123)
    if spec.kind == "image":
        return torch.rand(32, *spec.shape, generator=g) * 2 - 1
    return torch.randn(64, *spec.shape, generator=g)


@pytest.mark.parametrize(
    "make",
    [
        lambda: tiny_vae(lr=1e30),
        lambda: tiny_gan(lr_g=1e30),
        lambda: tiny_ddpm(lr=1e30, grad_clip=0.0),
    ],
    ids=["vae", "gan", "ddpm"],
)
def test_a_last_update_that_breaks_the_weights_diverges(make, tmp_path):
    """The loss was checked before each update only: one step at lr=1e30 left finite weights of
    ~1e30, cached, whose samples were NaN ("NaN/inf values from sample()", the plugin's bug)."""
    model = make()
    path = tmp_path / "train.pt"
    ctx = TrainContext(seed=0, device=torch.device("cpu"), checkpoint_path=path)
    with pytest.raises(Diverged, match=r"diverged at step 1 \(\w+=(nan|inf|-inf) after the last update\)"):
        model.fit(data(model.spec), ctx)
    assert not path.exists()  # no resumable state of the broken weights: a rerun cannot load them


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_one_non_finite_weight_anywhere_in_the_state_is_a_divergence(bad):
    """check_weights_finite names every float tensor holding a NaN or an inf, one element among
    finite ones included, in nested states (the GANs' ``{"G": ..., "D": ...}``): the CLI test's
    weights are NaN throughout, so a check for all-NaN tensors passed it and cached one inf."""
    import re

    from genbench.training import check_weights_finite

    model = tiny_gan()
    weight = next(iter(model.D.state_dict()))
    with torch.no_grad():
        model.D.state_dict()[weight].view(-1)[3] = bad
    ctx = TrainContext(seed=0, device=torch.device("cpu"))
    said = re.escape(f"(NaN or inf weights after training: D.{weight})") + "$"
    with pytest.raises(Diverged, match=said):
        check_weights_finite(model, {"steps": 5}, ctx)
    with torch.no_grad():
        model.D.state_dict()[weight].view(-1)[3] = 0.0
    check_weights_finite(model, {"steps": 5}, ctx)  # all finite: nothing raised


def test_a_run_whose_last_update_breaks_the_weights_is_diverged_and_caches_nothing(tmp_path):
    cfg = config(tmp_path, "a", "vae.steps=1", "vae.lr=1e30", models=["vae"], metrics=["fid"])
    (result,) = run(cfg)
    assert (result.status, result.error_kind) == ("diverged", "diverged")
    assert "after the last update" in result.error
    assert not list((tmp_path / "cache").glob("checkpoints/**/*.pt"))


def test_a_trained_model_whose_checkpoint_cannot_be_written_is_scored(tmp_path, monkeypatch, capsys):
    """A full disk at the final model.pt write, after the whole training, failed the model: the trained
    weights were thrown away. The model is scored from memory, with a warning; nothing is cached,
    and the resumable state stays for the next run to resume."""
    import genbench
    import genbench.training
    from genbench.errors import GenbenchError

    real = genbench.training.save_checkpoint

    def disk_full(path, payload):
        if Path(path).name == "model.pt":
            raise GenbenchError(
                f"cannot write to {Path(path).parent} (No space left on device)"
            ) from OSError(28)
        return real(path, payload)

    monkeypatch.setattr(genbench.training, "save_checkpoint", disk_full)
    (result,) = run(config(tmp_path, "a", "vae.steps=10", models=["vae"]))
    assert result.status == "ok" and "fid" in result.metrics, result.error
    assert result.training["checkpoint"] is None and result.training["loaded"] is False
    assert "vae[steps=10] seed 0: trained, but cannot write to" in " ".join(capsys.readouterr().err.split())
    assert not list((tmp_path / "cache").glob("checkpoints/**/model.pt"))
    assert list((tmp_path / "cache").glob("checkpoints/**/train.pt"))  # resumable: the next run resumes
    assert "ring8" in genbench.report(tmp_path / "a")  # its result reads back


@pytest.mark.parametrize("saved", [0, 1], ids=["none-saved", "one-saved"])
def test_a_full_disk_at_a_resumable_save_is_said_once_and_training_goes_on(
    tmp_path, monkeypatch, capsys, saved
):
    """A full disk at a periodic train.pt save failed the model, throwing away the training so far,
    though that state only serves a resume. It is said once, the training goes on, and the model is
    trained, cached and scored as an uninterrupted run's; the state a rerun resumes is named."""
    import errno

    import genbench.checkpoint
    from genbench.checkpoint import PARTIAL

    (plain,) = run(config(tmp_path, "plain", cache_dir=tmp_path / "plain-cache"))
    real = genbench.checkpoint.atomic_write

    def full(fh):
        fh.write(b"PK")  # part of it went out before the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    states = []

    def write(path, writer, **kw):  # the disk fills up after ``saved`` states were written
        if Path(path).name == PARTIAL:
            states.append(path)
            writer = full if len(states) > saved else writer
        return real(path, writer, **kw)

    monkeypatch.setattr(genbench.checkpoint, "atomic_write", write)
    capsys.readouterr()
    (result,) = run(config(tmp_path, "a"))  # 20 steps, a state due every 5: four saves
    assert result.status == "ok", result.error
    assert result.metrics["fid"] == plain.metrics["fid"]
    (final,) = (tmp_path / "cache").glob(f"checkpoints/ring8/{TOY}/*/model.pt")
    assert not list(final.parent.glob(f"*{PARTIAL}*"))  # nor a temp file left
    err = " ".join(capsys.readouterr().err.split())
    assert len(states) == 4 and err.count("No space left on device") == 1, err
    assert f"{TOY} seed 0: the resumable state of step {5 * (saved + 1)} was not saved: cannot write " in err
    rerun = "resumes from step 5" if saved else "starts over"
    assert f"training goes on, but if it is interrupted the rerun {rerun}" in err


@pytest.mark.parametrize("make", [tiny_vae, tiny_gan, tiny_ddpm], ids=["vae", "gan", "ddpm"])
def test_the_check_after_the_last_update_leaves_training_bit_identical(make, monkeypatch):
    """The extra loss draws nothing from the training generators nor the global one and restores
    batchnorm statistics (the GAN's D has one): the weights and the log of normal runs, and so the
    checkpoints already cached, are unchanged."""
    module = {VAE: "baselines.vae", GanNS: "baselines.gan", DDPM: "baselines.ddpm"}[type(make())]
    from importlib import import_module

    mod = import_module(module)
    real, calls = mod.train_loop, []

    def without_check(ctx, **kw):
        calls.append(kw.pop("final_loss"))
        return real(ctx, **kw)

    def trained(**kw):
        model = make(**kw)
        ctx = TrainContext(seed=3, device=torch.device("cpu"))
        torch.manual_seed(0)
        model.fit(data(model.spec), ctx)
        return model.state_dict(), ctx.history, torch.rand(3)

    steps = {"train_steps": 4} if make is tiny_ddpm else {"steps": 4}
    checked = trained(**steps)
    monkeypatch.setattr(mod, "train_loop", without_check)
    unchecked = trained(**steps)
    assert calls and calls[0] is not None
    torch.testing.assert_close(checked, unchecked, rtol=0, atol=0)


# -- 3. an interrupted --retrain's mark ------------------------------------------------------------


def test_an_interrupted_retrains_mark_is_honoured_by_its_rerun_only(tmp_path, monkeypatch):
    """A --retrain of two trainings interrupted in the second; the user finished that one with
    another command (--set of it only). The first's mark stayed, and a --retrain of it days later
    loaded it instead of training it."""
    Toy.fits.clear()
    with interrupted_at(monkeypatch, 12):  # steps=10 finishes first; steps=30 stops at 12
        run(config(tmp_path, "a", f"{TOY}.steps=10,30", retrain=True))
    assert Toy.fits == [10, 30]
    (result,) = run(config(tmp_path, "b", f"{TOY}.steps=30", retrain=True))  # another command
    assert result.status == "ok"
    Toy.fits.clear()
    (result,) = run(config(tmp_path, "c", f"{TOY}.steps=10", retrain=True))
    assert Toy.fits == [10] and not result.training["loaded"]
    # the rerun of the interrupted command itself still loads what it had finished
    with interrupted_at(monkeypatch, 12):
        run(config(tmp_path, "d", f"{TOY}.steps=10,30", retrain=True))
    Toy.fits.clear()
    results = run(config(tmp_path, "d", f"{TOY}.steps=10,30", retrain=True))
    assert Toy.fits == [30] and [r.training["loaded"] for r in results] == [True, False]
    assert results[1].training["resumed_from"] == 10


@pytest.mark.parametrize(
    "intervals", [{"checkpoint_minutes": 30}, {"checkpoint_minutes": 10, "checkpoint_every": 4}]
)
def test_an_interrupted_retrain_resumes_when_rerun_with_other_checkpoint_intervals(
    tmp_path, monkeypatch, intervals
):
    """When states are saved changes no trained weight: the rerun of a killed --retrain with the
    default's 30 minutes typed out (RunConfig.checkpoint_minutes is None when not given), or with
    shorter intervals to lose less to the next kill, took it for another command and cleared the
    state it would have resumed."""
    Toy.fits.clear()
    with interrupted_at(monkeypatch, 12):
        run(config(tmp_path, "a", f"{TOY}.steps=30", retrain=True))
    (result,) = run(config(tmp_path, "a", f"{TOY}.steps=30", retrain=True, **intervals))
    assert result.status == "ok" and result.training["resumed_from"] == 10


@pytest.mark.parametrize(
    ("first", "rerun"),
    [
        ({"seeds": [1, 0]}, {"seeds": [0, 1]}),
        ({"seeds": [1, 0], "metrics": ["fid", "kid"]}, {"seeds": [0, 1, 1], "metrics": ["kid", "fid"]}),
        ({"seeds": [0, 1]}, {"seeds": [1, 0]}),
    ],
)
def test_an_interrupted_retrain_resumes_when_rerun_with_its_lists_in_another_order(
    tmp_path, monkeypatch, first, rerun
):
    """--seeds 1,0 names the runs --seeds 0,1 does: the rerun of a killed --retrain with its seeds
    (or metrics) in another order was taken for another command (genbench.retraining.retrain_command
    hashed the lists as given), and trained the seed it stopped in anew from step 0."""
    with interrupted_at(monkeypatch, 12):  # in the first seed's training, its last state at step 10
        run(config(tmp_path, "a", f"{TOY}.steps=30", retrain=True, **first))
    results = {r.seed: r for r in run(config(tmp_path, "a", f"{TOY}.steps=30", retrain=True, **rerun))}
    assert results[first["seeds"][0]].training["resumed_from"] == 10  # was 0 (trained anew)
    assert all(r.status == "ok" for r in results.values()) and len(results) == 2


def test_a_training_resumed_on_other_threads_names_every_machine_its_time_ran_on(tmp_path, monkeypatch):
    """train_s is summed over the parts of a resumed training, but named only the machine that
    finished it: 28 s on 1 thread and 8 s on 2 were reported as 36 s on 2 threads."""
    from genbench.environment import machine, machine_text

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = machine_text(machine("cpu"))
        with interrupted_at(monkeypatch, 12):
            run(config(tmp_path, "a", f"{TOY}.steps=20"))
        torch.set_num_threads(2)
        two = machine_text(machine("cpu"))
        (result,) = run(config(tmp_path, "a", f"{TOY}.steps=20"))
    finally:
        torch.set_num_threads(threads)
    assert result.training["resumed_from"] == 10 and one != two
    assert result.training["trained_on"] == f"{one} then {two}"
    (again,) = run(config(tmp_path, "b", f"{TOY}.steps=20"))  # loaded: the checkpoint says the same
    assert again.training["loaded"] and again.training["trained_on"] == f"{one} then {two}"


# -- checkpoints that ship with a model ---------------------------------------------------------------
SHIPPING = "test-training-shipping"


@register_model(SHIPPING)
class Shipping(Toy):
    """Toy with a folder of shipped checkpoints (set per test)."""

    shipped_checkpoints = None


def shipping(tmp_path: Path, out: str, **kw) -> RunConfig:
    return config(tmp_path, out, **{"models": [SHIPPING], **kw})


def _ship_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Train Shipping's seed-0 checkpoint into a cache of its own and ship it (``baselines.ship_weights``
    with this model on ring8); returns the shipped model.pt."""
    from baselines import ship_weights

    monkeypatch.setattr(Shipping, "shipped_checkpoints", tmp_path / "shipped")
    (written,) = ship_weights.ship([0], tmp_path / "shipped", models=[SHIPPING], dataset="ring8")
    return written


def test_a_shipped_checkpoint_is_loaded_when_the_cache_has_none_and_retrain_trains(tmp_path, monkeypatch):
    """The same command gives every machine the shipped weights, without training; --retrain trains
    into the cache, which is then used before what ships."""
    shipped = _ship_one(tmp_path, monkeypatch)
    assert shipped.relative_to(tmp_path / "shipped").parts[:2] == ("ring8", SHIPPING)
    Toy.fits.clear()
    (loaded,) = run(shipping(tmp_path, "a"))
    assert Toy.fits == [] and loaded.status == "ok"
    assert loaded.training["loaded"] and loaded.training["shipped"]
    assert loaded.training["checkpoint"] == str(shipped)
    assert not list((tmp_path / "cache").rglob("*.pt"))  # no copy in the cache (only the lock file)
    # what ships is what the same command trains: --retrain gives the same weights, into the cache
    (retrained,) = run(shipping(tmp_path, "b", retrain=True))
    assert Toy.fits == [20] and not retrained.training["loaded"] and "shipped" not in retrained.training
    assert retrained.metrics["fid"] == loaded.metrics["fid"]
    (again,) = run(shipping(tmp_path, "c"))
    assert Toy.fits == [20] and again.training["loaded"] and "shipped" not in again.training
    assert again.training["checkpoint"] == retrained.training["checkpoint"]


def test_an_interrupted_training_is_resumed_not_replaced_by_the_shipped_checkpoint(tmp_path, monkeypatch):
    _ship_one(tmp_path, monkeypatch)
    Toy.fits.clear()
    with interrupted_at(monkeypatch, 7):  # an interrupted --retrain, rerun without the flag: resumed
        run(shipping(tmp_path, "a", retrain=True))
    (resumed,) = run(shipping(tmp_path, "a"))
    assert (
        Toy.fits == [20, 20] and resumed.training["resumed_from"] == 5 and "shipped" not in resumed.training
    )
    # a training interrupted before the checkpoints shipped (no --retrain): resumed too
    monkeypatch.setattr(Shipping, "shipped_checkpoints", None)
    with interrupted_at(monkeypatch, 7):
        run(shipping(tmp_path, "b", cache_dir=tmp_path / "cache2"))
    monkeypatch.setattr(Shipping, "shipped_checkpoints", tmp_path / "shipped")
    (rerun,) = run(shipping(tmp_path, "b", cache_dir=tmp_path / "cache2"))
    assert Toy.fits == [20, 20, 20, 20] and rerun.training["resumed_from"] == 5
    assert "shipped" not in rerun.training


def test_a_shipped_checkpoint_of_other_data_is_trained_again_with_a_warning(tmp_path, monkeypatch, capsys):
    """Another version of a package's data (scikit-learn's digits) makes the shipped weights another
    data's: they are not used, training is, and a warning says why."""
    shipped = _ship_one(tmp_path, monkeypatch)
    payload = torch.load(shipped, weights_only=False)
    torch.save({**payload, "data_digest": "not-this-data"}, shipped)
    Toy.fits.clear()
    (result,) = run(shipping(tmp_path, "a", progress=True))
    assert Toy.fits == [20] and result.status == "ok" and not result.training["loaded"]
    err = " ".join(capsys.readouterr().err.split())
    assert f"checkpoint {shipped} was trained on other data" in err and "training" in err


def test_an_unreadable_shipped_checkpoint_is_trained_again_with_a_warning(tmp_path, monkeypatch, capsys):
    """A shipped file that cannot be loaded (a Git LFS pointer, a truncated install) failed the model
    in every run, with advice to delete a file inside the installation."""
    shipped = _ship_one(tmp_path, monkeypatch)
    shipped.write_text("version https://git-lfs.github.com/spec/v1\n")
    Toy.fits.clear()
    (result,) = run(shipping(tmp_path, "a", progress=True))
    assert Toy.fits == [20] and result.status == "ok" and not result.training["loaded"]
    err = " ".join(capsys.readouterr().err.split())
    assert f"checkpoint {shipped} is corrupt" in err and f"training {SHIPPING} seed 0 instead" in err


def test_a_shipped_folder_that_was_not_installed_is_warned_of_once_before_training(
    tmp_path, monkeypatch, capsys
):
    """setuptools installs a package's .py files only: a plugin following docs/plugins.md, with
    ``Path(__file__).parent / "weights"``, was installed without them and retrained on every machine,
    in silence. Said once per run, before training; not under --retrain, which loads nothing shipped."""
    missing = tmp_path / "site" / "weights"
    monkeypatch.setattr(Shipping, "shipped_checkpoints", missing)
    Toy.fits.clear()
    results = run(shipping(tmp_path, "a", seeds=[0, 1], progress=True))
    assert [r.status for r in results] == ["ok", "ok"] and Toy.fits == [20, 20]
    err = " ".join(capsys.readouterr().err.split())
    assert err.count(f"declares shipped_checkpoints = '{missing}', a folder that does not exist") == 1
    assert err.index("does not exist") < err.index("protocol:")  # before any training
    run(shipping(tmp_path, "b", retrain=True, progress=True))
    assert "does not exist" not in capsys.readouterr().err
    missing.mkdir(parents=True)  # there, holding no checkpoint of this key: other configs train, as usual
    run(shipping(tmp_path, "c", cache_dir=tmp_path / "cache2", progress=True))
    assert "does not exist" not in capsys.readouterr().err


def test_the_missing_shipped_folder_s_fix_names_the_package_data_line(monkeypatch):
    """The fix is the pyproject.toml line that installs the folder, for the package of the model's module."""
    import baselines.ddpm
    from genbench.shipped import missing_shipped_folder

    class Packaged(Toy):
        shipped_checkpoints = Path(baselines.ddpm.__file__).parent / "not-installed"

    monkeypatch.setattr(Packaged, "__module__", "baselines.ddpm")
    why = missing_shipped_folder("packaged", Packaged)
    assert why is not None
    assert why.endswith('[tool.setuptools.package-data] baselines = ["not-installed/**/*.pt"]')


@pytest.mark.parametrize(
    ("module", "package"),
    [("plug/__init__.py", "plug"), ("plug/sub/__init__.py", "plug.sub"), ("plug/sub/model.py", "plug.sub")],
    ids=["package-init", "subpackage-init", "subpackage-module"],
)
def test_the_package_data_line_names_the_package_whose_folder_holds_the_model(
    tmp_path, monkeypatch, module, package
):
    """setuptools' package-data paths are relative to the package they are listed under: a model in
    plug/sub/ was told plug's line, which installs nothing (plug/weights is no folder), and one in
    a package's __init__.py got no line at all. The line, read as TOML (a dotted name unquoted is a
    table), lists the folder under the package whose folder holds the model's file."""
    import importlib
    import tomllib

    from genbench.shipped import missing_shipped_folder

    parts = Path(module).parent.parts
    for i in range(1, len(parts) + 1):
        tmp_path.joinpath(*parts[:i]).mkdir(exist_ok=True)
        tmp_path.joinpath(*parts[:i], "__init__.py").touch()
    (tmp_path / module).touch()
    name = Path(module).with_suffix("").as_posix().replace("/", ".").removesuffix(".__init__")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        loaded = importlib.import_module(name)

        class Packaged(Toy):
            shipped_checkpoints = Path(loaded.__file__).parent / "weights"

        monkeypatch.setattr(Packaged, "__module__", name)
        why = missing_shipped_folder("packaged", Packaged)
    finally:  # the next case's plug is another folder
        for m in [m for m in sys.modules if m == "plug" or m.startswith("plug.")]:
            del sys.modules[m]
    assert why is not None
    line = why.partition("its pyproject.toml: ")[2]
    header, _, entry = line.partition("] ")
    listed = tomllib.loads(f"{header}]\n{entry}\n")["tool"]["setuptools"]["package-data"]
    assert listed == {package: ["weights/**/*.pt"]}, why


@pytest.mark.parametrize("folder", [5, "weights"], ids=["not-a-path", "relative"])
def test_shipped_checkpoints_must_name_an_absolute_folder(folder):
    """A relative folder would be looked for under the directory genbench runs in."""

    class Bad(Toy):
        shipped_checkpoints = folder

    with pytest.raises(registry.RegistrationError, match="give the absolute folder its trained checkpoints"):
        registry.models.add("test-bad-shipped", Bad)


def test_the_baselines_ship_the_digits_board_s_checkpoints_under_their_current_keys(tmp_path):
    """Every reference model trained on digits ships seeds 0, 1 and 2 under the key its current default
    config gives (a config or version change without `make checkpoints` would leave them unused), of
    this digits, fitting the model; and nothing else ships."""
    from baselines.configs import WEIGHTS_DIR
    from baselines.ship_weights import DATASET, MODELS
    from genbench.checkpoint import load_checkpoint
    from genbench.data.digits import Digits
    from genbench.model_config import resolve_model_config
    from genbench.shipped import shipped_checkpoint
    from genbench.training import checkpoint_subdir

    digits = Digits(cache_dir=tmp_path)
    expected = set()
    for name in MODELS:
        cls = registry.models.get(name)
        model = cls(digits.spec, resolve_model_config(cls, DATASET, {}))
        for seed in (0, 1, 2):
            path = shipped_checkpoint(cls, checkpoint_subdir(DATASET, name, model, seed, amp=False))
            assert path is not None, f"{name} seed {seed}: no shipped checkpoint; run `make checkpoints`"
            payload = load_checkpoint(path)
            assert payload["data_digest"] == digits.content_digest("train")
            model.load_state_dict(payload["state"])
            expected.add(path)
    assert set(WEIGHTS_DIR.rglob("*.pt")) == expected


def test_a_killed_checkpoint_write_leaves_no_temp_file_behind(tmp_path):
    """SIGKILL while ``train.pt`` (or ``model.pt``) was written left its hidden temp file, as large as
    the checkpoint (570 MB for the CIFAR-10 DDPM), for good: the rerun resumed and saved model.pt,
    after which neither is written again. The next run of the checkpoint removes one an hour old; a
    fresher one may be a live write (of a process that could not take the lock) and stays."""
    import os
    import time

    from genbench.training import KILLED_WRITE_S

    (first,) = run(config(tmp_path, "a"))
    ckpt = Path(first.training["checkpoint"]).parent
    left = [ckpt / ".train.pt.k1ll3d.tmp", ckpt / ".model.pt.k1ll3d.tmp"]
    live = ckpt / ".model.pt.wr1t1ng.tmp"
    other = ckpt / ".notes.txt.k1ll3d.tmp"  # not a checkpoint's: not genbench's to remove
    old = time.time() - KILLED_WRITE_S - 60
    for f in (*left, live, other):
        f.write_bytes(b"partial")
        if f is not live:
            os.utime(f, (old, old))
    (again,) = run(config(tmp_path, "a"))
    assert again.training["loaded"] and not any(f.exists() for f in left)
    assert live.exists() and other.exists()


# -- checkpoints are loaded without unpickling arbitrary objects -----------------------------------


@pytest.mark.parametrize("form", ["torch.save", "pickle"])
def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path, form):
    """model.pt was loaded with weights_only=False: a file in a shared cache (or one someone sent)
    ran whatever its pickle said when it was loaded. It is refused now, before anything runs, with
    the corrupt file's error; --retrain replaces it."""
    from genbench.checkpoint import FORMAT, load_checkpoint

    (first,) = run(config(tmp_path, "a"))
    model_pt, ran = Path(first.training["checkpoint"]), tmp_path / "ran"
    crafted = {"format": FORMAT, "state": Mkdir(ran)}
    if form == "torch.save":
        torch.save(crafted, model_pt)
    else:  # a bare pickle, which torch reads as its legacy format
        model_pt.write_bytes(pickle.dumps(crafted, protocol=2))
    with pytest.raises(CheckpointError, match=r"delete it or rerun with --retrain$"):
        load_checkpoint(model_pt)
    (again,) = run(config(tmp_path, "b"))
    assert (again.status, again.error_kind) == ("failed", "user")
    assert str(model_pt) in again.error and again.error.endswith("delete it or rerun with --retrain")
    assert "\n" not in again.error
    assert not ran.exists()
    (retrained,) = run(config(tmp_path, "c", retrain=True))
    assert retrained.status == "ok" and not ran.exists()


@pytest.mark.parametrize("which", ["model.pt", "train.pt"])
def test_a_checkpoint_whose_tensor_bytes_changed_on_disk_is_corrupt_not_loaded(tmp_path, monkeypatch, which):
    """torch.load checks no CRC-32: a bit flipped in a tensor's bytes on disk loaded other weights
    without a word (a resumed training went on from them), and the run scored them as the trained
    model's. The archive's CRCs are checked at the load: the corrupt file's error, and --retrain."""
    from genbench.checkpoint import PARTIAL, load_checkpoint

    if which == "model.pt":
        run(config(tmp_path, "a"))
    else:  # an interrupted training's resumable state, which the next run resumes from
        with interrupted_at(monkeypatch, 7):
            run(config(tmp_path, "a"))
    (path,) = (tmp_path / "cache").glob(f"checkpoints/ring8/{TOY}/*/{which}")
    before = load_checkpoint(path)["state"]["mean"]
    flip_a_tensor_byte(path)
    changed = torch.load(path, map_location="cpu", weights_only=True)["state"]["mean"]
    assert not torch.equal(before, changed)  # other weights, which torch loads without a word
    with pytest.raises(CheckpointError, match=r"is corrupt \(archive/data/\d+ fails its CRC-32 check\)"):
        load_checkpoint(path)
    (again,) = run(config(tmp_path, "b"))
    assert (again.status, again.error_kind) == ("failed", "user")
    assert str(path) in again.error and again.error.endswith("delete it or rerun with --retrain")
    assert path.name != PARTIAL or path.exists()  # the state is not trained over: the user decides
    (retrained,) = run(config(tmp_path, "c", retrain=True))
    assert retrained.status == "ok" and not retrained.training["resumed_from"]  # trained anew


@dataclass
class _Settings:
    """A dataclass in a state: what the loader does not unpickle."""

    scale: float = 1.0


FIX = "make state_dict() hold only tensors, numbers, strings, lists, tuples and dicts"


@register_model("test-training-holds-settings")
class HoldsSettings(Toy):
    """Its state_dict() holds a dataclass from the start."""

    def state_dict(self):
        return {**super().state_dict(), "settings": _Settings()}


def test_a_state_dict_the_loader_would_refuse_fails_the_plugin_before_training(tmp_path):
    """Such a model.pt saved, and the next run could not load it: the hours of training behind it
    were lost. Seen before training, it fails the plugin at once, naming the object and the fix."""
    Toy.fits.clear()
    (result,) = run(config(tmp_path, "a", models=["test-training-holds-settings"]))
    assert (result.status, result.error_kind) == ("failed", "plugin")
    assert "state_dict() holds a test_training._Settings object" in result.error and FIX in result.error
    assert "\n" not in result.error
    assert Toy.fits == [] and not list((tmp_path / "cache").glob("checkpoints/**/*.pt"))


@register_model("test-training-settles")
class Settles(Toy):
    """Its state_dict() holds a dataclass only once fit has run."""

    settings: _Settings | None = None

    def fit(self, train, ctx):
        out = super().fit(train, ctx)
        self.settings = _Settings()
        return out

    def state_dict(self):
        return {**super().state_dict(), "settings": self.settings}


def test_a_state_refused_after_training_is_scored_uncached_with_the_fix(tmp_path, capsys):
    """Refused only at the model.pt write, after the whole training: scored now, as a full disk's
    model is, with a warning naming the object and the fix; nothing is cached."""
    (result,) = run(config(tmp_path, "a", models=["test-training-settles"]))
    assert result.status == "ok" and "fid" in result.metrics, result.error
    assert result.training["checkpoint"] is None and result.training["loaded"] is False
    err = " ".join(capsys.readouterr().err.split())
    assert "test-training-settles seed 0: trained, but state_dict() holds a test_training._Settings" in err
    assert FIX in err and "the next run trains it again" in err
    assert not list((tmp_path / "cache").glob("checkpoints/**/model.pt"))


@register_model("test-training-returns-loss")
class ReturnsLoss(Toy):
    """Its fit returns its last loss, a float, where the contract asks for a dict (its summary)."""

    def fit(self, train, ctx):
        super().fit(train, ctx)
        return 0.25


def test_a_fit_returning_no_dict_keeps_its_training_and_says_so(tmp_path, capsys):
    """``{**summary}`` of a float was "raised TypeError: 'float' object is not a mapping", after the
    whole training and before its model.pt: the run failed and the next one trained again. The
    weights are saved and loaded back, and a warning names what fit returned and what it should."""
    Toy.fits.clear()
    (result,) = run(config(tmp_path, "a", models=["test-training-returns-loss"]))
    assert result.status == "ok" and result.training["checkpoint"] is not None, result.error
    err = " ".join(capsys.readouterr().err.split())
    assert (
        'fit() returned float 0.25, not a dict of its summary (e.g. {"steps": n}); it is not recorded' in err
    )
    (again,) = run(config(tmp_path, "b", models=["test-training-returns-loss"]))
    assert again.training["loaded"] and Toy.fits == [Toy.Config().steps]  # trained once


@register_model("test-training-saves-settings")
class SavesSettings(Toy):
    """Its resumable state (what it gives ctx.save_checkpoint) holds a dataclass; its state_dict() does not."""

    def fit(self, train, ctx):
        save = ctx.save_checkpoint
        ctx.save_checkpoint = lambda state, step: save({**state, "settings": _Settings()}, step)
        return super().fit(train, ctx)


def test_a_resumable_state_the_loader_would_refuse_is_shown_at_its_first_save(tmp_path, capsys):
    """It saved every --checkpoint-every steps, and an interrupted run's rerun could not resume from
    it. Its first save warns, once, naming the object and the fix; the training goes on and its
    model.pt loads. Outside the harness (no warn), the save raises."""
    (result,) = run(config(tmp_path, "a", models=["test-training-saves-settings"]))
    assert result.status == "ok" and result.training["checkpoint"], result.error
    err = " ".join(capsys.readouterr().err.split())
    said = "the state given to ctx.save_checkpoint() holds a test_training._Settings object"
    assert err.count(said) == 1 and "make the state given to ctx.save_checkpoint() hold only tensors" in err
    assert not list((tmp_path / "cache").glob("checkpoints/**/train.pt"))
    (again,) = run(config(tmp_path, "b", models=["test-training-saves-settings"]))
    assert again.training["loaded"] and again.metrics["fid"] == result.metrics["fid"]
    from genbench.errors import StateContentError

    ctx = TrainContext(seed=0, device=torch.device("cpu"), checkpoint_path=tmp_path / "t.pt")
    with pytest.raises(StateContentError, match="ctx.save_checkpoint"):
        ctx.save_checkpoint({"settings": _Settings()}, 5)
    assert not (tmp_path / "t.pt").exists()


class _WithConfig(Toy):
    @dataclass
    class Config:  # nested in its model, as the plugin contract writes it
        scale: float = 1.0


def test_a_state_holding_the_models_nested_config_names_the_config_not_the_model():
    """torch pickles a nested class as ``builtins.getattr(Model, "Config")``, and the refusal named
    the model itself: "holds builtins.getattr, test_training._WithConfig objects" for a state_dict()
    holding ``self.config``. It names the object the state holds."""
    from genbench.checkpoint import serialized
    from genbench.errors import StateContentError

    for state in ({"config": _WithConfig.Config()}, {"w": torch.zeros(2), "c": [1, (_WithConfig.Config(),)]}):
        with pytest.raises(StateContentError) as e:
            serialized(state)
        assert e.value.refused == "a test_training._WithConfig.Config object"  # old: builtins.getattr, ...
    with pytest.raises(StateContentError) as e:  # a class at module level, as before
        serialized({"settings": _Settings(), "config": _WithConfig.Config()})
    if hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):  # every refused global
        assert e.value.refused == "test_training._Settings, test_training._WithConfig.Config objects"
    else:  # torch 2.5 (the floor) names the first its unpickler met, as its error does
        assert e.value.refused == "a test_training._Settings object"


class _Mode(enum.Enum):
    FAST = "fast"


class _Level(enum.IntEnum):
    LOW = 1


@register_model("test-training-configured")
class Configured(Toy):
    """Config fields that --set takes but the loader does not (an Enum, a Path, a frozenset), and a
    summary of numpy and IntEnum numbers."""

    @dataclass
    class Config:
        steps: int = 20
        lr: float = 0.5
        mode: _Mode = _Mode.FAST
        level: _Level = _Level.LOW
        where: Path = Path("/data/x")
        tags: frozenset[str] = frozenset({"b", "a"})

    def fit(self, train, ctx):
        return {**super().fit(train, ctx), "final": np.float64(0.25), "level": _Level.LOW}


def test_a_model_pt_holds_nothing_the_weights_only_loader_refuses(tmp_path):
    """model.pt stored the training config and summary as they were: an Enum, a Path or a frozenset
    field (each of which --set takes) made a file that torch's weights_only load refuses. They are
    stored as the checkpoint key hashes them, and the model.pt loads."""
    (first,) = run(config(tmp_path, "a", models=["test-training-configured"]))
    payload = torch.load(first.training["checkpoint"], weights_only=True)  # torch's own allowlist only
    assert payload["config"] == {
        "steps": 20,
        "lr": 0.5,
        "mode": "_Mode.FAST",
        "level": 1,
        "where": "/data/x",
        "tags": ["a", "b"],
    }
    assert payload["summary"]["final"] == 0.25 and type(payload["summary"]["final"]) is float
    assert type(payload["summary"]["level"]) is int
    (again,) = run(config(tmp_path, "b", models=["test-training-configured"]))
    assert again.training["loaded"] and again.training["checkpoint"] == first.training["checkpoint"]


@register_model("test-training-numpy")
class NumpyNoise(Toy):
    """Learns the data mean from batches drawn with numpy's global generator (which the harness
    seeds), and saves that generator's state, numpy arrays and scalars to resume exactly."""

    def fit(self, train, ctx):
        from baselines.training import train_loop

        data, mean = train.cpu().double().numpy(), np.zeros(self.spec.shape)

        def step(i):
            batch = data[np.random.randint(0, len(data), 8)]
            mean[...] += 0.5 * (batch.mean(0) - mean)
            return {"loss": float(((batch - mean) ** 2).mean())}

        def state():
            return {"mean": mean.copy(), "rng": np.random.get_state(), "rate": np.float64(0.5)}

        def load(s):
            mean[...] = s["mean"]
            np.random.set_state(s["rng"])

        out = train_loop(ctx, steps=self.config.steps, step=step, state=state, load=load)
        self.mean = torch.from_numpy(mean).float()
        return out


def test_a_resumable_state_of_numpy_arrays_and_generator_state_resumes(tmp_path, monkeypatch):
    """numpy's arrays and scalars are data, and numpy's RNG state is how a plugin drawing from it
    resumes exactly: they load (the old, unrestricted load took them too; this guards the allowlist)."""
    (straight,) = run(config(tmp_path, "a", models=["test-training-numpy"], cache_dir=tmp_path / "ca"))
    with interrupted_at(monkeypatch, 7):
        run(config(tmp_path, "b", models=["test-training-numpy"]))
    (resumed,) = run(config(tmp_path, "b", models=["test-training-numpy"]))
    assert resumed.training["resumed_from"] == 5
    assert resumed.metrics["fid"] == straight.metrics["fid"]


# -- deterministic training on CUDA (--deterministic, on by default) ----------------------------------

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")


def _torch_flags() -> tuple[bool, bool, bool]:
    return (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
    )


@pytest.fixture
def flags_restored():
    from genbench.isolation import deterministic_mode, set_deterministic_mode

    mode, benchmark = deterministic_mode(), torch.backends.cudnn.benchmark
    yield
    set_deterministic_mode(mode)
    torch.backends.cudnn.benchmark = benchmark


def test_deterministic_training_switches_torch_for_cuda_only_and_restores_it(flags_restored):
    """On an H200 two --retrain runs trained other weights (up to 0.035 apart) until training ran with
    torch's deterministic algorithms and without cuDNN's autotuning. Only CUDA training is switched
    (flags alone: this runs without a GPU), strictly (warn_only kept memory-efficient attention's
    non-deterministic backward), and torch's settings are restored after, also after an error."""
    from genbench.determinism import deterministic_training

    cuda = torch.device("cuda")
    torch.use_deterministic_algorithms(True, warn_only=True)  # a caller's own settings
    torch.backends.cudnn.benchmark = True
    with deterministic_training(cuda, True) as mode:
        assert mode == {"deterministic": True}
        assert _torch_flags() == (True, False, False)
    assert _torch_flags() == (True, True, True)
    with pytest.raises(RuntimeError), deterministic_training(cuda, True):
        raise RuntimeError("training broke")
    assert _torch_flags() == (True, True, True)
    torch.use_deterministic_algorithms(False)
    with deterministic_training(cuda, False) as mode:  # --no-deterministic: recorded, nothing switched
        assert (mode, _torch_flags()) == ({"deterministic": False}, (False, False, True))
    with deterministic_training(torch.device("cpu"), True) as mode:  # the CPU's kernels are deterministic
        assert (mode, _torch_flags()) == ({}, (False, False, True))


@pytest.mark.parametrize("preset", [None, ":16:8"])
def test_import_genbench_fixes_cublas_workspace_unless_the_user_did(preset):
    """torch reads CUBLAS_WORKSPACE_CONFIG once, at the process's first cuBLAS product, and in
    deterministic mode every product fails when it was unset then: `import genbench` sets it, before
    any CUDA work, to one of the two values torch accepts, and keeps the user's."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    if preset:
        env["CUBLAS_WORKSPACE_CONFIG"] = preset
    code = "import os, genbench; print(os.environ['CUBLAS_WORKSPACE_CONFIG'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (preset or ":4096:8")


def test_an_op_without_a_deterministic_kernel_fails_naming_no_deterministic(flags_restored):
    """torch's own error for such an op (put_ has none on the CPU either, so torch's words are made
    here) gets the fix, --no-deterministic, appended in the model's failure."""
    from genbench.errors import plugin_fix

    torch.use_deterministic_algorithms(True)
    with pytest.raises(RuntimeError) as e:
        torch.zeros(3).put_(torch.tensor([0]), torch.tensor([1.0]))
    assert "does not have a deterministic implementation" in str(e.value)
    assert "--no-deterministic" in plugin_fix(e.value)
    cublas = "Deterministic behavior was enabled ... you must set an environment variable ... CUBLAS_WORKSPACE_CONFIG=:4096:8"
    assert "CUBLAS_WORKSPACE_CONFIG=:4096:8 before" in plugin_fix(RuntimeError(cublas))


class _PutInFit(TinyTrained):
    """Trains as TinyTrained, through an op that has no deterministic CUDA kernel."""

    def fit(self, train, ctx):
        torch.zeros(3, device=train.device).put_(
            torch.tensor([0], device=train.device), torch.ones(1, device=train.device)
        )
        return super().fit(train, ctx)


@CUDA
def test_cuda_training_is_deterministic_by_default_and_an_op_without_a_kernel_names_the_way_out(
    tmp_path, register
):
    """Two --retrain runs on CUDA into two caches train identical DDPM weights and give the same FID
    (on an H200 they differed before --deterministic); a model training through an op with no
    deterministic CUDA kernel fails alone naming --no-deterministic, and trains with it."""
    register(registry.models, "test-put-in-fit", _PutInFit)

    def once(out: str, models: list[str], **kw) -> dict:
        config = RunConfig(
            models=models,
            dataset="digits",
            samples=200,
            metrics=["fid"],
            overrides=["ddpm.train_steps=60"] if "ddpm" in models else [],
            out=tmp_path / out,
            cache_dir=tmp_path / f"cache-{out}",
            device="cuda",
            retrain=True,
            figures=False,
            progress=False,
            **kw,
        )
        return {r.model: r for r in run(config)}

    a, b = once("a", ["ddpm", "test-put-in-fit"]), once("b", ["ddpm"])
    assert a["ddpm"].training["deterministic"] is True
    assert a["ddpm"].metrics["fid"] == b["ddpm"].metrics["fid"]
    wa, wb = (
        flat_state(torch.load(r["ddpm"].training["checkpoint"], weights_only=False)["state"]) for r in (a, b)
    )
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a["test-put-in-fit"].status == "failed"
    assert a["test-put-in-fit"].error.endswith("retraining then gives other weights"), a[
        "test-put-in-fit"
    ].error
    c = once("c", ["test-put-in-fit"], deterministic=False)
    assert c["test-put-in-fit"].status == "ok", c["test-put-in-fit"].error
    assert c["test-put-in-fit"].training["deterministic"] is False


def test_a_log_every_of_its_own_trains_a_checkpoint_of_its_own(tmp_path):
    """``log_every`` was left out of the checkpoint key, but the training log is saved with the
    weights and read back by each run that loads them (``gan_dynamics`` summarises it): ``--set
    gan-ns.log_every=1`` then a plain run gave the plain row the per-step log and another
    ``gan_dynamics`` than its own training gives, under a config that says 10."""

    def trained(*overrides: str) -> tuple[bool, list[int]]:
        cfg = RunConfig(
            models=["gan-ns"],
            dataset="ring8",
            overrides=["gan-ns.steps=20", *overrides],
            samples=50,
            metrics=["gan_dynamics"],
            device="cpu",
            out=tmp_path / "runs",
            cache_dir=tmp_path / "cache",
            progress=False,
            figures=False,
        )
        (result,) = run(cfg)
        return result.training["loaded"], [int(row["step"]) for row in result.training_log]

    assert trained("gan-ns.log_every=1") == (False, list(range(1, 21)))
    assert trained() == (False, [1, 10, 20])  # its own training's log, not the per-step one
    assert trained("gan-ns.log_every=1") == (True, list(range(1, 21)))
    assert trained("gan-ns.log_every=10") == (True, [1, 10, 20])  # the default: the plain key


@register_model("test-training-no-final-save")
class NoFinalSave(Toy):
    """A loop of 7 steps that saves its state every --checkpoint-every steps, and not at its last."""

    def fit(self, train, ctx):
        resumed = ctx.load_checkpoint()
        for i in range(resumed[1] + 1 if resumed else 1, 8):
            ctx.progress(i, 7)
            if ctx.should_checkpoint(i):
                ctx.save_checkpoint({"mean": self.mean}, i)
        return {}


@pytest.mark.parametrize(
    ("model", "said", "retrained"),
    [
        # the baselines' loop saves its last step's state: it said "rerun to go on (trained models
        # load from their checkpoints)", of a model.pt there was none of
        (
            TOY,
            f"rerun to save {TOY} seed 0's trained model from its state at its last step (20): "
            "nothing is trained again",
            [],
        ),
        ("test-training-no-final-save", "rerun to resume training from step 5", [6, 7]),
    ],
)
def test_a_stop_while_writing_model_pt_says_what_the_rerun_does(
    tmp_path, monkeypatch, model, said, retrained
):
    """Ctrl-C (or SIGTERM) while the trained model.pt is being written, its training done: the last
    line says what the rerun does, and the rerun does it."""
    import genbench.training
    from genbench.termination import rerun_said

    real_save = genbench.training.save_checkpoint

    def stopped_writing_model_pt(path, payload):
        if path.name == "model.pt":
            raise KeyboardInterrupt
        real_save(path, payload)

    monkeypatch.setattr(genbench.training, "save_checkpoint", stopped_writing_model_pt)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run(config(tmp_path, "a", models=[model]))
    assert rerun_said(stopped.value) == said
    monkeypatch.setattr(genbench.training, "save_checkpoint", real_save)
    real_progress, trained = TrainContext.progress, []

    def progress(self, step, total, **values):
        trained.append(step)
        real_progress(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", progress)
    (result,) = run(config(tmp_path, "a", models=[model]))
    assert result.status == "ok" and result.training["checkpoint"]
    assert trained == retrained


def test_a_stop_before_any_state_was_saved_names_the_refused_state_not_checkpoint_every(
    tmp_path, monkeypatch
):
    """Its resumable state was refused at its first save (warned about then): Ctrl-C at step 12 of
    a training that saves every 5 steps said "had saved no state to resume from (--checkpoint-every
    5)", a cause and a fix that were not the real ones (a shorter interval saves nothing either)."""
    from genbench.termination import rerun_said

    interrupt_training_at(monkeypatch, 12)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run(config(tmp_path, "a", models=["test-training-saves-settings"]))
    assert rerun_said(stopped.value) == (
        "test-training-saves-settings seed 0 saved no state to resume from (its state holds a "
        "test_training._Settings object, which was refused), so a rerun trains it from the start"
    )
