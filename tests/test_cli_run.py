"""`genbench run` end to end: results and the report of them, cached and resumed training, retraining, and
models that fail alone while the others go on.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import Mkdir, interrupt_training_at, run_args  # tests/ is on the path: pytest puts it there
from cli_models import Flaky, TinyTrained

from genbench import RunConfig
from genbench.results import find_results, load_result


def test_controls_on_digits_then_report_ranks_copy_first(cli, tmp_path, cache_dir):
    out, boards = tmp_path / "runs", tmp_path / "boards"
    r = cli(*run_args(out, cache_dir, "--models", "copy,collapse,gaussian", "--dataset", "digits"))
    assert r.exit_code == 0, r.output
    files = find_results(out)
    assert len(files) == 3
    res = {json.loads(p.read_text())["model"]: json.loads(p.read_text()) for p in files}
    copy = res["copy"]
    assert copy["protocol"]["num_samples"] == copy["protocol"]["num_reference"]  # train-split size
    assert copy["protocol"]["features"]["name"] == "classifier"
    assert copy["environment"]["torch"] and copy["protocol"]["seed"] == 0
    assert (
        res["copy"]["metrics"]["fid"] < res["gaussian"]["metrics"]["fid"] < res["collapse"]["metrics"]["fid"]
    )
    assert "memorized" in res["copy"]["flags"] and "collapsed" in res["collapse"]["flags"]
    assert res["gaussian"]["flags"] == []
    # each control proves its diagnostic (issue: "controls must prove each diagnostic")
    m = {name: r["metrics"] for name, r in res.items()}
    assert m["copy"]["memorization_rate"] >= 0.9 and m["copy"]["ct"] < -5
    assert m["gaussian"]["memorization_rate"] < 0.05
    assert m["collapse"]["modes_covered"] == 1 and m["collapse"]["mode_kl"] > 2.0  # ~log 10 for one mode
    assert m["gaussian"]["modes_covered"] == 10 and m["copy"]["modes_covered"] == 10
    # the figures a report links to exist
    assert Path(res["copy"]["artifacts"]["nearest_neighbours"]).is_file()
    assert Path(res["copy"]["artifacts"]["samples"]).is_file()

    rep = cli("report", "--out", str(out), "--leaderboards", str(boards))
    assert rep.exit_code == 0, rep.output
    md = (boards / "digits.md").read_text()
    assert md in rep.stdout
    table_rows = [ln for ln in md.splitlines() if ln.startswith("|") and "copy" in ln]
    assert table_rows[0].split("|")[1].strip() == "1"  # copy ranks first by FID ...
    assert "**memorized**" in table_rows[0]  # ... and is flagged, not silently on top
    assert "N = " in md and "classifier" in md and "seed 0; one seed, so cells have no spread" in md
    import pandas as pd

    csv = pd.read_csv(boards / "digits.csv")
    assert {"fid", "fid_std", "memorization_rate", "modes_covered", "samples_per_s"} <= set(csv.columns)
    assert csv.loc[csv["model"] == "copy", "rank"].item() == 1


def test_same_command_gives_same_numbers_and_second_run_loads_checkpoint(cli, tmp_path):
    cache_dir = tmp_path / "cache"  # its own: the session's holds other tests' checkpoints of this model
    args = [
        "--models",
        "test-tiny-trained,gaussian",
        "--dataset",
        "ring8",
        "--samples",
        "300",
        "--seeds",
        "0,1",
    ]
    assert cli(*run_args(tmp_path / "a", cache_dir, *args)).exit_code == 0
    ckpts = list(cache_dir.glob("checkpoints/ring8/test-tiny-trained/seed*/model.pt"))
    assert len(ckpts) == 2
    stamps = [p.stat().st_mtime_ns for p in ckpts]
    r = cli(*run_args(tmp_path / "b", cache_dir, *args))
    assert r.exit_code == 0
    assert [p.stat().st_mtime_ns for p in ckpts] == stamps  # loaded, not retrained
    for pa in find_results(tmp_path / "a"):
        pb = tmp_path / "b" / pa.relative_to(tmp_path / "a")
        ma, mb = json.loads(pa.read_text())["metrics"], json.loads(pb.read_text())["metrics"]
        for k in ("fid", "precision", "recall", "modes_covered"):
            assert ma[k] == mb[k], k
    # seeds differ
    s0 = json.loads((tmp_path / "a/ring8/gaussian/seed0.json").read_text())["metrics"]["fid"]
    s1 = json.loads((tmp_path / "a/ring8/gaussian/seed1.json").read_text())["metrics"]["fid"]
    assert s0 != s1
    r = cli(*run_args(tmp_path / "c", cache_dir, *args, "--retrain"))
    assert r.exit_code == 0 and [p.stat().st_mtime_ns for p in ckpts] != stamps


def test_ctrl_c_before_the_first_resumable_state_says_the_rerun_starts_over(cli, tmp_path, monkeypatch):
    """Stopped at step 3 of a training that saves its state every 5 steps, there is no train.pt:
    the command still said "rerun to resume training", and the rerun trained from step 0."""
    from genbench.api import TrainContext

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args = run_args(tmp_path / "runs", tmp_path / "cache", *args, "--checkpoint-every", "5", "--no-figures")
    real = interrupt_training_at(monkeypatch, 3)
    r = cli(*args)
    assert r.exit_code == 130 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == (
        "interrupted: finished results are saved; test-tiny-trained seed 0 had saved no state to resume "
        "from (--checkpoint-every 5, --checkpoint-minutes 30), so a rerun trains it from the start"
    )
    assert not list((tmp_path / "cache").rglob("train.pt"))
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*args).exit_code == 0
    (result,) = find_results(tmp_path / "runs")
    assert load_result(result).training["resumed_from"] == 0  # as said: trained from the start


def test_interrupted_training_resumes_to_the_same_result(cli, tmp_path, monkeypatch):
    """Ctrl-C during training keeps the last checkpoint; the rerun resumes from it and ends where an
    uninterrupted run ends, with the whole training log."""
    from genbench.api import TrainContext

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args += ["--checkpoint-every", "5", "--no-figures"]
    assert cli(*run_args(tmp_path / "a", tmp_path / "cache-a", *args)).exit_code == 0
    real = interrupt_training_at(monkeypatch, 12)
    r = cli(*run_args(tmp_path / "b", tmp_path / "cache-b", *args))
    assert r.exit_code == 130 and "rerun to resume" in r.stderr
    assert not find_results(tmp_path / "b")
    monkeypatch.setattr(TrainContext, "progress", real)
    r = cli(*run_args(tmp_path / "b", tmp_path / "cache-b", *args, "--progress"))  # its lines shown
    assert r.exit_code == 0
    # the rerun says it resumed, and from where, as a loaded checkpoint's line names it: it said nothing
    said = " ".join(r.stderr.split())
    assert "test-tiny-trained seed 0: resuming the interrupted training from step 10 (" in said, said
    assert "train.pt)" in said
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert a["training"]["resumed_from"] == 0 and b["training"]["resumed_from"] == 10
    assert a["metrics"]["fid"] == b["metrics"]["fid"]  # the same weights, so the same samples
    assert [row["step"] for row in b["training_log"]] == [row["step"] for row in a["training_log"]]
    c = cli(*run_args(tmp_path / "c", tmp_path / "cache-b", *args))  # third time: loaded, not trained
    assert c.exit_code == 0
    assert json.loads((tmp_path / "c/ring8/test-tiny-trained/seed0.json").read_text())["training"]["loaded"]


def test_an_interrupted_retrain_resumes_when_the_same_command_is_rerun(cli, tmp_path, monkeypatch):
    """--retrain cleared the checkpoint directory on every run: rerunning the interrupted command, as
    Ctrl-C's message says, started the training over. It resumes now, to the same result; once that
    training has finished, --retrain trains anew again."""
    from genbench.api import TrainContext

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args += ["--checkpoint-every", "5", "--no-figures", "--retrain"]
    assert cli(*run_args(tmp_path / "a", tmp_path / "cache-a", *args)).exit_code == 0
    cache = tmp_path / "cache-b"
    assert cli(*run_args(tmp_path / "old", cache, *args[:-1])).exit_code == 0  # a finished checkpoint
    real = interrupt_training_at(monkeypatch, 12)
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 130
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert (b["training"]["loaded"], b["training"]["resumed_from"]) == (False, 10)
    assert a["metrics"]["fid"] == b["metrics"]["fid"]
    assert cli(*run_args(tmp_path / "c", cache, *args)).exit_code == 0  # finished: --retrain trains anew
    c = json.loads((tmp_path / "c/ring8/test-tiny-trained/seed0.json").read_text())
    assert (c["training"]["loaded"], c["training"]["resumed_from"]) == (False, 0)

    def fail_at_12(self, step, total, **values):
        if step == 12:
            raise RuntimeError("a bug")
        real(self, step, total, **values)

    monkeypatch.setattr(TrainContext, "progress", fail_at_12)
    assert cli(*run_args(tmp_path / "e", cache, *args)).exit_code == 1
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*run_args(tmp_path / "e", cache, *args)).exit_code == 0  # failed, not interrupted: anew
    e = json.loads((tmp_path / "e/ring8/test-tiny-trained/seed0.json").read_text())
    assert e["training"]["resumed_from"] == 0
    (final,) = cache.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    assert [f.name for f in final.parent.iterdir()] == ["model.pt"]  # the resumable state is gone
    final.unlink()
    ckpt = final.parent / "train.pt"
    ckpt.write_bytes(b"truncated")  # an unfinished retraining whose checkpoint is corrupt: cleared
    (ckpt.parent / "retraining").touch()
    r = cli(*run_args(tmp_path / "d", cache, *args))
    assert r.exit_code == 0, r.output
    assert (
        json.loads((tmp_path / "d/ring8/test-tiny-trained/seed0.json").read_text())["training"][
            "resumed_from"
        ]
        == 0
    )


#: two trainings of one model, checkpointed every 5 steps
TWO_TRAININGS = (
    "--models test-tiny-trained --dataset ring8 --samples 100 --metrics fid --no-figures "
    "--set test-tiny-trained.steps=10,30 --checkpoint-every 5"
).split()


def record_fits(monkeypatch) -> list[int]:
    """The ``steps`` of every TinyTrained training from now on, in order."""
    fits: list[int] = []
    real_fit = TinyTrained.fit
    monkeypatch.setattr(
        TinyTrained,
        "fit",
        lambda self, train, ctx: fits.append(self.config.steps) or real_fit(self, train, ctx),
    )
    return fits


def test_an_interrupted_retrain_keeps_the_trainings_it_finished(cli, tmp_path, monkeypatch):
    """A --retrain of several models interrupted in the last one: its rerun trained the finished
    ones over again (a whole leaderboard's worth). It loads them now and resumes the interrupted one;
    once the run has finished, the next --retrain trains everything anew."""
    from genbench.api import TrainContext

    fits = record_fits(monkeypatch)
    args = [*TWO_TRAININGS, "--retrain"]
    cache = tmp_path / "cache"
    real = interrupt_training_at(monkeypatch, 12)  # steps=10 finishes first; steps=30 stops at 12
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 130
    assert fits == [10, 30]
    monkeypatch.setattr(TrainContext, "progress", real)
    fits.clear()
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    assert fits == [30]
    rows = {
        r["variant"]: r["training"]
        for r in map(json.loads, map(Path.read_text, find_results(tmp_path / "a")))
    }
    assert rows["steps=10"]["loaded"] and rows["steps=30"]["resumed_from"] == 10
    fits.clear()
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0
    assert fits == [10, 30]


def test_a_run_without_retrain_ends_an_interrupted_retrains_mark(cli, tmp_path, monkeypatch):
    """An interrupted --retrain, then a plain run that loads what it had finished: the mark stayed,
    and any later --retrain, days on, loaded that checkpoint instead of training it."""
    from genbench.api import TrainContext

    fits = record_fits(monkeypatch)
    args = TWO_TRAININGS
    cache = tmp_path / "cache"
    real = interrupt_training_at(monkeypatch, 12)  # steps=10 finishes first; steps=30 stops at 12
    assert cli(*run_args(tmp_path / "a", cache, *args, "--retrain")).exit_code == 130
    monkeypatch.setattr(TrainContext, "progress", real)
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0  # loads 10, resumes 30
    fits.clear()
    assert cli(*run_args(tmp_path / "b", cache, *args, "--retrain")).exit_code == 0
    assert fits == [10, 30]


def test_bumping_a_models_version_retrains_instead_of_loading_a_stale_checkpoint(cli, tmp_path, monkeypatch):
    from genbench import registry

    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    cache = tmp_path / "cache"
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    monkeypatch.setattr(registry.models.get("test-tiny-trained"), "version", 2)
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert (a["training"]["model_version"], b["training"]["model_version"]) == (1, 2)
    assert not b["training"]["loaded"] and b["training"]["checkpoint"] != a["training"]["checkpoint"]
    assert len(list(cache.glob("checkpoints/ring8/test-tiny-trained/seed0-*/model.pt"))) == 2


def test_the_cost_table_names_the_machines_its_timings_were_measured_on(cli, tmp_path):
    """The boards' samples/s and train_s named no hardware, and a loaded checkpoint's train_s was
    timed wherever it had been trained: results now record the CPU model and torch's threads (the GPU
    on CUDA), checkpoints record where they were trained, and the Cost table says both."""
    import torch

    from genbench.environment import machine, machine_text

    cache = tmp_path / "cache"
    args = ["--models", "test-tiny-trained,gaussian", "--dataset", "ring8", "--samples", "100"]
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    assert cli(*run_args(tmp_path / "b", cache, *args)).exit_code == 0  # loads the checkpoint
    a, b = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "ab")
    assert a["environment"]["cpu_threads"] == torch.get_num_threads()
    assert a["environment"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    here = machine_text(machine(a["environment"]["device"]))  # the GPU's name where auto chose CUDA
    if a["environment"]["device"] == "cpu":
        threads = torch.get_num_threads()
        assert here.startswith("CPU") and f"{threads} thread{'' if threads == 1 else 's'}" in here
        assert f"({torch.backends.cpu.get_cpu_capability()})" in here
    assert (a["training"]["loaded"], b["training"]["loaded"]) == (False, True)
    assert a["training"]["trained_on"] == b["training"]["trained_on"] == here
    assert cli("report", "--out", str(tmp_path / "b")).exit_code == 0
    board = (tmp_path / "b/leaderboards/ring8.md").read_text()
    cost = board[board.index("## Cost") :]
    # 100 samples, fewer than the default batch (500), were drawn as one batch of 100
    assert RunConfig().batch_size > 100
    batches = "Sampled in batches of 100."
    assert cost.splitlines()[2] == f"Timed on {here}. {batches}"

    # a checkpoint written before the machine was recorded: its train_s is not claimed for this one
    (ckpt,) = cache.glob("checkpoints/ring8/test-tiny-trained/seed0-*/model.pt")
    payload = torch.load(ckpt, weights_only=False)
    del payload["machine"]
    torch.save(payload, ckpt)
    assert cli(*run_args(tmp_path / "c", cache, *args)).exit_code == 0
    assert cli("report", "--out", str(tmp_path / "c")).exit_code == 0
    cost = (tmp_path / "c/leaderboards/ring8.md").read_text().split("## Cost")[1]
    assert cost.splitlines()[2] == (
        f"Sampling timed on {here}; `train_s` when the checkpoints were trained, on a machine they do "
        f"not name (they predate recording it). {batches}"
    )


def test_a_plugin_datasets_changed_data_is_never_served_stale_checkpoints_or_features(
    cli, tmp_path, monkeypatch
):
    """Checkpoints were keyed by the dataset's name, and cached reference features and the protocol's
    fingerprint hashed the first 256 rows: a plugin dataset whose rows past 256 changed got the old
    trained model and the old features, and its results claimed the old data, without a word."""
    from genbench import registry
    from genbench.data.base import Dataset

    class Shifting(Dataset):
        kind, default_features = "points", "raw"
        shift = 0.0

        def _load(self, split):
            x = torch.from_numpy(np.random.default_rng(0).standard_normal((400, 2)).astype(np.float32))
            x[300:] += self.shift  # past the 256 rows the fingerprint reads
            return x, None

    registry.datasets.discover()
    monkeypatch.setattr(registry.datasets, "_entries", dict(registry.datasets._entries))
    registry.datasets.add("test-shifting", Shifting, source="genbench-test-plugin")
    cache = tmp_path / "cache"
    args = ["--models", "test-tiny-trained", "--dataset", "test-shifting"]
    args += ["--samples", "100", "--metrics", "fid"]
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    features = set(cache.glob("features/*.npz"))
    monkeypatch.setattr(Shifting, "shift", 5.0)
    r = cli(*run_args(tmp_path / "b", cache, *args))
    assert r.exit_code == 2 and "Traceback" not in r.output
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert "trained on other data: the train split of dataset 'test-shifting' changed" in line, line
    assert "--retrain" in line
    assert cli(*run_args(tmp_path / "c", cache, *args, "--retrain")).exit_code == 0
    assert set(cache.glob("features/*.npz")) - features  # features of the new data, not the old ones
    a, c = (
        json.loads((tmp_path / d / "test-shifting/test-tiny-trained/seed0.json").read_text()) for d in "ac"
    )
    # and the results say which data they measured: the protocol's fingerprint covers every row
    assert a["protocol"]["dataset_fingerprint"] != c["protocol"]["dataset_fingerprint"]
    assert a["metrics"]["fid"] != c["metrics"]["fid"]


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU"))],
)
def test_amp_checkpoints_have_a_key_of_their_own_and_results_record_the_precision(cli, tmp_path, device):
    """--amp (bfloat16 autocast on CUDA) was neither in the checkpoint key nor in the result: an fp32
    run loaded bf16-trained weights without a trace. On CUDA --amp trains a checkpoint of its own key;
    on the CPU it is a no-op and loads the fp32 checkpoint. The device is named: on a GPU machine
    auto picks CUDA, where the CPU's expectations failed."""
    from genbench.api import config_hash
    from genbench.training import training_key_config

    cfg = {"lr": 1e-3, "steps": 10}
    assert training_key_config(cfg, False) == cfg  # fp32 keys are unchanged: existing caches load
    assert config_hash("m", "d", training_key_config(cfg, True), 0) != config_hash("m", "d", cfg, 0)
    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "200", "--metrics", "fid"]
    args += ["--no-figures", "--device", device]
    for out, extra in (("a", []), ("b", ["--amp"]), ("c", ["--amp"])):
        r = cli(*run_args(tmp_path / out, tmp_path / "cache", *args, *extra))
        assert r.exit_code == 0
        # on the CPU, said once, rather than training in float32 while the user believes bf16
        said = [ln for ln in r.stderr.splitlines() if "--amp" in ln]
        assert said == (
            [f"warning: --amp is mixed precision on CUDA only: training on {device} runs in float32"]
            if extra and device == "cpu"
            else []
        )
    a, b, c = (json.loads((tmp_path / d / "ring8/test-tiny-trained/seed0.json").read_text()) for d in "abc")
    assert (a["training"]["amp"], a["training"]["loaded"]) == (False, False)
    if device == "cpu":
        assert (b["training"]["amp"], b["training"]["loaded"]) == (False, True)
        assert b["training"]["checkpoint"] == a["training"]["checkpoint"]
    else:  # bf16-trained weights: a key of their own, which the next --amp run loads
        assert (b["training"]["amp"], b["training"]["loaded"]) == (True, False)
        assert b["training"]["checkpoint"] != a["training"]["checkpoint"]
    assert (c["training"]["amp"], c["training"]["loaded"]) == (b["training"]["amp"], True)
    assert c["training"]["checkpoint"] == b["training"]["checkpoint"]


def test_retrain_trains_a_shared_checkpoint_once_per_run(cli, tmp_path, monkeypatch):
    """ddpm and every ddim variant sample one DDPM checkpoint: --retrain trained it anew for each of
    them (three times here; on a GPU, three different networks behind one table)."""
    from baselines.ddpm import DDPM

    fits = []
    real_fit = DDPM.fit
    monkeypatch.setattr(
        DDPM, "fit", lambda self, train, ctx: fits.append(ctx.seed) or real_fit(self, train, ctx)
    )
    args = [
        "--models",
        "ddpm,ddim",
        "--dataset",
        "ring8",
        "--samples",
        "20",
        "--metrics",
        "fid",
        "--no-figures",
    ]
    args += ["--set", "ddpm.train_steps=5", "--set", "ddim.steps=2,3", "--seeds", "0,1"]
    cache = tmp_path / "cache"
    assert cli(*run_args(tmp_path / "a", cache, *args)).exit_code == 0
    assert fits == [0, 1]
    fits.clear()
    assert cli(*run_args(tmp_path / "b", cache, *args, "--retrain")).exit_code == 0
    assert fits == [0, 1]  # once per seed, not once per row
    rows = [json.loads(p.read_text()) for p in find_results(tmp_path / "b")]
    assert sorted(r["training"]["loaded"] for r in rows) == [False] * 2 + [True] * 4


def test_a_diverged_shared_checkpoint_is_trained_once_per_run(cli, tmp_path, monkeypatch):
    """Each ddim variant trained the diverging DDPM again up to its divergence (minutes each on
    digits); the rows after the first now record the same divergence."""
    from baselines.ddpm import DDPM

    fits = []
    real_fit = DDPM.fit
    monkeypatch.setattr(
        DDPM, "fit", lambda self, train, ctx: fits.append(ctx.seed) or real_fit(self, train, ctx)
    )
    args = ["--models", "ddpm,ddim", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
    args += ["--set", "ddpm.lr=1e30", "--set", "ddpm.train_steps=50", "--set", "ddim.steps=2,3"]
    r = cli(*run_args(tmp_path, tmp_path / "cache", *args, "--no-figures"))
    assert r.exit_code == 1, r.output
    assert fits == [0]
    rows = [json.loads(p.read_text()) for p in find_results(tmp_path)]
    assert len(rows) == 3 and {r["status"] for r in rows} == {"diverged"}
    # the same divergence, ddpm's, which the ddim rows name as their weights owner's training
    (own,) = {r["error"] for r in rows if r["model"] == "ddpm"}
    assert own.startswith("diverged at step"), own
    assert [r["error"] for r in rows if r["model"] == "ddim"] == 2 * [
        f"model 'ddpm' {own} training as ddim's weights owner"
    ]


def test_mode_labels_name_their_classifier_when_it_is_not_the_feature_extractor(cli, tmp_path, cache_dir):
    """Mode metrics on digits label samples with the digits classifier whatever --features says, and
    one classifier config trains other weights on another CPU: under --features raw nothing named
    it, so mode numbers from two classifiers were averaged as one protocol."""
    out = tmp_path / "runs"
    common = ("--models", "gaussian", "--no-figures", "--dataset", "digits", "--samples", "100")
    for where, extra in [
        ("raw", ("--features", "raw")),
        ("classifier", ()),
        ("fid-only", ("--features", "raw")),
    ]:
        metrics = "fid" if where == "fid-only" else "fid,modes"
        assert cli(*run_args(out / where, cache_dir, *common, "--metrics", metrics, *extra)).exit_code == 0
    raw, clf, fid_only = (
        load_result(out / where / "digits/gaussian/seed0.json") for where in ("raw", "classifier", "fid-only")
    )
    assert raw.metrics["modes_covered"] >= 1
    assert raw.protocol["mode_labeller"] == clf.protocol["features"]["fingerprint"]
    assert "mode_labeller" not in clf.protocol  # the features are that classifier: named once
    assert "mode_labeller" not in fid_only.protocol  # no metric used mode labels


def test_the_largest_seed_runs_every_seeded_metric(cli, tmp_path, cache_dir):
    args = ["--models", "copy", "--samples", "100", "--metrics", "kid,is,fid", "--no-figures"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--seeds", str(2**32 - 1)))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / f"digits/copy/seed{2**32 - 1}.json").read_text())
    assert {"kid", "is", "fid"} <= set(res["metrics"]) and not res.get("metric_errors")


def test_weights_broken_by_the_last_step_are_a_divergence_not_a_cached_checkpoint(cli, tmp_path, cache_dir):
    """Each loss is checked before its step's update, so an update that broke the weights on the last
    step was saved and cached, and the result was the plugin's bug ("NaN/inf values from sample()")."""
    args = run_args(tmp_path, cache_dir, "--models", "test-broken-last-step", "--dataset", "ring8")
    args += ["--samples", "50", "--metrics", "fid", "--no-figures"]
    r = cli(*args)
    result = json.loads((tmp_path / "ring8/test-broken-last-step/seed0.json").read_text())
    assert result["status"] == "diverged", (result["status"], result.get("error"))
    assert result["error"] == "diverged at step 20 (NaN or inf weights after training: net.mean)"
    assert not list(cache_dir.glob("checkpoints/ring8/test-broken-last-step/*/model.pt"))
    assert r.exit_code == 1, r.output


def test_loading_a_trained_checkpoint_removes_resumable_state_left_beside_it(cli, tmp_path):
    """A run killed after saving model.pt but before removing train.pt left the resumable state
    (about 570 MB per seed for the CIFAR-10 DDPM) in the cache for good: loading never removed it."""
    from genbench.training import PARTIAL

    cache_dir = tmp_path / "cache"  # its own: the session's holds other configs' checkpoints
    args = run_args(tmp_path, cache_dir, "--models", "test-tiny-trained", "--dataset", "ring8")
    args += ["--samples", "50", "--metrics", "fid", "--no-figures"]
    assert cli(*args).exit_code == 0
    (final,) = cache_dir.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    (final.parent / PARTIAL).write_bytes(final.read_bytes())
    assert cli(*args).exit_code == 0
    assert json.loads((tmp_path / "ring8/test-tiny-trained/seed0.json").read_text())["training"]["loaded"]
    assert final.exists() and not (final.parent / PARTIAL).exists()


def test_a_model_that_calls_sys_exit_fails_alone(cli, tmp_path, cache_dir, monkeypatch):
    """A plugin whose fit or sample calls sys.exit (argparse inside wrapped research code) ended the
    whole run: no result for it, none for the models after it, and its exit code as the run's."""
    monkeypatch.setattr(Flaky, "outcome", "exit")
    args = ["--models", "test-flaky,gaussian", "--dataset", "ring8", "--samples", "100", "--metrics", "fid"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--no-figures"))
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    bad = json.loads((tmp_path / "ring8/test-flaky/seed0.json").read_text())
    assert (bad["status"], bad["error_kind"]) == ("failed", "plugin") and "SystemExit" in bad["error"]
    assert json.loads((tmp_path / "ring8/gaussian/seed0.json").read_text())["status"] == "ok"


@pytest.mark.parametrize("content", ["damaged", "crafted"])
def test_corrupt_checkpoint_keeps_earlier_results(cli, tmp_path, cache_dir, content):
    """A damaged model.pt, or one crafted to run code when unpickled (which it did: checkpoints were
    loaded with weights_only=False), fails its model with one error line naming the fix."""
    from genbench.checkpoint import FORMAT

    cache = tmp_path / "cache"
    args = ["--models", "test-tiny-trained", "--dataset", "ring8", "--samples", "100"]
    assert cli(*run_args(tmp_path / "runs", cache, *args)).exit_code == 0
    before = {p: p.read_bytes() for p in find_results(tmp_path / "runs")}
    (ckpt,) = cache.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    ran = tmp_path / "ran"
    if content == "damaged":
        ckpt.write_bytes(b"not a checkpoint")
    else:
        torch.save({"format": FORMAT, "state": Mkdir(ran)}, ckpt)
    (tmp_path / "other").mkdir()
    r = cli(*run_args(tmp_path / "other", cache, *args))
    assert r.exit_code == 2
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith("error: test-tiny-trained seed 0: checkpoint")
    assert line.endswith("delete it or rerun with --retrain")
    assert "Traceback" not in r.output and not ran.exists()
    assert {p: p.read_bytes() for p in find_results(tmp_path / "runs")} == before  # nothing lost
    r = cli(*run_args(tmp_path / "runs2", cache, *args, "--retrain"))
    assert r.exit_code == 0


def test_plugin_output_is_checked_and_other_models_go_on(cli, tmp_path, cache_dir):
    r = cli(
        *run_args(
            tmp_path, cache_dir, "--models", "test-nan,gaussian", "--dataset", "ring8", "--samples", "100"
        )
    )
    assert r.exit_code == 1  # the plugin's bug, as a metric's bad values are: not the user's to fix
    bad = json.loads((tmp_path / "ring8/test-nan/seed0.json").read_text())
    assert bad["status"] == "failed" and "test-nan" in bad["error"] and "NaN" in bad["error"]
    assert bad["error_kind"] == "plugin" and "NaN" in r.stderr and "Traceback" not in r.output
    good = json.loads((tmp_path / "ring8/gaussian/seed0.json").read_text())
    assert good["status"] == "ok" and "fid" in good["metrics"]


def test_a_plugin_sampling_images_in_zero_one_fails_and_other_models_go_on(cli, tmp_path, cache_dir):
    """Every batch of [0, 1] images lies in [-1, 1], so they were scored as washed-out grey."""
    args = ["--models", "test-unit-range,gaussian", "--dataset", "digits", "--samples", "100"]
    r = cli(*run_args(tmp_path, cache_dir, *args, "--metrics", "fid"))
    assert r.exit_code == 1
    bad = json.loads((tmp_path / "digits/test-unit-range/seed0.json").read_text())
    assert bad["status"] == "failed" and "none below 0" in bad["error"] and "x * 2 - 1" in bad["error"]
    assert json.loads((tmp_path / "digits/gaussian/seed0.json").read_text())["status"] == "ok"


def test_sampling_draws_its_warm_up_batch_only_where_throughput_is_reported(cli, tmp_path, monkeypatch):
    """The untimed warm-up batch is there for throughput's timing: a run without it (`--metrics fid`)
    drew a batch for nothing (DDPM's 500 x 1000 steps). The kept samples, so the values, are the same
    either way; without the warm-up no samples/s is recorded, as it would time what it leaves out."""
    from baselines.controls import Gaussian

    calls: list[int] = []
    sample = Gaussian.sample

    def counted(self, n, generator=None, **kw):
        calls.append(n)
        return sample(self, n, generator=generator, **kw)

    monkeypatch.setattr(Gaussian, "sample", counted)
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "300", "--batch-size", "100"]
    timings, fids = {}, {}
    for metrics in ("fid", "fid,throughput"):
        calls.clear()
        out = tmp_path / metrics.replace(",", "-")
        assert cli(*run_args(out, tmp_path / "cache", *args, "--metrics", metrics)).exit_code == 0
        result = json.loads((out / "ring8/gaussian/seed0.json").read_text())
        timings[metrics], fids[metrics] = result["timings"], result["metrics"]["fid"]
        assert calls == ([100] * 3 if metrics == "fid" else [100] * 4), (metrics, calls)
    assert fids["fid"] == fids["fid,throughput"]
    assert "samples_per_s" not in timings["fid"] and timings["fid"]["sample_s"] > 0
    assert timings["fid,throughput"]["samples_per_s"] > 0
