"""The board's figures as a paper prints them: axes labelled where the points are, names and titles
inside the figure, every row of the board drawn or named as left out, curves told apart without
colour."""

from __future__ import annotations

import pytest
from test_leaderboard import result

from genbench import board_figures
from genbench.leaderboard import aggregate, results_frame


@pytest.fixture
def made(monkeypatch):
    """The figures the report draws, to read their axes and texts."""
    figures = []
    figure = board_figures._figure
    monkeypatch.setattr(
        board_figures, "_figure", lambda *a, **k: figures.append(figure(*a, **k)) or figures[-1]
    )
    return figures


def labelled(axis) -> list[tuple[float, str]]:
    """The tick labels ``axis`` shows within its span, with where they are (after a draw)."""
    low, high = sorted(axis.get_view_interval())
    shown = []
    for t in axis.get_ticklabels(which="both"):
        where = t.get_position()[axis.axis_name == "y"]
        if t.get_text() and t.get_visible() and low <= where <= high:
            shown.append((where, t.get_text()))
    return shown


def test_fid_against_speed_of_one_row_labels_its_speed_axis_about_the_point(tmp_path, made):
    """One row (or rows of one speed): matplotlib spans a decade each side of the point, and the
    within-a-decade ticks, decided on the values alone, labelled 40, 80 and 120 at the right end of
    the axis, none near the point at 10 samples/s."""
    agg = aggregate(results_frame([result("ddpm", 0, 5.0, samples_per_s=10.0)]))
    assert board_figures.fid_vs_throughput(agg, tmp_path / "fid.png").is_file()
    made[-1].canvas.draw()
    where = [x for x, _ in labelled(made[-1].axes[0].xaxis)]
    assert min(where) <= 10.0 <= max(where), where


def test_fid_against_speed_labels_fids_within_a_decade_as_plain_numbers(tmp_path, made):
    """FIDs of 5 to 7 on a log axis with no decade inside were labelled "5x10^0", "6x10^0", "7x10^0"."""
    rs = [result(m, 0, f, samples_per_s=v) for m, f, v in (("a", 5.0, 10.0), ("b", 7.0, 1000.0))]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    made[-1].canvas.draw()
    texts = [t for _, t in labelled(made[-1].axes[0].yaxis)]
    assert texts and not any("10^" in t for t in texts), texts


def test_fid_against_speed_names_the_fastest_row_inside_the_figure(tmp_path, made):
    """The fastest row's name was written to the right of its point: a long one (a --set variant)
    ran past the axes, and tight_layout shrank them to about half the figure to make room."""
    rs = [
        result("ddpm", 0, 5.0, samples_per_s=10.0),
        result("ddim", 0, 7.0, variant="steps=10,eta=1,ddpm.train_steps=500", samples_per_s=1000.0),
    ]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = made[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    assert ax.get_position().width > 0.75
    axes_box = ax.get_window_extent(renderer)
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1, text.get_text()


def test_fid_against_speed_names_the_worst_row_beneath_the_frame(tmp_path, made):
    """The worst row's point sat on the axes' top edge and its name above the frame, on the title's
    line: ring8's gaussian at FID 1.9e-4 beside copy at 0, on the symmetric log axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rs = [
        result(m, 0, f, samples_per_s=v)
        for m, f, v in zip(("copy", "gaussian"), (0.0, 1.9e-4), (6.9e6, 8.8e5), strict=True)
    ]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    fig = made[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    top = ax.get_window_extent(renderer).y1
    for text in ax.texts:
        assert text.get_window_extent(renderer).y1 <= top, text.get_text()


def test_fid_against_speed_names_the_rows_it_leaves_out(tmp_path, made):
    """A row without samples/s (run without the throughput metric) and one whose seeds all failed
    (no FID) were left off the figure without a word: it read as the whole board."""
    rs = [result("ddpm", s, 5.0 + s, samples_per_s=10.0) for s in (0, 1)]
    rs += [result("vae", 0, 9.0), result("gan", 0, None, status="failed", flags=["failed"])]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    said = " ".join(t.get_text() for t in made[-1].texts).replace("\n", " ")
    assert "not drawn: " in said
    assert "vae (no samples/s)" in said
    assert "gan (no FID, no samples/s; failed" in said
    # a board whose rows are all drawn says nothing of it
    rs = [result("ddpm", s, 5.0 + s, samples_per_s=10.0) for s in (0, 1)]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    assert "not drawn" not in " ".join(t.get_text() for t in made[-1].texts)


#: a board of 14 rows like the published digits board (model, variant, FID, samples/s, flags): a
#: DDIM step sweep at eta 0 and 1 between DDPM and the GANs, and the controls
BOARD_14 = [
    ("copy", "", 0.0, 4.47e6, ["memorized"]),
    ("ddpm", "", 13.7, 13.4, []),
    ("ddim", "eta=1,steps=100", 15.7, 149.0, []),
    ("ddim", "steps=100", 19.7, 164.0, []),
    ("ddim", "", 21.1, 263.0, []),
    ("ddim", "eta=1,steps=50", 22.0, 290.0, []),
    ("ddim", "steps=20", 27.6, 583.0, []),
    ("ddim", "eta=1,steps=20", 31.0, 600.0, []),
    ("gan-sat", "", 43.5, 1.06e5, []),
    ("ddim", "steps=10", 44.8, 1073.0, []),
    ("gan-ns", "", 50.1, 1.33e5, []),
    ("vae", "", 106.7, 9.7e4, []),
    ("gaussian", "", 202.6, 4.04e5, []),
    ("collapse", "", 2307.0, 9.83e6, ["collapsed", "memorized"]),
]


def board_14():
    return aggregate(
        results_frame(
            [
                result(m, s, f * (1 + 0.05 * (s - 1)), variant=v, flags=fl, samples_per_s=sp * (1 + 0.01 * s))
                for m, v, f, sp, fl in BOARD_14
                for s in (0, 1, 2)
            ]
        )
    )


def test_fid_against_speed_names_a_dozen_rows_clear_of_each_other(tmp_path, made):
    """Each name was written at one offset from its point: with the digits board's dozen rows the
    names of the DDIM sweep's points, a few samples/s apart, were written over each other and over
    their neighbours' points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    assert board_figures.fid_vs_throughput(board_14(), tmp_path / "fid.png").is_file()
    fig = made[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    assert len(ax.texts) == len(BOARD_14)
    frame = ax.get_window_extent(renderer)
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    for name, box in boxes.items():
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not boxes[a].overlaps(boxes[b]), (a, b)
    # and clear of every point's marker
    points = [ax.transData.transform(t.xy) for t in ax.texts]
    for name, box in boxes.items():
        assert not any(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1 for x, y in points), name


def test_fid_against_speed_draws_the_same_png_from_the_same_board(tmp_path, made):
    """Where the names go depends on the board alone: a report rerun gives the same bytes."""
    first = board_figures.fid_vs_throughput(board_14(), tmp_path / "a.png").read_bytes()
    assert board_figures.fid_vs_throughput(board_14(), tmp_path / "b.png").read_bytes() == first


def test_fid_against_speed_writes_a_rows_flags_a_space_apart(tmp_path, made):
    """A row's flags read "collapsed,memorized" beside its point, where the rest of the words a
    figure says are a comma and a space apart."""
    assert board_figures.fid_vs_throughput(board_14(), tmp_path / "fid.png").is_file()
    assert "collapse (collapsed, memorized)" in [t.get_text() for t in made[-1].axes[0].texts]


def test_the_ddim_step_curves_differ_in_marker_not_colour_alone(tmp_path, made):
    """Sweeps at eta 0, 0.5 and 1 were three solid lines of circles in three colours: one in
    greyscale print (tab10's blue and red have one grey) and to a red-green colour-blind reader."""
    rs = [
        result("ddim", 0, 30.0 / steps + k, variant=",".join(f for f in (f"steps={steps}", eta) if f))
        for k, eta in enumerate(("", "eta=0.5", "eta=1"))
        for steps in (10, 20, 50)
    ]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    curves = {c.get_label(): c.lines[0].get_marker() for c in made[-1].axes[0].containers}
    assert len(curves) == 3, curves
    assert len(set(curves.values())) == 3, curves


def test_the_ddim_step_curves_legend_is_beneath_the_axes_not_over_the_curves(tmp_path, made):
    """The legend sat inside the axes ("upper center"): with three sweeps and two DDPM lines it
    covered the curves it names. It is beneath the axes and their step label, clear of both."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rs = [
        result("ddim", 0, 30.0 / steps + k, variant=",".join(f for f in (f"steps={steps}", eta) if f))
        for k, eta in enumerate(("", "eta=0.5", "eta=1"))
        for steps in (10, 20, 50)
    ]
    rs += [result("ddpm", 0, 2.0, nfe=1000.0)]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    fig = made[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 < ax.xaxis.label.get_window_extent(renderer).y0
    assert legend.y0 > 0 and legend.x0 > 0 and legend.x1 < fig.bbox.x1  # within the figure
    # and above the protocol beneath it
    footer = max(fig.texts, key=lambda t: t.get_window_extent(renderer).y1).get_window_extent(renderer)
    assert footer.y1 < legend.y0


def gan_log(norms: tuple[float, float]) -> list[dict]:
    low, high = norms
    return [
        {"step": i, "d_real": 0.7, "d_fake": 0.3, "grad_norm_g": low + (high - low) * (i % 7) / 6}
        for i in range(60)
    ]


@pytest.fixture
def saved(monkeypatch):
    """The figures saved outside board_figures._figure (the GAN dynamics' own), to read their axes."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda self, *a, **k: figures.append(self) or savefig(self, *a, **k)
    )
    return figures


def test_the_gan_dynamics_titles_stay_within_their_panels(tmp_path, saved):
    """A row split by protocol and config, with its seed and outcome, is a long title: it ran past
    its 4.2-inch panel, off the figure's left edge (its first letters cut) or over its neighbour's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from genbench.metrics.gan_dynamics import plot_gan_dynamics

    long = "gan_ns[lr=0.0002,beta1=0.5,train_steps=2000] (N=200, config 3f9a1c) (seed 0, diverged)"
    plot_gan_dynamics({long: gan_log((1, 2)), "gan (seed 0)": gan_log((1, 2))}, tmp_path / "g.png")
    fig = saved[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    top = [ax for ax in fig.axes if ax.get_title()]
    boxes = [ax.title.get_window_extent(renderer) for ax in top]
    assert len(boxes) == 2
    assert all(0 <= b.x0 and b.x1 <= fig.bbox.x1 for b in boxes), boxes
    assert boxes[0].x1 < boxes[1].x0  # clear of its neighbour's
    assert " ".join(top[0].get_title().split()) == long  # wrapped, not cut


def test_the_gan_dynamics_gradient_axis_labels_a_norm_within_a_decade_as_plain_numbers(tmp_path, saved):
    """Gradient norms of 1 to 2 on the log axis were labelled "10^0" and "2x10^0" alone, and the
    axis' label did not say it was logarithmic."""
    from genbench.metrics.gan_dynamics import plot_gan_dynamics

    plot_gan_dynamics({"gan (seed 0)": gan_log((1.0, 2.0))}, tmp_path / "g.png")
    saved[-1].canvas.draw()
    bottom = saved[-1].axes[1]
    assert bottom.get_yscale() == "log" and "log scale" in bottom.get_ylabel()
    texts = [t for _, t in labelled(bottom.yaxis)]
    assert len(texts) >= 2 and not any("10^" in t for t in texts), texts


def test_the_gan_dynamics_gradient_axis_keeps_matplotlibs_labels_over_a_wider_span(tmp_path, saved):
    """Norms of 0.1 to 0.5 (the published digits board's): matplotlib labels 0.1, 0.2, 0.3, 0.4,
    where round values (0.15, 0.30, 0.45) left the axis' low end, and the run's start, unlabelled."""
    from genbench.metrics.gan_dynamics import plot_gan_dynamics

    plot_gan_dynamics({"gan (seed 0)": gan_log((0.1, 0.5))}, tmp_path / "g.png")
    saved[-1].canvas.draw()
    where = [y for y, _ in labelled(saved[-1].axes[1].yaxis)]
    assert where and min(where) <= 0.1 + 1e-9, where


def test_the_ddim_step_curve_says_which_way_its_fid_is_better(tmp_path, made):
    """Its axis read "FID" alone, where FID against samples/s says "lower is better": a reader of the
    PNG apart from its board (an IS or precision axis beside it in a paper) had to know."""
    rs = [result("ddim", 0, 30.0 / steps, variant=f"steps={steps}") for steps in (10, 20)]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    assert made[-1].axes[0].get_ylabel() == "FID (lower is better)"
