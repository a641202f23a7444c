"""A feature extractor defined in the script that calls ``genbench.run``, or in a notebook cell, is
fingerprinted with its code (:func:`genbench.script_code.edited_code`), as an ``--include`` file's
is: the reference features are cached by the fingerprint, which an edit to ``_extract_batch`` left
as it was, so the edited extractor's samples were compared with the old extractor's cached
reference statistics (a ring8 FID of 2.98 where the edited code's own reference gives 0.17),
silently. Every other extractor's fingerprint, which keys published results' caches, is what it was.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genbench import includes, registry
from genbench.features.base import FeatureExtractor
from genbench.registry import datasets
from genbench.script_code import edited_code

SCRIPT = """
import json, sys

import genbench
from genbench.features.base import FeatureExtractor


@genbench.register_features("nbf")
class Scaled(FeatureExtractor):
    supported_kinds = ("points",)
    takes_weights = False

    def fingerprint(self):
        return "nbf-v1"  # left as it is when the script is edited, as a researcher does

    def _extract_batch(self, x):
        return x.reshape(len(x), -1) * 1.0, None


config = genbench.RunConfig(
    models=["gaussian"], dataset="ring8", samples=100, metrics=["fid"], features="nbf", out=sys.argv[1],
    cache_dir=sys.argv[2], device="cpu", figures=False, progress=False,
)
r = genbench.run(config)[0]
print(json.dumps({"status": r.status, "fid": r.metrics["fid"], "fingerprint": r.protocol["features"]["fingerprint"]}))
"""
EDITED = SCRIPT.replace("* 1.0, None", "* 3.0, None")


def _run_script(path: Path, tmp_path: Path, out: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(path), str(tmp_path / out), str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_scripts_features_are_not_read_from_the_cache_of_the_code_before(tmp_path):
    """``python nb.py``, its extractor's features then scaled by 3 and run again: the FID of the
    edited run was that of the scaled samples against the first run's cached reference (2.98 for
    0.019); scaled alike, the FID is 9 times the first (each term of FID is quadratic in the
    features). Undone, the first fingerprint, cache entry and FID come back."""
    path = tmp_path / "nb.py"
    path.write_text(SCRIPT)
    first = _run_script(path, tmp_path, "runs")
    assert first["status"] == "ok"
    assert first["fingerprint"] == f"nbf-v1;file-sha256={hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    cached = set((tmp_path / "cache" / "features").glob("*.npz"))

    path.write_text(EDITED)
    edited = _run_script(path, tmp_path, "edited")  # another --out: the edit is another protocol
    assert edited["fingerprint"] != first["fingerprint"]  # was nbf-v1 for both
    assert edited["fid"] == pytest.approx(9 * first["fid"], rel=1e-4)  # was 155 times the first
    assert len(set((tmp_path / "cache" / "features").glob("*.npz")) - cached) == 1  # computed anew

    path.write_text(SCRIPT)
    undone = _run_script(path, tmp_path, "runs")
    assert undone["fingerprint"] == first["fingerprint"]
    assert undone["fid"] == first["fid"]
    assert len(list((tmp_path / "cache" / "features").glob("*.npz"))) == 2  # the first entry, read again


CELL = """
import genbench
from genbench.features.base import FeatureExtractor


class Cell(FeatureExtractor):
    supported_kinds = ("points",)
    takes_weights = False

    def fingerprint(self):
        return "cell-v1"

    def _extract_batch(self, x):
        return x.reshape(len(x), -1) * 1.0, None
"""


def _cell(source: str, number: int, name: str = "Cell") -> type:
    """``source`` run as IPython runs a cell (as ``tests/test_script_code.py``'s ``_cell``): compiled
    under a name of its own, its lines in :mod:`linecache` under that name, in ``__main__``."""
    filename = f"<ipython-input-{number}-{number:012x}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]


@pytest.fixture(scope="module")
def ring8(tmp_path_factory):
    return datasets.get("ring8")(cache_dir=tmp_path_factory.mktemp("cache"))


def test_a_notebook_cells_features_are_fingerprinted_with_its_source(ring8, tmp_path):
    """A cell run again (another cell name, the same text) keeps its fingerprint, and so its cached
    reference features; an edit to ``_extract_batch`` is another fingerprint (it was ``cell-v1``
    for both)."""
    first, again = _cell(CELL, 101), _cell(CELL, 102)
    edited = _cell(CELL.replace("* 1.0", "* 3.0"), 103)

    def fingerprint(cls: type) -> str:
        return cls(ring8, cache_dir=tmp_path).checked_fingerprint()

    digest = edited_code(first)
    assert digest is not None and digest.file is None  # the cell's source, through the one rule
    assert fingerprint(first) == f"cell-v1;class-sha256={digest.sha256[:16]}"
    assert fingerprint(again) == fingerprint(first)
    assert fingerprint(edited) != fingerprint(first)
    assert first(ring8, cache_dir=tmp_path).info()["fingerprint"] == fingerprint(first)


def test_a_cells_subclass_of_a_builtin_extractor_records_the_fingerprint_it_is_cached_by(
    ring8, tmp_path, monkeypatch
):
    """The built-ins that write their own ``info()`` recorded ``fingerprint()``, not the fingerprint
    that keys the cache and that a rerun's result is compared by: a cell's subclass of Inception
    would record no digest of its code, and its rerun be refused as another extractor's."""
    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    sub = "from genbench.features.inception import Inception\n\n\nclass Tuned(Inception):\n"
    sub += "    def _extract_batch(self, x):\n        return super()._extract_batch(x * 0.5)\n"
    extractor = _cell(sub, 104, name="Tuned")(ring8, cache_dir=tmp_path)
    assert ";class-sha256=" in extractor.checked_fingerprint()
    assert extractor.info()["fingerprint"] == extractor.checked_fingerprint()


class Here(FeatureExtractor):
    """An extractor of a module with a file on disk (this test file): keeps its fingerprint."""

    supported_kinds = ("points",)
    takes_weights = False

    def fingerprint(self) -> str:
        return "here-v1"

    def _extract_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return x.reshape(len(x), -1), None


def test_every_other_extractors_fingerprint_is_as_it_was(ring8, tmp_path, monkeypatch):
    """The fingerprints that key the reference caches of published results, literally: a guard that
    holds on the code before too (a digest folded into every extractor's would move them all)."""
    from genbench.data.digits import Digits
    from genbench.features.classifier import Classifier
    from genbench.features.inception import Inception
    from genbench.features.raw import Raw

    monkeypatch.delenv("GENBENCH_INCEPTION_WEIGHTS", raising=False)
    assert Raw(ring8, cache_dir=tmp_path).checked_fingerprint() == "raw-v1"
    inception = Inception(ring8, cache_dir=tmp_path)
    expected = (
        "torch-fidelity-inception-v3-compat-6726825d:uint8-png-rounding;grey-to-rgb;torch-fidelity-resize-299"
    )
    assert inception.checked_fingerprint() == inception.info()["fingerprint"] == expected
    digits = Classifier(Digits(cache_dir=tmp_path), cache_dir=tmp_path)  # the weights that ship
    assert (
        digits.checked_fingerprint() == digits.info()["fingerprint"] == "classifier-31c2bde07182bb0e-4f02d190"
    )
    assert Here(ring8, cache_dir=tmp_path).checked_fingerprint() == "here-v1"

    # an --include file's, as it was keyed before edited_code gave the rule: its content's digest
    registry.features.discover()  # what the file registers, and the record of it, undone afterwards
    monkeypatch.setattr(registry.features, "_entries", dict(registry.features._entries))
    monkeypatch.setattr(includes, "_imported", {})
    monkeypatch.setattr(includes, "_by_module", {})
    monkeypatch.setattr(sys, "path", list(sys.path))
    path = tmp_path / "features.py"
    path.write_text(SCRIPT.split("\n\nconfig = ")[0].replace('"nbf"', '"test-script-features-inc"'))
    (included,) = includes.include([path])
    monkeypatch.delitem(sys.modules, included.module)
    cls = registry.features.get("test-script-features-inc")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert cls(ring8, cache_dir=tmp_path).checked_fingerprint() == f"nbf-v1;file-sha256={sha}"


METRIC = """
import genbench
from genbench.metrics.base import Metric


@genbench.register_metric("test-script-cellm")
class CellMetric(Metric):
    higher_is_better = {"test-script-cellm": True}

    def compute(self, ctx):
        return {"test-script-cellm": 1.0}
"""


def test_a_notebook_cells_metric_run_again_is_read_anew_by_the_next_report(tmp_path, monkeypatch):
    """No value of a metric is cached (each run computes them, and a result records the metric's
    code), but its declared directions were, by name, for the process: a cell's metric run again as
    lower-is-better kept the board's arrow and ranking of the first cell. Each ``genbench.report``
    reads them anew (it did only when ``include`` named a file)."""
    import genbench
    from genbench.errors import GenbenchError
    from genbench.metric_columns import _declared, forget_declared

    registry.metrics.discover()
    monkeypatch.setattr(registry.metrics, "_entries", dict(registry.metrics._entries))
    _cell(METRIC, 105, name="CellMetric")
    assert _declared("test-script-cellm") == (("test-script-cellm", True),)
    _cell(METRIC.replace(": True}", ": False}"), 106, name="CellMetric")  # replaces the first
    with pytest.raises(GenbenchError, match="no results under"):  # an empty --out: declarations read first
        genbench.report(tmp_path, tmp_path / "boards")
    try:
        assert _declared("test-script-cellm") == (("test-script-cellm", False),)
    finally:
        forget_declared()  # the test's metric, gone with its registration
