"""The marks of a board's figures, read back from the matplotlib objects: which scales the axes
have, the error bars each point carries, the colours and markers that tell rows apart, and what the
DDIM step curve draws. Every expected value is worked out here by hand from the rows given."""

from __future__ import annotations

import math

import pytest
from matplotlib.colors import to_rgba
from test_board_figure_legibility import made  # noqa: F401 - the fixture the figures are read from
from test_leaderboard import result

from genbench import board_figures
from genbench.leaderboard import aggregate, results_frame


def bars(container) -> tuple[float, float]:
    """The low and high end of an errorbar container's one vertical bar."""
    (segment,) = container.lines[2][0].get_segments()
    return float(segment[0][1]), float(segment[1][1])


def test_fid_against_speed_is_log_log_with_a_bar_of_the_seeds_std(tmp_path, made):  # noqa: F811
    """FIDs 2 and 4 over two seeds: the point at their mean 3, its bar 3 ± sqrt(2) (the sample std),
    on log axes both ways; a row of one seed has no bar."""
    rs = [result("ddpm", s, f, samples_per_s=10.0) for s, f in ((0, 2.0), (1, 4.0))]
    rs += [result("vae", 0, 50.0, samples_per_s=1000.0)]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    ax = made[-1].axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    ddpm, vae = ax.containers
    assert bars(ddpm) == pytest.approx((3 - math.sqrt(2), 3 + math.sqrt(2)))
    assert not vae.has_yerr or not vae.lines[2] or not len(vae.lines[2][0].get_segments()[0])


def test_fid_against_speed_with_an_fid_of_0_is_linear_below_the_lowest_fids_decade(tmp_path, made):  # noqa: F811
    """A copy at FID 0 beside FIDs 1.9e-4 and 3: symmetric log, linear below 1e-4 (the decade below
    1.9e-4), its bottom under 0 so that the 0 row's point is inside the frame."""
    rs = [
        result(m, 0, f, samples_per_s=v)
        for m, f, v in (("copy", 0.0, 1e6), ("gaussian", 1.9e-4, 1e5), ("ddpm", 3.0, 10.0))
    ]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    ax = made[-1].axes[0]
    assert ax.get_yscale() == "symlog"
    assert ax.yaxis.get_transform().linthresh == pytest.approx(1e-4)
    assert ax.get_ylabel() == "FID (log scale, linear below 0.0001; lower is better)"
    assert ax.get_ylim()[0] < 0


def test_fid_against_speed_greys_flagged_rows_alone(tmp_path, made):  # noqa: F811
    """Nine unflagged rows take nine colours, none of them the grey that marks a flagged row (a
    grey cross, as the title says)."""
    rs = [result(f"m{i}", 0, 10.0 + i, samples_per_s=10.0 * (i + 1)) for i in range(9)]
    rs += [result("copy", 0, 0.5, flags=["memorized"], samples_per_s=1e6)]
    assert board_figures.fid_vs_throughput(aggregate(results_frame(rs)), tmp_path / "fid.png").is_file()
    ax = made[-1].axes[0]
    points = [c.lines[0] for c in ax.containers]
    grey = to_rgba("gray")
    crosses = [to_rgba(line.get_color()) for line in points if line.get_marker() == "x"]
    unflagged = [to_rgba(line.get_color()) for line in points if line.get_marker() != "x"]
    assert crosses == [grey]
    assert len(unflagged) == 9 and len(set(unflagged)) == 9
    assert to_rgba("C7") not in unflagged and grey not in unflagged


def test_the_ddim_step_curve_is_fid_with_bars_over_the_step_counts_on_a_log_axis(tmp_path, made):  # noqa: F811
    """Step counts 10, 20, 50 over two seeds each: the ticks are those three counts, on a log axis;
    each point's bar is its two FIDs' sample std; the speed curve, the only one, is orange, as its
    axis label; the DDPM it samples is a dashed line at its FID."""
    rs = [
        result("ddim", s, fid + s, variant=f"steps={steps}", samples_per_s=1000.0 / steps)
        for steps, fid in ((10, 9.0), (20, 6.0), (50, 4.0))
        for s in (0, 1)
    ]
    rs += [result("ddpm", 0, 2.0, nfe=1000.0)]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    ax, ax2 = made[-1].axes
    assert ax.get_xscale() == "log"
    assert [float(t) for t in ax.get_xticks()] == [10.0, 20.0, 50.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "20", "50"]
    (curve,) = ax.containers
    segments = curve.lines[2][0].get_segments()
    half = math.sqrt(0.5)  # the sample std of x and x + 1
    ends = [float(end) for s in segments for end in (s[0][1], s[1][1])]
    assert ends == pytest.approx([9.5 - half, 9.5 + half, 6.5 - half, 6.5 + half, 4.5 - half, 4.5 + half])
    (speed,) = ax2.lines
    assert to_rgba(speed.get_color()) == to_rgba("tab:orange")
    assert to_rgba(ax2.yaxis.label.get_color()) == to_rgba("tab:orange")
    (ddpm,) = [line for line in ax.lines if line.get_label().startswith("DDPM")]
    assert ddpm.get_ydata()[0] == 2.0 and ddpm.get_linestyle() == "--"
    assert curve.get_label() == "DDIM (eta=0)"


def test_the_ddim_step_curve_draws_a_lost_seeds_point_as_a_grey_cross_alone(tmp_path, made):  # noqa: F811
    """A step count whose row lost a seed is a grey cross, not also one of the curve's markers."""
    rs = [result("ddim", 0, 30.0 / steps, variant=f"steps={steps}") for steps in (10, 20, 50)]
    rs += [result("ddim", 1, None, variant="steps=20", status="failed", flags=["failed"])]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    ax = made[-1].axes[0]
    (curve,) = ax.containers
    assert list(curve.lines[0].get_markevery()) == [0, 2]  # 10 and 50; 20 is the cross
    (cross,) = [line for line in ax.lines if line.get_marker() == "x"]
    assert list(cross.get_xdata()) == [20] and to_rgba(cross.get_color()) == to_rgba("gray")


def test_the_ddim_step_curve_reads_its_steps_from_steps_alone(tmp_path, made):  # noqa: F811
    """A DDIM sampling a DDPM trained for 500 steps (``ddpm.train_steps=500``, set first) at 10 and
    20 steps: its points at 10 and 20, not at 500."""
    rs = [
        result("ddim", 0, 30.0 / steps, variant=f"ddpm.train_steps=500,steps={steps}") for steps in (10, 20)
    ]
    assert board_figures.ddim_sweep_point("ddpm.train_steps=500,steps=10") == (10, "ddpm.train_steps=500")
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png").is_file()
    (curve,) = made[-1].axes[0].containers
    assert list(curve.lines[0].get_xdata()) == [10, 20]


def test_a_ddim_row_of_one_step_count_draws_no_curve(tmp_path, made):  # noqa: F811
    """One point is no curve: nothing is drawn."""
    rs = [result("ddim", 0, 5.0, variant="steps=10")]
    assert board_figures.ddim_step_curve(aggregate(results_frame(rs)), tmp_path / "ddim.png") is None


def test_fid_against_speed_names_are_clear_of_every_error_bar(tmp_path, made):  # noqa: F811
    """The digits board's dozen rows over three seeds: no name is written over a point's error bar,
    read from the bars as drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from test_board_figure_legibility import board_14

    assert board_figures.fid_vs_throughput(board_14(), tmp_path / "fid.png").is_file()
    fig = made[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    ax = fig.axes[0]
    segments = [
        ax.transData.transform(segment)
        for c in ax.containers
        if c.has_yerr
        for segment in c.lines[2][0].get_segments()
    ]
    assert segments
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        for (x0, y0), (_, y1) in segments:
            crosses = box.x0 <= x0 <= box.x1 and min(y0, y1) <= box.y1 and box.y0 <= max(y0, y1)
            assert not crosses, text.get_text()
