"""Remake the trained checkpoints that ship with the baselines: ``python -m baselines.ship_weights``.

Trains ``vae``, ``gan-ns``, ``gan-sat`` and ``ddpm`` on ``digits`` with their default configs for
seeds 0, 1 and 2 on the CPU, as ``genbench run --retrain`` does (into a cache of its own: the user's is
left as it is), and copies each ``model.pt`` to ``baselines/weights/<dataset>/<model>/seed<N>-<key>/``,
the layout of genbench's checkpoint cache. A run whose cache lacks a checkpoint loads the shipped one
of the same key instead of training it (``GenerativeModel.shipped_checkpoints``), so the same
command gives every machine the weights the published leaderboard was made with.

Training is seeded and deterministic on the CPU: on the machine that made the shipped files this
reproduces their weights bit for bit. Another CPU trains other weights (its float kernels round
differently), within the leaderboard's spread over seeds; shipping those changes the published
numbers, so remake the leaderboards with them (``make leaderboards``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from baselines.configs import WEIGHTS_DIR

#: the trained reference models whose checkpoints ship (ddim samples ddpm's), and on what data
MODELS = ("vae", "gan-ns", "gan-sat", "ddpm")
DATASET = "digits"


def ship(
    seeds: Sequence[int],
    to: Path = WEIGHTS_DIR,
    *,
    models: Sequence[str] = MODELS,
    dataset: str = DATASET,
) -> list[Path]:
    """Train ``models`` on ``dataset`` for ``seeds`` and copy their checkpoints under ``to``, replacing
    those of the same models and seeds; returns the files written."""
    from genbench import RunConfig, run

    with tempfile.TemporaryDirectory(prefix="genbench-ship-") as tmp:
        cache = Path(tmp) / "cache"
        config = RunConfig(
            models=list(models),
            dataset=dataset,
            seeds=list(seeds),
            samples=10,  # a run samples and scores: the least that it can
            metrics=["throughput"],
            out=Path(tmp) / "runs",
            cache_dir=cache,
            device="cpu",  # the shipped weights are the CPU's (the board's)
            retrain=True,  # train, never load what ships already
            figures=False,
        )
        results = run(config)
        failed = [f"{r.label} seed {r.seed}: {r.error}" for r in results if r.status != "ok"]
        if failed:
            raise SystemExit("not shipped, training failed: " + "; ".join(failed))
        written = []
        for r in results:
            source = Path(r.training["checkpoint"])
            target = Path(to).joinpath(*source.parts[-4:])  # <dataset>/<model>/seed<N>-<key>/model.pt
            for stale in target.parent.parent.glob(f"seed{r.seed}-*"):  # another config's, or this one's
                shutil.rmtree(stale)
            target.parent.mkdir(parents=True)
            shutil.copyfile(source, target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])  # none under -OO
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds [default: 0,1,2]")
    parser.add_argument(
        "--to", type=Path, default=WEIGHTS_DIR, help=f"where they go [default: {WEIGHTS_DIR}]"
    )
    args = parser.parse_args(argv)
    from genbench.config import parse_seeds

    for path in ship(parse_seeds(args.seeds), args.to):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
