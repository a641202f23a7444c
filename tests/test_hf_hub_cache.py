"""Finding a model file in the Hugging Face hub cache (where transformers' ``from_pretrained`` puts
it) without huggingface_hub: the folder as its variables resolve it, the snapshot ``refs/main``
names, and no broken link taken for a file. The clip features' use of it is in test_clip.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from genbench.features.hf_hub_cache import hub_cache_dir, hub_cached_file

REPO = "openai/clip-vit-large-patch14-336"
VARIABLES = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def no_hf_variables(monkeypatch):
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def snapshot(cache: Path, revision: str, files: dict[str, bytes]) -> Path:
    """A snapshot of REPO in the hub cache ``cache``, its files links into blobs/ as the hub makes them."""
    model = cache / f"models--{REPO.replace('/', '--')}"
    folder = model / "snapshots" / revision
    folder.mkdir(parents=True)
    (model / "blobs").mkdir(exist_ok=True)
    for name, data in files.items():
        blob = model / "blobs" / f"{revision}-{name}"
        blob.write_bytes(data)
        (folder / name).symlink_to(blob)
    return folder


def test_the_folder_is_the_one_huggingface_hub_uses(tmp_path, monkeypatch, no_hf_variables):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub_cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert hub_cache_dir() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(tmp_path / "old"))
    assert hub_cache_dir() == tmp_path / "old"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "new"))
    assert hub_cache_dir() == tmp_path / "new"
    pytest.importorskip("huggingface_hub")
    import importlib

    import huggingface_hub.constants as constants

    assert Path(importlib.reload(constants).HF_HUB_CACHE) == hub_cache_dir()


def test_the_snapshot_refs_main_names_first_then_the_files_in_order(tmp_path, monkeypatch, no_hf_variables):
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert hub_cached_file(REPO, ("pytorch_model.bin",)) is None  # no cache at all
    old = snapshot(cache, "aaa", {"pytorch_model.bin": b"old", "model.safetensors": b"old"})
    new = snapshot(cache, "bbb", {"model.safetensors": b"new"})
    refs = cache / f"models--{REPO.replace('/', '--')}" / "refs"
    refs.mkdir()
    (refs / "main").write_text("aaa")
    assert hub_cached_file(REPO, ("pytorch_model.bin", "model.safetensors")) == old / "pytorch_model.bin"
    assert hub_cached_file(REPO, ("model.safetensors", "pytorch_model.bin")) == old / "model.safetensors"
    (refs / "main").write_text("bbb\n")
    assert hub_cached_file(REPO, ("pytorch_model.bin", "model.safetensors")) == new / "model.safetensors"
    # a link whose blob is gone (an interrupted or cleaned-up download) is no file
    (new / "model.safetensors").resolve().unlink()
    assert hub_cached_file(REPO, ("model.safetensors",)) == old / "model.safetensors"
    assert hub_cached_file("openai/other", ("model.safetensors",)) is None
