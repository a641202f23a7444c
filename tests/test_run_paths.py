"""A run's relative paths are made absolute before any plugin runs: nothing the harness writes
depends on a working directory that a plugin changes while it runs."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import genbench
import genbench.runner
from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import RunConfig


class ChdirsInFit(GenerativeModel):
    """Research code that moves to its own folder in ``fit`` and saves its resumable state there
    through the TrainContext."""

    elsewhere: Path

    @dataclass
    class Config:
        steps: int = 2

    def fit(self, train, ctx):
        os.chdir(self.elsewhere)
        ctx.save_checkpoint({"w": torch.zeros(1)}, step=1)
        return {}

    def sample(self, n, *, generator):
        return torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {"w": torch.zeros(1)}

    def load_state_dict(self, state):
        pass


@pytest.mark.parametrize("entry", ["genbench.run", "runner.run", "GENBENCH_CACHE"])
def test_a_checkpoint_saved_after_a_plugin_changed_directory_goes_to_the_runs_cache(
    register, tmp_path, monkeypatch, entry
):
    """The resumable state and model.pt went under the folder the plugin's fit moved to (the harness
    restores the directory only once training returns), and the result recorded a checkpoint path
    that named nothing there: the next run trained again. By the API (which the CLI calls), by the
    runner itself, and with the cache named by a relative ``GENBENCH_CACHE``."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    model = type("Moves", (ChdirsInFit,), {"elsewhere": elsewhere})
    register(registry.models, "test-chdir-checkpoint", model)
    monkeypatch.chdir(tmp_path)
    cache = "cache"
    if entry == "GENBENCH_CACHE":
        monkeypatch.setenv("GENBENCH_CACHE", "cache")
        cache = None
    config = RunConfig(
        models=["test-chdir-checkpoint"],
        dataset="ring8",
        samples=200,
        metrics=["fid"],
        out="runs",
        cache_dir=cache,
        device="cpu",
        figures=False,
        progress=False,
    )
    run = genbench.runner.run if entry == "runner.run" else genbench.run

    [first] = run(config)
    assert first.status == "ok", first.error
    assert Path.cwd() == tmp_path
    assert not [p for p in elsewhere.rglob("*") if p.is_file()]
    checkpoint = Path(first.training["checkpoint"])
    assert checkpoint.is_file() and checkpoint.is_relative_to(tmp_path / "cache" / "checkpoints")
    assert (tmp_path / "runs" / "ring8" / "test-chdir-checkpoint" / "seed0.json").is_file()

    [second] = run(config)
    assert second.training["loaded"] is True and second.training["checkpoint"] == str(checkpoint)


@pytest.fixture
def deleted_working_directory(tmp_path, monkeypatch):
    """The shell's directory removed under it (``rm -rf`` of the experiment folder it sat in)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()


DELETED = "the working directory no longer exists (deleted or moved); cd to an existing directory and rerun"


@pytest.mark.usefixtures("deleted_working_directory")
@pytest.mark.parametrize("entry", ["run", "evaluate", "stats"])
def test_a_deleted_working_directory_is_one_line_naming_the_fix_by_the_api(entry, tmp_path):
    """Path.absolute() raised FileNotFoundError from deep inside absolute_paths."""
    config = RunConfig(models=["gaussian"], dataset="ring8", device="cpu", progress=False)
    calls = {
        "run": lambda: genbench.run(config),
        "evaluate": lambda: genbench.evaluate(tmp_path / "s.npz", RunConfig(dataset="ring8")),
        "stats": lambda: genbench.stats(tmp_path / "s.npz", RunConfig(dataset="ring8")),
    }
    with pytest.raises(genbench.GenbenchError, match="^the working directory no longer exists"):
        calls[entry]()


@pytest.mark.usefixtures("deleted_working_directory")
@pytest.mark.parametrize("command", ["run", "list", "report"])
def test_a_deleted_working_directory_is_one_line_naming_the_fix_by_the_cli(cli, command):
    """A command that imports torch died in MKL's loader ("Cannot load libtorch_cpu.so") in a new
    process; in this one, with a traceback from Path.absolute(). --help still answers."""
    r = cli(command)
    assert r.exit_code == 2 and r.output.strip().splitlines() == [f"error: {DELETED}"]
    assert cli(command, "--help").exit_code == 0


def test_default_dirs_in_a_deleted_working_directory(deleted_working_directory, monkeypatch):
    from genbench.data.base import default_cache_dir, default_data_dir

    monkeypatch.setenv("GENBENCH_CACHE", "cache")
    monkeypatch.setenv("GENBENCH_DATA", "data")
    for default in (default_cache_dir, default_data_dir):
        with pytest.raises(genbench.GenbenchError, match=f"^{re.escape(DELETED)}$"):
            default()
