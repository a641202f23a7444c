"""A plugin's config and option values: written to strict JSON whatever their type (an Enum, a
dtype, a set), typed from ``--set`` and ``--metric-option`` text and read back, and hashed alike in
every process."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch
from plugin_helpers import (  # tests/ is on the path: pytest puts it there
    _ConfiguredModel,
    read_strict,
    run_ring8,
)

import genbench
from genbench import registry
from genbench.config import RunConfig
from genbench.results import Result


def test_result_json_is_strict_json_whatever_a_plugin_put_in_it(tmp_path):
    r = Result(model="m", dataset="d", seed=0)
    r.config = {"lr": float("nan"), "betas": (0.5, np.float32("inf"))}
    r.training_log = [{"step": 1.0, "loss": float("-inf")}]
    written = read_strict(r.write(tmp_path))
    assert written["config"] == {"lr": None, "betas": [0.5, None]}
    assert written["training_log"] == [{"step": 1.0, "loss": None}]


class Mode(enum.Enum):
    fast = "fast"


class ExoticConfig(_ConfiguredModel):
    """A config with values json cannot write itself, as config_hash can (with default=str)."""

    @dataclass
    class Config:
        mode: Mode = Mode.fast
        dtype: torch.dtype = torch.float16
        tags: frozenset[str] = frozenset({"b", "c", "a"})
        where: Path = Path("x")
        kept: dict[str, set[float]] = field(default_factory=lambda: {"s": {2.0, float("nan")}})


class UnwritableConfig(_ConfiguredModel):
    """A config that no JSON writer takes: a dict keyed by tuples."""

    @dataclass
    class Config:
        table: dict[tuple[int, int], float] = field(default_factory=lambda: {(0, 1): 0.5})


def test_a_model_config_of_enums_dtypes_and_sets_is_written_and_an_unwritable_one_fails_alone(
    register, tmp_path, cache_dir
):
    """An Enum in a plugin's Config raised TypeError from the result write after its training: a
    traceback, and every later model skipped."""
    register(registry.models, "test-exotic-config", ExoticConfig)
    register(registry.models, "test-unwritable-config", UnwritableConfig)
    models = ("test-exotic-config", "test-unwritable-config", "gaussian")
    results = run_ring8(tmp_path, cache_dir, models=models, metrics=["fid"])
    assert results["gaussian"].status == results["test-exotic-config"].status == "ok"
    written = read_strict(tmp_path / "runs/ring8/test-exotic-config/seed0.json")
    assert written["config"] == {
        "mode": "fast",
        "dtype": "torch.float16",
        "tags": ["a", "b", "c"],
        "where": "x",
        "kept": {"s": [2.0, None]},
    }
    assert written["status"] == "ok" and "fid" in written["metrics"]
    bad = results["test-unwritable-config"]
    assert (bad.status, bad.error_kind) == ("failed", "plugin")
    assert "could not be written" in bad.error and "keys must be str" in bad.error
    recorded = read_strict(tmp_path / "runs/ring8/test-unwritable-config/seed0.json")
    assert (recorded["status"], recorded["error"]) == ("failed", bad.error)


class Speed(enum.Enum):
    fast = "f"
    slow = "s"


class ChoicesConfig(_ConfiguredModel):
    """Fields of types that --set used to leave as the typed text."""

    @dataclass
    class Config:
        speed: Speed = Speed.fast
        where: Path = Path("a")
        kind: Literal["x", "y"] = "x"
        n: Literal[1, 2] = 1
        dtype: torch.dtype = torch.float16


def test_set_converts_enum_literal_and_path_fields_and_their_label_reads_back(register, tmp_path, cache_dir):
    """--set gave an Enum field 'slow' (not Speed.slow), a Literal["x", "y"] field 'z', a Literal[1, 2]
    field '2' and a Path field a str, and setting a field to its default named a variant."""
    from genbench.model_config import resolve_model_config
    from genbench.planning import plan

    register(registry.models, "test-choices", ChoicesConfig)

    def variants(*overrides: str) -> list[dict[str, str]]:
        sets = [f"test-choices.{o}" for o in overrides]
        config = RunConfig(
            models=["test-choices"], dataset="ring8", overrides=sets, out=tmp_path, cache_dir=cache_dir
        )
        return plan(config).models[0][2]

    cfg = resolve_model_config(ChoicesConfig, "ring8", {"speed": "slow", "where": "b", "kind": "y", "n": "2"})
    assert (cfg.speed, cfg.where, cfg.kind, cfg.n) == (Speed.slow, Path("b"), "y", 2)
    assert resolve_model_config(ChoicesConfig, "ring8", {"speed": "s"}).speed is Speed.slow  # by value
    assert variants("speed=fast", "n=1", "where=a") == [{}]
    (label,) = variants("speed=s", "n=2", "where=b")
    assert label == {"n": "2", "speed": "slow", "where": "b"}
    assert variants(*(f"{k}={v}" for k, v in label.items())) == [label]  # typed back, the same variant
    for typed, message in [
        ("kind=z", "bad value 'z' for test-choices.kind; expected one of x, y"),
        ("n=3", "bad value '3' for test-choices.n; expected one of 1, 2"),
        ("speed=medium", "bad value 'medium' for test-choices.speed; expected one of fast, slow"),
        ("dtype=float32", "cannot set test-choices.dtype of type torch.dtype with --set"),
    ]:
        with pytest.raises(genbench.GenbenchError) as e:
            variants(typed)
        assert str(e.value) == message


def test_a_plugin_metrics_tuple_and_none_default_options_are_read_as_set_reads_values():
    """A tuple default's option stayed the text ``"1:2"``, a None default's ``"0500"`` (not 500)."""
    from genbench.metric_options import resolve_metric_options

    declared = {"ks": (1, 2), "weights": [0.5], "mixed": (1, "a"), "size": None, "name": None}
    given = {"ks": "3:05", "weights": "1:2.5", "mixed": "4:b", "size": "0500", "name": "abc"}
    assert resolve_metric_options("test-m", declared, given) == {
        "ks": (3, 5),
        "weights": [1.0, 2.5],
        "mixed": (4, "b"),
        "size": 500,
        "name": "abc",
    }
    assert resolve_metric_options("test-m", {"ks": ()}, {"ks": ":"}) == {"ks": ()}
    with pytest.raises(genbench.GenbenchError, match="bad value 'x' for test-m.ks; expected int"):
        resolve_metric_options("test-m", declared, {"ks": "1:x"})


def test_a_set_in_a_plugins_train_config_hashes_alike_in_every_process():
    """``str`` of a set of strings follows the hash seed, so each process gave the same config
    another checkpoint key, and every run retrained the model."""
    code = (
        "from genbench.api import config_hash\n"
        "print(config_hash('m', 'd', {'layers': {'conv', 'attn', 'norm', 'mlp', 'skip'}}, 0))\n"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": str(hash_seed)},
            check=True,
        ).stdout
        for hash_seed in range(6)
    }
    assert len(keys) == 1, keys
