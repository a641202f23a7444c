"""Speed of feature extraction on this machine, in images/s, and so the time of CIFAR-10's 50k.

Runs each extractor's own ``extract`` (the call `genbench run`, `eval` and `stats` make) at the run's
default ``--batch-size`` on synthetic inputs, after a warm-up batch:

- ``inception``: torch-fidelity's Inception-v3 with random weights (the same work as the real ones:
  nothing is downloaded) on CIFAR-shaped 3 x 32 x 32 images, resized to 299 inside;
- ``clean-inception``: clean-fid's pipeline (PIL bicubic resize of each image to 299) through a
  TorchScript stand-in of the same size as StyleGAN2-ADA's file: torchvision's Inception-v3, random
  weights, with the ``layers`` and ``output`` the extractor reads (an honest cost, not the same
  kernels as the real file's);
- ``classifier``: the digits classifier (its shipped weights) on digits' 1 x 8 x 8 images;
- ``dinov2``: DINOv2 ViT-L/14 (genbench's network, random weights of the official checkpoint's
  layout) on CIFAR-shaped images, resized to 224 inside;
- ``clip``: CLIP ViT-L/14@336px (genbench's network, random weights in transformers' layout) on
  CIFAR-shaped images, PIL-resized to 336 (CMMD's preprocessing) inside. ViT-L at 336 is ~190
  GFLOPs an image: on a CPU time a few images (``--images 8 --batch-size 8``), not 1000.

    python benchmarks/feature_speed.py --images 1000

Prints a markdown table; ``--out`` also writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import torch
from cifar10_synthetic import SPEC, random_inception, synthetic_cifar  # benchmarks/ is the script's path

from genbench.config import RunConfig
from genbench.environment import machine, machine_text

CIFAR10_TRAIN = 50_000
EXTRACTORS = ("inception", "clean-inception", "classifier", "dinov2", "clip")


class _Synthetic:
    """The minimum of a Dataset the Inception extractors read."""

    name, kind = "cifar10-synthetic", "image"
    spec = SPEC


class _CleanStandIn(torch.nn.Module):
    """The interface of clean-fid's TorchScript: ``layers`` (299 x 299 in, N x 2048 x 1 x 1 out) and
    ``output`` (the 1008 logits' linear layer), around torchvision's Inception-v3."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import inception_v3

        net = inception_v3(weights=None, aux_logits=False, init_weights=False)
        body = [m for name, m in net.named_children() if name not in ("dropout", "fc")]
        self.layers = torch.nn.Sequential(*body)  # ends in the adaptive average pool: N x 2048 x 1 x 1
        self.output = torch.nn.Linear(2048, 1008)


def clean_stand_in(path: Path) -> Path:
    torch.manual_seed(0)
    with warnings.catch_warnings():  # clean-fid's network exists only as TorchScript
        warnings.filterwarnings("ignore", message=".*jit.*deprecated", category=FutureWarning)
        torch.jit.script(_CleanStandIn().eval()).save(str(path))
    return path


def build(name: str, batch: int, workdir: Path):
    """The extractor ``name`` and its inputs."""
    if name == "classifier":
        from genbench.features.classifier import Classifier
        from genbench.resolve import build_dataset

        digits = build_dataset("digits", RunConfig())
        return Classifier(digits, cache_dir=workdir, batch_size=batch), digits.load("train")[0]
    if name == "dinov2":
        from genbench.features.dinov2 import Dinov2
        from genbench.features.vit import vit_large_14

        weights = workdir / "dinov2_vitl14_random.pth"
        if not weights.exists():
            torch.manual_seed(0)
            torch.save(vit_large_14().state_dict(), weights)
        return Dinov2(_Synthetic(), cache_dir=workdir, weights=weights, batch_size=batch), None
    if name == "clip":
        from genbench.features.clip import Clip
        from genbench.features.clip_vit import clip_vit_large_14_336

        weights = workdir / "clip_vit_l14_336_random.bin"
        if not weights.exists():
            torch.manual_seed(0)
            torch.save(clip_vit_large_14_336().state_dict(), weights)
        return Clip(_Synthetic(), cache_dir=workdir, weights=weights, batch_size=batch), None
    if name == "inception":
        from genbench.features.inception import Inception

        weights = random_inception(workdir / "inception.pth")
        return Inception(_Synthetic(), cache_dir=workdir, weights=weights, batch_size=batch), None
    from genbench.features.clean_inception import CleanInception

    weights = clean_stand_in(workdir / "clean-inception.pt")
    return CleanInception(_Synthetic(), cache_dir=workdir, weights=weights, batch_size=batch), None


def time_extractor(name: str, n: int, batch: int, workdir: Path) -> dict:
    ext, data = build(name, batch, workdir)  # CPU: the machines these numbers are for
    x = synthetic_cifar(n, seed=1) if data is None else data[torch.arange(n) % len(data)]
    ext.extract(x[:batch])  # warm-up: loads the network, first allocations
    t0 = time.perf_counter()
    ext.extract(x)
    dt = time.perf_counter() - t0
    rate = n / dt
    return {"extractor": name, "images": n, "batch_size": batch, "images_per_s": rate, "seconds": dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=1000, help="images per extractor [1000]")
    ap.add_argument("--batch-size", type=int, default=RunConfig().batch_size, help="as genbench's flag")
    ap.add_argument("--extractors", default=",".join(EXTRACTORS), help="comma-separated [all]")
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench-features"))
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the numbers")
    args = ap.parse_args()
    names = args.extractors.split(",")
    if unknown := sorted(set(names) - set(EXTRACTORS)):
        ap.error(f"unknown extractor {', '.join(unknown)}; use {', '.join(EXTRACTORS)}")
    if args.images < 1 or args.batch_size < 1:
        ap.error("--images and --batch-size take 1 or more")
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        row = time_extractor(name, args.images, args.batch_size, args.workdir)
        rows.append(row)
        print(f"{name}: {row['images_per_s']:.1f} images/s", file=sys.stderr)
    print(f"{machine_text(machine('cpu'))}, torch {torch.__version__}, Python {platform.python_version()}")
    print("| extractor | images/s | CIFAR-10's 50k |")
    print("|---|---|---|")
    for r in rows:
        seconds = CIFAR10_TRAIN / r["images_per_s"]
        took = f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.1f} s"
        print(f"| {r['extractor']} | {r['images_per_s']:.1f} | {took} |")
    if args.out is not None:
        args.out.write_text(json.dumps({"command": sys.argv, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
