"""A rerun never replaces a result that measured something else: an evaluation, another protocol, metrics
or options it would lose, a newer genbench's result, an ok result by a failure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import numpy as np
import pytest
from cli_helpers import (  # tests/ is on the path: pytest puts it there
    digits_test_u8,
    eval_args,
    run_args,
    single_line_error,
)
from cli_models import Flaky

import genbench
from genbench import GenbenchError, RunConfig, evaluate, registry
from genbench.results import find_results, load_result


def test_a_bad_features_flag_is_named_before_a_rerun_would_replace_a_result(cli, tmp_path, cache_dir):
    """Over an existing result, `--features inception` on points said the result "at features raw"
    would be replaced by one "at features inception": advice to move a good result away for a run
    that could never start. The extractor's own error comes first now, for run and eval alike."""
    out = tmp_path / "runs"
    run = run_args(out, cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "200")
    run += ["--metrics", "fid", "--no-figures"]
    assert cli(*run).exit_code == 0
    line = single_line_error(cli(*run, "--features", "inception"))
    assert "feature extractor 'inception' does not handle points data ('ring8'); use --features raw" in line
    samples = tmp_path / "points.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    evaluation = ["eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir]
    evaluation += ["--no-progress", "--metrics", "fid", "--no-figures"]
    assert cli(*evaluation).exit_code == 0
    line = single_line_error(cli(*evaluation, "--features", "inception"))
    assert "feature extractor 'inception' does not handle points data" in line


def test_eval_never_replaces_a_result_from_other_samples(cli, tmp_path, cache_dir):
    """eval used to write <out>/<dataset>/<file stem>/seed0.json over whatever was there: a trained
    model's result (copy.npz over `genbench run`'s copy), or another folder's samples.npz."""
    out = tmp_path / "runs"
    fast = ("--metrics", "fid", "--no-figures")
    r = cli(*run_args(out, cache_dir, "--models", "copy", "--dataset", "digits", *fast))
    assert r.exit_code == 0, r.output
    run_result = out / "digits/copy/seed0.json"
    before = run_result.read_bytes()
    u8 = digits_test_u8(cache_dir)
    np.savez(tmp_path / "copy.npz", samples=u8)
    line = single_line_error(cli(*eval_args(tmp_path / "copy.npz", out, cache_dir, *fast)))
    assert str(run_result) in line and "--name" in line and "genbench run" in line
    assert run_result.read_bytes() == before
    r = cli(*eval_args(tmp_path / "copy.npz", out, cache_dir, *fast, "--name", "copy-npz"))
    assert r.exit_code == 0, r.output
    for d, n in (("a", 200), ("b", 100)):
        (tmp_path / d).mkdir()
        np.savez(tmp_path / d / "samples.npz", samples=u8[:n])
    assert cli(*eval_args(tmp_path / "a/samples.npz", out, cache_dir, *fast)).exit_code == 0
    a_result = out / "digits/samples/seed0.json"
    recorded = json.loads(a_result.read_text())["protocol"]["samples"]
    assert recorded["path"] == str((tmp_path / "a/samples.npz").resolve()) and len(recorded["sha256"]) == 64
    r = cli(*eval_args(tmp_path / "a/samples.npz", out, cache_dir, *fast))  # the same command again
    assert r.exit_code == 0, r.output
    before = a_result.read_bytes()
    line = single_line_error(cli(*eval_args(tmp_path / "b/samples.npz", out, cache_dir, *fast)))
    assert f"holds the evaluation of {(tmp_path / 'a/samples.npz').resolve()}" in line and "--name" in line
    assert a_result.read_bytes() == before
    # an array passed to the Python API is known by its values
    config = RunConfig(
        dataset="digits", out=out, cache_dir=cache_dir, metrics=["fid"], figures=False, progress=False
    )
    evaluate(u8[:100], config, name="mem")
    evaluate(u8[:100], config, name="mem")
    with pytest.raises(GenbenchError, match="holds the evaluation of other samples; pass --name"):
        evaluate(u8[:50], config, name="mem")
    assert {p.parent.name for p in find_results(out)} == {"copy", "copy-npz", "samples", "mem"}


def test_run_never_replaces_a_result_of_another_protocol(cli, tmp_path, cache_dir):
    """A quick ``--samples 50`` check wrote over the full-size result of the same seed (the report
    keeps protocols apart, but the file was gone). A rerun of the same protocol still replaces it,
    and so does any run over a result without samples."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--metrics", "fid", "--no-figures", "--dataset", "digits")
    assert cli(*run_args(out, cache_dir, *fast, "--samples", "100")).exit_code == 0
    kept = (out / "digits/gaussian/seed0.json").read_bytes()
    for extra, was, now in [
        (("--samples", "50"), "N 100", "N 50"),
        (("--samples", "100", "--features", "raw"), "features classifier", "features raw"),
        (("--samples", "100", "--reference-split", "test"), "reference train", "reference test"),
    ]:
        line = single_line_error(cli(*run_args(out, cache_dir, *fast, *extra)))
        assert (
            f"digits/gaussian/seed0.json holds a result at {was}, which this run at {now} would replace"
            in line
        )
        assert "pass --out" in line
        assert (out / "digits/gaussian/seed0.json").read_bytes() == kept
    assert cli(*run_args(out, cache_dir, *fast, "--samples", "100")).exit_code == 0  # same protocol
    assert cli(*run_args(tmp_path / "elsewhere", cache_dir, *fast, "--samples", "50")).exit_code == 0


def test_run_never_replaces_a_result_a_newer_genbench_wrote(cli, tmp_path, cache_dir):
    """A result this genbench cannot read for being newer (the report says: upgrade genbench) was
    overwritten by a rerun, as a corrupt file is; a hand-broken one still is (the report says: rerun)."""
    import json

    out = tmp_path / "runs"
    fast = (
        "--models",
        "gaussian",
        "--metrics",
        "fid",
        "--no-figures",
        "--dataset",
        "digits",
        "--samples",
        "100",
    )
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    path = out / "digits/gaussian/seed0.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema": 99}))
    kept = path.read_bytes()
    line = single_line_error(cli(*run_args(out, cache_dir, *fast)))
    assert "written by a newer genbench (result schema 99" in line and "pass --out" in line
    assert path.read_bytes() == kept
    path.write_text("{not json")
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    assert json.loads(path.read_text())["status"] == "ok"


def test_run_never_drops_metrics_or_replaces_them_at_other_options(cli, tmp_path, cache_dir):
    """A rerun with fewer --metrics, or with another --metric-option, replaced a seed's result
    silently: ``--metrics fid --metric-option fid.backend=clean-fid`` over a full result left only
    clean-fid's FID. Both are refused; the same command, or one computing more, still reruns."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--no-figures", "--dataset", "digits", "--samples", "100")
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", "fid,prdc")).exit_code == 0
    path = out / "digits/gaussian/seed0.json"
    kept = path.read_bytes()
    for extra, says in [
        (
            ("--metrics", "fid"),
            "holds the values of prdc, which this run (fid) would drop; add prdc to --metrics",
        ),
        (
            ("--metrics", "fid,prdc", "--metric-option", "fid.backend=clean-fid"),
            "holds a result at fid.backend=torch-fidelity, which this run at fid.backend=clean-fid would replace",
        ),
        (
            ("--metrics", "fid,prdc", "--metric-option", "prdc.k_pr=4"),
            "holds a result at prdc.k_pr=3, which this run at prdc.k_pr=4 would replace",
        ),
    ]:
        line = single_line_error(cli(*run_args(out, cache_dir, *fast, *extra)))
        assert f"{path} {says}" in line and "pass --out" in line
        assert path.read_bytes() == kept
    # the options at their defaults, given or not, are the same protocol; more metrics lose nothing
    same = ("--metrics", "fid,prdc", "--metric-option", "prdc.k_pr=3")
    assert cli(*run_args(out, cache_dir, *fast, *same)).exit_code == 0
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", "fid,prdc,kid")).exit_code == 0
    assert {"fid", "precision", "kid"} <= set(load_result(path).metrics)


def test_a_run_without_metrics_over_opt_in_values_names_the_whole_metrics_value(cli, tmp_path, cache_dir):
    """A result holding an opt-in metric's value (fid_inf), rerun without --metrics (every metric but
    the opt-in ones): the fix said "add fid_inf to --metrics", a run that had none to add to, and
    `--metrics fid_inf` alone is refused as dropping every other value. It names the whole value
    now, which reruns."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--no-figures", "--dataset", "ring8", "--samples", "200")
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", "fid,fid_inf")).exit_code == 0
    line = single_line_error(cli(*run_args(out, cache_dir, *fast)))
    assert "holds the values of fid_inf, which this run (cas, class_accuracy, fid, " in line, line
    full = line.split("(--metrics ", 1)[1].split(")", 1)[0]
    assert full.startswith("cas,class_accuracy,fid,") and full.endswith(",fid_inf"), line
    r = cli(*run_args(out, cache_dir, *fast, "--metrics", full))
    assert r.exit_code == 0, r.output
    assert {"fid", "fid_inf", "precision"} <= set(load_result(out / "ring8/gaussian/seed0.json").metrics)


def test_an_option_of_an_opt_in_metric_names_the_whole_metrics_value(cli, tmp_path, cache_dir):
    """`--metric-option fid_inf.points=5` without --metrics: fid_inf is opt-in, so not among the run's
    metrics, and "add fid_inf to --metrics" led to a run of fid_inf alone. The error says it is
    opt-in and names the --metrics value that keeps the others, before any training."""
    args = run_args(tmp_path / "runs", cache_dir, "--models", "gaussian", "--dataset", "ring8")
    line = single_line_error(cli(*args, "--metric-option", "fid_inf.points=5"))
    assert "fid_inf, an opt-in metric that a run without --metrics leaves out" in line, line
    full = line.split("(--metrics ", 1)[1].split(")", 1)[0]
    assert full.startswith("cas,class_accuracy,fid,") and full.endswith(",fid_inf") and "prdc" in full, line
    assert not list((tmp_path / "runs").rglob("*.json"))


def test_kid_subset_size_given_at_its_default_is_the_same_protocol_at_a_rerun(cli, tmp_path, cache_dir):
    """The report shows a result at ``kid.subset_size`` unset (recorded as null) and one at the size
    that stands for (min(1000, N, reference size)) as one protocol, but a rerun compared the options
    as recorded: ``--metric-option kid.subset_size=100`` over a 100-sample result was refused as
    replacing "kid.subset_size=None", and the unset option over an explicit 100 the same. Both are
    reruns of the same protocol now; another size is still refused, naming the size used."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--no-figures", "--dataset", "digits", "--samples", "100")
    fast += ("--metrics", "kid")
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    path = out / "digits/gaussian/seed0.json"
    assert load_result(path).protocol["metric_options"]["kid"]["subset_size"] is None
    r = cli(*run_args(out, cache_dir, *fast, "--metric-option", "kid.subset_size=100"))
    assert r.exit_code == 0, r.output
    assert load_result(path).protocol["metric_options"]["kid"]["subset_size"] == 100
    r = cli(*run_args(out, cache_dir, *fast))  # and back: the unset option over the explicit size
    assert r.exit_code == 0, r.output
    kept = path.read_bytes()
    line = single_line_error(cli(*run_args(out, cache_dir, *fast, "--metric-option", "kid.subset_size=50")))
    assert f"{path} holds a result at kid.subset_size=100, which this run at kid.subset_size=50" in line
    assert path.read_bytes() == kept


def test_a_rerun_without_the_metrics_that_did_not_apply_drops_nothing(cli, tmp_path, cache_dir):
    """A full result of a Gaussian records gan_dynamics among its metrics though it has no value of
    it (not a GAN): a rerun listing every other metric was refused, naming gan_dynamics to add."""
    out = tmp_path / "runs"
    fast = ("--models", "gaussian", "--no-figures", "--dataset", "ring8", "--samples", "200")
    assert cli(*run_args(out, cache_dir, *fast)).exit_code == 0
    old = load_result(out / "ring8/gaussian/seed0.json")
    ran = list(old.protocol["metric_versions"])
    # gan_dynamics (not a GAN) and the class-conditional metrics (not a conditional model) did not apply
    unapplied = ("gan_dynamics", "cas", "class_accuracy", "intra_fid")
    for name in unapplied:
        assert name in ran and not set(registry.metrics.get(name).higher_is_better) & set(old.metrics)
    others = [m for m in ran if m not in unapplied]
    assert others[0] == "fid" and "fid" in old.metrics
    line = single_line_error(cli(*run_args(out, cache_dir, *fast, "--metrics", "fid")))
    assert "holds the values of " in line and "gan_dynamics" not in line, line
    assert cli(*run_args(out, cache_dir, *fast, "--metrics", ",".join(others))).exit_code == 0
    # what a metric that did apply wrote is still protected
    line = single_line_error(cli(*run_args(out, cache_dir, *fast, "--metrics", ",".join(others[1:]))))
    assert f"holds the values of {others[0]}, which this run" in line, line


def test_eval_never_drops_metrics_of_the_same_samples(cli, tmp_path, cache_dir):
    """Evaluating the same samples again under fewer --metrics replaced the evaluation's other values."""
    out = tmp_path / "runs"
    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir)[:100])
    args = eval_args(tmp_path / "mine.npz", out, cache_dir, "--no-figures", "--name", "mine")
    assert cli(*args, "--metrics", "fid,prdc").exit_code == 0
    line = single_line_error(cli(*args, "--metrics", "prdc"))
    assert "holds the values of fid, which this run (prdc) would drop; add fid to --metrics" in line
    assert "pass --name" in line
    assert set(load_result(out / "digits/mine/seed0.json").metrics) >= {"fid", "precision"}
    assert cli(*args, "--metrics", "fid,prdc").exit_code == 0  # the same evaluation reruns


def test_a_result_without_fid_is_replaced_by_one_with_other_reference_stats(cli, tmp_path, cache_dir):
    """A mistyped --reference-stats path wrote a result whose FID failed (the other metrics are
    kept, by design); that result then refused the corrected command as "another protocol", though
    nothing in it was measured with those statistics (they are FID's alone)."""
    from genbench.features.reference_stats import save_reference_stats, stats_identity

    out = tmp_path / "runs"
    args = run_args(out, cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "50")
    args += ["--metrics", "fid,prdc", "--no-figures"]
    good = tmp_path / "stats.npz"
    save_reference_stats(good, np.zeros(2), np.eye(2))
    assert cli(*args, "--reference-stats", str(tmp_path / "stast.npz")).exit_code == 2  # FID failed
    assert "fid" not in load_result(out / "ring8/gaussian/seed0.json").metrics
    res = cli(*args, "--reference-stats", str(good))
    assert res.exit_code == 0, res.output
    assert "fid" in load_result(out / "ring8/gaussian/seed0.json").metrics
    # a result that holds an FID is still kept from one at other statistics
    line = single_line_error(cli(*args))
    assert (
        f"reference stats {stats_identity(good)}, which this run at reference stats none would replace"
        in line
    )


def test_run_never_replaces_an_evaluation(cli, tmp_path, cache_dir):
    """`genbench eval x.npz --name copy` then `genbench run --models copy` used to write the run's
    result over the evaluation; a run result is still replaced by a rerun."""
    out = tmp_path / "runs"
    fast = ("--metrics", "fid", "--no-figures", "--dataset", "digits")
    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir))
    r = cli(
        *eval_args(
            tmp_path / "mine.npz", out, cache_dir, "--metrics", "fid", "--no-figures", "--name", "copy"
        )
    )
    assert r.exit_code == 0, r.output
    evaluation = out / "digits/copy/seed0.json"
    before = evaluation.read_bytes()
    line = single_line_error(cli(*run_args(out, cache_dir, "--models", "gaussian,copy", *fast)))
    assert f"{evaluation} holds the evaluation of {(tmp_path / 'mine.npz').resolve()}" in line
    assert "--out" in line
    assert evaluation.read_bytes() == before
    assert not (out / "digits/gaussian").exists()  # refused before any work
    for _ in range(2):  # elsewhere it runs, and a rerun replaces its own result
        r = cli(*run_args(tmp_path / "other", cache_dir, "--models", "gaussian,copy", *fast))
        assert r.exit_code == 0, r.output
    # an evaluation of an array passed to the Python API is protected too
    config = RunConfig(
        dataset="digits", out=out, cache_dir=cache_dir, metrics=["fid"], figures=False, progress=False
    )
    evaluate(digits_test_u8(cache_dir)[:100], config, name="gaussian")
    with pytest.raises(GenbenchError, match="holds the evaluation of samples passed to genbench.evaluate"):
        genbench.run(replace(config, models=["gaussian"]))


def test_a_failed_rerun_never_replaces_an_ok_result(cli, tmp_path, cache_dir, monkeypatch):
    """A rerun that failed at run time (out of memory, a plugin that no longer imports) replaced the
    ok result of the same seed with a "failed" one. It is written beside it now, as
    seed0.failed.json, until a run of that seed succeeds; a divergence still replaces it."""
    out = tmp_path / "runs"
    args = run_args(out, cache_dir, "--models", "test-flaky", "--dataset", "ring8", "--samples", "50")
    args += ["--metrics", "fid", "--no-figures"]
    result, aside = out / "ring8/test-flaky/seed0.json", out / "ring8/test-flaky/seed0.failed.json"
    assert cli(*args).exit_code == 0
    kept = result.read_bytes()

    monkeypatch.setattr(Flaky, "outcome", "raise")
    res = cli(*args)
    assert res.exit_code == 1
    assert result.read_bytes() == kept and find_results(out) == [result]
    failed = json.loads(aside.read_text())
    assert failed["status"] == "failed" and "CUDA out of memory" in failed["error"]
    assert f"the earlier ok result in {result} is kept" in " ".join(res.stderr.split())

    broken = registry.Entry(name="test-flaky", source="genbench-test-plugin", error="failed to import")
    with monkeypatch.context() as m:
        m.setitem(registry.models._entries, "test-flaky", broken)
        assert cli(*args).exit_code == 1
    assert result.read_bytes() == kept
    assert json.loads(aside.read_text())["error"] == "failed to import"

    monkeypatch.setattr(Flaky, "outcome", "ok")
    assert cli(*args).exit_code == 0
    assert json.loads(result.read_text())["status"] == "ok" and not aside.exists()

    monkeypatch.setattr(Flaky, "outcome", "diverge")
    assert cli(*args).exit_code == 1
    assert json.loads(result.read_text())["status"] == "diverged" and not aside.exists()
    monkeypatch.setattr(Flaky, "outcome", "raise")  # a finding too: a failed attempt keeps it
    assert cli(*args).exit_code == 1
    assert json.loads(result.read_text())["status"] == "diverged" and aside.exists()


def test_the_same_command_reruns_after_its_reference_stats_file_is_fixed(cli, tmp_path, cache_dir):
    """A --reference-stats file that failed to load was recorded as no reference statistics, so the
    rerun after fixing the file was refused as one of another protocol."""
    from genbench.features.reference_stats import save_reference_stats

    stats = tmp_path / "stats.npz"
    np.savez(stats, mean=np.zeros(2))
    args = run_args(tmp_path / "runs", cache_dir, "--models", "gaussian", "--dataset", "ring8")
    args += ["--samples", "50", "--metrics", "fid", "--no-figures", "--reference-stats", str(stats)]
    assert cli(*args).exit_code == 2  # FID's error names the fix
    save_reference_stats(stats, np.zeros(2), np.eye(2))
    res = cli(*args)
    assert res.exit_code == 0, res.output
    written = json.loads((tmp_path / "runs/ring8/gaussian/seed0.json").read_text())
    digest = hashlib.sha256(stats.read_bytes()).hexdigest()[:16]
    assert (
        "fid" in written["metrics"] and written["protocol"]["reference_stats"] == f"stats.npz sha256:{digest}"
    )


def test_reference_stats_are_recorded_by_their_content_not_their_path(cli, tmp_path, cache_dir, monkeypatch):
    """The path was recorded as typed: ``./stats.npz`` and ``stats.npz`` made two protocols (two
    rows of one model), while statistics rewritten in place under the same path made one."""
    from genbench.features.reference_stats import save_reference_stats

    monkeypatch.chdir(tmp_path)
    save_reference_stats(tmp_path / "stats.npz", np.zeros(2), np.eye(2))
    (tmp_path / "copy").mkdir()
    save_reference_stats(tmp_path / "copy/stats.npz", np.zeros(2), np.eye(2))

    def run(out: str, stats: str):
        args = run_args(tmp_path / out, cache_dir, "--models", "gaussian", "--dataset", "ring8")
        return cli(*args, "--samples", "50", "--metrics", "fid", "--no-figures", "--reference-stats", stats)

    for out, stats in [("a", "./stats.npz"), ("b", "stats.npz"), ("c", str(tmp_path / "copy/stats.npz"))]:
        assert run(out, stats).exit_code == 0
    recorded = {
        json.loads((tmp_path / out / "ring8/gaussian/seed0.json").read_text())["protocol"]["reference_stats"]
        for out in "abc"
    }
    assert len(recorded) == 1 and recorded.pop().startswith("stats.npz sha256:")
    save_reference_stats(tmp_path / "stats.npz", np.ones(2), np.eye(2))  # other statistics, same path
    line = single_line_error(run("a", "stats.npz"))
    assert "holds a result at reference stats stats.npz sha256:" in line and "would replace" in line


def _ok_result(**protocol: object) -> genbench.Result:
    """seed 0 of gaussian at 100 samples: KID computed, FID failed."""
    return genbench.Result(
        model="gaussian",
        dataset="ring8",
        seed=0,
        protocol={"num_samples": 100, "reference_split": "train", "metric_versions": {"fid": 1, "kid": 1}}
        | protocol,
        metrics={"kid": 0.02, "kid_std": 0.001},
        metric_errors={"fid": "fid: covariance is singular"},
    )


def test_a_rerun_without_a_metric_that_failed_would_drop_its_error():
    """FID failed for seed 0 (its error is the board's cell): `--metrics kid` would write a result
    with no trace of that failure, so it is refused as one that drops FID."""
    from genbench.replacement import metrics_replaced

    kid, fid = registry.metrics.get("kid")(), registry.metrics.get("fid")()
    why = metrics_replaced(_ok_result(), [kid], {})
    assert why is not None and why.startswith("holds the values of fid, which this run (kid) would drop")
    assert metrics_replaced(_ok_result(), [fid, kid], {}) is None


def test_a_failing_run_of_another_protocol_is_not_refused_over_an_ok_result():
    """A broken plugin's seed at --samples 200 over an ok result at 100: its failure goes beside the
    result (seed0.failed.json), replacing nothing, so it is no reason to refuse the run; an ok run
    at 200 would replace it, and is refused."""
    from genbench.replacement import replaced_by_run

    metrics = [registry.metrics.get("fid")(), registry.metrics.get("kid")()]
    measures = {"num_samples": 200, "reference_split": "train"}
    assert replaced_by_run(_ok_result(), measures, metrics, {}, failing=True) is None
    why = replaced_by_run(_ok_result(), measures, metrics, {})
    assert why is not None and why.startswith(
        "holds a result at N 100, which this run at N 200 would replace"
    )


def test_a_result_of_fid_inf_alone_against_statistics_is_kept_from_a_run_against_the_split(
    cli, tmp_path, cache_dir
):
    """FID is not the only metric that compares with --reference-stats: a result holding fid_inf
    alone, measured against a statistics file, is refused to a rerun against the split as it is
    with FID (a mutation that counted FID's value alone let it be replaced without a word)."""
    from genbench.features.reference_stats import save_reference_stats, stats_identity

    out = tmp_path / "runs"
    args = run_args(out, cache_dir, "--models", "gaussian", "--dataset", "ring8", "--samples", "200")
    args += ["--metrics", "fid_inf", "--no-figures"]
    good = tmp_path / "stats.npz"
    save_reference_stats(good, np.zeros(2), np.eye(2))
    r = cli(*args, "--reference-stats", str(good))
    assert r.exit_code == 0, r.output
    assert "fid_inf" in load_result(out / "ring8/gaussian/seed0.json").metrics
    line = single_line_error(cli(*args))
    assert f"reference stats {stats_identity(good)}, which this run at " in line
    assert "reference stats none would replace" in line
