"""Shared fixtures: one cache directory per test session (the digits classifier trains once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from genbench.cli.main import app


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("genbench-cache")


@pytest.fixture
def cli():
    """Invoke the CLI in-process: cli("run", "--models", "copy") -> click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke
