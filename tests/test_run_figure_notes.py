"""The figures a run draws (its nearest neighbours, its 2D samples) say beneath them what their
numbers depend on, as the board's figures do: a PNG is pasted into a draft apart from its link."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from matplotlib.figure import Figure

from genbench.data.digits import Digits
from genbench.data.toy2d import Ring8
from genbench.features.base import Features
from genbench.figure_notes import with_protocol
from genbench.metrics.base import EvalContext


@pytest.fixture(scope="module")
def digits(cache_dir: Path) -> Digits:
    return Digits(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def ring8(cache_dir: Path) -> Ring8:
    return Ring8(cache_dir=cache_dir)


def words(fig: Figure) -> list[str]:
    return [t.get_text().replace("\n", " ") for t in fig.texts]


def context(dataset, samples: torch.Tensor, tmp_path: Path, model_name: str = "ddim", **kw) -> EvalContext:
    flat = samples.reshape(len(samples), -1).double().numpy()
    return EvalContext(
        dataset=dataset,
        samples=samples,
        sample_features=Features(flat),
        reference_features=Features(flat[:2]),
        extractor=None,
        seed=2,
        model_name=model_name,
        artifacts_dir=tmp_path,
        **kw,
    )


def test_the_nearest_neighbour_note_names_the_run_its_space_and_what_d1_d2_is():
    from genbench.metrics.nearest_figure import nearest_note

    said = nearest_note(
        "ddim[steps=10]",
        2,
        1437,
        shown=8,
        neighbours=3,
        space="pixel space",
        num_train=1437,
        distinct=1430,
        width=10_000,
    )
    assert said == (
        "ddim[steps=10], seed 2: N = 1437 samples; the 8 samples with the smallest d1/d2, each beside "
        "its 3 nearest training examples (train #i: the train split's i-th); d1, d2: Euclidean distances "
        "in pixel space to a sample's nearest and second-nearest of the train split's 1430 distinct "
        "examples (1437 with their repeats); d1/d2 < 1/3 counts as memorized"
    )
    scatter = nearest_note(
        "gan-ns",
        0,
        10000,
        shown=8,
        neighbours=3,
        space="raw feature space",
        num_train=10000,
        distinct=10000,
        drawn=(2000, 5000),
        width=10_000,
    )
    assert scatter == (
        "gan-ns, seed 0: N = 10000 samples; red: the 8 samples with the smallest d1/d2, each joined to "
        "its nearest training example; drawn: 2000 of the samples, 5000 of the training examples; "
        "d1, d2: Euclidean distances in raw feature space to a sample's nearest and second-nearest of "
        "the train split's 10000 distinct examples; d1/d2 < 1/3 counts as memorized"
    )


def test_the_nearest_neighbour_figure_names_its_run_seed_and_space(digits, ring8, tmp_path, drawn):
    """The grid of ``ddim[steps=10]`` was titled "ddim", and said neither its seed, nor pixels or
    features, nor against what its "d1/d2=0.55" was measured."""
    from genbench.metrics.memorization import Memorization
    from genbench.metrics.nearest_figure import nearest_note

    samples = digits.load("test")[0][:300]
    ctx = context(digits, samples, tmp_path / "digits", label="ddim[steps=10]")
    Memorization().compute(ctx)
    (fig,) = drawn
    num_train = len(digits.load("train")[0])
    # the suptitle is one of the figure's texts (Figure.get_suptitle is matplotlib 3.8+; the floor is 3.7)
    assert "ddim[steps=10]: most likely copies and their nearest training examples" in words(fig)
    note = nearest_note(
        "ddim[steps=10]",
        2,
        300,
        shown=8,
        neighbours=3,
        space="pixel space",
        num_train=num_train,
        distinct=num_train,
        width=10_000,
    )
    assert note.startswith("ddim[steps=10], seed 2: N = 300 samples;")
    assert " ".join(words(fig)[-1].split()) == note  # wrapped to the figure's width

    points = ring8.load("train")[0][:400] + 0.01
    Memorization().compute(context(ring8, points, tmp_path / "ring8", label="gan-ns"))
    said = " ".join(words(drawn[-1])[-1].split())
    assert said.startswith("gan-ns, seed 2: N = 400 samples; red: the 8 samples")
    assert "in the points' coordinates" in said and "drawn: 400 of the samples, 5000" in said


def test_the_nearest_neighbour_space_is_named_from_the_metric_option(digits, tmp_path):
    """Pixels or features: the same samples' d1/d2 differ in each, and the figure said neither."""
    from genbench.metrics.nearest_figure import space_name

    ctx = context(digits, torch.zeros(2, 1, 8, 8), tmp_path)
    assert space_name(ctx, "pixels") == "pixel space"
    assert space_name(ctx, "features") == "feature space"  # no extractor to name
    ctx.extractor = SimpleNamespace(name="classifier")
    assert space_name(ctx, "features") == "classifier feature space"
    ctx.dataset = SimpleNamespace(kind="points")
    assert space_name(ctx, "pixels") == "the points' coordinates"


def test_the_2d_samples_figure_names_its_run_and_what_it_draws(ring8, tmp_path, drawn):
    """The scatter of a run's 2D samples named neither the run nor its seed, nor that it drew the
    first 2000 of its samples over the whole train split."""
    from genbench.figures import samples_note, save_sample_grid

    assert samples_note("gan-ns", 1, 10000, 2000, 10000, width=10_000) == (
        "gan-ns, seed 1: N = 10000 samples; blue: the first 2000; grey: the train split's 10000 examples"
    )
    assert samples_note("vae", 0, 500, 500, 10000, width=10_000) == (
        "vae, seed 0: N = 500 samples; blue: all of them; grey: the train split's 10000 examples"
    )
    samples = torch.randn(2500, 2)
    save_sample_grid(samples, ring8, tmp_path / "samples.png", label="gan-ns", seed=1)
    num_train = len(ring8.load("train")[0])
    said = " ".join(words(drawn[-1])[-1].split())
    assert (
        said
        == f"gan-ns, seed 1: N = 2500 samples; blue: the first 2000; grey: the train split's {num_train} examples"
    )


def test_a_tall_figure_keeps_a_footer_band_of_its_lines_not_of_its_height():
    """The band beneath the axes was 3.5% of the figure's height a line: 1.6 inches of white beneath
    the 11-inch nearest-neighbour grid for a 4-line note."""
    fig = Figure(figsize=(5, 11))
    ax = fig.subplots()
    ax.set_axis_off()  # as the grid's panels: the band alone beneath them
    with_protocol(fig, "a\nb\nc\nd")
    assert ax.get_position().y0 * fig.get_figheight() < 1.0  # inches
    short = Figure(figsize=(6, 4))  # the step curve's: its band as before
    ax = short.subplots()
    with_protocol(short, "a\nb")
    assert ax.get_position().y0 > 0.07


def test_the_board_figures_name_the_machine_and_batch_their_samples_per_s_share():
    """FID against samples/s and the step curve named a point's machine and batch only where the
    rows differ in them: rows all timed alike said nowhere on the PNG what their samples/s ran on."""
    import pandas as pd

    from genbench.figure_notes import figure_protocol

    def rows(machines: list[str], batches: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "num_samples": 200,
                "reference_split": "train",
                "features": "classifier",
                "seeds": "0",
                "n_ok": 1,
                "sampled_on": machines,
                "batch_size": batches,
            }
        )

    head = "N = 200 samples per model and seed vs the train split; classifier features; seed 0; one seed, so no error bars"
    alike = rows(["CPU: A", "CPU: A"], ["500", "500"])
    assert figure_protocol(alike, timed=alike).replace("\n", " ") == (
        f"{head}; samples/s timed on CPU: A, in batches of 500"
    )
    apart = rows(["CPU: A", "GPU: B"], ["500", "500"])  # each point names its machine
    assert figure_protocol(apart, timed=apart).replace("\n", " ") == (
        f"{head}; samples/s timed in batches of 500"
    )
    unrecorded = rows(["", ""], ["", ""])
    assert figure_protocol(unrecorded, timed=unrecorded).replace("\n", " ") == head
    assert figure_protocol(alike).replace("\n", " ") == head  # a figure without samples/s
