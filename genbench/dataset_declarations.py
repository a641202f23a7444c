"""What `genbench list datasets NAME` shows, as data: what a researcher asks of a dataset before a
run (its kind, one example's shape, its values' range, its splits' sizes, its number of modes, its
default features, whether its files are downloaded and where they are looked for), from what its
class declares (:class:`genbench.data.base.Dataset`) and nothing else (``genbench.dataset_info``):
no file is read, nothing is downloaded, the class is not even instantiated, so CIFAR-10 not yet
downloaded answers offline. What a class leaves undeclared (a plugin's split sizes) is None: not
known until loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from genbench import registry
from genbench.errors import GenbenchError
from genbench.listing import describe


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`genbench.dataset_info` returns (`genbench list datasets NAME`): what a dataset
    declares; None where it is not known until the data is loaded."""

    name: str  # the registered name (an alias resolved)
    source: str  # "genbench", or the distribution (or --include file) that registered it
    description: str
    kind: str  # "image" (N x C x H x W) or "points" (N x D)
    example_shape: tuple[int, ...] | None  # one example's, (C, H, W) or (D,); None: not known until loaded
    #: the range its values lie in: images' [-1, 1] (the contract); None for points, which have none
    value_range: tuple[float, float] | None
    train_size: int | None  # examples of the train split (``split_sizes``); None: not known until loaded
    test_size: int | None
    num_modes: int | None  # classes or mixture components; None: unknown
    #: whether a sample's mode is the class that the dataset's classifier (trained on its train
    #: split) predicts (digits, mnist); else the dataset's own labelling, or none (cifar10)
    classifier_labels_modes: bool
    default_features: str  # the --features a run uses when none is given
    downloads: bool | None  # its files are downloaded on first use; None: not declared
    #: the folders its files are looked for in, in order (a download goes into the first); () where
    #: it reads no files; None: not declared
    data_folders: tuple[Path, ...] | None
    data_dir: Path  # the --data-dir they are under ($GENBENCH_DATA or ~/.cache/genbench/data)
    #: False for a dataset of one split, every example its train split (``has_test_split``)
    has_test_split: bool = True


def dataset_info(name: str, data_dir: str | os.PathLike[str] | None = None) -> DatasetInfo:
    """What the registered dataset ``name`` declares; ``data_dir`` as ``--data-dir`` (None: the
    default). Imports its module (and torch with it); reads no data."""
    from genbench.data.base import default_data_dir, value_range
    from genbench.resolve import call_plugin
    from genbench.workdir import absolute

    if not isinstance(name, str):
        raise GenbenchError(
            f"the dataset must be a registered dataset's name (a str), got {type(name).__name__}"
        )
    canonical = registry.datasets.canonical(name)  # an unknown name: "did you mean"
    cls = registry.datasets.get(canonical)
    where = absolute(Path(data_dir).expanduser()) if data_dir is not None else default_data_dir()
    folders = call_plugin(
        "dataset", canonical, "raised {error} naming its data folders", lambda: cls.data_folders(where)
    )
    sizes = cls.split_sizes or {}
    return DatasetInfo(
        name=canonical,
        source=registry.datasets.source(canonical),
        description=describe(cls),
        kind=cls.kind,
        example_shape=tuple(cls.example_shape) if cls.example_shape is not None else None,
        value_range=value_range(cls.kind),
        train_size=sizes.get("train"),
        test_size=sizes.get("test"),
        num_modes=cls.num_modes,
        classifier_labels_modes=bool(cls.classifier_labels_modes),
        default_features=cls.default_features,
        downloads=cls.downloads,
        data_folders=tuple(Path(f) for f in folders) if folders is not None else None,
        data_dir=where,
        has_test_split=bool(cls.has_test_split),
    )
