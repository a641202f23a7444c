"""Which files under ``--out`` the report reads as results, and what it says of those it does not:
a partial result file is refused, a file that looks like a result but is not read is warned of, and a
failed rerun kept beside a result is noted on that row of the board."""

from __future__ import annotations

import json

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
    (line,) = error_lines(r)
    assert line.startswith(f"error: result file {stub} is unreadable") and "delete it and rerun" in line
    # what genbench's first result schema wrote (no metric_error_kinds, samples_file, training nor
    # schema) is no partial file: only the fields every result has are required
    first = json.loads((out / "ring8/gaussian/seed0.json").read_text())
    for key in ("metric_error_kinds", "samples_file", "training", "schema"):
        del first[key]
    stub.write_text(json.dumps({**first, "seed": 1}))
    assert load_result(stub) == result("gaussian", 1, 2.0)

