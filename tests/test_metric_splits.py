"""A metric declares which split it compares the samples with (``compares_with``, ``compares_also``),
and the run's protocol line and `genbench list metrics NAME` say what it declares: both named
memorization alone, so a plugin's copy detector against the train split was said to be against
the reference split (the test split under ``--reference-split test``)."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import eval_args  # tests/ is on the path: pytest puts it there
from test_list_reads_features import listed, rows

import genbench
from genbench import registry
from genbench.errors import RegistrationError
from genbench.metrics.base import Metric

pytestmark = pytest.mark.usefixtures("fresh_registries")  # tests/conftest.py

PLUGIN = '''
import genbench
from genbench.metrics.base import Metric


@genbench.register_metric("copy-pixels")
class CopyPixels(Metric):
    """Nearest training example of each sample, in the data itself."""

    higher_is_better = {"copy_pixels": False, "copy_pixels_heldout": False}
    compares_with = "train"
    compares_also = {"test": ("copy_pixels_heldout",)}

    def reads_features(self, options):
        return False

    def compute(self, ctx):
        return {"copy_pixels": 0.0, "copy_pixels_heldout": 0.0}


@genbench.register_metric("copy-features")
class CopyFeatures(Metric):
    """Nearest training example of each sample, in the run's features."""

    higher_is_better = {"copy_features": False}
    compares_with = "train"

    def compute(self, ctx):
        return {"copy_features": 0.0}
'''


@pytest.fixture
def plugin(tmp_path):
    path = tmp_path / "copy_plugin.py"
    path.write_text(PLUGIN)
    return path


def test_the_protocol_line_says_a_plugin_metric_compares_with_the_train_split(
    cli, tmp_path, cache_dir, plugin
):
    """Under ``--reference-split test`` the line said "against the test split" and nothing more for
    a plugin metric that compares with the train split: only memorization's was said."""
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    metrics = ["--metrics", "copy-pixels,copy-features,kid", "--reference-split", "test"]
    args = eval_args(tmp_path / "s.npz", tmp_path / "e", cache_dir, "--dataset", "ring8", *metrics)
    r = cli(*args, "--include", plugin)
    assert r.exit_code == 0, r.output
    said = " ".join(r.stderr.split())
    assert "against the test split (" in said, said  # kid's, the reference split
    ends = "; copy-pixels against the train split, in the points' coordinates; copy-features against the train split, in these features"
    assert ends in said, said
    assert "kid against" not in said, said  # a metric of the reference split is said by the line itself


def test_list_metrics_name_says_the_split_a_plugin_declares(plugin):
    said = {
        name: rows(listed("metrics", name, "--include", plugin).stdout)["compares with"][1]
        for name in ("copy-pixels", "copy-features")
    }
    assert said["copy-pixels"] == (
        "the train split's examples themselves whatever --reference-split is, and the test split's for "
        "copy_pixels_heldout (the dataset is read)"
    ), said
    assert (
        said["copy-features"]
        == "the train split's features whatever --reference-split is (the dataset is read)"
    )
    info = genbench.metric_info("copy-pixels")
    assert (info.compares_with, info.compares_also) == ("train", (("test", ("copy_pixels_heldout",)),))
    assert (genbench.metric_info("kid").compares_with, genbench.metric_info("kid").compares_also) == (
        "reference",
        (),
    )


@pytest.mark.parametrize(
    ("declared", "said"),
    [
        (
            {"compares_with": "trian"},
            "declares compares_with = 'trian'; use 'reference' (the run's --reference-split, the default), "
            "'train' or 'test'; did you mean 'train'?",
        ),
        ({"compares_with": ("train",)}, "declares compares_with = ('train',); use 'reference'"),
        (
            {"compares_also": {"tset": ("mine",)}},
            "declares compares_also = {'tset': ('mine',)}; 'tset' is no split: use 'reference' (the run's "
            "--reference-split, the default), 'train' or 'test'; did you mean 'test'?",
        ),
        (
            {"compares_also": {"test": ("mien",)}},
            "declares compares_also = {'test': ('mien',)}; 'mien' is none of its values (its "
            "higher_is_better's names); did you mean 'mine'?",
        ),
        (
            {"compares_also": {"test": "mine"}},
            "declares compares_also = {'test': 'mine'}, 'test' mapped to a string; use a tuple of value "
            "names: {'test': ('mine',)}",
        ),
        ({"compares_also": {"test": ()}}, "declares compares_also = {'test': ()}; map a split"),
        ({"compares_also": {"test": (1,)}}, "declares compares_also = {'test': (1,)}; map a split"),
        ({"compares_also": ("test",)}, "declares compares_also = ('test',); map a split"),
        (
            {"compares_with": "train", "compares_also": {"train": ("mine",)}},
            "declares compares_also = {'train': ('mine',)} with compares_with = 'train', which every value "
            "compares with already; drop 'train' from compares_also",
        ),
        (
            {"compares_with": "train", "reference": "none"},
            "declares compares_with = 'train' with reference = 'none', which compares with no split's "
            "examples; set reference = 'features' (the dataset is read), or leave compares_with out",
        ),
        (
            {"compares_also": {"train": ("mine",)}, "reference": "none"},
            "declares compares_also = {'train': ('mine',)} with reference = 'none', which compares with no "
            "split's examples; set reference = 'features' (the dataset is read), or leave compares_also out",
        ),
        (
            {"compares_with": "train", "reference": "stats"},
            "declares compares_with = 'train' with reference = 'stats', which compares with no split's "
            "examples; set reference = 'features' (the dataset is read), or leave compares_with out",
        ),
    ],
)
def test_a_bad_split_declaration_is_refused_at_registration(declared, said):
    Declared = type(
        "Declared", (Metric,), {"higher_is_better": {"mine": False}, "compute": lambda self, ctx: {}}
    )
    for k, v in declared.items():
        setattr(Declared, k, v)
    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    with pytest.raises(RegistrationError) as e:
        fresh.add("test-declared", Declared)
    assert str(e.value).startswith(f"metric 'test-declared' {said}"), str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "declared",
    [
        {"compares_with": "test", "compares_also": {"reference": ("mine_heldout",)}},
        # a "stats" metric's other split: mifid's distance d against the train split's features
        {"reference": "stats", "compares_also": {"train": ("mine_heldout",)}},
    ],
)
def test_a_good_split_declaration_is_registered(declared):
    Declared = type(
        "Declared",
        (Metric,),
        {
            "higher_is_better": {"mine": False, "mine_heldout": False},
            "compute": lambda self, ctx: {"mine": 0.0, "mine_heldout": 0.0},
            **declared,
        },
    )
    fresh = registry.Registry("metric", "genbench.test-none", registry._metric_base, "metrics")
    fresh.add("test-declared", Declared)
    assert fresh.get("test-declared") is Declared


def test_list_metrics_mifid_says_its_distance_compares_with_the_train_split():
    """mifid's FID compares with the reference split's mean and covariance (or --reference-stats), its
    distance d with the train split's features whatever --reference-split is: its row said the
    former alone."""
    assert rows(listed("metrics", "mifid").stdout)["compares with"][1] == (
        "the reference split's feature mean and covariance, or --reference-stats, and the train "
        "split's features for mifid and mifid_d whatever --reference-split is (the dataset is read)"
    )


RAISING = '''
import genbench
from genbench.metrics.base import Metric


@genbench.register_metric("copy-raising")
class CopyRaising(Metric):
    """Nearest training example of each sample; its reads_features raises (a plugin's bug)."""

    higher_is_better = {"copy_raising": False}
    compares_with = "train"

    def reads_features(self, options):
        raise ValueError("a plugin's bug")

    def compute(self, ctx):
        return {"copy_raising": 0.0}
'''


def test_a_metric_after_one_that_reads_features_is_asked_whether_it_does_before_any_work(
    cli, tmp_path, cache_dir
):
    """The protocol line asks a metric that declares another split whether it reads features (in
    what it compares): one whose answer raises was named when asked first, and a traceback after the
    reference features when kid, which reads them, came before it in --metrics (its answer was not
    needed then)."""
    plugin = tmp_path / "raising_plugin.py"
    plugin.write_text(RAISING)
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    for metrics in ("copy-raising,kid", "kid,copy-raising"):
        args = eval_args(
            tmp_path / "s.npz", tmp_path / "e", cache_dir, "--dataset", "ring8", "--metrics", metrics
        )
        r = cli(*args, "--include", plugin)
        assert isinstance(r.exception, SystemExit), (metrics, r.exception)  # no traceback
        said = " ".join(r.stderr.split())
        assert "metric plugin 'copy-raising'" in said and "saying whether it reads features" in said, said
        assert "protocol:" not in said, said  # before the reference features and the line


def test_the_board_caption_says_a_plugin_metric_compares_with_the_train_split(
    cli, tmp_path, cache_dir, plugin
):
    """The caption under a board's table said which split memorization's columns compare with, chosen
    by their names: a plugin copy detector's columns, declared against the train split, had none,
    and read as against the reference split the caption above names (the test split here)."""
    np.savez(tmp_path / "s.npz", samples=np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    metrics = ["--metrics", "copy-pixels,copy-features,kid", "--reference-split", "test"]
    args = eval_args(tmp_path / "s.npz", tmp_path / "e", cache_dir, "--dataset", "ring8", *metrics)
    assert (r := cli(*args, "--include", plugin)).exit_code == 0, r.output
    boards = tmp_path / "boards"
    r = cli("report", "--out", tmp_path / "e", "--leaderboards", boards, "--include", plugin)
    assert r.exit_code == 0, r.output
    (board,) = boards.glob("*.md")
    said = " ".join(board.read_text().split())
    assert (
        "## Other metrics `copy_features` and `copy_pixels` compare the samples with the **train** split "
        "whatever the reference split, `copy_pixels_heldout` with the **test** split."
    ) in said, said


def test_only_the_values_compared_with_another_split_than_the_reference_are_said():
    """:func:`genbench.metric_splits.other_splits`, which the board's caption reads: a value compared
    with the run's reference split is no other split's, and is left out."""
    from genbench.metric_splits import other_splits

    Declared = type(
        "Declared",
        (Metric,),
        {
            "higher_is_better": {"mine": False, "mine_heldout": False},
            "compute": lambda self, ctx: {},
            "reference": "features",
            "compares_also": {"test": ("mine_heldout",)},
        },
    )
    assert other_splits(Declared) == {"mine_heldout": "test"}
    Declared.compares_with = "train"
    assert other_splits(Declared) == {"mine": "train", "mine_heldout": "test"}


def _declaring(compares_with: str, *own: str) -> type[Metric]:
    return type(
        "Declaring",
        (Metric,),
        {
            "higher_is_better": dict.fromkeys(("shared_rate", *own), False),
            "compute": lambda self, ctx: {},
            "reference": "features",
            "compares_with": compares_with,
        },
    )


def test_a_column_two_plugins_declare_takes_the_split_of_the_first_that_fills_it(register):
    """Two plugin metrics declaring one value name against different splits: the board reads the
    column as the first one's, in name order (:func:`genbench.metric_columns.column_directions`), its
    caption the split that one declares, not the other's."""
    import json

    import pandas as pd

    from genbench.metric_columns import column_splits, forget_declared

    register(registry.metrics, "test-a-train", _declaring("train"))
    register(registry.metrics, "test-b-test", _declaring("test", "b_own"))
    forget_declared()
    try:
        named = json.dumps({"test-b-test": "1", "test-a-train": "1"})
        splits = column_splits(pd.DataFrame({"metric_versions": [named]}))
    finally:
        forget_declared()  # the test's metrics, gone with their registration
    assert (splits["shared_rate"], splits["b_own"]) == ("train", "test")
