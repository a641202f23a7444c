"""Which files under ``--out`` the report reads as results, and what it says of those it does not:
a partial result file is refused, a file that looks like a result but is not read is warned of, and a
failed rerun kept beside a result is noted on that row of the board."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from genbench.results import Result, load_result


def result(model: str, seed: int, fid: float, variant: str = "") -> Result:
    return Result(
        model=model,
        dataset="ring8",
        seed=seed,
        variant=variant,
        protocol={"num_samples": 100, "reference_split": "train", "features": {"name": "raw"}},
        metrics={"fid": fid},
    )


def error_lines(r) -> list[str]:
    return [ln for ln in r.stderr.splitlines() if ln.strip()]


def test_a_result_file_of_identity_alone_is_unreadable_not_an_ok_seed(cli, tmp_path):
    """``{"model", "dataset", "seed"}`` alone was read as an ok seed (the default status) with no
    value: the row listed seeds 0,1 and marked every cell "no value recorded". genbench never writes
    a result without its status, protocol and metrics (load_result's _REQUIRED_FIELDS)."""
    out = tmp_path / "runs"
    result("gaussian", 0, 2.0).write(out)
    stub = out / "ring8/gaussian/seed1.json"
    stub.write_text(json.dumps({"model": "gaussian", "dataset": "ring8", "seed": 1}))
    with pytest.raises(ValueError, match="records no status, protocol, metrics"):
        load_result(stub)
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in error_lines(r) if not ln.startswith("wrote ")]
    assert line.startswith(f"error: result file {stub} is unreadable") and "delete it and rerun" in line
    assert pd.read_csv(tmp_path / "boards/ring8.csv")["seeds"].astype(str).tolist() == ["0"]
    # what genbench's first result schema wrote (no metric_error_kinds, samples_file, training nor
    # schema) is no partial file: only the fields every result has are required
    first = json.loads((out / "ring8/gaussian/seed0.json").read_text())
    for key in ("metric_error_kinds", "samples_file", "training", "schema"):
        del first[key]
    stub.write_text(json.dumps({**first, "seed": 1}))
    assert load_result(stub) == result("gaussian", 1, 2.0)


def _broken_beside_good(out):
    """Two readable results of ``out`` and four result files beside them that cannot be read, each
    with what its line must say: a truncated JSON, a file of another format, a newer genbench's
    result and seed 0's result copied into another seed's file."""
    for seed in (0, 1):
        result("gaussian", seed, 2.0 + seed).write(out)
    good = (out / "ring8/gaussian/seed0.json").read_text()
    model = out / "ring8/copy"
    model.mkdir(parents=True)
    broken = {
        model / "seed0.json": (good[: len(good) // 2], "is unreadable", "delete it and rerun"),
        model / "seed1.json": (b"\x89PNG\r\n\x1a\n\x00", "is unreadable", "delete it and rerun"),
        model / "seed2.json": (
            json.dumps({**json.loads(good), "model": "copy", "seed": 2, "schema": 99}),
            "written by a newer genbench (result schema 99",
            "upgrade genbench to report it",
        ),
        out / "ring8/gaussian/seed3.json": (
            good,
            "holds the result that belongs in",
            "delete it if it is a copy",
        ),
    }
    for path, (text, _, _) in broken.items():
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return broken


def test_unreadable_result_files_are_each_named_and_the_others_reported(cli, tmp_path, capsys):
    """`genbench report` stopped at the first result file it could not read, and wrote no board: one
    broken file took every other result down. Each is now left out with one line naming it, why and
    what to do, after the board of the rest, and the exit status is 2 (an input to fix)."""
    import genbench

    out, plain = tmp_path / "runs", tmp_path / "plain"
    for seed in (0, 1):
        result("gaussian", seed, 2.0 + seed).write(plain)
    assert cli("report", "--out", plain, "--leaderboards", tmp_path / "plain-boards").exit_code == 0
    broken = _broken_beside_good(out)
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors = [ln for ln in error_lines(r) if not ln.startswith("wrote ")]
    assert len(errors) == len(broken) and all(ln.startswith("error: ") for ln in errors), errors
    for path, (_, why, fix) in broken.items():
        (line,) = [ln for ln in errors if f"{path} " in ln]
        assert why in line and fix in line, line
    assert error_lines(r).index(errors[0]) > 0  # said after the board's "wrote" line, where read last
    assert "| gaussian" in r.stdout  # the board of the rest is printed, and written
    for suffix in (".md", ".csv", ".tex"):
        assert (tmp_path / "boards" / f"ring8{suffix}").read_text() == (
            tmp_path / "plain-boards" / f"ring8{suffix}"
        ).read_text()
    # the Python API and the frames return the rest, each file said on a warning: line
    capsys.readouterr()
    assert "gaussian" in genbench.report(out, tmp_path / "api")["ring8"]
    assert genbench.results_frame(out)["seed"].tolist() == [0, 1]
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning: ")]
    assert all(any(f"{path} " in ln for ln in said) for path in broken), said


def test_no_readable_result_is_an_error_after_each_file_is_named(cli, tmp_path):
    """With every result file unreadable there is no board: each file's line, then one that says so.
    A folder of them beside a readable one takes none of its results down."""
    out = tmp_path / "runs"
    model = out / "ring8/gaussian"
    model.mkdir(parents=True)
    (model / "seed0.json").write_text("{")
    (model / "seed1.json").write_text("[]")
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = error_lines(r)
    assert len(lines) == 3 and all(ln.startswith("error: ") for ln in lines), lines
    assert f"{model / 'seed0.json'} is unreadable" in lines[0] and f"{model / 'seed1.json'}" in lines[1]
    assert lines[2] == (
        f"error: no result under {out} can be read (each of the 2 is named above, with its fix); "
        "fix them, or rerun their models"
    )
    assert not (tmp_path / "boards").exists()
    result("copy", 0, 0.1).write(tmp_path / "other")
    r = cli("report", "--out", out, "--out", tmp_path / "other", "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and len([ln for ln in error_lines(r) if ln.startswith("error: ")]) == 2, r.output
    assert "| copy" in (tmp_path / "boards/ring8.md").read_text()


def test_files_that_look_like_results_but_are_not_read_are_each_warned_of_once(cli, tmp_path):
    """A result written aside, a failed rerun whose result is gone, a file manager's copy and a
    result in a folder below were left out of the board without a word (results.skipped_results);
    the board's files are as without them."""
    out = tmp_path / "runs"
    for seed in (0, 1):
        result("gaussian", seed, 2.0 + seed).write(out)
    assert cli("report", "--out", out, "--leaderboards", tmp_path / "plain").exit_code == 0
    model = out / "ring8/gaussian"
    aside = result("gaussian", 0, 9.0)
    aside.protocol["num_samples"] = 50
    aside.write(out, to=aside.aside_path(out))
    (model / "seed2.failed.json").write_text((model / "seed0.json").read_text())
    (model / "seed1 (1).json").write_text((model / "seed1.json").read_text())
    (model / "old").mkdir()
    (model / "old/seed3.json").write_text((model / "seed1.json").read_text())
    (model / ".seed0.json.x1y2.tmp").write_text("{")  # an atomic write's temp file: never said
    (model / "seed0.samples.npz").write_bytes(b"")  # --save-samples' file: no result
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 0, r.output
    said = [ln for ln in error_lines(r) if ln.startswith("warning: ")]
    assert len(said) == 4 and all("is not read by the report" in ln for ln in said), said
    by_file = {
        name: next(ln for ln in said if f"/{name} is not read" in ln)
        for name in (aside.aside_path(out).name, "seed2.failed.json", "seed1 (1).json", "old/seed3.json")
    }
    assert "written aside" in by_file[aside.aside_path(out).name]
    assert "rename it to seed2.json to list the failure" in by_file["seed2.failed.json"]
    assert "seed1.json is there already: delete it if it is a copy" in by_file["seed1 (1).json"]
    assert f"move it to {model / 'seed3.json'} to include it" in by_file["old/seed3.json"]
    for suffix in (".md", ".csv", ".tex"):
        assert (tmp_path / "boards" / f"ring8{suffix}").read_text() == (
            tmp_path / "plain" / f"ring8{suffix}"
        ).read_text()


def test_a_failed_rerun_beside_a_result_is_noted_on_its_row_in_markdown_and_latex(cli, tmp_path):
    """runner.write_result keeps seed1.json when a later run of seed 1 fails, and writes the failure
    to seed1.failed.json: the board showed seed 1's older value as current, without a word."""
    out = tmp_path / "runs"
    for seed in (0, 1):
        result("gaussian", seed, 2.0 + seed).write(out)
        result("copy", seed, 0.1).write(out)
    failed = Result(model="gaussian", dataset="ring8", seed=1, status="failed", error="CUDA out of\nmemory")
    failed.write(out, to=failed.failed_path(out))
    assert load_result(out / "ring8/gaussian/seed1.json").failed_rerun == "CUDA out of memory"
    assert load_result(out / "ring8/copy/seed1.json").failed_rerun is None
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output  # noted on the board, not warned of
    md = (tmp_path / "boards/ring8.md").read_text()
    tex = (tmp_path / "boards/ring8.tex").read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith("|") and "gaussian" in ln)
    assert "(a later rerun of seed 1 failed)" in row and "2.50 ± 0.71" in row  # the values are kept
    assert "copy" not in md[md.index("## Failed reruns") :]
    line = "gaussian, seed 1: a later rerun failed (`seed1.failed.json`: CUDA out of memory)"
    assert f"- {line}; the values shown are the earlier run's" in md
    assert "gaussian & (a later rerun of seed 1 failed)" in tex
    assert r"gaussian, seed 1: a later rerun failed (\texttt{seed1.failed.json}: CUDA out of memory)" in tex
    assert tex.count("A later run of these seeds failed") == tex.count(r"\begin{table}")
    # and the CSV, which said nothing of it (board_csv.to_csv_frame's failed_reruns)
    csv = pd.read_csv(tmp_path / "boards/ring8.csv").set_index("label")
    assert json.loads(csv.loc["gaussian", "failed_reruns"]) == {"1": "CUDA out of memory"}
    assert json.loads(csv.loc["copy", "failed_reruns"]) == {}


def test_a_results_folder_inside_the_out_is_warned_of_once_as_a_folder_of_its_own(cli, tmp_path):
    """`genbench run --out runs/b` beside runs/<dataset>/: the report of runs warned of each of
    runs/b's results as a file "in a folder below its model's", with the advice to move it to
    runs/b/ring8/seed<N>.json, which is no place a report reads (results._nested_folders)."""
    out = tmp_path / "runs"
    result("gaussian", 0, 2.0).write(out)
    inner = out / "b"
    for seed in (0, 1):
        result("copy", seed, 0.1).write(inner)
    Result(model="copy", dataset="ring8", seed=1, status="failed", error="boom").write(
        inner, to=Result(model="copy", dataset="ring8", seed=1).failed_path(inner)
    )
    (out / "ring8/gaussian/old").mkdir()  # a copy in a model's subfolder is still a file of its own
    (out / "ring8/gaussian/old/seed3.json").write_text((out / "ring8/gaussian/seed0.json").read_text())
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 0, r.output
    said = [ln for ln in error_lines(r) if ln.startswith("warning: ")]
    assert len(said) == 2, said
    assert said[0] == (
        f"warning: {inner} is not read by the report: it is a results folder of its own (2 results) "
        f"inside {out}; report it with --out {inner}, or move it out of {out} and pass both folders' "
        "--out to one report"
    )
    assert "old/seed3.json is not read" in said[1] and "move it to" in said[1]
    assert "copy" not in (tmp_path / "boards/ring8.md").read_text()  # still not read, as before
    # and the folder it names is one a report reads
    assert cli("report", "--out", inner, "--leaderboards", tmp_path / "inner").exit_code == 0
    assert "copy" in (tmp_path / "inner/ring8.md").read_text()


def test_a_result_file_nested_deeper_than_json_reads_is_one_error_line_not_a_traceback(cli, tmp_path):
    """A file of 100000 nested arrays (corrupt, or planted in someone else's folder) made Python's
    JSON reader raise RecursionError, which no reader caught: `genbench report` ended in a
    traceback and wrote no board. It is an unreadable result, and a failed rerun's file of it one
    whose error could not be read."""
    out = tmp_path / "runs"
    result("gaussian", 0, 2.0).write(out)
    nested = "[" * 100_000 + "]" * 100_000
    (out / "ring8/gaussian/seed0.failed.json").write_text(nested)
    deep = out / "ring8/copy/seed0.json"
    deep.parent.mkdir(parents=True)
    deep.write_text(nested)
    r = cli("report", "--out", out, "--leaderboards", tmp_path / "boards")
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    (line,) = [ln for ln in error_lines(r) if not ln.startswith("wrote ")]
    assert line.startswith(f"error: result file {deep} is unreadable") and "delete it and rerun" in line
    assert pd.read_csv(tmp_path / "boards/ring8.csv")["label"].tolist() == ["gaussian"]
    assert load_result(out / "ring8/gaussian/seed0.json").failed_rerun == "its error could not be read"


def test_a_folder_named_as_a_result_is_to_be_renamed_and_one_file_is_it(tmp_path):
    """A folder ``seed0.json`` is no file to delete: its fix is to rename it; and where the one file
    found cannot be read, the error says "it", not "each of the 1"."""
    from genbench.unreadable_results import UnreadableResult, none_readable, read_result_file

    out = tmp_path / "runs"
    folder = out / "ring8/gaussian/seed0.json"
    folder.mkdir(parents=True)
    with pytest.raises(UnreadableResult) as raised:
        read_result_file(folder, out)
    assert str(raised.value).endswith(f"; rename it or move it out of {out}")
    assert str(none_readable("runs", 1)) == (
        "no result under runs can be read (it is named above, with its fix); fix them, or rerun their models"
    )


def test_a_result_file_it_may_not_read_is_to_be_made_readable(tmp_path, monkeypatch):
    """A file the user may not read holds a result to keep: the fix says chmod, not delete (root
    reads any file, so the refusal is made here as the file system makes it)."""
    import errno

    from genbench import unreadable_results

    def refused(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(unreadable_results, "load_result", refused)
    out = tmp_path / "runs"
    path = result("gaussian", 0, 2.0).write(out)
    with pytest.raises(unreadable_results.UnreadableResult) as raised:
        unreadable_results.read_result_file(path, out)
    assert str(raised.value) == (
        f"result file {path} cannot be read (Permission denied); make it readable (chmod u+r) or move it "
        f"out of {out}"
    )
