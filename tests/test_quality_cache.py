"""``make test-slow`` trains into a cache of its own (tests/test_quality.py's :func:`quality_cache`).

Its checkpoints of the digits baselines share their keys with the shipped ones, and a cache's
checkpoint of a key is loaded before the shipped one: in the runs' cache they were what a later
``make leaderboards`` scored. These checks are fast and run in ``make test``.
"""

from __future__ import annotations

from test_quality import quality_cache  # tests/ is on the path

from genbench.data.base import default_cache_dir


def test_the_slow_checks_train_outside_the_runs_checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path))
    runs = default_cache_dir() / "checkpoints"  # where genbench.training looks for a key
    assert quality_cache() != default_cache_dir()
    assert runs not in (quality_cache(), *quality_cache().parents)
    assert not quality_cache().is_relative_to(runs)


def test_a_fresh_genbench_cache_retrains_the_slow_checks_too(monkeypatch, tmp_path):
    monkeypatch.setenv("GENBENCH_CACHE", str(tmp_path / "fresh"))
    assert quality_cache().is_relative_to(tmp_path / "fresh")
