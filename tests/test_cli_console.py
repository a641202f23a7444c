"""Console output: the protocol line, failures said once, progress on a terminal and in a log file,
NO_COLOR, a narrow terminal.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import eval_args, run_args  # tests/ is on the path: pytest puts it there
from cli_models import Flaky

from genbench.progress import Progress
from genbench.results import Result


def test_a_run_names_its_protocol_before_its_values(cli, tmp_path, cache_dir):
    """Each run's line shows values only (``fid=0.0019``): nothing a run printed named the samples,
    the reference or the features they were measured with. One line says it before the first
    value; a run whose metrics include none of the headline ones shows its own values."""
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "300", "--seeds", "0,1"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, *args, "--metrics", "kid")
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    line = (
        "protocol: ring8, 300 samples per model and seed against the train split (10000 examples), in raw "
        "features (raw-v1), seeds 0,1"
    )
    assert line in err and err.index(line) < err.index("ok copy seed 0")
    assert "ok copy seed 0: kid=" in err, err
    assert "labels" not in err and "classes" not in err  # no class-conditional model, no clause
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    r = cli(
        *eval_args(tmp_path / "s.npz", tmp_path / "e", cache_dir, "--dataset", "ring8", "--metrics", "fid")
    )
    assert r.exit_code == 0, r.output
    assert (
        "protocol: ring8, 300 samples against the train split (10000 examples), in raw features (raw-v1), "
        "seed 0" in " ".join(r.stderr.split())
    ), r.stderr


def test_the_protocol_line_names_the_metric_options_given(cli, tmp_path, cache_dir):
    """``--metric-option kid.subsets=5`` printed kid=-0.02103 where the default printed kid=0.01247
    (``gaussian`` on ring8, 200 samples), under the same protocol line: the line named N, the
    split, the features and the seeds, but not the options the numbers were computed with."""
    args = ["--dataset", "ring8", "--samples", "200", "--metrics", "kid", "--metric-option", "kid.subsets=5"]
    options = "--metric-option kid.subset_size=50, kid.subsets=5"
    r = cli(
        "run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, "--models", "copy", *args,
        "--metric-option", "kid.subset_size=50", "--no-figures",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    assert f"in raw features (raw-v1), seed 0; {options}" in err, err
    r = cli("run", "--out", tmp_path / "plain", "--cache-dir", cache_dir, "--models", "copy", *args[:6])
    assert r.exit_code == 0, r.output
    assert "--metric-option" not in r.stderr  # the default options: the line is as it was
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    given = ["--metric-option", "kid.subsets=5", "--metric-option", "kid.subset_size=50"]
    r = cli(*eval_args(tmp_path / "s.npz", tmp_path / "e", cache_dir, "--dataset", "ring8", *given))
    assert r.exit_code == 0, r.output
    assert f"seed 0; {options}" in " ".join(r.stderr.split()), r.stderr


def test_the_protocol_line_says_memorization_is_against_the_train_split_in_pixels(cli, tmp_path, cache_dir):
    """``genbench eval --metrics memorization`` printed ``memorization_rate=0.5`` under "against the
    test split (360 examples), in classifier features": memorization compares with the train split
    whatever the reference split, in pixels unless ``memorization.space=features``. The line says so
    where memorization runs, and only there."""
    from cli_helpers import digits_test_u8

    np.save(tmp_path / "s.npy", digits_test_u8(cache_dir)[:, :, :, None])
    said = {}
    for name, extra in {
        "pixels": ["--reference-split", "test"],
        "features": ["--metric-option", "memorization.space=features"],
        "none": ["--metrics", "kid"],
    }.items():
        metrics = [] if name == "none" else ["--metrics", "memorization"]
        r = cli(*eval_args(tmp_path / "s.npy", tmp_path / name, cache_dir, *metrics, *extra, "--no-figures"))
        assert r.exit_code == 0, r.output
        said[name] = " ".join(r.stderr.split())
    # in pixels no metric reads features: none are named, as none were extracted (feature_use)
    pixels = "against the test split (360 examples), no features (no metric reads any), seed 0"
    assert pixels in said["pixels"], said["pixels"]
    assert "seed 0; memorization against the train split, in pixels" in said["pixels"], said["pixels"]
    assert "in classifier features (" in said["features"], said["features"]
    features = "memorization.space=features; memorization against the train split, in these features"
    assert features in said["features"], said["features"]
    assert "memorization against" not in said["none"]


def _terminal(width: int = 100):
    """A rich console drawing as on a terminal ``width`` columns wide, into a string."""
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), force_terminal=True, width=width, color_system="standard")


def _plain(text: str) -> str:
    """``text`` without its escape codes, each carriage return a line end."""
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "\n")


@pytest.mark.parametrize(
    ("outcome", "message"),
    [("diverge", "diverged at step 3 (loss=nan)"), ("raise", "raised RuntimeError: CUDA out of memory")],
)
def test_a_model_that_fails_is_reported_once(cli, tmp_path, cache_dir, monkeypatch, outcome, message):
    """A model that diverged or raised was warned about and then reported, the same message twice in
    a row ("warning: m seed 0: diverged at step 3" and "diverged m seed 0: diverged at step 3")."""
    monkeypatch.setattr(Flaky, "outcome", outcome)
    args = [
        "--models",
        "test-flaky",
        "--dataset",
        "ring8",
        "--samples",
        "50",
        "--metrics",
        "fid",
        "--no-figures",
    ]
    r = cli(*run_args(tmp_path, cache_dir, *args))
    assert r.exit_code == 1 and r.stderr.count(message) == 1, r.stderr
    assert f"{'diverged' if outcome == 'diverge' else 'failed'} test-flaky seed 0: " in r.stderr


def test_progress_in_a_log_file_is_a_few_plain_lines_with_the_loss(cli, tmp_path, cache_dir, monkeypatch):
    """stderr redirected to a file (a cluster job's log): each progress bar left an empty line and a
    training said nothing, not its steps nor its loss, however long it ran. A task that runs long
    enough (genbench.progress.LOG_AFTER_S) now prints a plain line at each tenth of it."""
    import genbench.progress

    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0, raising=False)
    args = [
        "run",
        "--models",
        "test-tiny-trained",
        "--dataset",
        "ring8",
        "--samples",
        "50",
        "--metrics",
        "fid",
    ]
    r = cli(*args, "--no-figures", "--out", tmp_path / "runs", "--cache-dir", tmp_path / "cache")
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert "" not in lines and "\r" not in r.stderr and "\x1b" not in r.stderr, r.stderr
    trained = [ln for ln in lines if ln.startswith("train test-tiny-trained seed 0: ")]
    assert [ln.split()[4] for ln in trained] == [f"{s}/20" for s in range(2, 22, 2)], r.stderr
    assert all(" loss=" in ln for ln in trained), r.stderr
    assert any(ln.startswith("sample test-tiny-trained seed 0: 50/50") for ln in lines), r.stderr

    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 3600.0)  # a task as short as this: no line
    r = cli(*args, "--no-figures", "--out", tmp_path / "runs2", "--cache-dir", tmp_path / "cache2")
    assert r.exit_code == 0 and "" not in r.stderr.splitlines(), r.stderr
    assert not any(ln.startswith(("train ", "sample ")) for ln in r.stderr.splitlines()), r.stderr


def test_a_long_step_says_so_in_a_log_file(monkeypatch):
    """rich's spinner draws nothing in a log file: an hour of reference features (CIFAR-10's
    Inception features on a CPU) printed nothing, a job that looked hung. A step still running after
    LOG_AFTER_S says so, and says when it is done; a short one says nothing."""
    import io
    import time

    from rich.console import Console

    import genbench.progress
    from genbench.progress import Progress

    log = io.StringIO()
    console = Progress(console=Console(file=log, force_terminal=False, force_interactive=False))
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.05)
    with console.status("reference features: cifar10 train (inception)"):
        time.sleep(0.5)
    assert log.getvalue().splitlines() == [
        "reference features: cifar10 train (inception) ...",
        "reference features: cifar10 train (inception): done (0:00:00)",
    ]
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 3600.0)
    with console.status("features of ddim[steps=10] (classifier)"):
        pass
    assert len(log.getvalue().splitlines()) == 2


def test_a_step_that_ends_while_its_log_line_prints_says_done_after_it(monkeypatch):
    """The timer marked the step as said, then printed its " ..." line: a step that ended in between
    printed ": done" first and " ..." under it, a log read backwards (each metric has a status)."""
    import io
    import threading
    import time

    from rich.console import Console

    import genbench.progress
    from genbench.progress import Progress

    class SlowFromTimer(Console):
        def print(self, *objects, **kwargs):  # the timer's thread, slowed between mark and print
            if threading.current_thread() is not threading.main_thread():
                time.sleep(0.3)
            super().print(*objects, **kwargs)

    log = io.StringIO()
    console = Progress(console=SlowFromTimer(file=log, force_terminal=False, force_interactive=False))
    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.05)
    with console.status("ddpm seed 0: computing prdc"):
        time.sleep(0.15)  # ends while the timer's line is being printed
    assert log.getvalue().splitlines() == [
        "ddpm seed 0: computing prdc ...",
        "ddpm seed 0: computing prdc: done (0:00:00)",
    ]


def test_a_loaded_checkpoints_path_stays_on_one_line_in_a_log_file(cli, tmp_path, monkeypatch):
    """The "loaded" line was wrapped at the console's width (80 columns in a log file), breaking the
    checkpoint's path in two."""
    monkeypatch.setenv("COLUMNS", "40")
    cache = tmp_path / "a-cache-folder-whose-path-is-long-enough-to-wrap"
    args = [
        "run",
        "--models",
        "test-tiny-trained",
        "--dataset",
        "ring8",
        "--samples",
        "20",
        "--metrics",
        "fid",
    ]
    args += ["--no-figures", "--cache-dir", cache]
    assert cli(*args, "--out", tmp_path / "a").exit_code == 0
    r = cli(*args, "--out", tmp_path / "b")
    (checkpoint,) = cache.glob("checkpoints/ring8/test-tiny-trained/*/model.pt")
    assert f"test-tiny-trained seed 0: loaded {checkpoint}\n" in r.stderr, r.stderr


def test_the_status_line_shows_a_variant_as_written():
    """The spinner's text was read as rich markup: "features of ddim[steps=10] (raw)" showed as
    "features of ddim (raw)", the variant taken for a style."""
    console = _terminal()
    with Progress(console=console).status("features of ddim[steps=10] (raw)"):
        pass
    assert "features of ddim[steps=10] (raw)" in _plain(console.file.getvalue())


@pytest.mark.parametrize("width", [60, 80])
def test_a_narrow_terminal_keeps_the_progress_numbers(width):
    """In a narrow terminal rich cut every column alike: at 60 columns a training's step count lost
    its total ("1234/…"), at 80 a swept GAN's count and times were gone. The bar and then the
    description give way first now."""
    for description, values in [
        ("train ddpm seed 0", {"loss": 0.03512}),
        ("train gan-ns[lr_d=0.0002,lr_g=0.0001] seed 2", {"loss_d": 1.386, "loss_g": 0.6931}),
    ]:
        console = _terminal(width)
        progress = Progress(console=console)
        update = progress.training(description)
        update(1234, 20000, values)
        progress.training_done()
        shown = _plain(console.file.getvalue())
        assert "1234/20000" in shown and all(f"{k}={v:.4g}" in shown for k, v in values.items()), shown
        assert max(len(ln) for ln in shown.splitlines()) <= width, shown


def test_no_color_means_no_escape_codes(monkeypatch, capsys):
    """With NO_COLOR set, a terminal still got dim and bold as escape codes (rich drops colours only)."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")  # as on a terminal
    result = Result(model="copy", dataset="ring8", seed=0, metrics={"fid": 1.0}, flags=["memorized"])
    Progress().done(result, Path("runs/ring8/copy/seed0.json"))
    Progress().warn("something to fix")
    err = capsys.readouterr().err
    assert "ok copy seed 0: fid=1" in err and "\x1b" not in err, repr(err)


def test_training_and_loading_name_the_variant_of_a_sweep(cli, tmp_path, monkeypatch):
    """The variants of a sweep each trained as "train test-tiny-trained seed 0" and loaded as
    "test-tiny-trained seed 0: loaded ...": which of them was training could not be told apart."""
    import genbench.progress

    monkeypatch.setattr(genbench.progress, "LOG_AFTER_S", 0.0, raising=False)
    args = ["run", "--models", "test-tiny-trained", "--set", "test-tiny-trained.lr=0.5,0.25"]
    args += ["--dataset", "ring8", "--samples", "20", "--metrics", "fid", "--no-figures"]
    args += ["--cache-dir", tmp_path / "cache"]
    r = cli(*args, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    for label in ("test-tiny-trained", "test-tiny-trained[lr=0.25]"):
        assert f"train {label} seed 0: 20/20 " in r.stderr, r.stderr
    r = cli(*args, "--out", tmp_path / "b")
    assert r.exit_code == 0 and "test-tiny-trained[lr=0.25] seed 0: loaded " in r.stderr, r.stderr


def test_a_bad_reference_stats_file_is_named_once_before_the_work_and_once_at_the_end(
    cli, tmp_path, cache_dir
):
    """One unreadable --reference-stats file was reported once before the work, then again for each
    model and seed as it was scored, then once more per model and seed at the end: 2 x 2 runs gave
    nine copies of one message. It is said before the work and in one error line at the end."""
    np.savez(tmp_path / "stats.npz", mean=np.zeros(3))
    args = ["--models", "copy,gaussian", "--seeds", "0,1", "--dataset", "ring8", "--samples", "50"]
    args += ["--metrics", "fid,kid", "--no-figures", "--reference-stats", tmp_path / "stats.npz"]
    r = cli(*run_args(tmp_path / "runs", cache_dir, *args))
    assert r.exit_code == 2 and r.stderr.count("lack mu, sigma") == 2, r.stderr
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    runs = "copy seed 0, copy seed 1, gaussian seed 0 and gaussian seed 1"
    assert line.startswith(f"error: {runs}: fid: "), line
    written = json.loads((tmp_path / "runs/ring8/gaussian/seed1.json").read_text())
    assert "lack mu, sigma" in written["metric_errors"]["fid"] and "kid" in written["metrics"]


def test_the_run_line_shows_cmmd_beside_fid(cli, tmp_path, cache_dir):
    """Under --features clip, which runs cmmd by default for it, the line showed fid alone of the two."""
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "200", "--metrics", "fid,kid,cmmd"]
    r = cli("run", "--out", tmp_path / "runs", "--cache-dir", cache_dir, *args)
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    assert "ok copy seed 0: fid=" in err and " cmmd=" in err and " kid=" not in err, err
