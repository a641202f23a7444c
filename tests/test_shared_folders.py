"""Two rows whose results would share one file: ``m[arch=a b]`` and ``m[arch=a_b]`` have one folder
(``safe_name`` writes '_' for the space), and on macOS's and Windows's default file systems so do
``m[arch=ResNet]`` and ``m[arch=resnet]``. The second row's result replaced the first's, both said
ok, and the report showed one of them. A run refuses such rows, and never writes over another
row's result."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from cli_helpers import run_args, single_line_error  # tests/ is on the path: pytest puts it there

from genbench import registry
from genbench.api import GenerativeModel
from genbench.results import find_results


class Archs(GenerativeModel):
    """A model with a free-text field, which its samples depend on."""

    @dataclass
    class Config:
        arch: str = "base"

    trainable = False
    #: called as sampling starts (a test's other process writing meanwhile)
    meanwhile: ClassVar[Callable[[], object] | None] = None

    def sample(self, n, *, generator):
        if self.meanwhile is not None:
            self.meanwhile()
        scale = 1.0 + sum(map(ord, self.config.arch)) % 5
        return scale * torch.randn(n, *self.spec.shape, generator=generator, device=generator.device)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


FAST = ("--models", "archs", "--dataset", "ring8", "--samples", "200", "--metrics", "fid", "--no-figures")


def test_a_run_refuses_two_rows_of_one_folder(cli, register, tmp_path, cache_dir):
    register(registry.models, "archs", Archs)
    out = tmp_path / "runs"
    for values, why in [
        ("a b,a_b", "a folder name writes '_' for what it cannot hold"),
        ("ResNet,resnet", "the file system does not tell upper from lower case apart"),
    ]:
        line = single_line_error(cli(*run_args(out, cache_dir, *FAST, "--set", f"archs.arch={values}")))
        first, second = values.split(",")
        assert f"archs[arch={first}] and archs[arch={second}] would write their results to one folder" in line
        assert why in line and "run them into separate --out folders" in line
    assert not find_results(out)
    assert cli(*run_args(out, cache_dir, *FAST, "--set", "archs.arch=ResNet,vgg")).exit_code == 0
    assert len(find_results(out)) == 2


def test_a_run_never_replaces_another_rows_result(cli, register, tmp_path, cache_dir):
    """On macOS ``archs_arch=resnet/`` is the folder ``archs_arch=ResNet/`` that an earlier run wrote:
    simulated here by renaming it, as the file system would find it."""
    register(registry.models, "archs", Archs)
    out = tmp_path / "runs"
    assert cli(*run_args(out, cache_dir, *FAST, "--set", "archs.arch=ResNet")).exit_code == 0
    shutil.move(out / "ring8/archs_arch=ResNet", out / "ring8/archs_arch=resnet")
    kept = (out / "ring8/archs_arch=resnet/seed0.json").read_bytes()
    line = single_line_error(cli(*run_args(out, cache_dir, *FAST, "--set", "archs.arch=resnet")))
    assert "archs_arch=resnet/seed0.json holds the result of archs[arch=ResNet], another row" in line
    assert "pass --out" in line
    assert (out / "ring8/archs_arch=resnet/seed0.json").read_bytes() == kept
    assert json.loads(kept)["variant"] == "arch=ResNet"


def test_a_result_written_meanwhile_by_another_row_is_kept(cli, register, monkeypatch, tmp_path, cache_dir):
    """Another process's run of ``archs[arch=ResNet]`` wrote the file while this run of
    ``archs[arch=resnet]`` sampled: it is kept, and this result goes aside."""
    register(registry.models, "archs", Archs)
    theirs = tmp_path / "theirs"
    assert cli(*run_args(theirs, cache_dir, *FAST, "--set", "archs.arch=ResNet")).exit_code == 0
    kept = (theirs / "ring8/archs_arch=ResNet/seed0.json").read_bytes()
    out = tmp_path / "runs"
    home = out / "ring8/archs_arch=resnet/seed0.json"

    def write_theirs():
        home.parent.mkdir(parents=True, exist_ok=True)
        home.write_bytes(kept)

    monkeypatch.setattr(Archs, "meanwhile", staticmethod(write_theirs))
    r = cli(*run_args(out, cache_dir, *FAST, "--set", "archs.arch=resnet"))
    assert r.exit_code == 0, r.output
    assert home.read_bytes() == kept
    assert "holds the result of archs[arch=ResNet], another row" in r.stderr
    (aside,) = home.parent.glob("seed0.aside-*.json")
    assert json.loads(aside.read_text())["variant"] == "arch=resnet"


def test_an_evaluation_never_replaces_another_rows_result(cli, tmp_path, cache_dir):
    """`genbench eval` of the same samples under ``--name a_b`` replaced the row ``a b`` (one folder,
    ``a_b/``): the board lost it and showed the second name alone. The other row's result is kept,
    its samples the same or not, and the error names the file and the fix."""
    import numpy as np

    samples = tmp_path / "points.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    out = tmp_path / "runs"
    args = ("eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir)
    args += ("--no-progress", "--metrics", "fid", "--no-figures")
    assert cli(*args, "--name", "a b").exit_code == 0
    kept = (out / "ring8/a_b/seed0.json").read_bytes()
    line = single_line_error(cli(*args, "--name", "a_b"))
    assert "a_b/seed0.json holds the result of a b, another row, whose folder a_b's shares" in line, line
    assert "(a folder name writes '_' for what it cannot hold)" in line and "pass --name" in line, line
    assert (out / "ring8/a_b/seed0.json").read_bytes() == kept
    assert cli(*args, "--name", "a b").exit_code == 0  # its own row's again: replaced as before
