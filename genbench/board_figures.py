"""The figures of a board (matplotlib PNG, linked from its markdown by
:func:`genbench.reporting.write_report`): FID against sampling throughput, the DDIM step curve, and
the GAN training dynamics (saturating beside non-saturating, a panel per row), each drawn from one
protocol's rows (:func:`main_protocol_rows`). The words the first two carry beside their points and
beneath their axes are :mod:`genbench.figure_notes`'s; the per-row sample and nearest-neighbour
grids copied from the runs are :mod:`genbench.row_figures`'.
"""

from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genbench.figure_notes import (
    partial_marks,
    point_marks,
    protocol_and_partial,
    rerun_mark,
    timing_tags,
    with_protocol,
)
from genbench.io import FIX_LEADERBOARDS, save_png
from genbench.log_ticks import round_ticks_when_narrow
from genbench.point_labels import place_labels
from genbench.results import Result
from genbench.row_figures import board_rows, row_runs

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(figsize: tuple[float, float]) -> Figure:
    """A matplotlib figure of its own, outside pyplot: ``matplotlib.use("Agg")`` switched the
    caller's backend (a notebook's figures were no longer shown), and pyplot's figures live until
    closed. Saved with :meth:`Figure.savefig`, which renders a PNG through Agg all the same."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


#: colours of unflagged rows: matplotlib's cycle without its grey (C7), which marks flagged rows
_COLOURS = [f"C{i}" for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]
#: the markers of unflagged rows, the next after every 9 rows: the 10th row took the 1st's orange
#: dot (the conditional board's `ddim-cond[guidance=3]` and `ddpm-cond`); "x" marks flagged rows
_POINT_MARKERS = ("o", "s", "^", "D")


def _point_marker(i: int) -> str:
    """The marker of the ``i``-th row's point: a colour and marker no other row of 36 shares."""
    return _POINT_MARKERS[i // len(_COLOURS) % len(_POINT_MARKERS)]


#: an FID below this share of the board's largest is numerically 0: a copy's FID comes out of the
#: matrix square root at about 1e-12 of it, a model's many decades above
_ABOUT_ZERO = 1e-9


def fid_vs_throughput(agg: pd.DataFrame, path: Path) -> Path | None:
    """FID against samples/s, both on log scales (FID on a symmetric log scale, linear near 0, when a
    row scores 0: the ``copy`` control, which a log axis left out); flagged rows (copies, collapses)
    as grey crosses."""
    a = agg.dropna(subset=[c for c in ("fid", "samples_per_s") if c in agg] or ["label"])
    if "fid" not in a or "samples_per_s" not in a or a.empty:
        return None
    fig = _figure((7, 4.5))
    ax = fig.subplots()
    any_partial = False
    names: list[Any] = []
    left: list[bool] = []
    bars: list[tuple[float, float]] = []
    speeds = np.log10(a["samples_per_s"].to_numpy(dtype=float))
    for i, (row, timed) in enumerate(zip(a.itertuples(), timing_tags(a), strict=True)):
        marks = point_marks(row)
        flagged = bool(marks)
        partial = partial_marks(row, {"fid": "FID", "samples_per_s": "samples/s"})
        any_partial |= bool(partial)
        rerun = rerun_mark(row)
        style: dict[str, Any] = (
            {"fmt": "x", "color": "gray"}
            if flagged
            else {"fmt": _point_marker(i), "color": _COLOURS[i % len(_COLOURS)]}
        )
        ax.errorbar(row.samples_per_s, row.fid, yerr=getattr(row, "fid_std", None), capsize=3, **style)
        name = _point_name(row) + (f" [{timed}]" if timed else "")
        said = "; ".join(m for m in (marks, partial, rerun) if m)
        text = f"{name} ({said})" if said else name
        # a point in the faster half named to its left first: named to the right, the fastest row's
        # name ran past the axes, and tight_layout shrank them to half the figure to make room for it
        left.append(bool(speeds.max() > speeds.min() and speeds[i] > (speeds.min() + speeds.max()) / 2))
        spread = getattr(row, "fid_std", None)
        spread = float(spread) if spread is not None and spread == spread else 0.0
        bars.append((row.fid - spread, row.fid + spread))
        names.append(
            ax.annotate(
                text,
                (row.samples_per_s, row.fid),
                fontsize=6,
                xytext=(0, 0),
                textcoords="offset points",
                color="gray" if flagged else "black",
                parse_math=False,  # a "$" in a name started mathtext, and a bad formula failed the report
            )
        )
        names[-1].set_in_layout(False)  # placed once the layout is made, inside the axes
    ax.set_xscale("log")
    # an FID the matrix square root leaves at about 0 (the conditional copy control's 1e-12) counts as
    # 0: on a log axis it stretched the FIDs down 12 decades and squeezed every model into the top
    zero = a["fid"] <= _ABOUT_ZERO * a["fid"].max()
    positive = a["fid"][~zero]
    if zero.any():  # an FID of 0 has no place on a log axis
        # linear from 0 up to the decade below the lowest positive FID, logarithmic above
        linear_below = 10.0 ** math.floor(math.log10(positive.min())) if len(positive) else 1.0
        ax.set_yscale("symlog", linthresh=linear_below)
        ax.set_ylim(bottom=-0.3 * linear_below)  # the 0 row clear of the frame
        ax.set_ylabel(f"FID (log scale, linear below {linear_below:g}; lower is better)")
    else:
        ax.set_yscale("log")
        ax.set_ylabel("FID (log scale; lower is better)")
    _room_above(ax)
    round_ticks_when_narrow(ax.yaxis)  # a log one: not the symmetric log of an FID of 0
    round_ticks_when_narrow(ax.xaxis)
    ax.set_xlabel("samples / s (log scale)")
    ax.set_title("Quality against sampling speed (grey: flagged rows)")
    ax.grid(alpha=0.3, which="both")
    note = protocol_and_partial(a, any_partial, timed=a)
    with_protocol(fig, note + (f"\n{left_out}" if (left_out := _not_drawn(agg, a)) else ""))
    place_labels(ax, names, left, bars)  # a dozen rows' names at one offset overlapped each other
    return save_png(path, lambda fh: fig.savefig(fh, format="png", dpi=120), fix=FIX_LEADERBOARDS)


#: a sweep point's step count among a DDIM variant's fields (``steps=10``)
_STEPS = re.compile(r"steps=(\d+)")


def _room_above(ax: Any, share: float = 0.1) -> None:
    """Raise the top of ``ax``'s FID axis by ``share`` of its height, as drawn (log or symmetric
    log): the worst row's point sat on the frame, its name above it, over the title's line."""
    scale = ax.yaxis.get_transform()
    low, high = scale.transform(np.array(ax.get_ylim()))
    ax.set_ylim(top=float(scale.inverted().transform(np.array([high + share * (high - low)]))[0]))


def _point_name(row: Any) -> str:
    """A row's name beside its point: a label split by config is two networks, both of whose points
    read "ddpm" before (the title names the protocol, so only the config is added)."""
    return f"{row.label} ({row.config_tag})" if getattr(row, "config_tag", "") else str(row.label)


def _not_drawn(rows: pd.DataFrame, drawn: pd.DataFrame) -> str:
    """Which of ``rows`` the FID-against-samples/s figure leaves out (``drawn`` are those it draws),
    each with what it lacks, for a line beneath it: a row without samples/s (run without the
    ``throughput`` metric) or without FID (its seeds all failed) was left out without a word, and
    the figure read as the whole board. "" when every row is drawn."""
    missing = []
    for row in rows.drop(drawn.index).itertuples():
        lacks = [
            n for c, n in (("fid", "FID"), ("samples_per_s", "samples/s")) if pd.isna(getattr(row, c, None))
        ]
        said = "; ".join(m for m in (", ".join(f"no {name}" for name in lacks), point_marks(row)) if m)
        missing.append(f"{_point_name(row)} ({said})")
    return textwrap.fill(f"not drawn: {', '.join(missing)}", 100, break_on_hyphens=False) if missing else ""


def ddim_sweep_point(variant: str) -> tuple[int | None, str]:
    """A DDIM row's step count (None when its variant does not set one) and the rest of its variant,
    which names its curve: ``"steps=10,ddpm.train_steps=500"`` -> ``(10, "ddpm.train_steps=500")``.
    Values never hold a comma (a comma sweeps), so the fields split on it."""
    fields = [f for f in (variant or "").split(",") if f]
    steps = [int(m.group(1)) for f in fields if (m := _STEPS.fullmatch(f))]
    return (steps[0] if steps else None), ",".join(f for f in fields if not _STEPS.fullmatch(f))


def _owner_variant(rest: str) -> str:
    """The DDPM variant whose weights a DDIM curve samples: its ``ddpm.`` fields, without the prefix."""
    return ",".join(f.removeprefix("ddpm.") for f in rest.split(",") if f.startswith("ddpm."))


def _curve_name(rest: str) -> str:
    """A DDIM curve's legend: its sampler settings (eta=0 unless set), then the DDPM fields it samples."""
    fields = [f for f in rest.split(",") if f]
    sampler = [f for f in fields if not f.startswith("ddpm.")]
    if not any(f.startswith("eta=") for f in sampler):
        sampler.insert(0, "eta=0")
    return ", ".join([f"DDIM ({', '.join(sampler)})", *(f for f in fields if f.startswith("ddpm."))])


#: the step curves' markers, one a curve: curves told apart by colour alone (each drawn with
#: circles) read as one in greyscale print and to a colour-blind reader (tab10's blue and red have
#: one grey). Not "s" (the speed's) nor "x" (a marked point's)
_CURVE_MARKERS = ("o", "^", "D", "v", "P", "X", "*")

#: inches of a line of the step curve's 8 pt legend, beneath its axes
_LEGEND_LINE = 0.2

#: the legend's entry for a step curve's points of rows that are flagged or lost seeds
_MARKED = "grey ×: flagged, or seeds without samples (named)"


def ddim_step_curve(agg: pd.DataFrame, path: Path) -> Path | None:
    """FID and samples/s of the DDIM step sweep, with the DDPM it samples (its 1000 steps) as the
    reference line; FID alone when the sweep ran without ``throughput`` (``--metrics fid``), nothing
    without FID. A curve is the rows that differ in their step count alone: a sweep sampling a DDPM
    run with ``--set ddpm.FIELD=...`` (``ddim[steps=10,ddpm.train_steps=500]``), or at another
    ``eta``, is a curve of its own, beside the line of that DDPM; so are rows split by model config
    (seeds trained under different configs): one curve kept one of two rows at a step count, and
    one line the first of two DDPMs."""
    if "fid" not in agg:
        return None
    curves: dict[tuple[str, str], dict[int, tuple[float, float, float, object]]] = {}
    for row in agg[agg["model"] == "ddim"].itertuples():
        step, rest = ddim_sweep_point(row.variant)
        nfe = getattr(row, "nfe", float("nan"))
        if step is None and nfe == nfe:  # the default step count, as sampled
            step = int(nfe)
        if step is not None and row.fid == row.fid:
            speed = getattr(row, "samples_per_s", float("nan"))
            # the default ddim row is its step count's: one point, whichever row comes last
            curves.setdefault((rest, getattr(row, "config_tag", "")), {})[step] = (
                row.fid,
                getattr(row, "fid_std", 0.0),
                speed,
                row.Index,
            )
    curves = {key: dict(sorted(points.items())) for key, points in curves.items() if len(points) >= 2}
    if not curves:
        return None
    # the rows whose speed is plotted, each named with its machine and batch where they differ, as
    # on the FID-against-samples/s figure: a sweep's step counts sampled on two machines drew one
    # speed curve through both
    timed = agg.loc[[p[3] for points in curves.values() for p in points.values() if p[2] == p[2]]]
    tags = dict(zip(timed.index, timing_tags(timed), strict=True))
    # each row's flags and lost seeds, and its FID and speed over fewer of its seeds (which the
    # table marks †): the curves' points and the DDPM lines read them alike
    marks_of, partial_fid, partial_speed, said_of = {}, {}, {}, {}
    for row in agg.itertuples():
        marks_of[row.Index] = point_marks(row)
        partial_fid[row.Index] = partial_marks(row, {"fid": "FID"})
        # a later rerun of a seed that failed: said beside its FID as a † is, in the point's colour
        said_of[row.Index] = "; ".join(m for m in (partial_fid[row.Index], rerun_mark(row)) if m)
        partial_speed[row.Index] = partial_marks(row, {"samples_per_s": "samples/s"})
    from matplotlib.ticker import NullFormatter

    fig = _figure((6, 4))
    ax = fig.subplots()
    ax2 = None
    every = sorted({s for points in curves.values() for s in points})
    for i, ((rest, tag), points) in enumerate(sorted(curves.items())):
        steps = list(points)
        fid, std, sps, rows = zip(*points.values(), strict=True)
        named = ", ".join(t for t in (rest, tag) if t)
        named = f", {named}" if named else ""
        colour = _COLOURS[i % len(_COLOURS)]
        # a step count whose row lost seeds (failed, diverged) or is flagged: its FID is over the
        # seeds that remained, which the table marks and the FID-against-samples/s figure greys,
        # where the curve drew it as one more sound point. It is a grey cross, named, as there
        sound = [k for k, row in enumerate(rows) if not marks_of[row]]
        ax.errorbar(
            steps,
            fid,
            yerr=[s if s == s else 0 for s in std],
            marker=_CURVE_MARKERS[i % len(_CURVE_MARKERS)],
            markevery=sound,
            capsize=3,
            color=colour,
            label=_curve_name(rest) + (f", {tag}" if tag else ""),
        )
        for step, value, row in zip(steps, fid, rows, strict=True):
            if marks_of[row]:
                # one legend entry for the marked points, however many there are
                said = _MARKED if not any(ln.get_label() == _MARKED for ln in ax.lines) else "_nolegend_"
                ax.plot(step, value, ls="none", marker="x", ms=7, mew=1.5, color="gray", label=said)
            if marks_of[row] or said_of[row]:
                last = step == every[-1]  # its name to the left, inside the axes
                ax.annotate(
                    f"({'; '.join(m for m in (marks_of[row], said_of[row]) if m)})",
                    (step, value),
                    fontsize=6,
                    xytext=(-4 if last else 4, 4),
                    ha="right" if last else "left",
                    textcoords="offset points",
                    color="gray" if marks_of[row] else colour,
                    parse_math=False,
                )
        if any(s == s for s in sps):  # an axis of NaNs would claim a speed that was never measured
            ax2 = ax2 or ax.twinx()
            speed_colour = "tab:orange" if len(curves) == 1 else colour
            ax2.plot(steps, sps, color=speed_colour, marker="s", ls=":", label=f"samples/s{named}")
            for step, speed, row in zip(steps, sps, rows, strict=True):
                said = "; ".join(
                    t for t in (tags.get(row), partial_speed[row] if speed == speed else "") if t
                )
                if said:
                    ax2.annotate(
                        f"[{said}]",
                        (step, speed),
                        fontsize=6,
                        xytext=(4, -9),
                        textcoords="offset points",
                        color=speed_colour,
                        parse_math=False,  # a machine's name is text, never mathtext
                    )
    # the DDPMs the curves sample, each its own line: a DDPM of another config is another network
    sampled = {_owner_variant(rest) for rest, _ in curves}
    ddpm = agg[(agg["model"] == "ddpm") & agg["variant"].isin(sampled) & agg["fid"].notna()]
    lines = ddpm.drop_duplicates(["variant", "config_tag"] if "config_tag" in ddpm else "variant")
    for row, dashes in zip(
        lines.itertuples(), ["--", "-.", (0, (5, 1, 1, 1, 1, 1))] * len(lines), strict=False
    ):
        nfe = getattr(row, "nfe", float("nan"))
        name = f"DDPM[{row.variant}]" if row.variant else "DDPM"
        tag = getattr(row, "config_tag", "")
        label = ", ".join(t for t in (name, f"{nfe:g} steps" if nfe == nfe else "", tag) if t)
        said = "; ".join(m for m in (marks_of[row.Index], said_of[row.Index]) if m)
        label += f" ({said})" if said else ""
        ax.axhline(float(row.fid), color="gray", ls=dashes, label=label)
    ax.set_xscale("log")
    ax.set_xticks(every, [str(s) for s in every])
    # the step counts are the ticks: within one decade (steps 5 and 10) the log axis also labelled
    # its minor ticks, "6x10^0" between 5 and 10, as if steps had been sampled there
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("sampling steps")
    ax.set_ylabel("FID (lower is better)")  # which way is better, as FID against samples/s says
    if ax2 is not None:
        one = len(curves) == 1
        ax2.set_ylabel(
            "samples / s" if one else "samples / s (dotted)", color="tab:orange" if one else "black"
        )
    # beneath the axes, under the step axis' label, the figure made taller by its lines: inside them
    # ("upper center") the legend of three sweeps and two DDPM lines covered the curves it names
    from matplotlib.transforms import ScaledTranslation

    entries = len(ax.get_legend_handles_labels()[1])
    fig.set_size_inches(fig.get_figwidth(), fig.get_figheight() + _LEGEND_LINE * entries)
    below = ax.transAxes + ScaledTranslation(0, -0.45, fig.dpi_scale_trans)  # 0.45 inch: ticks and label
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, fontsize=8)
    ax.set_title(f"DDIM: quality{' and speed' if ax2 is not None else ''} against steps")
    drawn = [p[3] for points in curves.values() for p in points.values()] + list(lines.index)
    marked = any(partial_fid[i] for i in drawn) or any(partial_speed[i] for i in timed.index)
    with_protocol(fig, protocol_and_partial(agg.loc[drawn], marked, timed=timed if ax2 is not None else None))
    return save_png(path, lambda fh: fig.savefig(fh, format="png", dpi=120), fix=FIX_LEADERBOARDS)


def gan_dynamics(results: list[Result], path: Path, rows: pd.DataFrame | None = None) -> Path | None:
    """One panel per board row (``rows``, else ``results``' own) with a GAN training log: a label
    split by protocol or config is several rows, each its own seeds' (one panel was drawn for the
    label, named as none of its rows)."""
    from genbench.metrics.gan_dynamics import gan_rows, plot_gan_dynamics

    logs: dict[str, list[dict]] = {}
    for row, runs in row_runs(results, board_rows(results, rows)):
        # the row's lowest ok seed: a seed that diverged was plotted under the plain label, as the
        # model's dynamics; a row with no ok seed is plotted from its lowest, named with its outcome.
        # Only logs with the rows the plot reads (d_real, d_fake, grad_norm_g), wherever they start:
        # a log with only some of them (a plugin GAN's) would make plot_gan_dynamics raise
        logged = [
            r for r in sorted(runs, key=lambda r: (r.status != "ok", r.seed)) if gan_rows(r.training_log)
        ]
        if logged:
            r = logged[0]
            # the seed named: the panel is one run's log, not the row's over its seeds
            logs[f"{row.row_label} (seed {r.seed}{'' if r.status == 'ok' else f', {r.status}'})"] = (
                r.training_log
            )
    if not logs:
        return None
    return plot_gan_dynamics(logs, path)


def main_protocol_rows(agg: pd.DataFrame, model: str | None = None) -> tuple[pd.DataFrame, str]:
    """One dataset's rows of its most-run protocol, or of the first (most-run first) that ``model``
    has rows in, and what names that protocol ("" when it is the only one): a figure puts FIDs on one
    axis, and FIDs of different protocols are not comparable. The DDIM step curve asks for
    ``model="ddim"``: a sweep at --samples 500 beside a full-size board lost its curve without a word
    when drawn from the board's protocol, which held no DDIM row."""
    of = agg if model is None else agg[agg["model"] == model]
    main = agg[agg["protocol_order"] == of["protocol_order"].min()]
    return main, str(main["protocol"].iloc[0]) if len(main) else ""
