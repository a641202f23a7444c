"""Bad user input (audit 29): one clear line naming the fix, exit 2 on the CLI, and no numpy warning
or advice that leads nowhere."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there

from genbench.data.folder import as_samples, load_samples
from genbench.errors import GenbenchError
from genbench.flag_values import parse_seeds
from genbench.io import check_writable

# -- F2: float64 samples beyond float32's range ------------------------------------------------------


def test_float64_samples_beyond_float32_range_are_refused_without_numpy_warning(tmp_path):
    """1e300 is finite, so it passed the NaN/inf check, then became inf in the float32 cast (numpy's
    raw overflow warning) and failed every metric of an "ok" result."""
    pts = np.random.default_rng(0).normal(size=(20, 2))
    pts[3, 1] = 1e300
    np.savez(tmp_path / "huge.npz", samples=pts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in cast" fails the test
        with pytest.raises(
            GenbenchError, match=r"huge.npz holds values beyond float32's range \(up to 1e\+300\)"
        ):
            load_samples(tmp_path / "huge.npz")
        with pytest.raises(GenbenchError, match="the tensor holds values beyond float32's range"):
            as_samples(torch.from_numpy(pts))
    pts[3, 1] = 1e30  # float64 within float32's range still loads
    assert torch.isfinite(as_samples(pts)).all()


def test_eval_of_float64_samples_beyond_float32_range_is_one_line(cli, tmp_path, cache_dir):
    pts = np.random.default_rng(0).normal(size=(200, 2))
    pts[3, 1] = 1e300
    np.savez(tmp_path / "huge.npz", samples=pts)
    out = tmp_path / "e"
    args = ["--dataset", "ring8", "--out", out, "--cache-dir", cache_dir, "--no-figures", "--no-progress"]
    line = single_line_error(cli("eval", "--samples", tmp_path / "huge.npz", *args))
    assert "beyond float32's range" in line
    assert not list(out.glob("*/*/seed*.json"))  # no "ok" result with failed metrics


# -- F6: a file named .npz that is not one -----------------------------------------------------------


def test_a_text_file_named_npz_is_not_an_npz_and_gets_no_pickle_advice(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(
        GenbenchError,
        match=r"cannot read .*text.npz: not an .npz \(zip\) file; save the samples with numpy.savez",
    ):
        load_samples(tmp_path / "text.npz")
    try:
        load_samples(tmp_path / "text.npz")
    except GenbenchError as e:
        assert "pickle" not in str(e)
    # a truncated archive is a zip: it keeps its own reason
    np.savez(tmp_path / "whole.npz", samples=np.zeros((4, 2), np.float32))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:100])
    with pytest.raises(GenbenchError, match=r"cannot read .*cut.npz as .npz \(BadZipFile"):
        load_samples(tmp_path / "cut.npz")


# -- F7: a file where a directory is expected --------------------------------------------------------


def test_check_writable_says_a_file_is_not_a_directory(tmp_path):
    f = tmp_path / "afile"
    f.write_text("")
    with pytest.raises(
        GenbenchError,
        match=r"afile is not writable: it is a file, not a directory; pass a directory with --cache-dir$",
    ):
        check_writable(f, "--cache-dir")
    # a folder above it is the file: that one is named
    with pytest.raises(
        GenbenchError,
        match=r"afile/a/b cannot be created: .*afile is a file, not a directory; pass a directory with --out$",
    ):
        check_writable(f / "a" / "b")


def test_run_and_report_with_out_a_file(cli, tmp_path, cache_dir):
    f = tmp_path / "afile"
    f.write_text("")
    run = ["run", "--models", "gaussian", "--dataset", "ring8", "--samples", "200"]
    run += ["--no-figures", "--no-progress"]
    line = single_line_error(cli(*run, "--out", f, "--cache-dir", cache_dir))
    assert line == f"error: {f} is not writable: it is a file, not a directory; pass a directory with --out"
    line = single_line_error(cli(*run, "--out", tmp_path / "runs", "--cache-dir", f))
    assert (
        line
        == f"error: {f} is not writable: it is a file, not a directory; pass a directory with --cache-dir"
    )
    # report's advice was `genbench run --out afile`, which fails as above
    line = single_line_error(cli("report", "--out", f, "--leaderboards", tmp_path / "lb"))
    assert "is a file, not a results folder" in line and "genbench run --out afile" not in line


# -- F8: stats --out naming ---------------------------------------------------------------------------


def test_stats_out_named_only_npz_or_in_upper_case(cli, tmp_path, cache_dir):
    args = ["--dataset", "ring8", "--cache-dir", cache_dir, "--no-progress"]
    line = single_line_error(cli("stats", "--out", tmp_path / ".npz", *args))
    assert "has no name before .npz" in line and "does not end in .npz" not in line
    upper = tmp_path / "R.NPZ"  # eval accepts .NPZ samples: stats accepts the name too
    r = cli("stats", "--out", upper, *args)
    assert r.exit_code == 0, r.output
    with np.load(upper) as npz:
        assert npz["mu"].shape == (2,)
    assert [p.name for p in tmp_path.iterdir()] == ["R.NPZ"]


# -- F9: seeds are ASCII integers ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1_0", "\u0661", "0,\uff11", "1.0", "0x1", ""])
def test_parse_seeds_refuses_what_int_alone_accepts(text):
    with pytest.raises(GenbenchError, match=r"malformed seed list .*; use integers like 0,1,2"):
        parse_seeds(text)


def test_parse_seeds_keeps_signs_and_spaces():
    assert parse_seeds(" 0, +1,2 ") == [0, 1, 2]
    assert parse_seeds("-1") == [-1]  # check_seeds refuses it with its own message


def test_run_with_an_underscore_seed_is_one_line(cli, tmp_path, cache_dir):
    out = tmp_path / "runs"
    args = ["--models", "gaussian", "--dataset", "ring8", "--samples", "200", "--no-figures", "--no-progress"]
    line = single_line_error(cli("run", "--seeds", "1_0", "--out", out, "--cache-dir", cache_dir, *args))
    assert line == "error: malformed seed list '1_0'; use integers like 0,1,2"
    assert not out.exists() or not list(out.rglob("seed10.json"))


def test_eval_of_one_sample_is_one_line(cli, tmp_path, cache_dir):
    """One sample, refused by `run --samples 1`, was scored by eval: FID, KID and PRDC each failed
    on an error line of its own, beside four warnings and a result written without them."""
    np.savez(tmp_path / "one.npz", samples=np.zeros((1, 2), np.float32))
    args = ["eval", "--samples", tmp_path / "one.npz", "--dataset", "ring8", "--no-progress"]
    line = single_line_error(cli(*args, "--out", tmp_path / "runs", "--cache-dir", cache_dir))
    assert line == f"error: {tmp_path / 'one.npz'} holds 1 sample; pass 2 or more (FID's covariance needs 2)"
    assert not list((tmp_path / "runs").rglob("*.json"))


@pytest.mark.parametrize("suffix", [".npz", ".npy"])
def test_an_object_array_is_named_as_such_without_pickle_advice(cli, tmp_path, cache_dir, suffix):
    """An array of Python objects (a list of differently sized arrays) failed with numpy's own
    "ValueError: Object arrays cannot be loaded when allow_pickle=False" and "save it with
    numpy.savez", which it was: the way out the message showed was allow_pickle, which runs the file."""
    f = tmp_path / f"obj{suffix}"
    objects = np.array([np.zeros(2), np.zeros(3)], dtype=object)
    np.savez(f, samples=objects) if suffix == ".npz" else np.save(f, objects)
    args = [
        "eval",
        "--samples",
        f,
        "--dataset",
        "ring8",
        "--out",
        tmp_path / "runs",
        "--cache-dir",
        cache_dir,
    ]
    line = single_line_error(cli(*args, "--no-progress"))
    assert line.startswith(f"error: {f} holds an array of Python objects"), line
    assert "save the samples as one uint8 or float32 array" in line and "allow_pickle" not in line, line
