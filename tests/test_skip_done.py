"""`genbench run --skip-done`: the rerun of a killed multi-model run reads back the results that are
done, measured exactly as it would measure them, rather than train, sample and score them again;
any other result (another protocol, metrics, metric option or config; a failure) is run again, and
without the flag every result is run again as before.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from cli_helpers import run_args  # tests/ is on the path: pytest puts it there
from cli_models import Flaky, PointsOnly, TinyTrained

from genbench import registry
from genbench.results import find_results

FAST = ("--dataset", "ring8", "--samples", "200", "--no-figures", "--metrics", "fid,kid")
MODELS = ("--models", "test-tiny-trained,gaussian")


@pytest.fixture
def calls(monkeypatch):
    """Counts of ``fit`` and ``sample`` of test-tiny-trained, gaussian and test-flaky, by model."""
    seen: Counter = Counter()
    for cls in (TinyTrained, registry.models.get("gaussian"), Flaky):
        for method in ("fit", "sample"):
            original = getattr(cls, method)

            def counted(self, *a, _original=original, _key=(cls.__name__, method), **k):
                seen[_key] += 1
                return _original(self, *a, **k)

            monkeypatch.setattr(cls, method, counted)
    return seen


def results_of(out):
    return {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in find_results(out)}


def test_a_rerun_with_skip_done_fits_and_samples_nothing_and_reports_the_same(cli, tmp_path, calls):
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, *MODELS, *FAST, "--seeds", "0,1")
    assert cli(*args).exit_code == 0
    assert calls[("TinyTrained", "fit")] == 2 and calls[("Gaussian", "sample")] == 2
    first = results_of(out)
    stamps = {p: p.stat().st_mtime_ns for p in find_results(out)}
    board = cli("report", "--out", out, "--leaderboards", tmp_path / "b1")
    calls.clear()

    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert sum(calls.values()) == 0, calls  # nothing fitted, loaded or sampled
    assert {p: p.stat().st_mtime_ns for p in find_results(out)} == stamps  # nothing written
    assert results_of(out) == first
    for label, seed in [("test-tiny-trained", 0), ("test-tiny-trained", 1), ("gaussian", 0), ("gaussian", 1)]:
        path = out / "ring8" / label / f"seed{seed}.json"
        assert f"seed {seed} of {label}: done ({path}), skipped (--skip-done)" in r.output
    assert "4 of 4 runs ok" in r.output  # the returned results are the ones read back
    again = cli("report", "--out", out, "--leaderboards", tmp_path / "b2")
    assert again.stdout == board.stdout.replace(str(tmp_path / "b1"), str(tmp_path / "b2"))


def test_only_the_rows_not_done_run_after_a_kill(cli, tmp_path, calls):
    """A run killed on its second model: the rerun runs that model alone."""
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, *MODELS, *FAST)
    assert cli(*args).exit_code == 0
    (out / "ring8/gaussian/seed0.json").unlink()  # what the kill left undone
    calls.clear()
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert calls == Counter({("Gaussian", "fit"): 1, ("Gaussian", "sample"): 1}), calls  # fitted on each run
    assert "seed 0 of test-tiny-trained: done" in r.output
    assert (out / "ring8/gaussian/seed0.json").is_file()


def test_the_checkpoint_key_is_checked_with_one_model_a_variant(cli, tmp_path, monkeypatch):
    """The checkpoint key a result records is compared with the one of the model this run would
    train: that model was built again for each seed (a CIFAR-10 DDPM's U-Net each time), though
    the key differs between seeds by the seed alone. Now once a variant, each seed still checked."""
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, "--models", "test-tiny-trained", *FAST, "--seeds", "0,1,2")
    assert cli(*args).exit_code == 0
    built = Counter()
    original = TinyTrained.__init__

    def counted(self, *a, **k):
        built[type(self).__name__] += 1
        original(self, *a, **k)

    monkeypatch.setattr(TinyTrained, "__init__", counted)
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert all(f"seed {s} of test-tiny-trained: done" in r.output for s in range(3)), r.output
    assert built == Counter({"TinyTrained": 1}), built  # the check's: none trained or sampled


@pytest.mark.parametrize(
    "change, why",
    [
        (("--metrics", "fid,kid,prdc"), "its metrics differ"),  # one metric more: replaced as now
        (("--batch-size", "64"), "it ran at --batch-size 500"),
        (("--seeds", "0", "--set", "test-tiny-trained.steps=20"), None),  # the default: the same row
    ],
)
def test_a_result_of_another_measure_is_run_again(cli, tmp_path, calls, change, why):
    out, cache = tmp_path / "runs", tmp_path / "cache"
    assert cli(*run_args(out, cache, *MODELS, *FAST)).exit_code == 0
    calls.clear()
    r = cli(*run_args(out, cache, *MODELS, *FAST, *change, "--skip-done"))
    assert r.exit_code == 0, r.output
    if why is None:  # the same measure said another way: still skipped
        assert sum(calls.values()) == 0, calls
        return
    assert calls[("Gaussian", "sample")] and calls[("TinyTrained", "sample")]  # one call a batch
    path = out / "ring8/gaussian/seed0.json"
    assert f"seed 0 of gaussian: {path} is run again ({why}; --skip-done)" in r.output


def test_another_variant_or_metric_option_is_not_skipped(cli, tmp_path, calls):
    out, cache = tmp_path / "runs", tmp_path / "cache"
    assert cli(*run_args(out, cache, *MODELS, *FAST)).exit_code == 0
    calls.clear()
    r = cli(*run_args(out, cache, *MODELS, *FAST, "--set", "test-tiny-trained.steps=5", "--skip-done"))
    assert r.exit_code == 0, r.output
    assert calls == Counter({("TinyTrained", "fit"): 1, ("TinyTrained", "sample"): 1}), calls
    # another option of a metric that the result holds: refused before any work, as without the flag
    r = cli(*run_args(out, cache, *MODELS, *FAST, "--metric-option", "kid.subset_size=50", "--skip-done"))
    assert r.exit_code == 2 and "would replace" in r.output
    # another sample count: refused before any work, as without the flag
    other = [x if x != "200" else "300" for x in FAST]
    r = cli(*run_args(out, cache, *MODELS, *other, "--skip-done"))
    assert r.exit_code == 2 and "would replace" in r.output


def test_a_config_that_differs_from_the_recorded_one_is_run_again(cli, tmp_path, calls):
    """A result whose recorded config is not this run's (another version's defaults) is not reused."""
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, *MODELS, *FAST)
    assert cli(*args).exit_code == 0
    path = out / "ring8/test-tiny-trained/seed0.json"
    data = json.loads(path.read_text())
    data["config"]["lr"] = 0.1
    path.write_text(json.dumps(data))
    calls.clear()
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert calls == Counter({("TinyTrained", "sample"): 1}), calls  # its checkpoint loads: no fit
    assert "is run again (the model's config differs; --skip-done)" in r.output
    assert json.loads(path.read_text())["config"]["lr"] == 0.5


@pytest.mark.parametrize(
    "digest, why",
    [
        ("0123456789abcdef", "other genbench code wrote it (source 0123456789abcdef, this run's "),
        (None, "an older genbench wrote it: it records no source digest"),
    ],
)
def test_a_result_of_other_genbench_code_is_run_again(cli, tmp_path, calls, digest, why):
    """A result written by another checkout or build of the same release (another source digest),
    or by a genbench from before the digest was recorded, was reused: the version (0.1.0 for weeks
    of commits) and the model's class were all that was compared, while sampling, training and
    feature code that no metric's version tracks may have changed between them."""
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, "--models", "gaussian", *FAST)
    assert cli(*args).exit_code == 0
    path = out / "ring8/gaussian/seed0.json"
    data = json.loads(path.read_text())
    data["environment"].pop("source_digest")
    if digest is not None:
        data["environment"]["source_digest"] = digest
    path.write_text(json.dumps(data))
    calls.clear()
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert calls[("Gaussian", "sample")] == 1, calls
    assert f"seed 0 of gaussian: {path} is run again ({why}" in r.output
    from genbench.environment import source_digest

    assert json.loads(path.read_text())["environment"]["source_digest"] == source_digest()


@pytest.mark.parametrize("outcome, again", [("raise", 1), ("diverge", 0)])
def test_a_failed_result_is_run_again_a_diverged_one_is_not(
    cli, tmp_path, calls, monkeypatch, outcome, again
):
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, "--models", "test-flaky", *FAST)
    monkeypatch.setattr(Flaky, "outcome", outcome)
    assert cli(*args).exit_code == 1
    assert json.loads((out / "ring8/test-flaky/seed0.json").read_text())["status"] in ("failed", "diverged")
    calls.clear()
    r = cli(*args, "--skip-done")
    assert r.exit_code == 1, r.output
    assert calls[("Flaky", "sample")] == again, calls
    said = "is run again (it is failed; --skip-done)" if again else "done ("
    assert said in r.output


def test_without_skip_done_everything_is_run_again(cli, tmp_path, calls):
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, *MODELS, *FAST)
    assert cli(*args).exit_code == 0
    calls.clear()
    r = cli(*args)
    assert r.exit_code == 0, r.output
    assert calls[("Gaussian", "sample")] == 1 and calls[("TinyTrained", "sample")] == 1
    assert "--skip-done" not in r.output


def test_skip_done_with_retrain_is_refused(cli, tmp_path):
    r = cli(*run_args(tmp_path, tmp_path / "c", *MODELS, *FAST, "--skip-done", "--retrain"))
    assert r.exit_code == 2
    assert "--skip-done keeps results whose checkpoints --retrain trains anew" in r.output


class Dependent(PointsOnly):
    """Samples the weights of test-tiny-trained, as ddim samples ddpm's."""

    weights_from = "test-tiny-trained"

    @classmethod
    def from_trained(cls, owner, config):
        return cls(owner.spec, config)


@pytest.mark.parametrize("model", ["test-tiny-trained", "test-dependent"])
def test_a_result_of_another_checkpoint_is_run_again(cli, tmp_path, calls, register, model):
    """The checkpoint key (of the weights owner's training config, for a model that samples its
    weights) that a result records is this run's, or it is run again."""
    register(registry.models, "test-dependent", Dependent)
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, "--models", model, *FAST)
    assert cli(*args).exit_code == 0
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0 and "done (" in r.output, r.output
    path = out / "ring8" / model / "seed0.json"
    data = json.loads(path.read_text())
    checkpoint = data["training"]["checkpoint"]
    assert "test-tiny-trained/seed0-" in checkpoint
    data["training"]["checkpoint"] = checkpoint.replace("seed0-", "seed0-0")  # another key
    path.write_text(json.dumps(data))
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert "is run again (its checkpoint's training config differs; --skip-done)" in r.output
    assert json.loads(path.read_text())["training"]["checkpoint"] == checkpoint


@pytest.mark.parametrize(
    "edit, why",
    [
        # written by hand into the result (the file's name says seed 0): each is another measurement
        (lambda d: d["protocol"].update(seed=1), "its seed differs"),
        # what an older version of a metric or of genbench did not record: no reason to refuse the
        # run's result in its place, but not this run's measurement either
        (lambda d: d["protocol"]["metric_options"]["kid"].pop("subsets"), "its metric options differ"),
        (lambda d: d["protocol"].pop("num_samples"), "its num_samples differs"),
        (lambda d: d["metric_errors"].update(kid="RuntimeError: boom"), "kid failed in it"),
        (lambda d: d["training"].update(amp=True), "its --amp differs"),
        (lambda d: d["training"].update(model_version=99), "model version 99 made it"),
        (lambda d: d["environment"].update(genbench="0.0.1"), "genbench 0.0.1 wrote it"),
        (
            lambda d: d["environment"].update(device="cuda:0", gpu="NVIDIA H100"),
            "it ran on cuda (NVIDIA H100)",
        ),
    ],
)
def test_a_result_that_records_another_run_in_any_field_is_run_again(cli, tmp_path, calls, edit, why):
    """Each field --skip-done compares, changed alone in an otherwise reusable result: the result is
    run again, saying why (a mutation audit found each check could be dropped with every test passing)."""
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = run_args(out, cache, "--models", "test-tiny-trained", *FAST)
    assert cli(*args).exit_code == 0
    path = out / "ring8/test-tiny-trained/seed0.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    calls.clear()
    r = cli(*args, "--skip-done")
    assert r.exit_code == 0, r.output
    assert calls[("TinyTrained", "sample")] == 1, calls
    assert f"seed 0 of test-tiny-trained: {path} is run again ({why}; --skip-done)" in r.output
