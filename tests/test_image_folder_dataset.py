"""``--dataset DIR``: samples scored against the user's own folder of real images, as clean-fid's
``compute_fid(dir1, dir2)`` and torch-fidelity's ``--input1 DIR1 --input2 DIR2`` do, with no dataset
plugin to write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import png_folder as _folder
from cli_helpers import raw_eval_args as _args
from cli_helpers import single_line_error
from PIL import Image

import genbench
from genbench import registry
from genbench.data.base import Dataset, Split
from genbench.data.digits import Digits


def _images(seed: int, n: int = 40, size: int = 8, channels: int = 1) -> np.ndarray:
    """``n`` random uint8 images, N x H x W (grey) or N x H x W x 3."""
    shape = (n, size, size) if channels == 1 else (n, size, size, 3)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize(("size", "channels"), [(8, 1), (16, 3)])
def test_a_folder_scores_as_a_plugin_of_the_same_arrays(tmp_path, cache_dir, register, size, channels):
    """The folder's numbers are those of a dataset plugin holding its very arrays, to the bit: the
    images go through the pixel pipeline of samples, and nothing else differs."""
    real = _images(0, size=size, channels=channels)
    folder = _folder(tmp_path / "My Photos", real)
    gen = _folder(tmp_path / "gen", _images(1, size=size, channels=channels))
    x = torch.from_numpy(real.astype(np.float32) / 127.5 - 1.0)
    x = x[:, None] if channels == 1 else x.permute(0, 3, 1, 2).contiguous()

    class SameArrays(Dataset):
        def _load(self, split: Split) -> tuple[torch.Tensor, None]:
            return (x if split == "train" else x[:10]).clone(), None

    register(registry.datasets, "test-same-arrays", SameArrays)
    metrics = ["fid", "kid", "prdc"]

    def scored(dataset: str | Path, out: str) -> genbench.Result:
        config = genbench.RunConfig(
            dataset=dataset, features="raw", metrics=metrics, out=tmp_path / out, cache_dir=cache_dir,
            progress=False,
        )  # fmt: skip
        return genbench.evaluate(gen, config)

    mine = scored(folder, "folder")  # a Path, as the Python API takes one
    theirs = scored("test-same-arrays", "plugin")
    assert mine.status == "ok" and mine.dataset == "my-photos"
    assert mine.metrics == theirs.metrics and "fid" in mine.metrics
    assert mine.protocol["num_reference"] == len(real)


def test_samples_identical_to_the_folder_score_fid_zero(cli, tmp_path, cache_dir, monkeypatch):
    """The same images on both sides: FID 0 (`eval`), a copy of the folder too (`run`), and `stats`
    describes the folder; a bare name of a folder in the working directory reads it."""
    _folder(tmp_path / "real", _images(0))
    monkeypatch.chdir(tmp_path)
    r = cli(*_args(Path("real"), "./real", Path("runs"), cache_dir, "--metrics", "fid"))
    assert r.exit_code == 0, r.output
    assert json.loads(Path("runs/real/real/seed0.json").read_text())["metrics"]["fid"] == pytest.approx(
        0, abs=1e-6
    )
    r = cli("run", "--models", "copy", "--dataset", "real", "--features", "raw", "--metrics", "fid",
            "--out", "runs", "--cache-dir", cache_dir, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(Path("runs/real/copy/seed0.json").read_text())["metrics"]["fid"] == pytest.approx(
        0, abs=1e-6
    )
    r = cli("stats", "--out", "real.npz", "--dataset", "real", "--features", "raw", "--cache-dir", cache_dir,
            "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load("real.npz") as npz:
        assert npz["mu"].shape == (64,)


def test_a_registered_name_wins_over_a_folder_of_that_name(cli, tmp_path, cache_dir, monkeypatch):
    _folder(tmp_path / "digits", _images(0))  # 40 random images beside the registered digits
    _folder(tmp_path / "mine", _images(0))
    _folder(tmp_path / "gen", _images(1))
    monkeypatch.chdir(tmp_path)
    for dataset in ("digits", "mine"):
        r = cli(*_args(Path("gen"), dataset, Path("runs"), cache_dir, "--metrics", "fid"))
        assert r.exit_code == 0, r.output
    digits = json.loads(Path("runs/digits/gen/seed0.json").read_text())["protocol"]
    assert digits["num_reference"] == len(Digits(cache_dir=cache_dir).load("train")[0])
    assert json.loads(Path("runs/mine/gen/seed0.json").read_text())["protocol"]["num_reference"] == 40


def test_folders_of_one_basename_are_told_apart(cli, tmp_path, cache_dir):
    """Two folders named real, of other images: one's result is never written over, nor averaged
    with, the other's."""
    gen = _folder(tmp_path / "gen", _images(1))
    one, other = _folder(tmp_path / "a/real", _images(0)), _folder(tmp_path / "b/real", _images(2))
    out = tmp_path / "runs"
    assert cli(*_args(gen, one, out, cache_dir, "--metrics", "fid")).exit_code == 0
    error = single_line_error(cli(*_args(gen, other, out, cache_dir, "--metrics", "fid")))
    assert "dataset fingerprint" in error
    r = cli(
        *_args(tmp_path / "a/real", other, out, cache_dir, "--metrics", "fid", "--name", "gen", "--seed", "1")
    )
    assert r.exit_code == 0, r.output
    seeds = [json.loads((out / f"real/gen/seed{s}.json").read_text())["protocol"] for s in (0, 1)]
    assert seeds[0]["dataset_fingerprint"] != seeds[1]["dataset_fingerprint"]
    assert cli("report", "--out", out).exit_code == 0
    board = (out / "leaderboards/real.md").read_text()
    rows = [
        line for line in board.splitlines() if line.startswith("|") and "gen (dataset fingerprint=" in line
    ]
    assert len(rows) == 2  # two rows of one seed each, not one of two


def test_mixed_sizes_are_refused_naming_two_files(cli, tmp_path, cache_dir):
    folder = _folder(tmp_path / "real", _images(0, n=3))
    Image.fromarray(_images(1, n=1, size=16)[0]).save(folder / "big.png")
    error = single_line_error(cli(*_args(folder, folder, tmp_path / "runs", cache_dir)))
    assert "000.png is 8x8, big.png is 16x16" in error and "resize them all to one size" in error
    assert f"--dataset {folder}" in error
    # what it says of the references holds on this very folder: torch-fidelity's folder reader
    # cannot batch the two sizes, clean-fid's resizes each image to 299 x 299 on its own (the
    # old error said "as clean-fid and torch-fidelity require")
    assert error.endswith(
        f"resize them all to one size in --dataset {folder}, as torch-fidelity requires too (clean-fid "
        "resizes each image to 299 x 299 on its own, stretching other aspect ratios; genbench does not)"
    )
    from cleanfid.utils import ResizeDataset
    from torch.utils.data import default_collate
    from torch_fidelity.datasets import ImagesPathDataset

    files = sorted(str(p) for p in folder.iterdir())
    assert default_collate([ResizeDataset(files, mode="clean")[i] for i in (0, 3)]).shape == (2, 3, 299, 299)
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([ImagesPathDataset(files)[i] for i in (0, 3)])


@pytest.mark.parametrize("dataset", ["./nowhere", "real/000.png"])
def test_a_dataset_path_that_is_no_folder_is_refused(cli, tmp_path, cache_dir, monkeypatch, dataset):
    _folder(tmp_path / "real", _images(0))
    monkeypatch.chdir(tmp_path)
    error = single_line_error(cli(*_args(Path("real"), dataset, Path("runs"), cache_dir)))
    assert f"--dataset {dataset}" in error and (
        "pass the folder" in error or "pass an existing folder" in error
    )


def test_a_folder_has_no_test_split(cli, tmp_path, cache_dir):
    folder = _folder(tmp_path / "real", _images(0))
    error = single_line_error(
        cli(*_args(folder, folder, tmp_path / "runs", cache_dir, "--reference-split", "test"))
    )
    assert "no test split" in error and "--reference-split train" in error


def test_a_metric_reading_a_folders_test_split_is_not_told_to_change_the_reference_split(
    cli, tmp_path, cache_dir
):
    """memorization's held-out rate reads the test split: against a folder (its train split, the
    default reference) it warned "so only --reference-split train (the default) applies", the run's
    own (the folder refused its test split in its own words, beside the base class's refusal). The
    folder's words now say what it is alone; the fix is said of --reference-split test."""
    folder = _folder(tmp_path / "real", _images(0))
    gen = _folder(tmp_path / "gen", _images(1))
    r = cli(*_args(gen, folder, tmp_path / "runs", cache_dir, "--metrics", "memorization"))
    assert r.exit_code == 0, r.output
    (warned,) = [ln for ln in r.stderr.splitlines() if "memorization: ct omitted" in ln]
    said = f"{folder} is an image folder, whose one split is train (every image in it): it has no test split"
    assert said in warned and "--reference-split" not in warned, warned
    error = single_line_error(
        cli(*_args(gen, folder, tmp_path / "runs", cache_dir, "--reference-split", "test"))
    )
    assert error == f"error: {said}; pass --reference-split train (the default)"


@pytest.mark.parametrize("given", ["Leaderboards", "leaderboards.npz"])
def test_images_named_as_the_reports_folder_are_refused_by_run_and_eval(cli, tmp_path, cache_dir, given):
    """A folder (or archive) of images named leaderboards was the dataset 'leaderboards': its results
    went to ``<out>/leaderboards/``, the folder `genbench report` writes to, where each dataset's
    figures go to a folder of its name (resolve.check_image_data_name). Refused before any work, in
    one line naming the fix; `stats`, which writes one file, takes it; a folder named figures (a
    folder of genbench's beside the models' folders, not the datasets') is a dataset as any."""
    real = tmp_path / given
    if given.endswith(".npz"):
        np.savez(real, samples=_images(0))
    else:
        _folder(real, _images(0))
    gen = _folder(tmp_path / "gen", _images(1))
    out = tmp_path / "runs"
    noun, other = ("file", "leaderboards-images.npz") if real.suffix else ("folder", "leaderboards-images")
    expected = (
        f"error: --dataset {real} would be named 'leaderboards', the folder `genbench report` writes to "
        "unless given --leaderboards (<out>/leaderboards/), beside each dataset's results folder; rename "
        f"the {noun} or link it under another name (ln -s {real} {other}) and pass that"
    )
    assert single_line_error(cli(*_args(gen, real, out, cache_dir, "--metrics", "fid"))) == expected
    run = ("run", "--models", "copy", "--dataset", real, "--features", "raw", "--metrics", "fid",
           "--out", out, "--cache-dir", cache_dir, "--no-progress")  # fmt: skip
    assert single_line_error(cli(*run)) == expected
    assert not out.exists()
    r = cli("stats", "--out", tmp_path / "real.npz", "--dataset", real, "--features", "raw",
            "--cache-dir", cache_dir, "--no-progress")  # fmt: skip
    assert r.exit_code == 0, r.output
    # the link the error names is the fix
    (tmp_path / other).symlink_to(real)
    assert cli(*_args(gen, tmp_path / other, out, cache_dir, "--metrics", "fid")).exit_code == 0
    assert (out / "leaderboards-images/gen/seed0.json").is_file()
    figures = _folder(tmp_path / "figures", _images(2))
    assert cli(*_args(gen, figures, out, cache_dir, "--metrics", "fid")).exit_code == 0
    assert (out / "figures/gen/seed0.json").is_file()
