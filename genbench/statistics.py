"""``stats(path, config)`` (``genbench.stats``): what `genbench stats` calls. Writes the FID
reference statistics (mu, sigma) of a dataset split's features to an ``.npz``, the format clean-fid
and pytorch-fid read, so samples can later be scored against them where the data is not
(``genbench eval --reference-stats ... --metrics fid,is``). Under ``inception`` features it also
holds sfid's spatial statistics ``mu_s`` and ``sigma_s`` (ADM's reference batches' keys), of the
``inception-spatial`` features taken from the same pass, so that ``--metrics fid,sfid`` can be scored
against the file alone (``--no-spatial`` leaves them out: where the split's pool3 features are cached
already without the spatial ones, those cost a pass of their own).

The file also records how it was made (key ``genbench``: the dataset and its fingerprint, the split
and its size, the feature extractor and its fingerprint, the fewest rows per extraction call,
``batch_rows``, and the ``arithmetic`` the features were computed in; a run at another batch size
below 64, or in other arithmetic, is warned of, as the feature cache keys them apart:
:func:`genbench.features.reference_stats.stats_extraction_warning`). A run or evaluation that reads it checks
that its features are the ones the statistics were computed with (Inception's and clean-fid's
Inception both give 2048 numbers, so the dimension alone cannot tell them apart), and an evaluation
that reads no data records the statistics' split and dataset fingerprint in its protocol.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genbench.config import STATS_FIELDS, RunConfig, unused_fields_warning
from genbench.errors import GenbenchError
from genbench.io import check_writable
from genbench.progress import Progress, command_console

if TYPE_CHECKING:
    import numpy as np

    from genbench.features.base import FeatureExtractor, Features
    from genbench.features.inception_spatial import InceptionSpatial


def stats(path: Path | str, config: RunConfig, *, spatial: bool | None = None) -> dict[str, Any]:
    """Write the (mu, sigma) of ``config.dataset``'s ``config.reference_split`` in the features of
    ``config.features`` (the dataset's default when None) to ``path``; returns what the file records
    about them. The features are the cached reference features `genbench run` uses, so the
    statistics are those its FID compares with. Under ``inception`` features, also sfid's spatial
    (mu_s, sigma_s), as ADM's reference batches hold them, unless ``spatial`` is False (True under
    other features is an error)."""
    console = Progress(enabled=config.progress)
    # what a plugin leaves changed of torch's state, and a dataset's first download, said here
    with command_console(console):
        return _stats(path, config, console, spatial)


def _stats(path: Path | str, config: RunConfig, console: Progress, spatial: bool | None) -> dict[str, Any]:
    from genbench.extraction_bar import CACHED, noun
    from genbench.features.reference import arithmetic, reference_features, uncached
    from genbench.features.reference_stats import save_reference_stats
    from genbench.features.same_pass import names
    from genbench.resolve import build_dataset, build_extractor, check_shared_inputs

    if unused := unused_fields_warning(config, STATS_FIELDS, "stats"):
        console.warn(unused)
    if not isinstance(path, str | os.PathLike):
        raise GenbenchError(f"the statistics path must be a str or a Path, got {type(path).__name__}")
    path = Path(path)
    # by name, not path.suffix: R.NPZ is accepted (as eval's --samples is), and ".npz" alone is a dotfile's
    # name with no suffix at all
    if not path.name.lower().endswith(".npz"):
        raise GenbenchError(f"{path} does not end in .npz; name the statistics file like cifar10-train.npz")
    if path.name.lower() == ".npz":
        raise GenbenchError(
            f"{path} has no name before .npz; name the statistics file like cifar10-train.npz"
        )
    if path.is_dir():  # found before the features are extracted (hours for CIFAR-10), not after
        raise GenbenchError(f"{path} is a directory; name the statistics file, e.g. {path / 'stats.npz'}")
    check_statistics_replaceable(path)
    # the one file written is the statistics': its folder is the output checked (not ./runs); --out
    # names the file, so "pass a directory with --out" would be the wrong fix
    check_writable(path.parent, fix="pass --out an .npz path in a writable directory")
    device, cache_dir = check_shared_inputs(dataclasses.replace(config, out=path.parent), results=False)
    dataset = build_dataset(config.dataset, config)
    extractor = build_extractor(dataset, config, device, console)
    split = config.reference_split
    if split not in ("train", "test"):
        raise GenbenchError(f"unknown split {split!r}; use --reference-split train or test")
    # as the feature cache keys it, before the extraction (a plugin's TF32 setting is said, not undone)
    computed_in = arithmetic(extractor.device)
    tap = spatial_beside(extractor, spatial)
    # the spatial features from the same pass, when the split's pool3 features are not cached yet
    beside = uncached(dataset, [tap] if tap is not None else [], split, cache_dir)
    kind = noun(dataset.spec.kind)
    with console.extracting(
        f"features of {dataset.name} {split} ({names(extractor, beside)})", kind, CACHED
    ) as bar:
        feats = reference_features(dataset, extractor, split, cache_dir, bar, beside=beside)
    if len(feats) < 2:
        raise GenbenchError(
            f"{dataset.name} {split} has {len(feats)} example; a covariance needs two or more"
        )
    mu, sigma = _fitted(feats, "FID", console)
    spatial_stats = None
    if tap is not None:  # cached by the pass above, or (pool3's were cached before) a pass of its own
        with console.extracting(f"features of {dataset.name} {split} ({tap.name})", kind, CACHED) as bar:
            spatial_stats = _fitted(reference_features(dataset, tap, split, cache_dir, bar), "sFID", console)
    made = {
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint(),
        "split": split,
        "num_examples": len(feats),
        "features": extractor.info(),
        # the fewest rows per extraction call: fewer than 64 take other kernels, so a run at another
        # batch size is told its FID against the file is not against its own reference features
        "batch_rows": extractor.fewest_rows,
        # the device type, CPU instruction set and TF32 setting: statistics made on a GPU or an
        # AVX-512 CPU are not those of an AVX2 CPU's own reference features
        "arithmetic": computed_in,
    }
    if tap is not None:  # what mu_s and sigma_s are of: the tap of the same network
        made["spatial_features"] = tap.info()
    save_reference_stats(path, mu, sigma, made=made, spatial=spatial_stats)
    return made


def check_statistics_replaceable(path: Path) -> None:
    """Refuse, before any work, to write statistics over a file that holds anything but statistics:
    `genbench stats --dataset ref.npz --out ref.npz` replaced the reference images with their mu and
    sigma, and ``--out samples.npz`` someone's only samples, silently and with exit 0 (ADM's
    reference batch, images and statistics in one file, would have lost its 10000 images). A file of
    statistics alone (a rerun's, clean-fid's) is replaced, as an output file is."""
    import numpy as np

    from genbench.data.folder import STATS_KEYS

    if not path.exists():
        return
    fix = "pass --out a new .npz path, or delete the file to write there"
    try:
        with np.load(path, allow_pickle=False) as npz:  # the zip's listing alone: no array is read
            keys = list(npz.keys())
    except Exception:
        raise GenbenchError(f"{path} exists and is no .npz of reference statistics; {fix}") from None
    if others := [k for k in keys if k not in STATS_KEYS]:
        raise GenbenchError(
            f"{path} holds {', '.join(others)} beside any statistics (images or samples, which writing "
            f"statistics there would delete); {fix}"
        )


def spatial_beside(extractor: FeatureExtractor, spatial: bool | None) -> InceptionSpatial | None:
    """sfid's spatial extractor beside ``extractor`` when the statistics file is to hold mu_s and
    sigma_s: by default under ``inception`` features, the network sfid taps (nearly free there: the
    same pass, when the split's features are extracted; 2023 x 2023 more numbers, 33 MB, in the file)."""
    from genbench.features.inception_spatial import spatial_tap

    if spatial is False:
        return None
    tap = spatial_tap(extractor)
    if tap is None:
        if spatial:
            raise GenbenchError(
                f"--spatial needs --features inception (sfid taps that network), not {extractor.name!r}; "
                "pass --features inception or leave out --spatial"
            )
        return None
    return tap


def _fitted(feats: Features, metric: str, console: Progress) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of ``feats``, with ``metric``'s warning when the covariance is singular."""
    from genbench.metrics.fid import gaussian_statistics

    mu, sigma = gaussian_statistics(feats.features)
    if len(feats) <= mu.shape[0]:  # as FID warns when it fits them itself
        console.warn(
            f"{len(feats)} examples for {mu.shape[0]}-dimensional features: the covariance is singular "
            f"and {metric} against these statistics is biased upwards"
        )
    return mu, sigma
