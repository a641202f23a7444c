"""A model defined in the script that calls ``genbench.run``, or in a notebook cell, is keyed by its
code (:mod:`genbench.script_code`): an edit to its ``fit`` loaded the checkpoint of the code before,
silently, unless ``version`` was bumped by hand (the key hashed an ``--include`` file's content only).
Every other model's key is what it was."""

from __future__ import annotations

import hashlib
import json
import linecache
import os
import subprocess
import sys
import types
from pathlib import Path

import torch

from genbench import registry
from genbench.api import DataSpec, GenerativeModel, config_hash
from genbench.provenance import code_source, source_text
from genbench.training import checkpoint_subdir, training_key_config

SPEC = DataSpec(name="ring8", kind="points", shape=(2,), value_range=None, num_train=10000, num_modes=8)

SCRIPT = """
import json, sys

import torch

import genbench


@genbench.register_model("nbm")
class Mean(genbench.GenerativeModel):
    def fit(self, train, ctx):
        self.mean = train.mean(0)
        return {}

    def sample(self, n, *, generator):
        return self.mean + torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, state):
        self.mean = state["mean"]


config = genbench.RunConfig(
    models=["nbm"], dataset="ring8", samples=100, metrics=["fid"], out=sys.argv[1], cache_dir=sys.argv[2],
    device="cpu", figures=False, progress=False,
)
r = genbench.run(config)[0]
print(json.dumps({"status": r.status, "training": r.training, "fid": r.metrics["fid"], "env": r.environment}))
"""


def _run_script(path: Path, tmp_path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(path), str(tmp_path / "runs"), str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_scripts_model_trains_anew_after_an_edit_and_loads_again_once_it_is_undone(tmp_path):
    """The audit's case: ``python nb.py`` trains; ``+ 5.0`` added to the fitted mean, the rerun
    loaded the first checkpoint (``loaded: True``, the old FID). The key now hashes the script's
    content, as ``--include`` hashes a file's."""
    path = tmp_path / "nb.py"
    path.write_text(SCRIPT)
    first = _run_script(path, tmp_path)
    assert first["status"] == "ok" and first["training"]["loaded"] is False

    path.write_text(SCRIPT.replace("self.mean = train.mean(0)", "self.mean = train.mean(0) + 5.0"))
    edited = _run_script(path, tmp_path)
    assert edited["training"]["loaded"] is False  # was True: the checkpoint of the code before
    assert edited["training"]["checkpoint"] != first["training"]["checkpoint"]
    assert edited["fid"] > first["fid"] + 10  # the edited fit ran: its mean is 5 off on each axis
    assert edited["env"]["model_file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

    path.write_text(SCRIPT)
    undone = _run_script(path, tmp_path)
    assert undone["training"]["loaded"] is True
    assert undone["training"]["checkpoint"] == first["training"]["checkpoint"]
    assert undone["fid"] == first["fid"]
    # what was hashed, recorded as --include records a file
    assert undone["env"]["model_file"] == str(path.resolve())
    assert undone["env"]["model_file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert undone["env"]["model_distribution"] is None


CELL = """
import torch

import genbench


class Cell(genbench.GenerativeModel):
    def fit(self, train, ctx):
        self.mean = train.mean(0)
        return {}

    def sample(self, n, *, generator):
        return self.mean + torch.randn(n, *self.spec.shape, generator=generator)

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, state):
        self.mean = state["mean"]
"""
EDITED = CELL.replace("self.mean = train.mean(0)", "self.mean = train.mean(0) + 5.0")


def _cell(
    source: str, number: int, module: str = "__main__", name: str = "Cell", namespace: dict | None = None
) -> type:
    """``source`` run as IPython runs a cell: compiled under a name of its own, its lines put in
    :mod:`linecache` under that name (where tracebacks and ``inspect`` read them), in the notebook's
    ``namespace``."""
    filename = f"<ipython-input-{number}-{number:012x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": module} if namespace is None else namespace
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


def _exec(source: str, module: str = "__main__", name: str = "Cell") -> type:
    """``source`` run by ``exec`` of a string: its lines are nowhere (``python -c``)."""
    namespace: dict = {"__name__": module}
    exec(compile(source, "<string>", "exec"), namespace)
    return namespace[name]


def _key(cls: type) -> str:
    return str(checkpoint_subdir("ring8", "nbm", cls(SPEC), 0, amp=False))


def _old_key(cls: type) -> str:
    """The key as genbench made it for any class not of an included file: name, version, config, seed."""
    model = cls(SPEC)
    return f"ring8/nbm/seed0-{config_hash('nbm', 'ring8', training_key_config(model.train_config(), False), 0, 1)}"


def test_a_notebook_cells_class_is_keyed_by_its_source():
    """A cell run again (another cell name, the same text) loads; an edit to ``fit`` trains anew (the
    key was the name, version, config and seed alone: the first checkpoint was loaded)."""
    first, again, edited = _cell(CELL, 1), _cell(CELL, 2), _cell(EDITED, 3)
    assert _key(first) == _key(again)
    assert _key(edited) != _key(first)
    assert _key(first) != _old_key(first)  # checks script_code's digest reaching checkpoint_subdir

    recorded = code_source(first)
    assert recorded["class"] == "__main__:Cell" and "file" not in recorded
    assert recorded["class_sha256"] != code_source(edited)["class_sha256"]
    assert source_text(recorded) == f"__main__ sha256 {recorded['class_sha256'][:12]}"


def test_a_cells_subclass_is_keyed_by_its_base_cell_too():
    """A base class's cell and its subclass's (with no function of its own), the base's edited and
    both run again: the subclass's cell is unchanged, its code is not."""
    sub = "class Sub(Cell):\n    version = 1\n"
    keys = []
    for number, base in ((8, CELL), (10, CELL), (12, EDITED)):
        namespace = {"__name__": "__main__"}
        _cell(base, number, namespace=namespace)
        keys.append(_key(_cell(sub, number + 1, name="Sub", namespace=namespace)))
    assert keys[0] == keys[1] != keys[2]


def test_a_class_whose_lines_are_nowhere_is_keyed_by_its_functions_code():
    """``exec`` of a string (``python -c``): no source to read; the bytecode, constants and names of
    its functions are hashed, not their line numbers."""
    first, again = _exec(CELL), _exec(CELL)
    assert _key(first) == _key(again) != _old_key(first)
    assert _key(_exec("\n\n" + CELL)) == _key(first)  # moved down two lines: the same code
    assert _key(_exec(EDITED)) != _key(first)
    shifted = CELL.replace("return {}", "return {'shift': 1.0}")
    assert _key(_exec(shifted)) != _key(first)


def test_a_module_whose_code_lives_in_linecache_only_is_keyed_by_its_source(monkeypatch):
    """A cell compiled into a module of its own, with no file on disk; one exec'd from a string, with
    no lines anywhere, keeps its key (a class an installed package makes by exec: no sign it is
    edited)."""
    monkeypatch.setitem(sys.modules, "cellmodule", types.ModuleType("cellmodule"))
    first, edited = _cell(CELL, 6, module="cellmodule"), _cell(EDITED, 7, module="cellmodule")
    assert _key(first) != _key(edited)
    assert _key(first) != _old_key(first)
    made = _exec(CELL, module="cellmodule")
    assert _key(made) == _old_key(made)


def test_every_other_models_key_is_as_it_was(monkeypatch):
    """A baseline (its shipped checkpoints are found by their keys) and a decorator-registered class
    of a module with a file (a test's, an installed plugin's, a module beside a notebook) keep the
    key of name, version, config and seed: their ``version`` says when checkpoints are stale. A
    guard against hashing every class's source: it holds on the code before too."""
    from baselines.ddpm import DDPM
    from genbench.model_config import resolve_model_config

    # the key's scheme itself, as genbench has always made it
    assert config_hash("ddpm", "ring8", {"lr": 0.001}, 0, 1) == "f7094aa0ff881dd3"
    ddpm = DDPM(SPEC, resolve_model_config(DDPM, "ring8", {}))
    expected = config_hash("ddpm", "ring8", training_key_config(ddpm.train_config(), False), 0, DDPM.version)
    assert checkpoint_subdir("ring8", "ddpm", ddpm, 0, amp=False) == Path(f"ring8/ddpm/seed0-{expected}")

    registry.models.discover()
    monkeypatch.setattr(registry.models, "_entries", dict(registry.models._entries))
    here = registry.models.register("test-script-code-here")(Here)
    assert os.path.isfile(sys.modules[here.__module__].__file__)
    assert _key(here) == _old_key(here)
    assert set(code_source(here)) == {"class", "distribution", "distribution_version"}


class Here(GenerativeModel):
    """A class of a module with a file on disk (this test file)."""

    def fit(self, train, ctx):
        self.mean = train.mean(0)
        return {}

    def sample(self, n, *, generator):
        return self.mean + torch.randn(n, *self.spec.shape, generator=generator)

    def state_dict(self):
        return {"mean": self.mean}

    def load_state_dict(self, state):
        self.mean = state["mean"]
