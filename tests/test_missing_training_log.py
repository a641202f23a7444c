"""A GAN whose weights were loaded from a checkpoint that carries no training log (an older
genbench's, or a plugin's) has no ``gan_dynamics``: the run named with ``--metrics gan_dynamics`` and
the board each say why, in one line, with the fix (:mod:`genbench.missing_training_log`)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import torch

from genbench import RunConfig, report, run
from genbench.cells import row_cells
from genbench.leaderboard import results_frame
from genbench.results import Result

SAID = (
    "gan_dynamics: the seed's weights were loaded from a checkpoint that carries no training log "
    "(an older genbench's, or a plugin's), which gan_dynamics reads; rerun the seed with --retrain "
    "to log its training"
)
SAID_IN_RUN = (
    SAID.replace("rerun the seed", "if its model is a GAN, rerun the seed") + " (it applies to GANs alone)"
)


def _config(tmp_path: Path, out: str, seeds: list[int]) -> RunConfig:
    return RunConfig(
        models=["gan-ns"],
        dataset="ring8",
        overrides=["gan-ns.steps=20"],
        seeds=seeds,
        samples=50,
        metrics=["gan_dynamics"],
        device="cpu",
        out=tmp_path / out,
        cache_dir=tmp_path / "cache",
        progress=False,
        figures=False,
    )


def test_a_gan_loaded_without_its_training_log_is_said_to_lack_gan_dynamics(tmp_path, capsys):
    """The run said "the training log has no rows with d_real, d_fake, grad_norm_g; use it with GAN
    models" of a GAN, and the board marked the seed "no value recorded", as though its value had been
    lost."""
    trained = run(_config(tmp_path, "a", [0, 1]))
    assert [sorted(r.metrics) for r in trained] == [sorted(trained[0].metrics)] * 2 and trained[0].metrics
    # seed 1's checkpoint as an older genbench wrote it: no training log
    checkpoint = Path(trained[1].training["checkpoint"])
    payload = torch.load(checkpoint, weights_only=False)
    del payload["training_log"]
    torch.save(payload, checkpoint)
    capsys.readouterr()
    (loaded,) = run(_config(tmp_path, "b", [1]))
    assert loaded.training["loaded"] is True and not loaded.training_log and not loaded.metrics
    said = [ln for ln in capsys.readouterr().err.splitlines() if "not computed" in ln]
    # the run cannot tell a GAN by a log it lacks: the fix is said to be a GAN's
    assert said == [f"warning: {loaded.label} seed 1: not computed: {SAID_IN_RUN}"], said
    shutil.copy(trained[0].path(tmp_path / "a"), trained[0].path(tmp_path / "b"))
    md = report(tmp_path / "b", tmp_path / "boards")["ring8"]
    note = (
        "grad_norm_g_early, grad_norm_g_final, d_real_final, d_fake_final from 1 of 2 seeds (seed 0); "
        f"seed 1: {SAID}"
    )
    assert note in md, md


def test_a_vae_loaded_without_its_training_log_is_not_told_that_retrain_gives_it_gan_dynamics(
    tmp_path, capsys
):
    """A VAE (to which gan_dynamics never applies) loaded from a checkpoint without its log was told
    to "rerun the seed with --retrain to log its training", which gives it no gan_dynamics either:
    the run cannot tell a GAN by a log it lacks, so its fix is said to be a GAN's."""
    config = replace(_config(tmp_path, "a", [0]), models=["vae"], overrides=["vae.steps=20"])
    (trained,) = run(config)
    assert trained.status == "ok" and trained.training_log and not trained.metrics
    checkpoint = Path(trained.training["checkpoint"])
    payload = torch.load(checkpoint, weights_only=False)
    del payload["training_log"]
    torch.save(payload, checkpoint)
    capsys.readouterr()
    (loaded,) = run(replace(config, out=tmp_path / "b"))
    assert loaded.training["loaded"] is True and not loaded.training_log
    (said,) = [ln for ln in capsys.readouterr().err.splitlines() if "not computed" in ln]
    assert said.endswith(
        "; if its model is a GAN, rerun the seed with --retrain to log its training "
        "(it applies to GANs alone)"
    ), said


def test_a_row_with_no_value_of_it_gets_no_such_note():
    """A row none of whose seeds has a value of the metric (a VAE loaded from an older checkpoint,
    to which gan_dynamics never applies) says nothing of it: no seed shows that its model logs what
    the metric reads. A seed of a model that trains nothing, or of an eval, has no log to carry."""

    def seed(model: str, n: int, loaded: bool, **metrics: float) -> Result:
        training = {"loaded": loaded} if model != "copy" else {"trainable": False}
        log = [] if loaded or model == "copy" else [{"step": 1, "d_real": 0.5}]
        return Result(model, "ring8", n, metrics=metrics, training=training, training_log=log)

    frame = results_frame(
        [seed("vae", 0, True), seed("vae", 1, True), seed("copy", 0, False), seed("copy", 1, False)]
    )
    frame["grad_norm_g_early"] = [float("nan")] * 4
    for model in ("vae", "copy"):
        cells = row_cells(frame[frame["model"] == model], ["grad_norm_g_early"])
        assert cells["cell_notes"] == {}, cells
    # beside a seed with a value, only the seed loaded without its log is named
    frame = results_frame([seed("gan-ns", 0, False, grad_norm_g_early=0.2), seed("gan-ns", 1, True)])
    cells = row_cells(frame, ["grad_norm_g_early"])
    assert cells["cell_notes"]["grad_norm_g_early"].missing == ((1, SAID),)
