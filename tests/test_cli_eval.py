"""`genbench eval` and `genbench.evaluate`: the sample files they read, the names they write, and their
one-line errors.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import (  # tests/ is on the path: pytest puts it there
    digits_test_u8,
    eval_args,
    run_args,
    single_line_error,
)

from genbench import RunConfig


def test_eval_npz_and_folder(cli, tmp_path, cache_dir):
    from PIL import Image

    from genbench.data.digits import Digits

    x = Digits(cache_dir=cache_dir).load("test")[0]
    u8 = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)[:, 0].numpy()
    np.savez(tmp_path / "mine.npz", samples=u8)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, img in enumerate(u8[:100]):
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "runs", cache_dir))
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "runs/digits/mine/seed0.json").read_text())
    assert res["protocol"]["num_samples"] == len(u8) and res["metrics"]["fid"] >= 0
    assert res["metrics"]["memorization_rate"] < 0.1  # held-out data does not copy the train split
    r = cli(*eval_args(folder, tmp_path / "runs", cache_dir, "--metrics", "fid,prdc"))
    assert r.exit_code == 0, r.output
    assert (
        json.loads((tmp_path / "runs/digits/pngs/seed0.json").read_text())["protocol"]["num_samples"] == 100
    )


def test_names_too_long_for_a_file_name_are_written(cli, tmp_path, cache_dir):
    """A 300-character --name (or a --set sweep over long lists) was scored, then lost: writing the
    result failed with "File name too long ... choose a writable directory with --out". The
    directory now keeps the name's start and a hash of the whole; the row keeps the whole name."""
    from genbench.results import MAX_NAME, safe_name

    samples = tmp_path / "points.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    out = tmp_path / "runs"
    names = ["a" * 299 + "x", "a" * 299 + "y"]  # the same first 200 characters
    args = ["eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir]
    for name in names:  # figures too: their names add a suffix to the directory's
        r = cli(*args, "--no-progress", "--metrics", "fid,prdc", "--name", name)
        assert r.exit_code == 0, r.output
    dirs = sorted(p.name for p in (out / "ring8").iterdir() if p.name != "figures")
    assert len(list((out / "ring8/figures").iterdir())) >= 2
    assert dirs == sorted(safe_name(n) for n in names) and all(len(d) == MAX_NAME for d in dirs)
    rows = {json.loads((out / "ring8" / d / "seed0.json").read_text())["model"] for d in dirs}
    assert rows == set(names)
    assert safe_name("ddpm[steps=10]") == "ddpm_steps=10"  # short names are as they were


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--name", "///"], "--name '///' cannot name a result"),  # wrote <out>/digits/seed0.json
        (["--name", ".."], "--name '..' cannot name a result"),  # wrote <out>/seed0.json
        (["--name", "a/b"], "--name 'a/b' cannot name a result"),
        # the row of the markdown board split in two cells, or over two lines
        (["--name", "a|b"], "--name 'a|b' cannot name a result"),
        (["--name", "a\nb"], "--name 'a\\nb' cannot name a result"),
        (["--name", "a\tb"], "--name 'a\\tb' cannot name a result"),
        (["--seed", "3,4"], "eval takes one seed, got 3,4; pass one (--seed 3)"),  # used seed 3 only
        # said "malformed seed list 'abc'; use integers like 0,1,2", a list eval refuses
        (["--seed", "abc"], "malformed seed 'abc'; use one integer, e.g. --seed 0"),
        (["--seed", "3,x"], "malformed seed '3,x'; use one integer, e.g. --seed 0"),
        # its fix named --seeds, which eval refuses
        (["--seed=-1"], "seeds must be integers from 0 to 2**32-1, got -1; use e.g. --seed 0"),
        # 0 was a range() traceback; -1 extracted no features and cached that empty reference
        (["--batch-size", "0"], "--batch-size must be positive, got 0"),
        (["--batch-size=-1"], "--batch-size must be positive, got -1"),
    ],
)
def test_eval_bad_input_is_one_line_exit_2(cli, tmp_path, cache_dir, extra, expected):
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 8, 8), np.uint8))
    line = single_line_error(cli(*eval_args(tmp_path / "s.npz", tmp_path / "runs", cache_dir, *extra)))
    assert expected in line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.json"))


def test_a_samples_file_whose_name_would_split_a_board_row_asks_for_name(cli, tmp_path, cache_dir):
    """Named after the file, "a|b.npz" was a row that split the markdown board's columns."""
    np.savez(tmp_path / "a|b.npz", samples=np.zeros((10, 8, 8), np.uint8))
    line = single_line_error(cli(*eval_args(tmp_path / "a|b.npz", tmp_path / "runs", cache_dir)))
    assert "cannot name a result after --samples" in line and line.endswith(
        "pass --name, e.g. --name my-model"
    )


def test_eval_refuses_one_samples_file_as_two_seeds(cli, tmp_path, cache_dir):
    """The same file under --seed 0 and --seed 1 was scored twice and the board averaged it as two
    seeds: "fid 58.7 ± 0", a spread over seeds with one sample set behind it."""
    x = digits_test_u8(cache_dir)[:100]
    np.save(tmp_path / "mine.npy", x)
    out = tmp_path / "runs"
    fast = ("--metrics", "fid", "--no-figures")
    assert cli(*eval_args(tmp_path / "mine.npy", out, cache_dir, *fast)).exit_code == 0
    line = single_line_error(cli(*eval_args(tmp_path / "mine.npy", out, cache_dir, *fast, "--seed", "1")))
    assert f"{out / 'digits/mine/seed0.json'} already scored these samples as seed 0" in line
    assert "--name" in line
    assert not (out / "digits/mine/seed1.json").exists()
    # the same values under another file name are the same samples too
    np.save(tmp_path / "copy.npy", x)
    args = eval_args(tmp_path / "copy.npy", out, cache_dir, *fast, "--seed", "1", "--name", "mine")
    assert "already scored these samples as seed 0" in single_line_error(cli(*args))
    # another seed's own samples join the row, and rerunning seed 0 still replaces its own result
    np.save(tmp_path / "mine1.npy", digits_test_u8(cache_dir)[100:200])
    args = eval_args(tmp_path / "mine1.npy", out, cache_dir, *fast, "--seed", "1", "--name", "mine")
    assert cli(*args).exit_code == 0
    assert cli(*eval_args(tmp_path / "mine.npy", out, cache_dir, *fast)).exit_code == 0


def test_eval_of_the_root_folder_asks_for_a_name_before_reading_it(cli, tmp_path, cache_dir):
    """`--samples /` said "--name '' cannot name a result", though no --name was given."""
    line = single_line_error(cli(*eval_args(Path("/"), tmp_path / "runs", cache_dir)))
    assert line == "error: cannot name a result after --samples /; pass --name, e.g. --name my-model"


def test_eval_refuses_a_name_that_is_the_runs_figures_folder(cli, tmp_path, cache_dir):
    """``--name figures``, or samples named figures.npz, wrote the result to
    ``<out>/<dataset>/figures/seed0.json``, among the runs' figure folders
    (evaluation.check_result_name, and the default name's check in evaluate)."""
    samples = tmp_path / "figures.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    out = tmp_path / "runs"
    args = ["eval", "--samples", samples, "--dataset", "ring8", "--out", out, "--cache-dir", cache_dir,
            "--no-progress", "--metrics", "fid"]  # fmt: skip
    folder = "the folder a run writes its figures to (<out>/<dataset>/figures/), beside each result's folder"
    assert single_line_error(cli(*args)) == (
        f"error: cannot name a result after --samples {samples.resolve()}: 'figures' is {folder}; "
        "pass --name, e.g. --name my-model"
    )
    for name in ("figures", "Figures"):  # Figures/ is figures/ on the file systems of macOS and Windows
        assert single_line_error(cli(*args, "--name", name)) == (
            f"error: --name {name!r} is {folder}; use another, e.g. --name {name}-eval"
        )
    assert not out.exists()
    # leaderboards/ is beside the datasets' folders, not the results'
    for name in ("figures-eval", "leaderboards"):
        assert cli(*args, "--name", name).exit_code == 0
    assert sorted(p.name for p in (out / "ring8").iterdir()) == ["figures", "figures-eval", "leaderboards"]


@pytest.mark.parametrize("command", ["run", "eval"])
def test_a_dataset_whose_name_property_is_the_reports_folder_is_refused(
    cli, tmp_path, cache_dir, monkeypatch, command
):
    """Registration checks the registered name: a plugin registered as ``test-named-apart`` whose
    ``name`` property returns ``leaderboards`` wrote its results to ``<out>/leaderboards/``, the
    report's folder (resolve.check_built_dataset_name, called by run and eval after build_dataset)."""
    import cli_models  # noqa: F401 (registers test-tiny-trained)

    from genbench import registry
    from genbench.data.toy2d import Ring8

    class NamedApart(Ring8):
        @property
        def name(self) -> str:
            return "Leaderboards"  # case aside, the report's folder on macOS and Windows

    registry.datasets.discover()
    monkeypatch.setattr(registry.datasets, "_entries", dict(registry.datasets._entries))
    registry.datasets.add("test-named-apart", NamedApart, source="genbench-test-plugin")
    samples = tmp_path / "s.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    out = tmp_path / "runs"
    common = ["--dataset", "test-named-apart", "--out", out, "--cache-dir", cache_dir, "--no-progress"]
    common += ["--metrics", "fid", "--no-figures"]
    given = (
        ["--samples", samples] if command == "eval" else ["--models", "test-tiny-trained", "--samples", "100"]
    )
    line = single_line_error(cli(command, *given, *common))
    assert line == (
        f"error: dataset 'test-named-apart' ({__name__}.{NamedApart.__qualname__}) names itself "
        "'Leaderboards' (its name property), the folder `genbench report` writes to unless given "
        "--leaderboards (<out>/leaderboards/), beside each dataset's results folder; make its name "
        "property return another name, e.g. 'test-named-apart' (the name it is registered under)"
    )
    assert not list(out.glob("*/*/seed*")) and not {"Leaderboards", "leaderboards"} & {
        p.name for p in out.glob("*")
    }  # refused before any work: nothing written under the report's folder


@pytest.mark.parametrize("name", ["..", ".", "", "a/b"])
def test_a_dataset_whose_name_property_is_no_folder_is_refused(cli, tmp_path, cache_dir, monkeypatch, name):
    """A plugin whose ``name`` property returned ``..`` had its results written beside ``--out``
    (``<out>/../<label>/seed0.json``), and ``.`` or ``''`` among the datasets' folders, where no
    report looks."""
    from genbench import registry
    from genbench.data.toy2d import Ring8

    class NamedNowhere(Ring8):
        @property
        def name(self) -> str:
            return name

    registry.datasets.discover()
    monkeypatch.setattr(registry.datasets, "_entries", dict(registry.datasets._entries))
    registry.datasets.add("test-named-nowhere", NamedNowhere, source="genbench-test-plugin")
    samples = tmp_path / "s.npz"
    np.savez(samples, samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    out = tmp_path / "box" / "runs"
    line = single_line_error(
        cli("eval", "--samples", samples, "--dataset", "test-named-nowhere", "--out", out, "--cache-dir",
            cache_dir, "--no-progress", "--metrics", "fid", "--no-figures", "--name", "mine")
    )  # fmt: skip
    assert line == (
        f"error: dataset 'test-named-nowhere' ({__name__}.{NamedNowhere.__qualname__}) names itself "
        f"{name!r} (its name property), which names no single folder of its own under --out; make its "
        "name property return another name, e.g. 'test-named-nowhere' (the name it is registered under)"
    )
    assert not list((tmp_path / "box").rglob("seed*.json"))


def test_an_option_of_a_metric_not_computed_names_metrics_in_eval_too(cli, tmp_path, cache_dir):
    """It said "names a metric this run does not compute" in `genbench eval` too."""
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 8, 8), np.uint8))
    extra = ["--metrics", "fid", "--metric-option", "kid.subsets=2"]
    line = single_line_error(cli(*eval_args(tmp_path / "s.npz", tmp_path / "runs", cache_dir, *extra)))
    assert line == (
        "error: --metric-option kid.subsets names a metric not among --metrics; add kid to --metrics "
        "(--metrics fid,kid) or drop the option"
    )


def test_eval_reads_grey_saved_as_colour_and_16_bit_pngs_as_grey(cli, tmp_path, cache_dir):
    """The same digits saved as RGB, RGBA, palette and 16-bit PNGs, and as an RGB uint8 .npz, score
    as the grey .npz does: eval used to refuse all but the 16-bit ones for digits (it never passed
    the dataset's channels to the loader), and scored the 16-bit ones clipped to black and white."""
    from PIL import Image

    u8 = digits_test_u8(cache_dir)[:200]
    np.savez(tmp_path / "grey.npz", samples=u8)
    np.savez(tmp_path / "rgb.npz", samples=np.repeat(u8[..., None], 3, axis=-1))
    as_saved = {
        "rgb": lambda g: Image.fromarray(np.stack([g] * 3, -1)),
        "rgba": lambda g: Image.fromarray(np.stack([g] * 3 + [np.full_like(g, 255)], -1)),
        "palette": lambda g: Image.fromarray(g).convert("P"),
        "grey16": lambda g: Image.fromarray(g.astype(np.uint16) * 257),
    }
    for folder, save in as_saved.items():
        (tmp_path / folder).mkdir()
        for i, g in enumerate(u8):
            save(g).save(tmp_path / folder / f"{i:03d}.png")
    assert (tmp_path / "grey16/000.png").read_bytes()[24] == 16  # IHDR bit depth (Pillow 10 opens it as I)
    fid = {}
    for src in ["grey.npz", "rgb.npz", *as_saved]:
        r = cli(*eval_args(tmp_path / src, tmp_path / "runs", cache_dir, "--metrics", "fid", "--no-figures"))
        assert r.exit_code == 0, (src, r.output)
        res = json.loads((tmp_path / "runs/digits" / Path(src).stem / "seed0.json").read_text())
        fid[src] = res["metrics"]["fid"]
    assert all(v == pytest.approx(fid["grey.npz"], rel=1e-6) for v in fid.values()), fid


def test_evaluate_api_takes_what_eval_takes(cli, tmp_path, cache_dir):
    """genbench.evaluate used to fail on a path (AttributeError) and refuse a numpy array or a uint8
    tensor as "model 'np' returned ndarray from sample()"; now it shares eval's loader."""
    import genbench

    u8 = digits_test_u8(cache_dir)[:200]
    np.savez(tmp_path / "mine.npz", samples=u8)
    r = cli(
        *eval_args(tmp_path / "mine.npz", tmp_path / "cli", cache_dir, "--metrics", "fid", "--no-figures")
    )
    assert r.exit_code == 0, r.output
    expected = json.loads((tmp_path / "cli/digits/mine/seed0.json").read_text())["metrics"]["fid"]
    config = RunConfig(
        dataset="digits",
        out=tmp_path / "api",
        cache_dir=cache_dir,
        metrics=["fid"],
        figures=False,
        progress=False,
    )
    got = {
        "path": genbench.evaluate(tmp_path / "mine.npz", config),
        "str": genbench.evaluate(str(tmp_path / "mine.npz"), config),
        "numpy": genbench.evaluate(u8, config, name="numpy"),
        "tensor": genbench.evaluate(torch.from_numpy(u8)[:, None], config, name="tensor"),
    }
    assert got["path"].model == "mine"  # named after the file, as on the command line
    for how, res in got.items():
        assert res.metrics["fid"] == pytest.approx(expected, rel=1e-6), how


def test_real_test_split_scores_like_held_out_data(cli, tmp_path):
    """The digits test split scored as if it were samples: its FID is the train/test floor (checked
    against torch-fidelity on the same classifier features), nothing is memorized, every mode is
    covered and C_T sees neither copying nor underfitting."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from genbench.data.digits import Digits
    from genbench.features.classifier import Classifier

    # a cache of its own, on the CPU like the reference computation below: reference features cached
    # by an earlier run on CUDA differ from CPU ones in the last bits (about 1e-5 relative)
    cache_dir = tmp_path / "cache"
    digits = Digits(cache_dir=cache_dir)
    test_x = digits.load("test")[0]
    np.savez(tmp_path / "test.npz", samples=test_x.numpy())
    r = cli(
        *eval_args(tmp_path / "test.npz", tmp_path / "runs", cache_dir, "--no-figures", "--device", "cpu")
    )
    assert r.exit_code == 0, r.output
    written = json.loads((tmp_path / "runs/digits/test/seed0.json").read_text())
    m = written["metrics"]
    clf = Classifier(digits, cache_dir=cache_dir)
    stats = [
        fid_features_to_statistics(torch.from_numpy(clf.extract(x).features))
        for x in (test_x, digits.load("train")[0])
    ]
    floor = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert m["fid"] == pytest.approx(floor, rel=1e-6)
    assert m["memorization_rate"] < 0.01 and m["modes_covered"] == 10 and abs(m["ct"]) < 3
    assert (
        not {"collapsed", "memorized"} & set(written["flags"]) and m["mode_kl"] < 0.05
    )  # a flag, not a metric


def test_eval_of_throughput_says_it_measures_only_what_genbench_run_samples(cli, tmp_path, cache_dir):
    """`genbench eval --metrics throughput` wrote an "ok" result without a value and said nothing:
    eval draws no samples, so nothing was timed. It says why now, as for any named metric that does
    not apply; the default metric set leaves it out quietly, and `genbench run` still measures."""
    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir)[:50])
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "eval", cache_dir, "--metrics", "fid,throughput"))
    assert r.exit_code == 0, r.output
    assert (
        "warning: mine seed 0: not computed: throughput: nothing was timed: the samples were not drawn "
        "by genbench (genbench eval); genbench run measures sampling" in r.stderr
    ), r.stderr
    res = json.loads((tmp_path / "eval/digits/mine/seed0.json").read_text())
    assert "fid" in res["metrics"] and "samples_per_s" not in res["metrics"]
    r = cli(*eval_args(tmp_path / "mine.npz", tmp_path / "default", cache_dir, "--no-figures"))
    assert r.exit_code == 0 and "not computed" not in r.stderr, r.output
    args = ["--models", "gaussian", "--samples", "50", "--metrics", "throughput", "--no-figures"]
    r = cli(*run_args(tmp_path / "run", cache_dir, *args))
    assert r.exit_code == 0 and "not computed" not in r.stderr, r.output
    assert (
        json.loads((tmp_path / "run/digits/gaussian/seed0.json").read_text())["metrics"]["samples_per_s"] > 0
    )


def test_eval_shape_mismatch(cli, tmp_path, cache_dir):
    np.savez(tmp_path / "s.npz", samples=np.zeros((10, 28, 28), np.uint8))
    line = single_line_error(cli(*eval_args(tmp_path / "s.npz", tmp_path, cache_dir)))
    assert "shape" in line


def test_eval_ends_as_run_does_with_the_report_command_to_paste(cli, tmp_path, cache_dir):
    """`genbench run` ended with "next: genbench report --out runs", `genbench eval` with nothing,
    though its result is as much the board's; and an --out with a space gave a command that, pasted,
    passed `report` two arguments."""
    out = tmp_path / "my runs"
    np.savez(tmp_path / "s.npz", samples=digits_test_u8(cache_dir))
    r = cli(*eval_args(tmp_path / "s.npz", out, cache_dir, "--metrics", "fid"))
    assert r.exit_code == 0, r.output
    said = r.stderr.strip().splitlines()[-1]
    assert said == f"results in {out}; next: genbench report --out {shlex.quote(str(out))}", r.stderr
    pasted = shlex.split(said.split("next: genbench ")[1])
    assert cli(*pasted).exit_code == 0 and (out / "leaderboards/digits.md").exists()
    args = ["--models", "copy", "--dataset", "ring8", "--samples", "20", "--metrics", "fid"]
    r = cli(*run_args(out, cache_dir, *args))
    assert r.exit_code == 0, r.output
    assert r.stderr.strip().splitlines()[-1].endswith(said), r.stderr


def test_eval_into_a_seed_removes_a_failed_reruns_file_as_a_run_does(cli, tmp_path, cache_dir):
    """A seed<N>.failed.json left beside the row's seed (its result deleted, then evaluated into) was
    kept by eval, which a run's result removes: the report then noted a later failure of values the
    evaluation had just written (genbench.evaluation.evaluate's write of result.path)."""
    from genbench.results import Result, load_result

    np.savez(tmp_path / "mine.npz", samples=digits_test_u8(cache_dir))
    runs = tmp_path / "runs"
    failed = Result(model="mine", dataset="digits", seed=0, status="failed", error="CUDA out of memory")
    failed.write(runs, to=failed.failed_path(runs))
    r = cli(*eval_args(tmp_path / "mine.npz", runs, cache_dir, "--metrics", "fid", "--no-figures"))
    assert r.exit_code == 0, r.output
    assert not failed.failed_path(runs).exists()
    assert load_result(runs / "digits/mine/seed0.json").failed_rerun is None
