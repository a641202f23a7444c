"""A mistyped `--reference-stats` path, the first mistake of a rerun against statistics: the command
stops on the file it cannot find, naming `genbench stats`, the command that makes one. It was met
by the check of the result already on disk first ("holds a result at ... reference stats st.npz,
which this evaluation at reference none, reference stats missing.npz would replace"), and the fix
named a Python function, `save_reference_stats`, not the command."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there

from genbench.features.reference_stats import save_reference_stats

RING8 = ["--dataset", "ring8", "--metrics", "fid", "--no-progress", "--no-figures"]


@pytest.fixture
def points(tmp_path):
    """Samples of ring8 and statistics in its raw features (2-D): what an evaluation compares."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "points.npy", rng.normal(size=(50, 2)).astype(np.float32))
    save_reference_stats(tmp_path / "st.npz", np.zeros(2), np.eye(2))
    return tmp_path


def test_a_missing_statistics_file_names_the_command_that_makes_one(cli, points, cache_dir):
    args = ["eval", "--samples", points / "points.npy", *RING8, "--cache-dir", cache_dir]
    line = single_line_error(cli(*args, "--out", points / "a", "--reference-stats", points / "missing.npz"))
    assert "missing.npz not found" in line and "genbench stats --out" in line


@pytest.mark.parametrize("command", ["eval", "run"])
def test_a_missing_statistics_file_is_said_before_the_result_it_would_replace(
    cli, points, cache_dir, command
):
    what = (
        ["--samples", points / "points.npy"]
        if command == "eval"
        else ["--models", "gaussian", "--samples", "50"]
    )
    args = [command, *what, *RING8, "--cache-dir", cache_dir, "--out", points / "runs"]
    assert cli(*args, "--reference-stats", points / "st.npz").exit_code == 0
    line = single_line_error(cli(*args, "--reference-stats", points / "missing.npz"))
    assert "missing.npz not found" in line and "replace" not in line
