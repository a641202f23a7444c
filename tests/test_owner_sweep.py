"""A sweep of the weights that a ``weights_from`` model samples: ``--models ddpm,ddim --set
ddpm.train_steps=A,B`` runs a ddim row over each ddpm checkpoint (as diffusers users swap schedulers
over each), under ddim's own sweep as a grid, each ddpm value trained once for both models.
"""

from __future__ import annotations

import json

from cli_helpers import run_args  # tests/ is on the path: pytest puts it there

from genbench import RunConfig, run
from genbench.results import find_results


def sweep(tmp_path, **kw) -> RunConfig:
    return RunConfig(
        models=["ddpm", "ddim"],
        dataset="ring8",
        samples=100,
        seeds=[0],
        metrics=["modes"],
        overrides=["ddpm.train_steps=2,3", "ddim.steps=5,50"],
        out=tmp_path / "runs",
        cache_dir=tmp_path / "cache",  # its own: what this run trains is counted
        device="cpu",
        figures=False,
        progress=False,
        **kw,
    )


def test_ddim_samples_each_ddpm_checkpoint_of_a_training_sweep(tmp_path, cli):
    results = {r.label: r for r in run(sweep(tmp_path))}
    assert all(r.status == "ok" for r in results.values()), {k: r.error for k, r in results.items()}
    assert sorted(results) == [
        "ddim[ddpm.train_steps=2]",
        "ddim[ddpm.train_steps=3]",
        "ddim[steps=5,ddpm.train_steps=2]",
        "ddim[steps=5,ddpm.train_steps=3]",
        "ddpm[train_steps=2]",
        "ddpm[train_steps=3]",
    ]
    digests = {r.training["weights_digest"] for r in results.values()}
    assert len(digests) == 2  # two checkpoints, not one sampled under both labels
    for steps in (2, 3):
        ddpm = results[f"ddpm[train_steps={steps}]"]
        assert ddpm.training["loaded"] is False  # trained here, once
        for label in (f"ddim[ddpm.train_steps={steps}]", f"ddim[steps=5,ddpm.train_steps={steps}]"):
            ddim = results[label]
            assert ddim.training["weights_from"] == "ddpm"
            assert ddim.config["weights_from"]["overrides"] == {"train_steps": str(steps)}
            assert ddim.config["weights_from"]["config"]["train_steps"] == steps
            # ddpm's own checkpoint of that value, loaded, not trained again for ddim
            assert ddim.training["weights_digest"] == ddpm.training["weights_digest"]
            assert ddim.training["checkpoint"] == ddpm.training["checkpoint"]
            assert ddim.training["loaded"] is True
    checkpoints = {p.parent for p in (tmp_path / "cache").rglob("*.pt")}
    assert len(checkpoints) == 2, sorted(checkpoints)

    # --skip-done over the same sweep keeps every row, trains and writes nothing
    written = {p: p.read_bytes() for p in find_results(tmp_path / "runs")}
    assert len(written) == 6
    args = ["--models", "ddpm,ddim", "--dataset", "ring8", "--samples", "100", "--seeds", "0"]
    args += ["--metrics", "modes", "--device", "cpu", "--set", "ddpm.train_steps=2,3", "--set"]
    args += ["ddim.steps=5,50", "--skip-done"]
    r = cli(*run_args(tmp_path / "runs", tmp_path / "cache", *args))
    assert r.exit_code == 0, r.output
    assert r.output.count("skipped (--skip-done)") == 6, r.output
    assert {p: p.read_bytes() for p in find_results(tmp_path / "runs")} == written
    labels = {json.loads(p.read_text())["variant"] for p in written if "ddim" in p.parent.name}
    assert labels == {"ddpm.train_steps=2", "ddpm.train_steps=3", "steps=5,ddpm.train_steps=2"} | {
        "steps=5,ddpm.train_steps=3"
    }
