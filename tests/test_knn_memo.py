"""prdc's reference radii and memorization's train-split neighbours are computed once per process for
the same rows (genbench.metrics._knn_memo): a second command of the same data computed them again,
a 10000 x 10000 self-join on ring8, most of a short command's time. The numbers are a fresh
computation's, to the bit; other rows, another k or another thread count compute again."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genbench.features.base import Features
from genbench.metrics import _knn_memo
from genbench.metrics import memorization as memorization_module
from genbench.metrics import prdc as prdc_module
from genbench.metrics.base import EvalContext
from genbench.metrics.prdc import PRDC
from genbench.results import find_results


def _forget() -> None:
    """Empty the process's memo."""
    _knn_memo.forget()


@pytest.fixture
def counted(monkeypatch):
    """{"radii": [rows...], "train": [rows...]}: the reference sets whose k-NN were computed."""
    calls: dict[str, list[int]] = {"radii": [], "train": []}
    radii, train = prdc_module.kth_neighbour_distances, memorization_module.train_neighbours

    def count_radii(x, ks, *a, **k):
        calls["radii"].append(len(x))
        return radii(x, ks, *a, **k)

    def count_train(x, *a, **k):
        calls["train"].append(len(x))
        return train(x, *a, **k)

    monkeypatch.setattr(prdc_module, "kth_neighbour_distances", count_radii)
    monkeypatch.setattr(memorization_module, "train_neighbours", count_train)
    _forget()
    yield calls
    _forget()


def _metrics(out) -> dict[str, dict[str, float]]:
    return {str(p.relative_to(out)): json.loads(p.read_text())["metrics"] for p in find_results(out)}


def test_a_second_command_of_the_same_data_computes_no_reference_neighbours_and_the_same_numbers(
    cli, tmp_path, cache_dir, counted
):
    """Two `genbench eval` of ring8 in one process: the train split's self-join (memorization) and
    its k-NN radii (prdc) once, with the numbers of the first command, which are those of a process
    that never computed them before (the memo emptied)."""
    samples = tmp_path / "points.npz"
    points = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    np.savez(samples, samples=points)
    args = ["eval", "--samples", samples, "--dataset", "ring8", "--cache-dir", cache_dir, "--no-progress"]
    args += ["--metrics", "prdc,memorization", "--no-figures"]
    for out in ("a", "b"):
        r = cli(*args, "--out", tmp_path / out)
        assert r.exit_code == 0, r.output
    assert counted == {"radii": [10_000], "train": [10_000]}
    first, second = _metrics(tmp_path / "a"), _metrics(tmp_path / "b")
    assert first == second and first
    _forget()
    assert cli(*args, "--out", tmp_path / "fresh").exit_code == 0
    assert _metrics(tmp_path / "fresh") == first
    assert counted == {"radii": [10_000] * 2, "train": [10_000] * 2}


def _prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3) -> dict[str, float]:
    ctx = EvalContext(
        dataset=None,
        samples=torch.as_tensor(fake),
        sample_features=Features(fake),
        reference_features=Features(real),  # a new Features each call, as each command has
        extractor=None,
        seed=0,
        options={"prdc": {"k_pr": k_pr, "k_dc": 5}},
    )
    return PRDC().compute(ctx)


def test_other_rows_another_k_or_thread_count_compute_again_and_no_caller_shares_the_kept_radii(counted):
    """The memo is keyed by the rows' values (one value changed is another set), the k asked for and
    torch's thread count; what a caller is handed is its own copy: scaling it changes no later number."""
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((150, 6)), 0.3 + rng.standard_normal((120, 6))
    fresh = _prdc(real, fake)
    assert _prdc(real.copy(), fake) == fresh and len(counted["radii"]) == 1
    moved = real.copy()
    moved[17, 2] += 1e-12
    _prdc(moved, fake)
    assert len(counted["radii"]) == 2
    _prdc(real, fake, k_pr=4)
    assert len(counted["radii"]) == 3
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        _prdc(real, fake)
    finally:
        torch.set_num_threads(threads)
    assert len(counted["radii"]) == 4
    reference = Features(real)
    ctx = EvalContext(None, torch.as_tensor(fake), Features(fake), reference, None, 0)
    PRDC().compute(ctx)
    for radii in reference.cache.values():
        for r in radii.values():
            r.mul_(7)  # the radii this command was handed
    assert _prdc(real, fake) == fresh
    assert len(counted["radii"]) == 4  # still kept, and unscaled


def test_the_rows_are_hashed_a_chunk_at_a_time_to_the_digest_of_their_bytes(monkeypatch):
    """A set is read a few rows at a time (never copied off a GPU whole), to the SHA-256 of all its
    bytes: the chunks change no key, and one value changed anywhere is another key."""
    import hashlib

    x = torch.as_tensor(np.random.default_rng(5).standard_normal((301, 7)))
    whole = _knn_memo.rows_digest(x)
    assert whole[0] == hashlib.sha256(x.numpy().tobytes()).hexdigest()
    monkeypatch.setattr(_knn_memo, "CHUNK_BYTES", 8 * 7 * 4 + 3)  # 4 rows a chunk, the last one short
    assert _knn_memo.rows_digest(x) == whole
    x[300, 6] += 1e-12
    assert _knn_memo.rows_digest(x) != whole
