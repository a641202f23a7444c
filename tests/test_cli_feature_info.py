"""`genbench list features NAME` (``genbench.feature_info``): what a feature extractor declares, read
from its class (and, for genbench's own, its widths from the extractor built for a dataset), with
no weights loaded, looked for or downloaded and nothing trained. Before, the name was refused
("genbench list features takes no name"), which every CLI test here meets on the code before; the
Python tests meet "module 'genbench' has no attribute 'feature_info'"."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cli_helpers import single_line_error  # tests/ is on the path: pytest puts it there
from test_cli_metric_dataset_info import listed, tables

import genbench

PLUGIN = '''
import genbench
from genbench.features.base import FeatureExtractor


@genbench.register_features("info-bare")
class Bare(FeatureExtractor):
    """A plugin's extractor that declares nothing beyond the required."""

    def __init__(self, *args, **kwargs):
        raise AssertionError("built to answer genbench list features NAME")

    def fingerprint(self):
        return "bare-v1"

    def _extract_batch(self, x):
        return x.reshape(len(x), -1), None


class Raising(type(FeatureExtractor)):
    @property
    def weights_url(cls):
        raise RuntimeError("no url")


@genbench.register_features("info-raising")
class Broken(Bare, metaclass=Raising):
    """A plugin whose class property raises."""

    @classmethod
    def weights_folders(cls, cache_dir):
        return (cache_dir / "mine",)
'''


pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py


@pytest.fixture
def plugin(tmp_path) -> Path:
    path = tmp_path / "feature_plugin.py"
    path.write_text(PLUGIN)
    return path


def test_inception_lists_its_widths_weights_and_metrics():
    """inception.py's POOL3_DIM and LOGITS_DIM, its URL's sha256 prefix and its flag and variable."""
    rows = tables(listed("features", "inception"))
    assert (rows["feature width on digits"][1], rows["logits width on digits"][1]) == ("2048", "1008")
    assert rows["logits"][1] == "yes: is and is_inf (the metrics of logits) run under it"
    assert rows["weights given by"][1] == "--inception-weights PATH or $GENBENCH_INCEPTION_WEIGHTS"
    assert "(checked against sha256:6726825d)" in rows["weights file"][1]
    assert rows["fingerprint"][1].startswith("names its weights file by content")
    default = rows["metrics by default"][1]
    assert "fid" in default.split(", ") and "is" in default.split(", ") and "cmmd" not in default


def test_dinov2_and_clip_give_no_logits_and_read_their_own_flags():
    dinov2 = tables(listed("features", "dinov2"))
    assert dinov2["feature width on digits"][1] == "1024" and dinov2["logits width on digits"][1] == "none"
    assert dinov2["weights given by"][1] == "--dinov2-weights PATH or $GENBENCH_DINOV2_WEIGHTS"
    assert "no digest published" in dinov2["weights file"][1]
    assert ", is," not in dinov2["metrics by default"][1]  # needs_logits, left out under it
    clip = tables(listed("features", "clip"))
    assert clip["feature width on digits"][1] == "768"
    assert "cmmd" in clip["metrics by default"][1]  # cmmd's runs_by_default_under


def test_classifier_and_raw_widths_are_the_datasets():
    """classifier: ClassifierConfig.feature_dim per channel, logits from the labels (10 digits, 10 ** 3
    for stacked-digits); raw: the example flattened (8 x 8, and a ring's 2 coordinates)."""
    rows = tables(listed("features", "classifier"))
    assert (rows["feature width on digits"][1], rows["logits width on digits"][1]) == ("128", "10")
    assert rows["weights given by"][1].startswith("none given: it takes no weights file")
    stacked = genbench.feature_info("classifier", "stacked-digits")
    assert (stacked.feature_dim, stacked.logits_dim) == (3 * 128, 1000)
    assert genbench.feature_info("raw").feature_dim == 64
    ring = tables(listed("features", "raw", "--dataset", "ring8"))
    assert (ring["feature width on ring8"][1], ring["takes"][1]) == ("2", "points, image data")
    assert ring["weights file"][1] == "none: no network weights"
    off = tables(listed("features", "inception", "--dataset", "ring8"))
    assert off["feature width on ring8"][1] == "not known: it does not take ring8's data"


def test_listing_downloads_reads_and_trains_nothing(monkeypatch, tmp_path):
    """The classifier on digits with an empty cache leaves it empty (no training, nothing written); on
    mnist, whose files are not there, its logits width is not known rather than downloaded; no socket
    is opened."""
    from genbench.features import classifier

    reached: list[str] = []

    def refuse(what):
        def call(*args, **kwargs):
            reached.append(what)
            raise AssertionError(f"{what} reached by genbench list features")

        return call

    monkeypatch.setattr(socket.socket, "connect", refuse("socket"))
    monkeypatch.setattr(classifier, "train_classifier", refuse("training"))
    monkeypatch.setattr(classifier.Classifier, "_trained", refuse("_trained"))
    cache, data = tmp_path / "cache", tmp_path / "data"
    cache.mkdir()
    env = {"GENBENCH_CACHE": str(cache), "GENBENCH_DATA": str(data)}
    monkeypatch.setenv("GENBENCH_CACHE", str(cache))
    monkeypatch.setenv("GENBENCH_DATA", str(data))
    rows = tables(listed("features", "classifier", env=env))
    assert rows["weights file"][1].endswith(f"then {cache / 'classifiers'}")
    mnist = tables(listed("features", "classifier", "--dataset", "mnist", env=env))
    assert mnist["logits width on mnist"][1] == "not known until mnist is loaded"
    assert mnist["feature width on mnist"][1] == "128"
    for name in ("inception", "dinov2", "clip", "clean-inception"):
        tables(listed("features", name, env=env))
    assert reached == [] and list(cache.iterdir()) == [] and not data.exists()


def test_a_plugin_extractor_that_declares_nothing_says_so_unbuilt(plugin):
    rows = tables(listed("features", "info-bare", "--include", plugin))  # its __init__ raises
    assert (
        rows["feature width on digits"][1]
        == rows["logits width on digits"][1]
        == ("not declared: known once it extracts")
    )
    assert rows["logits"][1].startswith("not declared: known once it extracts")
    assert rows["weights given by"][1] == "--inception-weights PATH"  # takes_weights' default
    assert rows["weights file"][1] == "folders not declared; download not declared"
    assert rows["fingerprint"][1] == "its fingerprint(), with the sha256 of the weights file given appended"
    assert rows["source"][1] == str(plugin)
    info = genbench.feature_info("info-bare", include=[plugin])
    assert (info.gives_logits, info.weights_folders, info.built) == (None, None, False)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["features", "incepton"], "unknown feature extractor 'incepton'; did you mean 'inception'"),
        (["features", "raw", "--dataset", "digts"], "unknown dataset 'digts'; did you mean 'digits'"),
        (["metrics", "kid", "--dataset", "digits"], "--dataset goes with a model's or a feature extractor's"),
    ],
)
def test_a_wrong_name_is_one_line_exit_2(args, expected):
    assert expected in single_line_error(listed(*args))


def test_a_plugin_whose_declaration_raises_is_one_line_naming_it(plugin):
    line = single_line_error(listed("features", "info-raising", "--include", plugin))
    assert "feature extractor plugin 'info-raising'" in line and "RuntimeError" in line and "no url" in line


def test_the_metrics_listed_by_default_are_those_a_run_builds():
    """`genbench list features NAME`'s "metrics by default" restated build_metrics' rule in a copy of
    its own; both read :func:`genbench.resolve.default_metrics` now. For every built-in extractor and
    kind of data it takes: what a run without --metrics builds (those of logits left out where the
    extractor gives none, as the run leaves them out) is what the listing names for that kind."""
    from genbench import registry
    from genbench.progress import Progress
    from genbench.resolve import build_metrics

    checked = 0
    for name in registry.features.names(include_aliases=False):
        if not registry.is_genbench(registry.features.source(name)):
            continue
        info = genbench.feature_info(name)
        for kind in info.supported_kinds:
            built = [m.name for m in build_metrics(None, kind, Progress(enabled=False), features=name)]
            built = [
                m for m in built if not (info.gives_logits is False and registry.metrics.get(m).needs_logits)
            ]
            listed_here = [m for m in info.default_metrics if kind in registry.metrics.get(m).supported_kinds]
            assert built == listed_here, (name, kind)
            checked += 1
    assert checked >= 8  # the seven built-in extractors, raw on points and on images
