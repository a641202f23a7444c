"""Speed of the reference models at their CIFAR-10 configs, on synthetic CIFAR-shaped data.

Measures *speed only* (training steps/s, samples/s, feature extraction images/s, metric time), never
quality: the data are random smooth 3 x 32 x 32 images generated here and the Inception network has
random weights, which costs exactly what the real one costs. Nothing is downloaded.

For each model (``ddpm`` with its 35.7M-parameter U-Net, ``vae``, ``gan-ns``) it trains for
``--train-steps`` steps through the model's own ``fit`` (so the measured loop is the one users run)
and reports steps/s over the steps after a warm-up; then it samples through the harness's
:func:`genbench.metrics.throughput.measure_sampling` (warm-up batch, CUDA-synchronised clocks) and
reports samples/s, for DDPM's 1000-step ancestral sampler and DDIM at 50 and 100 steps over the same
denoiser. With ``--amp`` it also times bf16 autocast training.

Training is timed in each of ``--modes`` (on CUDA; the CPU has one): ``deterministic`` is how
`genbench run` trains there by default (torch's deterministic algorithms, cuDNN autotuning off),
``default`` is ``--no-deterministic`` (torch's defaults: neither), and ``autotuned`` adds cuDNN's
autotuning, which genbench does not use (on an H200 it gained nothing measurable at these sizes and
spent up to 23 s choosing kernels). ``--repeats`` times each configuration that many times,
interleaved, and the table gives the median and the range. Sampling and Inception run as `genbench
run` runs them: torch's defaults, no autotuning (which could pick other kernels from run to run).

    python benchmarks/cifar10_synthetic.py --device cuda --train-steps 300 --out bench.json

Prints a markdown table and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from genbench import registry
from genbench.api import DataSpec, TrainContext
from genbench.config import resolve_model_config
from genbench.determinism import deterministic_training
from genbench.environment import environment, machine, machine_text
from genbench.metrics.prdc import K_DC, K_PR
from genbench.metrics.throughput import measure_sampling

SPEC = DataSpec(
    name="cifar10", kind="image", shape=(3, 32, 32), value_range=(-1.0, 1.0), num_train=50_000, num_modes=10
)
#: the config field that counts training steps, per model
STEP_FIELD = {"ddpm": "train_steps", "vae": "steps", "gan-ns": "steps", "gan-sat": "steps"}
#: training modes: (torch's deterministic algorithms on, through genbench's own switch; cuDNN autotuning on)
MODES = {"deterministic": (True, False), "autotuned": (False, True), "default": (False, False)}


def synthetic_cifar(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` smooth random colour images in [-1, 1]: 4x4 noise upsampled bicubically, then tanh."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n, 3, 4, 4, generator=g)
    return torch.tanh(torch.nn.functional.interpolate(low, size=32, mode="bicubic", align_corners=False))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(
    name: str,
    steps: int,
    data: torch.Tensor,
    device: torch.device,
    amp: bool,
    batch: int | None = None,
    mode: str = "default",
) -> tuple[object, dict]:
    """Train ``name`` at its cifar10 config for ``steps`` steps; steps/s after the first 10%.

    ``batch`` overrides the config's batch size (the CPU smoke run uses a small one); ``mode`` is
    one of :data:`MODES`.
    """
    deterministic, autotune = MODES[mode]
    cls = registry.models.get(name)
    cfg = resolve_model_config(cls, "cifar10", {})
    cfg = dataclasses.replace(cfg, **{STEP_FIELD[name]: steps, "batch_size": batch or cfg.batch_size})
    model = cls(SPEC, cfg).to(device)
    stamps: dict[int, float] = {}

    def progress(step: int, total: int, values: dict[str, float]) -> None:
        # every model turns its losses into Python floats each step, which synchronises CUDA
        stamps[step] = time.perf_counter()

    ctx = TrainContext(seed=0, device=device, amp=amp, progress=progress)
    t0 = time.perf_counter()
    with deterministic_training(device, deterministic):  # restores cuDNN's autotuning flag after
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = autotune
        model.fit(data.to(device), ctx)
    sync(device)
    total = time.perf_counter() - t0
    warm = max(1, steps // 10)
    rate = (steps - warm) / (stamps[steps] - stamps[warm])
    params = sum(p.numel() for m in _modules(model) for p in m.parameters())
    row = {
        "model": name,
        "amp": amp,
        "mode": mode if device.type == "cuda" else "cpu",
        "train_steps": steps,
        "batch_size": cfg.batch_size,
        "steps_per_s": rate,
        "examples_per_s": rate * cfg.batch_size,
        "train_wall_s": total,
        "parameters": params,
    }
    return model, row


def _modules(model: object) -> list[torch.nn.Module]:
    names = {"ddpm": ["net"], "vae": ["encoder", "decoder"]}.get(
        getattr(model, "registered_name", ""), ["G", "D"]
    )
    return [getattr(model, n) for n in names]


def time_sampling(label: str, model: object, n: int, batch: int, device: torch.device) -> dict:
    def sample_fn(b: int, g: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            return model.sample(b, generator=g)

    g = torch.Generator(device=device).manual_seed(0)
    x, t = measure_sampling(sample_fn, n, batch, g, device)
    assert x.shape == (n, *SPEC.shape) and torch.isfinite(x).all()
    # the batch it ran, as time_inception reports: fewer samples than --sample-batch are one batch of
    # that many, and a row said 256 beside the speed (and peak memory) of a batch of 8
    return {"sampler": label, "nfe": model.nfe, "samples": n, "batch_size": min(batch, n), **t}


def random_inception(path: Path) -> Path:
    """torch-fidelity's Inception-v3 with random weights, saved where the extractor can load it."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    real_load, real_url = tfi.FeatureExtractorInceptionV3.load_state_dict, tfi.load_state_dict_from_url
    tfi.FeatureExtractorInceptionV3.load_state_dict = lambda self, sd, strict=True: None
    tfi.load_state_dict_from_url = lambda *a, **k: {}
    try:
        torch.manual_seed(0)
        net = tfi.FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048"], feature_extractor_weights_path=None
        )
    finally:
        tfi.FeatureExtractorInceptionV3.load_state_dict, tfi.load_state_dict_from_url = real_load, real_url
    torch.save(net.state_dict(), path)
    return path


class _Synthetic:
    """The minimum of a Dataset the Inception extractor reads."""

    name, kind = "cifar10-synthetic", "image"
    spec = SPEC


def time_inception(n: int, batch: int, device: torch.device, workdir: Path) -> dict:
    from genbench.features.inception import Inception

    ext = Inception(
        _Synthetic(),
        cache_dir=workdir,
        device=device,
        weights=random_inception(workdir / "inception.pth"),
        batch_size=batch,
    )
    x = synthetic_cifar(n, seed=1)
    ext.extract(x[:batch])  # warm-up: builds the network, cuDNN autotuning
    sync(device)
    t0 = time.perf_counter()
    f = ext.extract(x)
    sync(device)
    dt = time.perf_counter() - t0
    assert f.features.shape == (n, 2048)
    # the batch the extractor ran: fewer images than --batch are one batch of that many
    return {"images": n, "batch_size": min(batch, n), "images_per_s": n / dt, "seconds": dt}


def time_metrics(n: int, device: torch.device) -> list[dict]:
    """FID (float64, CPU: scipy/numpy) and PRDC (k-NN in blocks on ``device``) on n x 2048 features."""
    import numpy as np

    from genbench.metrics.fid import frechet_distance, gaussian_statistics
    from genbench.metrics.prdc import prdc

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, 2048)), rng.standard_normal((n, 2048)) + 0.1
    rows = []
    t0 = time.perf_counter()
    fid = frechet_distance(*gaussian_statistics(a), *gaussian_statistics(b))
    rows.append({"metric": "fid", "n": n, "device": "cpu", "seconds": time.perf_counter() - t0, "value": fid})
    for dev in dict.fromkeys([torch.device("cpu"), device]):
        ta, tb = torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev)
        sync(dev)
        t0 = time.perf_counter()
        out = prdc(ta, tb)
        sync(dev)
        rows.append(
            {"metric": "prdc", "n": n, "device": str(dev), "seconds": time.perf_counter() - t0, **out}
        )
    return rows


def markdown(report: dict) -> str:
    lines = [
        f"Device: {report['device_name']}; torch {report['torch']}; synthetic CIFAR-shaped data, "
        f"random Inception weights (speed only).",
        "",
    ]
    if report.get("smoke"):
        lines += [
            f"**{report['device'].upper()} smoke run**: every path at toy sizes; these numbers are not "
            "CIFAR-10-scale throughput and not comparable with the GPU figures (run with --device cuda).",
            "",
        ]
    if report.get("command"):
        lines += [f"Command: `{report['command']}`", ""]
    lines += [
        "| model | amp | mode | params | batch | train steps/s (median) | range | runs | examples/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    runs: dict[tuple, list[dict]] = {}
    for r in report["training"]:
        runs.setdefault((r["model"], r["amp"], r["mode"]), []).append(r)
    for (model, amp, mode), rs in runs.items():
        rates = sorted(r["steps_per_s"] for r in rs)
        rate = statistics.median(rates)
        lines.append(
            f"| {model} | {amp} | {mode} | {rs[0]['parameters'] / 1e6:.1f}M | {rs[0]['batch_size']} | "
            f"{rate:.2f} | {rates[0]:.2f}-{rates[-1]:.2f} | {len(rs)} | {rate * rs[0]['batch_size']:.0f} |"
        )
    lines += ["", "| sampler | NFE | batch | samples/s | peak memory (MiB) |", "|---|---|---|---|---|"]
    for r in report["sampling"]:
        peak = f"{r['peak_memory_mb']:.0f}" if "peak_memory_mb" in r else "not measured"
        lines.append(
            f"| {r['sampler']} | {r['nfe']} | {r['batch_size']} | {r['samples_per_s']:.1f} | {peak} |"
        )
    i = report["inception"]
    lines += [
        "",
        f"Inception-v3 (torch-fidelity, 299x299 resize inside): {i['images_per_s']:.0f} images/s "
        f"at batch {i['batch_size']} ({i['images']} images).",
        "",
    ]
    lines += ["| metric | N | device | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['metric']} | {r['n']} | {r['device']} | {r['seconds']:.2f} |" for r in report["metrics"]]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cuda or cpu [cuda where available; a CPU run is a smoke run]",
    )
    # defaults: GPU-sized, or CPU-sized runs that only smoke-test the paths (a 35.7M U-Net is slow there)
    ap.add_argument("--train-steps", type=int, help="training steps per model [300; 5 on the CPU]")
    ap.add_argument(
        "--train-batch", type=int, help="training batch size [the cifar10 config's; 8 on the CPU]"
    )
    ap.add_argument(
        "--models", default="ddpm,vae,gan-ns", help=f"of {', '.join(STEP_FIELD)} [ddpm,vae,gan-ns]"
    )
    ap.add_argument("--amp", action="store_true", help="also time bf16 autocast training (CUDA)")
    ap.add_argument(
        "--modes",
        default="deterministic,default",
        help=f"training modes timed on CUDA, of {', '.join(MODES)} [deterministic,default: "
        "`genbench run`'s default and --no-deterministic]",
    )
    ap.add_argument("--repeats", type=int, default=1, help="timings of each training configuration")
    ap.add_argument("--sample-batch", type=int, help="sampling batch size [256; 8 on the CPU]")
    ap.add_argument(
        "--ddpm-samples", type=int, help="samples of the 1000-step sampler [256; 0 = skip on the CPU]"
    )
    ap.add_argument(
        "--fast-samples", type=int, help="samples of DDIM, the GAN and the VAE [2048; 8 on the CPU]"
    )
    ap.add_argument("--inception-images", type=int, help="images through Inception [5000; 50 on the CPU]")
    ap.add_argument(
        "--metric-n", type=int, help="feature rows for the metric timings [10000; 2000 on the CPU]"
    )
    ap.add_argument("--workdir", type=Path, default=Path("runs/bench-cifar10"))
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the numbers")
    args = ap.parse_args()
    try:
        device = torch.device(args.device)
    except RuntimeError:
        ap.error(f"--device {args.device!r} is not a torch device; use cpu or cuda")
    if device.type not in ("cpu", "cuda"):
        ap.error(f"--device {args.device}: the benchmark times cpu or cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: CUDA is not available here; use --device cpu (a smoke run)")
    cuda = device.type == "cuda"
    defaults = {
        # on 2 CPU cores one DDPM step at the config's batch of 128 takes ~50 s: the CPU run is a
        # smoke test of every path, its numbers are not CIFAR-scale throughput
        "train_steps": (300, 5),
        "train_batch": (None, 8),
        "sample_batch": (256, 8),
        "ddpm_samples": (256, 0),
        "fast_samples": (2048, 8),
        "inception_images": (5000, 50),
        "metric_n": (10000, 2000),
    }
    for key, (gpu, cpu) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, gpu if cuda else cpu)
    modes = args.modes.split(",")
    if unknown := [m for m in modes if m not in MODES]:
        ap.error(f"unknown --modes {', '.join(unknown)}; pick from {', '.join(MODES)}")
    models = args.models.split(",")
    if unknown := [m for m in models if m not in STEP_FIELD]:
        ap.error(f"--models: cannot time {', '.join(map(repr, unknown))}; pick from {', '.join(STEP_FIELD)}")
    # checked before anything trains: a bad sampling or Inception size was a traceback after the
    # training, and --train-batch 0 trained at the config's batch of 128
    least = {
        "repeats": 1,
        "train_steps": 2,  # the rate is timed after the first tenth of the steps (at least one)
        "train_batch": 1,
        "sample_batch": 1,
        "ddpm_samples": 0,  # 0 skips the 1000-step sampler
        "fast_samples": 1,
        "inception_images": 1,
        "metric_n": max(K_PR, K_DC) + 1,  # PRDC's k-th neighbours among the other rows
    }
    for key, low in least.items():
        if getattr(args, key) is not None and getattr(args, key) < low:
            ap.error(f"--{key.replace('_', '-')} must be at least {low}, got {getattr(args, key)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    if not cuda:
        modes = ["default"]  # the CPU has no modes to time
    data = synthetic_cifar(10_000)
    report: dict = {
        "device": str(device),
        # a CPU run checks the paths at toy sizes: its figures are no GPU's, nor CIFAR-10-scale
        "smoke": not cuda,
        "command": shlex.join([sys.executable, *sys.argv]),
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "python": platform.python_version(),
        "device_name": machine_text(machine(str(device))),  # the GPU, or the CPU and its threads
        "environment": environment(str(device)),  # genbench's version, commit, source digest, machine
        "repeats": args.repeats,
        "training": [],
        "sampling": [],
    }
    from baselines.ddim import DDIM

    for name in models:
        # interleaved, so that a machine's drift during the run spreads over every configuration
        for repeat in range(args.repeats):
            for amp in [False, True] if args.amp and cuda else [False]:
                for mode in modes:
                    model = None  # the last run's model is freed before the next one is built
                    model, row = time_training(
                        name, args.train_steps, data, device, amp, args.train_batch, mode
                    )
                    report["training"].append({**row, "repeat": repeat})
                    print(report["training"][-1], flush=True)

        def sampled(row: dict) -> None:
            # each row printed as it is timed: only the last one was, so a run stopped during DDIM
            # (as the H200's DDPM run was) lost the rows before it
            report["sampling"].append(row)
            print(row, flush=True)

        if name == "ddpm":
            if args.ddpm_samples:
                sampled(
                    time_sampling("ddpm (1000 steps)", model, args.ddpm_samples, args.sample_batch, device)
                )
            for steps in (50, 100):
                ddim = DDIM.from_trained(model, DDIM.Config(steps=steps))
                sampled(
                    time_sampling(f"ddim ({steps} steps)", ddim, args.fast_samples, args.sample_batch, device)
                )
        else:
            sampled(time_sampling(name, model, args.fast_samples, args.sample_batch, device))
        # the last DDIM holds the DDPM too: kept, it stayed on the GPU while the next models sampled
        model = ddim = None
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    report["inception"] = time_inception(args.inception_images, 250, device, args.workdir)
    report["metrics"] = time_metrics(args.metric_n, device)
    md = markdown(report)
    print(md)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(md + "\n")


if __name__ == "__main__":
    main()
