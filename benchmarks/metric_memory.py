"""Peak memory and wall time of each metric's compute at CIFAR-10 scale, on synthetic features.

Each metric runs in a subprocess of its own, on float32 features as Inception gives them (default
50000 x 2048 for the samples and the train split, 10000 x 2048 for the test split, which C_T and the
held-out rate read; ``--dtype float64`` as genbench's extractors store them): ``baseline`` is the
process's resident set once its inputs exist, ``peak`` its peak resident set during the compute
(Linux's VmHWM, reset before it), ``added`` the difference (what the metric itself costs). Memorization
runs in "pixel" space on a points dataset whose examples are the features, so every step of its
compute (the float64 copies, the nearest neighbours, AuthPct, C_T's PCA and k-means) is measured.
Numbers depend on the machine's cores and BLAS; nothing here is asserted by the tests.

    python benchmarks/metric_memory.py [--n 50000] [--test 10000] [--dim 2048] [--metrics fid,kid,...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

METRICS = ("fid", "kid", "prdc", "memorization", "ct", "modes", "modes-2d")


def max_rss_mb() -> float:
    """The process's peak resident set since :func:`reset_peak` (Linux's VmHWM), else since it began."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak() -> None:
    """Start the peak afresh (Linux 4.0+), so that an input's transient (a float32 array converted to
    float64) is not counted as the metric's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # the peak then counts from the start: "added" may be understated, never overstated


def run_one(metric: str, n: int, n_test: int, dim: int, dtype: str) -> dict[str, float]:
    """Build the inputs of ``metric``, then time its compute; runs inside the subprocess."""
    import numpy as np
    import torch

    from genbench.data.base import Dataset
    from genbench.features.base import Features
    from genbench.metrics.base import EvalContext

    rng = np.random.default_rng(0)

    def feats(rows: int, shift: float = 0.0) -> np.ndarray:
        x = rng.standard_normal((rows, dim), dtype=np.float32)  # float32 straight away: no float64 peak
        x += np.float32(shift)
        return x

    class Points(Dataset):
        kind = "points"
        num_modes = 10

        def __init__(self, splits: dict[str, np.ndarray]):
            super().__init__()
            self.splits = {k: torch.from_numpy(v) for k, v in splits.items()}

        def _load(self, split):
            return self.splits[split], None

        def label_modes(self, x):  # a classifier's labels, already known: the counting is measured
            return np.arange(len(x)) % self.num_modes

    class Grid(Points):
        num_modes = 25
        means = np.stack(np.meshgrid(np.arange(-4, 5, 2.0), np.arange(-4, 5, 2.0)), -1).reshape(-1, 2)
        std = 0.05

        def label_modes(self, x):
            d = ((x.double().numpy()[:, None, :] - self.means[None]) ** 2).sum(-1)
            return d.argmin(1)

    options: dict = {}
    if metric == "modes-2d":
        centres = Grid.means[rng.integers(0, 25, n)]
        dataset = Grid({"train": (centres + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)})
        samples = torch.from_numpy((centres + 0.07 * rng.standard_normal((n, 2))).astype(np.float32))
        sample_f, ref_f = samples.double().numpy(), dataset.splits["train"].double().numpy()
    else:
        train, samples_np = feats(n), feats(n, 0.05)
        dataset = Points({"train": train, "test": feats(n_test)})
        samples = torch.from_numpy(samples_np)
        # the features are the points themselves, in --dtype; the points stay float32, as a dataset's
        # examples and a model's samples are (a float64 dataset is refused: memorization failed)
        sample_f, ref_f = samples_np.astype(dtype, copy=False), train.astype(dtype, copy=False)
    ctx = EvalContext(
        dataset=dataset.handing_out_copies(),
        samples=samples,
        sample_features=Features(sample_f),
        reference_features=Features(ref_f),
        extractor=None,
        seed=0,
        options=options,
    )
    if metric in ("modes", "modes-2d"):
        ctx.sample_modes(), ctx.reference_modes()  # labelling is the dataset's work, not the metric's
    if metric == "ct":  # the float64 arrays memorization hands C_T, made before the baseline
        from genbench.metrics.memorization import ct_score

        ct_inputs = [dataset.splits[s].double().numpy() for s in ("train", "test")] + [sample_f.astype(float)]
    reset_peak()
    baseline = max_rss_mb()
    start = time.perf_counter()
    if metric == "ct":
        values = {"ct": ct_score(*ct_inputs)}
    else:
        from genbench.metrics.fid import FID
        from genbench.metrics.kid import KID
        from genbench.metrics.memorization import Memorization
        from genbench.metrics.modes import Modes
        from genbench.metrics.prdc import PRDC

        classes = {"fid": FID, "kid": KID, "prdc": PRDC, "memorization": Memorization, "modes": Modes}
        values = classes[metric.removesuffix("-2d")]().compute(ctx)
    wall = time.perf_counter() - start
    peak = max_rss_mb()
    return {"baseline_mb": baseline, "peak_mb": peak, "added_mb": peak - baseline, "wall_s": wall, **values}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50000, help="samples and train examples")
    p.add_argument("--test", type=int, default=10000, help="test examples (C_T, held-out rate)")
    p.add_argument("--dim", type=int, default=2048, help="feature dimensions")
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="of the features (Inception's are float32; genbench's extractors store float64)",
    )
    p.add_argument("--metrics", default=",".join(METRICS), help=f"comma-separated, of {', '.join(METRICS)}")
    p.add_argument("--one", help=argparse.SUPPRESS)  # the subprocess's own metric
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(run_one(a.one, a.n, a.test, a.dim, a.dtype)))
        return 0
    metrics = [m for m in a.metrics.split(",") if m]
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        p.error(f"unknown metric(s) {', '.join(unknown)}; use {', '.join(METRICS)}")
    print(f"n={a.n} test={a.test} dim={a.dim}, {a.dtype} features; MB = MiB of resident set")
    print("| metric | baseline (MB) | peak (MB) | added (MB) | wall (s) |")
    print("|---|---|---|---|---|")
    failed = 0
    for m in metrics:
        sizes = ["--n", str(a.n), "--test", str(a.test), "--dim", str(a.dim), "--dtype", a.dtype]
        cmd = [sys.executable, __file__, "--one", m, *sizes]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"| {m} | failed: {out.stderr.strip().splitlines()[-1:]} |||", flush=True)
            failed += 1
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {m} | {r['baseline_mb']:.0f} | {r['peak_mb']:.0f} | {r['added_mb']:.0f} | {r['wall_s']:.1f} |",
            flush=True,
        )
        print(
            "  values: " + json.dumps({k: v for k, v in r.items() if not k.endswith(("_mb", "_s"))}),
            flush=True,
        )
    return 1 if failed else 0  # a table with a failed row is no measurement


if __name__ == "__main__":
    raise SystemExit(main())
