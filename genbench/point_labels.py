"""Names beside a scatter's points that keep clear of each other, of the points and of the frame, with
matplotlib alone: FID against samples/s named each of a dozen rows (a DDIM step sweep, its eta=1 row,
the controls) at a fixed offset, and the names of rows close together were written over each other
and over their neighbours' points.

Each name in turn, in the order given, takes the first of a few offsets from its point (beside it,
above or below, on a diagonal; then further out, with a thin line back to its point) whose box, as
the renderer draws it, overlaps no name placed before it, no point and stays inside the axes; where
none does, the one that overlaps least. Nothing random: the same points give the same figure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation

#: a label's horizontal and vertical alignment, as matplotlib's Text takes them
HAlign = Literal["left", "center", "right"]
VAlign = Literal["bottom", "center", "top"]

#: the directions tried, as unit steps (x, y) from the point, in the order tried after beside it
_AROUND = ((0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))

#: how far out (points) a name's near edge is from its point: the first ring clear of a marker (3
#: points across each way, and a point of clearance each) and without a line back
_RINGS = (6.0, 14.0, 24.0, 36.0)

#: points of clearance kept around a box: the PNG is saved at another DPI than it is measured at
_PAD = 1.0


def _offsets(prefer_left: bool) -> list[tuple[float, float, HAlign, VAlign]]:
    """The candidates (dx, dy in points; ha; va), nearest first: beside the point on the side
    preferred, then the other side, then above, below and the diagonals, ring by ring."""
    sides = ((-1, 0), (1, 0)) if prefer_left else ((1, 0), (-1, 0))
    ha: dict[int, HAlign] = {-1: "right", 0: "center", 1: "left"}
    va: dict[int, VAlign] = {-1: "top", 0: "center", 1: "bottom"}
    return [(sx * ring, sy * ring, ha[sx], va[sy]) for ring in _RINGS for sx, sy in (*sides, *_AROUND)]


def _overlap(a: Any, b: Any) -> float:
    """The area two window boxes (Bbox) share; 0 when apart."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Any, frame: Any) -> float:
    """The area of ``box`` outside ``frame``."""
    return box.width * box.height - _overlap(box, frame)


def place_labels(
    ax: Axes, labels: list[Annotation], left: list[bool], bars: list[tuple[float, float]]
) -> None:
    """Move each of ``labels`` (annotations of one point each, in ``ax``, their offsets in points)
    to the first offset clear of the labels before it, of every point's marker and error bar (from
    ``bars``' low to high FID, a label's each) and of the axes' edges; ``left``: whether a label is
    tried on its point's left first. Call once the axes' limits and the figure's layout are final:
    boxes are measured with the figure's renderer as drawn then."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure(ax)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pad = _PAD * fig.dpi / 72
    marks = [_point_boxes(ax, label.xy, bar) for label, bar in zip(labels, bars, strict=True)]
    obstacles = [box for boxes in marks for box in boxes]
    placed: list[Any] = []  # the boxes of the names placed, and of their lines back to their points
    for i, (label, prefer_left) in enumerate(zip(labels, left, strict=True)):
        others = [box for j, boxes in enumerate(marks) if j != i for box in boxes]  # the line's own start
        point = ax.transData.transform(label.xy)
        best = None
        for n, (dx, dy, ha, va) in enumerate(_offsets(prefer_left)):
            _move(label, dx, dy, ha, va)
            box = label.get_window_extent(renderer).padded(pad)
            line = _line_box(point, box, pad) if max(abs(dx), abs(dy)) > _RINGS[0] else None
            cost = sum(_overlap(box, other) for other in (*placed, *obstacles)) + 4 * _outside(box, frame)
            cost += sum(_overlap(line, other) for other in (*placed, *others)) if line is not None else 0.0
            if best is None or cost < best[0]:
                best = (cost, n, box, line)
            if cost == 0:
                break
        assert best is not None  # _offsets gives candidates, each scored
        _, n, box, line = best
        _move(label, *_offsets(prefer_left)[n])
        placed.append(box)
        if line is not None:  # further out: a line back to its point, which later names keep clear of
            _lead(ax, label, box)
            placed.append(line)


def _figure(ax: Axes) -> Figure:
    """The figure ``ax`` is drawn in: genbench's figures are plain Figures, never a SubFigure."""
    from matplotlib.figure import Figure

    fig = ax.get_figure()
    if not isinstance(fig, Figure):
        raise TypeError(f"labels are placed on the axes of a Figure, not of {type(fig).__name__}")
    return fig


def _move(label: Annotation, dx: float, dy: float, ha: HAlign, va: VAlign) -> None:
    label.set_position((dx, dy))
    label.set_horizontalalignment(ha)
    label.set_verticalalignment(va)


def _near(point: Any, box: Any) -> tuple[float, float]:
    """The point of ``box`` nearest to ``point`` (window coordinates)."""
    return min(max(point[0], box.x0), box.x1), min(max(point[1], box.y0), box.y1)


def _line_box(point: Any, box: Any, pad: float) -> Any:
    """The box around a line from ``point`` to ``box`` (a name's): the line itself where it runs
    straight across or up, more than it where it runs on a diagonal."""
    from matplotlib.transforms import Bbox

    (x0, y0), (x1, y1) = point, _near(point, box)
    return Bbox([[min(x0, x1), min(y0, y1)], [max(x0, x1), max(y0, y1)]]).padded(pad)


def _point_boxes(ax: Axes, xy: tuple[float, float], bar: tuple[float, float]) -> list[Any]:
    """Window boxes of a point's marker (6 points across, as drawn) and of its error bar (its caps
    6 points across), each with a point's clearance; a bar's end off a log axis (an FID less its
    spread below 0) at the frame's edge."""
    import numpy as np
    from matplotlib.transforms import Bbox

    frame = ax.get_window_extent()
    to_px = _figure(ax).dpi / 72
    x, y = ax.transData.transform(xy)
    ends = []
    for end in bar:
        with np.errstate(all="ignore"):
            shown = ax.transData.transform((xy[0], end))[1] if np.isfinite(end) else np.nan
        ends.append(shown if np.isfinite(shown) else frame.y0)
    half = (3 + _PAD) * to_px
    boxes = [Bbox([[x - half, y - half], [x + half, y + half]])]
    if bar[0] < bar[1]:
        boxes.append(Bbox([[x - half, min(ends) - _PAD * to_px], [x + half, max(ends) + _PAD * to_px]]))
    return boxes


def _lead(ax: Axes, label: Annotation, box: Any) -> None:
    """A thin line from ``label``'s point to the nearest point of its box (``box``, a window box),
    in the label's colour, beneath the markers. In data coordinates: a PNG saved at another DPI
    scales the box and its offset from the point alike."""
    point = ax.transData.transform(label.xy)
    ends: list[Any] = [point, _near(point, box)]
    (x0, y0), (x1, y1) = ax.transData.inverted().transform(ends)
    ax.plot([x0, x1], [y0, y1], lw=0.4, color=label.get_color(), zorder=1.5, scalex=False, scaley=False)
