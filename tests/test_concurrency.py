"""Two genbench processes at once sharing a cache directory, as cluster jobs launched together do
(one per model: ddim takes ddpm's checkpoint): one checkpoint is trained once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from test_registry import (
    fake_distribution,  # tests/ is on the path: pytest imports test modules by their name
)

#: a trainable model whose training waits for a file, so that the test decides when it ends
GATED_MODULE = """
import os, time
from dataclasses import dataclass
from pathlib import Path

import torch

from genbench.api import GenerativeModel

GATE = Path(os.environ["GATE_DIR"])


class Gated(GenerativeModel):
    @dataclass
    class Config:
        scale: float = 1.0

    def fit(self, train, ctx):
        with open(GATE / "fits", "a") as fh:
            fh.write(f"{os.getpid()}\\n")
        deadline = time.monotonic() + 240
        while not (GATE / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"steps": 1}

    def sample(self, n, *, generator):
        return self.config.scale * torch.randn(n, *self.spec.shape, generator=generator)

    def state_dict(self):
        return {"scale": torch.tensor(self.config.scale)}

    def load_state_dict(self, state):
        pass
"""


def _wait_for(condition, what: str, procs, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        ended = [p for p in procs if p.poll() is not None]
        assert not ended and time.monotonic() < deadline, f"no {what}; ended: {[p.args for p in ended]}"
        time.sleep(0.1)


def test_two_processes_needing_one_checkpoint_train_it_once(tmp_path: Path):
    """Both trained it in full (each slowing the other down, each recording the slowed time, the last
    one's model.pt replacing the first's); the second now waits for the first, then loads its weights."""
    site, gate = tmp_path / "site", tmp_path / "gate"
    site.mkdir()
    gate.mkdir()
    (site / "gated_plugin.py").write_text(GATED_MODULE)
    fake_distribution(site, "gated-plugin", {"genbench.models": {"test-gated": "gated_plugin:Gated"}})
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p),
        "GATE_DIR": str(gate),
        "COLUMNS": "250",
    }
    common = ["--models", "test-gated", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    common += ["--cache-dir", str(tmp_path / "cache"), "--no-progress", "--no-figures"]

    logs = []

    def start(out: str) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "genbench", "run", *common, "--out", str(tmp_path / out)]
        logs.append(open(tmp_path / f"{out}.log", "w"))  # noqa: SIM115 - closed when the processes end
        return subprocess.Popen(cmd, env=env, stdout=logs[-1], stderr=subprocess.STDOUT, text=True)

    first = start("a")
    procs = [first]
    try:
        _wait_for(lambda: (gate / "fits").exists(), "training in the first process", procs)
        second = start("b")
        procs.append(second)
        waits = lambda: "waiting for it" in (tmp_path / "b.log").read_text()  # noqa: E731
        trains_too = lambda: len((gate / "fits").read_text().split()) > 1  # noqa: E731 - what it did before
        _wait_for(lambda: waits() or trains_too(), "wait or training in the second process", procs)
        (gate / "go").touch()
        for p in procs:
            p.wait(timeout=240)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for log in logs:
            log.close()
    output = {out: (tmp_path / f"{out}.log").read_text() for out in "ab"}
    assert [p.returncode for p in procs] == [0, 0], output
    assert len((gate / "fits").read_text().split()) == 1, output  # one training, in the first process
    a, b = (json.loads((tmp_path / out / "ring8/test-gated/seed0.json").read_text()) for out in "ab")
    assert (a["training"]["loaded"], b["training"]["loaded"]) == (False, True)
    assert b["training"]["checkpoint"] == a["training"]["checkpoint"]
    assert b["metrics"]["fid"] == a["metrics"]["fid"]
