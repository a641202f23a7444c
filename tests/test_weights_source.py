"""genbench.weights_source: a result records which weights it scored (shipped, the cache's, trained
in this run, with a digest of their content), and the cache's checkpoint of a key that holds other
weights than the one that ships is warned of, since it is loaded first (a cache of locally trained
digits checkpoints made ``make leaderboards`` score them in place of the published board's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from cli_models import PointsOnly
from test_training import SHIPPING, Shipping, Toy, _ship_one, config, shipping

from genbench import registry, run
from genbench.checkpoint import load_checkpoint, save_checkpoint
from genbench.weights_source import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks (tests/conftest.py)


def _cached_copy(tmp_path: Path, shipped: Path) -> Path:
    """A copy of ``shipped`` in the cache's checkpoint of the same key (``tmp_path / "cache"``)."""
    cached = tmp_path / "cache" / "checkpoints" / shipped.relative_to(tmp_path / "shipped")
    cached.parent.mkdir(parents=True)
    shutil.copyfile(shipped, cached)
    return cached


def _warned(err: str) -> bool:
    return "using the cache's checkpoint" in err


def test_the_cache_s_checkpoint_of_other_weights_than_the_shipped_one_is_warned_of_and_recorded(
    tmp_path, monkeypatch, capsys
):
    shipped = _ship_one(tmp_path, monkeypatch)
    (from_shipped,) = run(shipping(tmp_path, "a"))
    assert from_shipped.training["weights_source"] == "shipped"
    shipped_digest = from_shipped.training["weights_digest"]
    assert shipped_digest == weights_digest(load_checkpoint(shipped)["state"])
    # weights trained on another machine: the file of the key in the cache, loaded before the shipped one
    cached = _cached_copy(tmp_path, shipped)
    payload = load_checkpoint(cached)
    payload["state"] = {k: v + 1e-3 for k, v in payload["state"].items()}
    save_checkpoint(cached, {**payload, "machine": "CPU: another one"})
    capsys.readouterr()
    Toy.fits.clear()
    (from_cache,) = run(shipping(tmp_path, "b", progress=True))
    err = " ".join(capsys.readouterr().err.split())
    assert Toy.fits == [] and from_cache.training["checkpoint"] == str(cached)
    assert err.count("using the cache's checkpoint") == 1
    assert (
        f"{SHIPPING} seed 0: using the cache's checkpoint {cached} (trained on CPU: another one), not the "
        f"shipped one ({shipped}), which holds other weights" in err
    )
    assert f"delete {cached.parent} or point --cache-dir (GENBENCH_CACHE) at an empty folder" in err
    assert from_cache.training["weights_source"] == "cache"
    assert from_cache.training["weights_digest"] not in (shipped_digest, None)
    assert from_cache.training["shipped_digest"] == shipped_digest
    assert from_cache.metrics["fid"] != from_shipped.metrics["fid"]


def test_a_board_names_the_seeds_that_scored_other_weights_than_the_shipped_ones(tmp_path, monkeypatch):
    """Under the tables, not as a column: the published boards' CSVs stay as they are."""
    import genbench

    shipped = _ship_one(tmp_path, monkeypatch)
    run(shipping(tmp_path, "a", seeds=[0, 1]))  # seed 1 ships none: trained, nothing to compare
    (shipped_board,) = genbench.report(tmp_path / "a").values()
    cached = _cached_copy(tmp_path, shipped)
    payload = load_checkpoint(cached)
    save_checkpoint(cached, {**payload, "state": {k: v + 1e-3 for k, v in payload["state"].items()}})
    run(shipping(tmp_path, "b", seeds=[0, 1]))
    (board,) = genbench.report(tmp_path / "b").values()
    assert "Weights other than the shipped ones" not in shipped_board
    section = board[board.index("## Weights other than the shipped ones") :]
    assert f"- `{SHIPPING}`: seed 0\n" in section and "seed 1" not in section
    assert "empty cache" in section
    columns = [(tmp_path / x / "leaderboards/ring8.csv").read_text().splitlines()[0] for x in "ab"]
    assert columns[0] == columns[1]


def test_the_cache_s_checkpoint_of_the_shipped_weights_says_nothing(tmp_path, monkeypatch, capsys):
    """A copy of the shipped file, or the same weights retrained (another file: its training time and
    machine differ): the digest is the weights', so neither is warned of."""
    shipped = _ship_one(tmp_path, monkeypatch)
    (from_shipped,) = run(shipping(tmp_path, "a"))
    _cached_copy(tmp_path, shipped)
    capsys.readouterr()
    (copied,) = run(shipping(tmp_path, "b", progress=True))
    assert not _warned(capsys.readouterr().err)
    assert copied.training["weights_source"] == "cache"
    assert copied.training["weights_digest"] == from_shipped.training["weights_digest"]
    assert copied.training["shipped_digest"] == from_shipped.training["weights_digest"]
    # what ships is what the same command trains: --retrain writes another file of the same weights
    (retrained,) = run(shipping(tmp_path, "c", retrain=True, progress=True))
    assert retrained.training["weights_source"] == "trained" and not retrained.training["loaded"]
    assert retrained.training["weights_digest"] == from_shipped.training["weights_digest"]
    payload = torch.load(retrained.training["checkpoint"], weights_only=False)
    assert payload["train_s"] != load_checkpoint(shipped)["train_s"]  # not the shipped file
    (loaded,) = run(shipping(tmp_path, "d", progress=True))
    assert not _warned(capsys.readouterr().err)
    assert loaded.training["weights_source"] == "cache"
    assert loaded.training["weights_digest"] == from_shipped.training["weights_digest"]


def test_a_trained_model_records_the_digest_its_checkpoint_loads_with(tmp_path, monkeypatch, capsys):
    """Trained in this run, then loaded: the same digest, and no shipped checkpoint to compare with."""
    monkeypatch.setattr(Shipping, "shipped_checkpoints", None)
    (trained,) = run(shipping(tmp_path, "a", seeds=[1]))
    (loaded,) = run(shipping(tmp_path, "b", seeds=[1], progress=True))
    assert trained.training["weights_source"] == "trained" and loaded.training["weights_source"] == "cache"
    assert trained.training["weights_digest"] == loaded.training["weights_digest"]
    assert "shipped_digest" not in loaded.training and not _warned(capsys.readouterr().err)
    (other,) = run(config(tmp_path, "c", f"{SHIPPING}.steps=10", models=[SHIPPING], seeds=[1]))
    assert other.training["weights_digest"] != trained.training["weights_digest"]


def test_the_weights_digest_is_of_the_tensors_not_of_their_order_or_storage():
    w = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    state = {"G": {"w": w, "b": torch.zeros(2)}, "D": [torch.ones(1), 3]}
    same = {"D": [torch.ones(1), 3], "G": {"b": torch.zeros(2), "w": w.t().contiguous().t()}}
    assert weights_digest(state) == weights_digest(same) and len(weights_digest(state)) == 16
    for other in (
        {**state, "G": {"w": w.double(), "b": torch.zeros(2)}},  # same values, other dtype
        {**state, "G": {"w": w.reshape(3, 2), "b": torch.zeros(2)}},  # other shape
        {**state, "D": [torch.ones(1), 4]},
        {
            **state,
            "G": {
                "w": w.clone().index_put_((torch.tensor(0), torch.tensor(0)), torch.tensor(1e-7)),
                "b": torch.zeros(2),
            },
        },
    ):
        assert weights_digest(other) != weights_digest(state)


class SamplesShipping(PointsOnly):
    """Samples the weights of test-training-shipping, as ddim samples ddpm's."""

    weights_from = SHIPPING

    @classmethod
    def from_trained(cls, owner, config):
        return cls(owner.spec, config)


def test_a_checkpoint_that_several_rows_load_is_warned_of_once(tmp_path, monkeypatch, capsys, register):
    """ddpm and each ddim variant load one checkpoint: the shipped one is read once in a run, one
    warning per model and seed, and every row records the comparison."""
    from genbench import weights_source

    register(registry.models, "test-samples-shipping", SamplesShipping)
    shipped = _ship_one(tmp_path, monkeypatch)
    cached = _cached_copy(tmp_path, shipped)
    payload = load_checkpoint(cached)
    save_checkpoint(cached, {**payload, "state": {k: -v for k, v in payload["state"].items()}})
    capsys.readouterr()
    read = []
    monkeypatch.setattr(
        weights_source, "load_checkpoint", lambda path: read.append(path) or load_checkpoint(path)
    )
    results = run(shipping(tmp_path, "a", models=[SHIPPING, "test-samples-shipping"], progress=True))
    assert [r.status for r in results] == ["ok", "ok"]
    assert " ".join(capsys.readouterr().err.split()).count("using the cache's checkpoint") == 1
    (digest,) = {r.training["weights_digest"] for r in results}
    (shipped_digest,) = {r.training["shipped_digest"] for r in results}
    assert digest != shipped_digest and all(r.training["weights_source"] == "cache" for r in results)
    assert read == [shipped]


@pytest.mark.filterwarnings("ignore:Sparse:UserWarning")  # torch's: invariants unchecked, CSR in beta
def test_a_sparse_tensor_in_the_state_has_a_digest_of_its_entries():
    """A plugin's state with a sparse buffer: its digest raised RuntimeError ("unsupported memory
    format option Contiguous"), failing a model whose checkpoint loaded. The same entries give the
    same digest whatever their layout or order; another entry another digest."""
    dense = torch.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0]])
    state = {"w": torch.ones(2), "adjacency": dense.to_sparse()}
    unordered = torch.sparse_coo_tensor(torch.tensor([[1, 0], [0, 1]]), torch.tensor([1.0, 2.0]), (2, 3))
    digest = weights_digest(state)
    assert weights_digest({**state, "adjacency": unordered}) == digest
    assert weights_digest({**state, "adjacency": dense.to_sparse_csr()}) == digest
    assert weights_digest({**state, "adjacency": (2 * dense).to_sparse()}) != digest
    assert weights_digest({**state, "adjacency": dense}) != digest  # dense is other storage


def test_a_numpy_array_of_strings_has_a_digest_of_every_item():
    """A plugin's state with a numpy array of strings (a vocabulary): it was digested by its repr,
    which numpy elides past 1000 items, so two vocabularies that differed in the middle had one
    digest."""
    import numpy as np

    words = np.array([f"w{i}" for i in range(5000)])
    other = words.copy()
    other[2500] = "changed"
    assert weights_digest({"vocab": words}) != weights_digest({"vocab": other})
    assert weights_digest({"vocab": words}) == weights_digest({"vocab": words.copy()})
    assert weights_digest({"vocab": words}) != weights_digest({"vocab": words.astype(object)})
