"""Where :func:`genbench.point_labels.place_labels` puts a name, on axes made here: beside its point
on the side asked for where there is room, and inside the axes where that side has none."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genbench.point_labels import place_labels


def named(x: float, prefer_left: bool, text: str = "a model name"):
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.plot([x], [0.5], "o")
    label = ax.annotate(text, (x, 0.5), xytext=(0, 0), textcoords="offset points")
    place_labels(ax, [label], [prefer_left], [(0.5, 0.5)])
    renderer = FigureCanvasAgg(fig).get_renderer()
    return label, label.get_window_extent(renderer), ax.get_window_extent(renderer)


def test_a_name_goes_on_the_side_asked_for_where_there_is_room():
    label, _, _ = named(0.5, prefer_left=True)
    assert label.get_horizontalalignment() == "right" and label.get_position()[0] < 0
    label, _, _ = named(0.5, prefer_left=False)
    assert label.get_horizontalalignment() == "left" and label.get_position()[0] > 0


def test_a_name_that_would_run_off_the_axes_goes_to_the_other_side():
    label, box, frame = named(0.97, prefer_left=False, text="a longer model name")
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1
    assert label.get_horizontalalignment() == "right"
