"""What a board figure's words say of its rows (:mod:`genbench.figure_notes`), from rows made by
hand: the seeds and what the error bars are, which machine each point was timed on, a row's flags
and lost seeds, and the values over fewer of its seeds. Expected words are written out here."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd

from genbench.cells import CellNote
from genbench.figure_notes import (
    PARTIAL_NOTE,
    figure_protocol,
    partial_marks,
    point_marks,
    protocol_and_partial,
    timing_tags,
)


def rows(**columns) -> pd.DataFrame:
    base = {"num_samples": [100], "reference_split": ["train"], "n_ok": [1], "seeds": ["0"]}
    n = max(len(v) for v in columns.values()) if columns else 1
    return pd.DataFrame({**{k: v * n for k, v in base.items()}, **columns})


def test_the_seeds_are_named_in_numeric_order_and_one_seed_draws_no_bars():
    said = figure_protocol(rows(seeds=["2,10"], n_ok=[2])).replace("\n", " ")
    assert "seeds 2, 10; error bars: ± std (sample std, n - 1) over seeds" in said
    assert figure_protocol(rows(seeds=["3"])).endswith("seed 3; one seed, so no error bars")


def test_fid_options_that_differ_between_rows_are_not_named_as_shared():
    shared = json.dumps({"fid": {"backend": "clean-fid"}})
    assert "fid.backend=clean-fid" in figure_protocol(rows(metric_options=[shared, shared]))
    other = json.dumps({"fid": {"backend": "torch-fidelity"}})
    said = figure_protocol(rows(metric_options=[shared, other]))
    assert "fid.backend" not in said, said


def test_each_point_names_the_machine_it_was_sampled_on_not_the_one_it_was_trained_on():
    timed = pd.DataFrame(
        {"sampled_on": ["CPU: A", "CPU: B"], "batch_size": [50, 50], "trained_on": ["GPU: X", "GPU: Y"]}
    )
    assert timing_tags(timed) == ["on CPU: A", "on CPU: B"]
    trained_apart = timed.assign(sampled_on=["CPU: A", "CPU: A"])
    assert timing_tags(trained_apart) == ["", ""]


def test_a_points_marks_are_its_flags_and_its_seeds_without_samples_each_said_once():
    one = SimpleNamespace(flags="diverged", status="ok;diverged", failed_seeds="2")
    assert point_marks(one) == "diverged; no samples from seed 2"
    two = SimpleNamespace(flags="", status="ok;failed", failed_seeds="1,2")
    assert point_marks(two) == "failed; no samples from seeds 1,2"


def test_a_value_is_marked_partial_only_when_some_seeds_have_it():
    row = SimpleNamespace(
        cell_notes={
            "fid": CellNote(seeds_with=(0, 1), n_seeds=3, missing=((2, "x"),)),
            "samples_per_s": CellNote(seeds_with=(), n_seeds=3, missing=((0, "x"), (1, "x"), (2, "x"))),
        }
    )
    assert partial_marks(row, {"fid": "FID", "samples_per_s": "samples/s"}) == "† FID from 2 of 3 seeds"
    assert PARTIAL_NOTE not in protocol_and_partial(rows(), False)
    assert protocol_and_partial(rows(), True).endswith(PARTIAL_NOTE.split()[-1])
