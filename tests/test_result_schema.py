"""The result file's schema as :func:`genbench.results.load_result` checks it, field by field, with
the type each field must have written out here by hand; and the order its fields are written in."""

from __future__ import annotations

import json

import pytest

from genbench.results import Result, load_result


def written(tmp_path, **edit) -> dict:
    """A result genbench writes, as JSON, with ``edit`` over it; its path."""
    path = Result(
        model="ddpm",
        dataset="toy",
        seed=0,
        protocol={"num_samples": 100, "features": {"name": "raw", "fingerprint": "abc"}},
        metrics={"fid": 2.0},
    ).write(tmp_path / "runs")
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    return path


@pytest.mark.parametrize(
    "edit, named",
    [
        ({"seed": 1.0}, "field 'seed' is 1.0, not int"),  # JSON 1.0 is no seed file's number
        ({"seed": -1}, "seed -1 is not one genbench writes"),
        ({"flags": "memorized"}, "field 'flags' is 'memorized', not list"),
        ({"error": 3}, "field 'error' is 3, not text or null"),
        ({"flags": [True]}, "flags[0] is True, not str"),
        ({"samples_file": {"name": 7}}, "samples_file['name'] is 7, not str"),
        ({"metric_error_kinds": {"fid": 1}}, "metric_error_kinds['fid'] is 1, not str"),
        ({"protocol": {"num_samples": 100.0}}, "protocol.num_samples is 100.0, not int"),
        ({"protocol": {"num_samples": True}}, "protocol.num_samples is True, not int"),
        ({"protocol": {"features": {"fingerprint": 5}}}, "protocol.features.fingerprint is 5, not str"),
        ({"protocol": {"metric_versions": {"fid": 1.5}}}, "protocol.metric_versions['fid'] is 1.5"),
        ({"protocol": {"metric_versions": {"fid": True}}}, "protocol.metric_versions['fid'] is True"),
        ({"training_log": [{"d_loss": 1.0}, "x"]}, "training_log[1] is 'x', not dict"),
        ({"metrics": {"fid": 1.0, "rank": 2.0}}, "metric 'rank' has the name of a leaderboard column"),
    ],
)
def test_a_field_not_of_its_type_is_refused_by_name(tmp_path, edit, named):
    with pytest.raises(ValueError) as raised:
        load_result(written(tmp_path, **edit))
    assert named in str(raised.value)


def test_a_result_without_its_protocol_is_refused(tmp_path):
    """Every result genbench writes records its protocol (how its numbers were obtained)."""
    path = written(tmp_path)
    data = json.loads(path.read_text())
    del data["protocol"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="records no protocol"):
        load_result(path)


def test_a_results_fields_are_written_identity_first_in_the_schemas_order(tmp_path):
    """Which run it is, then its outcome, protocol and numbers: the order a person reading the file
    (or a diff of two) meets them, kept from release to release (written out here by hand)."""
    keys = list(json.loads(written(tmp_path).read_text()))
    assert keys == [
        "model",
        "dataset",
        "seed",
        "variant",
        "status",
        "error",
        "error_kind",
        "protocol",
        "metrics",
        "metric_errors",
        "metric_error_kinds",
        "flags",
        "config",
        "timings",
        "environment",
        "artifacts",
        "samples_file",
        "training_log",
        "training",
        "schema",
    ]


def test_a_failed_reruns_error_of_several_lines_is_read_as_one(tmp_path):
    """The error of the failed rerun kept beside a result, as a board's one line says it."""
    path = written(tmp_path)
    path.with_name("seed0.failed.json").write_text(json.dumps({"error": "CUDA out of memory\n  at step 7\n"}))
    assert load_result(path).failed_rerun == "CUDA out of memory at step 7"
