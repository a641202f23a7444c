"""Remake the classifier weights that ship with genbench: ``python -m genbench.features.ship_classifier``.

Trains the default :class:`~genbench.features.classifier.ClassifierConfig` on the embedded dataset's
train split (seeded, one CPU thread, exactly as on first use) and writes
``genbench/features/weights/<weights key>.pt`` with its held-out accuracy and the machine it was
trained on, then prints the fingerprint that results will record. On the machine that made the
shipped file this reproduces it bit for bit; another CPU trains other weights of similar accuracy
(its float kernels round differently). Shipping those changes the feature extractor, and with it
every published FID on that dataset: remake the leaderboards with them (``make leaderboards``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from genbench.features.classifier import (
    SHIPPED_DATASETS,
    SHIPPED_DIR,
    Classifier,
    fingerprint_of,
    weights_digest,
)


def ship(dataset_name: str, cache_dir: Path, out_dir: Path = SHIPPED_DIR) -> dict[str, Any]:
    """Train the default classifier of ``dataset_name`` and write it to ``out_dir``; return its facts."""
    from genbench.data.digits import Digits

    dataset = {"digits": Digits}[dataset_name](cache_dir=cache_dir)
    clf = Classifier(dataset, cache_dir=cache_dir, shipped=False)
    path = out_dir / clf.shipped_path.name
    net, meta = clf.train_to(path, fix="run from a writable genbench checkout")
    return {"path": str(path), "fingerprint": fingerprint_of(clf.weights_key(), weights_digest(net)), **meta}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])  # none under -OO
    parser.add_argument("dataset", nargs="?", default="digits", choices=SHIPPED_DATASETS)
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the dataset's files are cached")
    args = parser.parse_args(argv)
    from genbench.data.base import default_cache_dir

    facts = ship(args.dataset, args.cache_dir or default_cache_dir())
    print(
        f"wrote {facts['path']}: {facts['fingerprint']}, held-out accuracy {facts['test_accuracy']:.4f}, "
        f"made on {facts['made_on']['cpu']} ({facts['made_on']['cpu_capability']}) with torch "
        f"{facts['made_on']['torch']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
