"""The public API's type hints, as a plugin author's mypy or pyright reads them (genbench ships
``py.typed``): every exported name resolves, the lazy ones are visible to a type checker, a typo is
not, and the base classes' signatures admit what docs/plugins.md tells a plugin to write. Checked
without a type checker; the mypy tests at the end run mypy (the dev extra installs it; skipped
without it), on a typed plugin, the public module, and the whole of genbench and baselines."""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import genbench
from genbench.data.base import Dataset
from genbench.features.base import FeatureExtractor, Features
from genbench.metrics.base import EvalContext, Metric

ROOT = Path(__file__).resolve().parents[1]
BASES = [Metric, EvalContext, FeatureExtractor, Features, Dataset]  # docs/plugins.md's


def _checking_names(module: Any) -> dict[str, Any]:
    """The names ``module`` imports under ``if TYPE_CHECKING:``, imported: what its string
    annotations name that the running module does not hold (pandas, a lazy class)."""
    names: dict[str, Any] = {}
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            exec(compile(ast.Module(body=node.body, type_ignores=[]), module.__name__, "exec"), names)
    return names


def _annotated(obj: Any) -> list[Any]:
    """``obj`` and, for a class, the functions and properties it defines (those a plugin overrides
    or calls, ``_extract_batch`` and ``_load`` included)."""
    if not inspect.isclass(obj):
        return [obj]
    found = [obj]
    for name, value in vars(obj).items():
        if name.startswith("__"):
            continue
        value = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if inspect.isfunction(value):
            found.append(value)
    return found


@pytest.mark.parametrize("name", [*genbench.__all__, *(b.__name__ for b in BASES)])
def test_every_public_name_has_type_hints_that_resolve(name):
    """A misspelt or unimported name in an annotation is Any to mypy (under a TYPE_CHECKING import
    it is not even flagged at runtime), so a plugin's checker passed what it should have refused."""
    obj = getattr(genbench, name, None) or next(b for b in BASES if b.__name__ == name)
    for target in _annotated(obj):
        module = sys.modules[target.__module__]
        localns = _checking_names(module)
        hints = typing.get_type_hints(target, localns=localns)
        if inspect.isfunction(target) and not target.__name__.startswith("_"):
            params = inspect.signature(target).parameters
            missing = [p for p in params if p not in hints and p not in ("self", "cls")]
            assert not missing, f"{target.__qualname__}: {missing} not annotated"
            assert "return" in hints or target.__name__ == "__init__", (
                f"{target.__qualname__}: no return type"
            )


@pytest.mark.parametrize("name", genbench.__all__)
def test_every_public_name_and_its_public_members_have_a_docstring(name):
    """``help(genbench.DataSpec)`` and an editor's hover showed ``channels``, ``resolution``,
    ``GenerativeModel.load_state_dict`` (which every plugin implements) and ``Result.path`` as a
    bare signature, and ``Result``, ``ModelOptions`` and the other dataclasses the API returns as
    the signature dataclass writes for a class without a docstring: what they are was not said."""
    members = [t for t in _annotated(getattr(genbench, name)) if not t.__name__.startswith("_")]
    undocumented = [
        t.__qualname__
        for t in members
        if not (doc := (inspect.getdoc(t) or "").strip()) or doc.startswith(f"{t.__name__}(")
    ]
    assert not undocumented


def test_the_lazy_names_are_visible_to_type_checkers_and_a_typo_is_not():
    """A module-level ``__getattr__`` returning Any makes mypy and pyright take any name from the
    module: ``from genbench import GenerativeModle`` type-checked. It is defined only where no type
    checker reads it, and each lazy name is imported for them under TYPE_CHECKING, from its module."""
    tree = ast.parse((ROOT / "genbench/__init__.py").read_text())
    top = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert "__getattr__" not in top, "a module __getattr__ that type checkers read"
    checked: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom):
                    checked.update({a.name: imp.module for a in imp.names})
    assert {n: checked.get(n) for n in genbench._LAZY} == genbench._LAZY
    for name in genbench._LAZY:  # and they import at runtime, on first use
        assert getattr(genbench, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'GenerativeModle'"):
        genbench.GenerativeModle  # noqa: B018


def test_the_base_signatures_admit_what_the_plugin_docs_write():
    """docs/plugins.md's plugins, annotated, were refused by mypy --strict and pyright: a conditional
    ``sample(self, n, *, generator, labels)`` overrode ``sample(self, n, *, generator)`` incompatibly,
    a ``fit`` returning None (as documented) returned no dict, and ``result.path(config.out)`` (docs/
    commands.md) passed RunConfig's ``Path | str`` where a Path was declared; ``include`` was a list
    of ``str | PathLike``, invariant, so a ``list[str]`` of files was refused."""
    from genbench.results import Result

    sample = inspect.signature(genbench.GenerativeModel.sample).parameters
    kinds = {p.kind: p.annotation for p in sample.values()}
    # *args: Any, **kwargs: Any is any arguments to a type checker, so both overrides are compatible
    assert kinds[inspect.Parameter.VAR_POSITIONAL] == kinds[inspect.Parameter.VAR_KEYWORD] == "Any"
    fit = typing.get_type_hints(genbench.GenerativeModel.fit)["return"]
    assert type(None) in typing.get_args(fit)
    assert str in typing.get_args(typing.get_type_hints(Result.path)["out"])
    include_hints = [typing.get_type_hints(genbench.RunConfig)["include"]]
    for name in genbench.__all__:
        obj = getattr(genbench, name)
        if inspect.isfunction(obj) and "include" in inspect.signature(obj).parameters:
            include_hints.append(typing.get_type_hints(obj, localns=_checking_names(genbench))["include"])
    assert len(include_hints) == 11  # RunConfig and the ten functions that take include=
    for hint in include_hints:
        if typing.get_origin(hint) is not Sequence:  # Sequence[...] | None
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        assert typing.get_origin(hint) is Sequence, hint


TYPED_PLUGIN = """
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

import genbench
from genbench import DataSpec, GenerativeModel, Result, RunConfig, TrainContext


@genbench.register_model("typed-cond")
class TypedCond(GenerativeModel):
    conditional = True

    @dataclass
    class Config:
        scale: float = 1.0

    config: Config

    def fit(self, train: torch.Tensor, ctx: TrainContext) -> dict[str, Any] | None:
        self.mean = train.mean(0) * self.config.scale
        return None

    def sample(self, n: int, *, generator: torch.Generator, labels: torch.Tensor) -> torch.Tensor:
        return self.mean.expand(n, *self.spec.shape).clone()

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = state["mean"]


def results(files: list[str]) -> list[str]:
    config = RunConfig(models=["typed-cond"], dataset="ring8", include=files)
    found: list[Result] = genbench.run(config)
    genbench.registered("models", include=files)
    spec: DataSpec = DataSpec("ring8", "points", (2,), None, 10)
    print(spec, genbench.model_options("ddpm").fields, genbench.metric_info("fid").values)
    return [str(r.path(config.out)) for r in found]


genbench.GenerativeModle  # type: ignore[attr-defined]
"""


def test_a_typed_plugin_passes_mypy_strict(tmp_path):
    """What the tests above check, as mypy --strict reads it (skipped without mypy, which only the
    dev extra installs): the typo's ``type: ignore`` is unused, an error under --strict, if
    genbench's names became Any again."""
    pytest.importorskip("mypy")
    (tmp_path / "typed_plugin.py").write_text(TYPED_PLUGIN)
    env = {**os.environ, "MYPYPATH": str(ROOT)}  # the working tree, installed editable or not
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental"]
        + ["--cache-dir", str(tmp_path / "cache"), str(tmp_path / "typed_plugin.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_public_api_module_passes_mypy(tmp_path):
    """genbench/__init__.py as mypy reads it (skipped without mypy): ``model_options`` handed its
    ``dataset``, a name or a path as its signature says, to a function declared to take a str."""
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--ignore-missing-imports"]
        + ["--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(ROOT / "genbench/__init__.py")],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        cwd=tmp_path,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_package_passes_mypy(tmp_path):
    """genbench and baselines as mypy reads them with pyproject.toml's ``[tool.mypy]`` settings
    (skipped without mypy). Unchecked, 150 errors had gathered, among them annotations that said
    less than the code does (a response's headers, a Message, typed a Mapping), a float total typed
    an int under a ``type: ignore``, and calls on an Optional that only their callers' guards kept
    from None. About 40 s on 2 cores (no cache)."""
    pytest.importorskip("mypy")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental"]
        + ["--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # every module of both packages was read: the settings' `files`, not a path or two
    modules = sum(len(list((ROOT / package).rglob("*.py"))) for package in ("genbench", "baselines"))
    assert f"no issues found in {modules} source files" in out.stdout, out.stdout
