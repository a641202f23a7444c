"""Shared fixtures: one cache directory per test session (classifiers of configs that ship no
weights train once, reference features are extracted once)."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genbench import registry
from genbench.cli.main import app


@pytest.fixture
def drawn(monkeypatch) -> list:
    """Every matplotlib figure saved, to read its words and legends (not its pixels)."""
    from matplotlib.figure import Figure

    made: list[Figure] = []
    savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: made.append(self) or savefig(self, *a, **k))
    return made


@pytest.fixture
def adam_gradients(monkeypatch) -> list[list[torch.Tensor]]:
    """The gradients each ``torch.optim.Adam.step`` of the test applies, one list per step in its
    parameter groups' order, read before the step."""
    grads: list[list[torch.Tensor]] = []
    step = torch.optim.Adam.step

    def spy(self, *a, **kw):
        grads.append([p.grad.clone() for g in self.param_groups for p in g["params"]])
        return step(self, *a, **kw)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    return grads


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("genbench-cache")


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised state dict with the keys torch-fidelity's Inception loads (the real
    weights are a download, which the tests never make); shared by the Inception and sFID tests."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi
    from torch import nn

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, strict=True: None)
        mp.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})  # no download: keys only
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = tfi.FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048"], feature_extractor_weights_path=None
            )
            for m in net.modules():  # variance-preserving init, so features are not vanishingly small
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def one_thread():
    """Tiny networks: one thread is faster, and robust to a busy machine. Modules of tiny networks
    use it for every test (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def cli():
    """Invoke the CLI in-process: cli("run", "--models", "copy") -> click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def genbench_process():
    """``genbench_process(*args, site=DIR)``: `python -m genbench ARGS` in a new process whose path
    starts with ``site`` (where a test installed plugin packages), so their entry points are found
    as an installed plugin's are; an environment that already extends the path keeps it."""

    def run(*args: object, site: Path) -> subprocess.CompletedProcess[str]:
        path = os.pathsep.join(part for part in (str(site), os.environ.get("PYTHONPATH", "")) if part)
        env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "250"}
        cmd = [sys.executable, "-m", "genbench", *(str(a) for a in args)]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    return run


@pytest.fixture
def clones(monkeypatch):
    """``cloned = clones()``: from then on, the shape of every tensor ``torch.Tensor.clone`` copies is
    appended to ``cloned`` (what a metric copies of the samples or the splits, and how often)."""

    def start() -> list[tuple[int, ...]]:
        cloned: list[tuple[int, ...]] = []
        clone = torch.Tensor.clone
        monkeypatch.setattr(
            torch.Tensor, "clone", lambda t, *a, **k: cloned.append(tuple(t.shape)) or clone(t, *a, **k)
        )
        return cloned

    return start


@pytest.fixture
def register(monkeypatch):
    """``register(registry.metrics, "name", cls)`` for this test only: the registries are restored
    afterwards, so a broken metric never reaches another test's run of every metric."""

    def add(reg, name, cls):
        reg.discover()
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
        reg.add(name, cls, source="genbench-test-plugin")
        return cls

    return add


@pytest.fixture
def fresh_registries(monkeypatch):
    """What a test's ``--include`` files register, and the record of the files imported, are undone
    afterwards (``pytestmark = pytest.mark.usefixtures("fresh_registries")`` in the files that
    include plugins). The module of genbench.includes is absent on code before --include: the tests
    then fail on their own assertions."""
    for reg in (registry.models, registry.datasets, registry.metrics, registry.features):
        # every entry point imported first, into the registry kept: a module first imported into the
        # copy registered its decorators' names there alone, and the kept registry, loading it later
        # from the module already imported, took ``gan`` for gan-ns's name (test_cli_variants failed
        # after test_include)
        reg.load_all()
        monkeypatch.setattr(reg, "_entries", {k: dataclasses.replace(e) for k, e in reg._entries.items()})
    with contextlib.suppress(ImportError):
        includes = importlib.import_module("genbench.includes")
        monkeypatch.setattr(includes, "_imported", {})
        monkeypatch.setattr(includes, "_by_module", {})
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    for name in [m for m in sys.modules if m.startswith("_genbench_include_") or m == "include_helper"]:
        del sys.modules[name]
    from genbench.metric_columns import _declared

    _declared.cache_clear()  # a test metric's directions
