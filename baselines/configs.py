"""Per-dataset defaults: ``baselines/configs/<dataset>/<model>.toml``.

CPU-sized for the embedded datasets, paper-sized for cifar10. A missing file means the dataclass
defaults apply. A dataset in ``SAME_AS`` reads another's folder; gan-sat reads gan-ns.toml
(:mod:`baselines.gan`).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genbench import registry
from genbench.api import GenerativeModel
from genbench.config import read_toml, resolve_model_config
from genbench.errors import GenbenchError

CONFIG_DIR = Path(__file__).parent / "configs"
#: the trained checkpoints that ship with the baselines (the digits leaderboard's), laid out as
#: genbench's checkpoint cache; ``python -m baselines.ship_weights`` remakes them
WEIGHTS_DIR = Path(__file__).parent / "weights"

#: datasets trained with another's configs: stacked-digits is three digits as RGB channels, and the
#: networks take the channel count from the data, so the digits configs apply unchanged
SAME_AS = {"stacked-digits": "digits"}


#: the files a dataset's folder holds, one per baseline that reads its own (gan-sat reads gan-ns's)
READ = ("vae", "gan-ns", "gan-cond", "ddpm", "ddim", "ddpm-cond", "ddim-cond")


def dataset_defaults(model: str, dataset: str) -> dict[str, Any]:
    check_folder_names(CONFIG_DIR)
    folder = CONFIG_DIR / SAME_AS.get(dataset, dataset)
    check_folder(folder)
    path = folder / f"{model}.toml"
    return read_toml(path) if path.exists() else {}


def check_folder_names(root: Path) -> None:
    """Refuse a folder of ``root`` that no dataset reads: a misspelt ``digts/`` (or one named by a
    dataset's alias, or by a dataset in ``SAME_AS``, which reads another's) was ignored, every model
    training on the defaults of the folder it meant to replace, with nothing said. Checked when a
    model reads its defaults, once the installed plugins' datasets are known (by name, without
    importing them): a folder for a plugin's dataset is read once that plugin is installed."""
    names = registry.datasets.names()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        name = folder.name
        if name in SAME_AS:
            fix = f"{name} reads the {SAME_AS[name]} folder; edit that one, or remove {name}"
        elif name in names and registry.datasets.canonical(name) != name:
            fix = f"{name!r} is another name for {registry.datasets.canonical(name)!r}; rename it to that"
        elif name in names:
            continue
        else:
            close = difflib.get_close_matches(name, [n for n in names if n not in SAME_AS], n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            fix = (
                f"no installed dataset is named {name!r}; {hint}rename it to the dataset it configures, "
                "or install the plugin that provides it"
            )
        raise GenbenchError(f"{folder} is read by no dataset: {fix}")


def check_folder(folder: Path) -> None:
    """Refuse a TOML in ``folder`` that no baseline reads: a ``gan-sat.toml`` (gan-sat reads
    gan-ns.toml) or a misspelt ``dpm.toml`` was ignored, the model training on the defaults of
    another file, or on none, with nothing said."""
    stray = sorted(p.name for p in folder.glob("*.toml") if p.stem not in READ)
    if stray:
        raise GenbenchError(
            f"{folder / stray[0]} is read by no model: a dataset's folder holds "
            f"{', '.join(f'{m}.toml' for m in READ)} (gan-sat reads gan-ns.toml); rename or remove it"
        )


def key_config(
    model: GenerativeModel,
    *,
    unused: Iterable[str],
    drop: Iterable[str] = (),
    logging: Iterable[str] = (),
) -> dict[str, Any]:
    """``model``'s config as its checkpoint key hashes it (its ``train_config``): without ``drop``
    (fields that never affect training), with each ``unused`` field (one that does not affect
    training on this data: the U-Net's on 2D points, the MLP's on images) at the value the dataset's
    defaults give it, and with each ``logging`` field (one that shapes the training log, not the
    weights: ``log_every``) only where it differs from the dataset's defaults. Hashed as set, an
    unused field retrained bit-identical weights under a new key; dropped from the hash, every
    checkpoint already trained would have been retrained. A logging field was dropped: the log is
    saved with the weights and read back by every run that loads them (``gan_dynamics`` summarises
    it), so ``--set gan-ns.log_every=1`` got the cached 10-step log, and a plain run that loaded a
    checkpoint trained at ``log_every=1`` measured another ``gan_dynamics`` than its fresh training
    gave; hashed at its default never, the default config keeps its key and shipped checkpoints."""
    cfg = dataclasses.asdict(model.config)
    for name in drop:
        cfg.pop(name)
    unused = [name for name in unused if name in cfg]
    logging = [name for name in logging if name in cfg]
    if unused or logging:
        defaults = dataclasses.asdict(resolve_model_config(type(model), model.spec.name, {}))
        cfg.update({name: defaults[name] for name in unused})
        for name in logging:
            if cfg[name] == defaults[name]:
                cfg.pop(name)
    return cfg
