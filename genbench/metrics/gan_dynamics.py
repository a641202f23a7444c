"""GAN training dynamics: is the generator's gradient vanishing?

Goodfellow et al. (2014, Section 3) note that the minimax ("saturating") generator loss
``log(1 - D(G(z)))`` saturates early in training, when the discriminator rejects the samples with
confidence: its gradient vanishes just when the generator most needs it, which the non-saturating loss
``-log D(G(z))`` avoids. The GAN baselines log, per step, ``d_real`` (mean D(x), a probability),
``d_fake`` (mean D(G(z))), ``loss_d``, ``loss_g`` and ``grad_norm_g`` (the generator's gradient norm);
this metric summarises those rows and :func:`plot_gan_dynamics` draws them for several runs side by
side (the report puts the saturating GAN beside the non-saturating one).

Values (a "window" is 10% of the logged rows, at least one):

- ``grad_norm_g_early`` / ``grad_norm_g_final``: mean generator gradient norm over the first / last window;
- ``d_real_final`` / ``d_fake_final``: mean D(x) / D(G(z)) over the last window. At the game's
  equilibrium both are 1/2; ``d_real_final`` near 1 with ``d_fake_final`` near 0 means the
  discriminator wins outright. None of these has a "better" direction (the leaderboard does not rank
  by them): a gradient norm or a D output is a diagnostic, read beside FID, not a score.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from genbench.errors import MetricInputError
from genbench.log_ticks import round_ticks_when_narrow
from genbench.metrics.base import EvalContext, Metric
from genbench.registry import register_metric

REQUIRED = ("d_real", "d_fake", "grad_norm_g")
WINDOW = 0.1

#: inches of a run's column in :func:`plot_gan_dynamics`' figure
PANEL_WIDTH = 4.2
#: characters of a panel's 9 pt title an inch, where it is wrapped to its panel's width
TITLE_CHARS_PER_INCH = 13


def gan_rows(log: list[dict[str, float]]) -> list[dict[str, float]]:
    return [row for row in log if all(k in row for k in REQUIRED)]


def _column(rows: list[dict[str, float]], key: str) -> np.ndarray:
    """``key`` of each row as floats. A result file's log holds null where training logged NaN or inf
    (strict JSON has neither): NaN here, a gap in the curve, where ``float(None)`` failed the report."""
    return np.array([np.nan if r[key] is None else float(r[key]) for r in rows], dtype=float)


def _window_mean(values: np.ndarray, first: bool) -> float:
    w = max(1, int(round(WINDOW * len(values))))
    part = values[:w] if first else values[-w:]
    part = part[np.isfinite(part)]
    return float(part.mean()) if len(part) else float("nan")


@register_metric("gan_dynamics")
class GanDynamics(Metric):
    """Generator gradient norm early and late, final D(x) and D(G(z)) (Goodfellow et al. 2014)."""

    version = 1
    reference = "none"  # the training log alone
    # diagnostics, not scores: a large gradient or D(G(z)) is no better model in itself
    higher_is_better: ClassVar[dict[str, bool | None]] = {
        "grad_norm_g_early": None,
        "grad_norm_g_final": None,
        "d_real_final": None,
        "d_fake_final": None,
    }
    description = (
        "GAN training log: generator gradient norm over the first and last 10% of steps, final D(x) "
        "and D(G(z)) (Goodfellow et al. 2014)"
    )

    def reads_features(self, options: dict[str, Any]) -> bool:
        return False  # the training log alone

    def applies_to(self, ctx: EvalContext) -> bool:
        return super().applies_to(ctx) and bool(gan_rows(ctx.training_log))

    def compute(self, ctx: EvalContext) -> dict[str, float]:
        rows = gan_rows(ctx.training_log)
        if not rows:
            raise MetricInputError(
                f"gan_dynamics: the training log has no rows with {', '.join(REQUIRED)}; use it with GAN models"
            )
        col = {k: _column(rows, k) for k in REQUIRED}
        values = {
            "grad_norm_g_early": _window_mean(col["grad_norm_g"], first=True),
            "grad_norm_g_final": _window_mean(col["grad_norm_g"], first=False),
            "d_real_final": _window_mean(col["d_real"], first=False),
            "d_fake_final": _window_mean(col["d_fake"], first=False),
        }
        return {k: v for k, v in values.items() if np.isfinite(v)}


def _window(n: int) -> int:
    """How many of ``n`` logged values the bold line's moving average spans: about 2% of them."""
    return max(1, n // 50)


def _smooth(y: np.ndarray) -> np.ndarray:
    """Moving average over ~2% of the points (the raw curve is drawn faintly behind it)."""
    w = _window(len(y))
    if w == 1:
        return y
    kernel = np.ones(w) / w
    return np.convolve(np.pad(y, (w // 2, w - 1 - w // 2), mode="edge"), kernel, mode="valid")


def lines_note(lengths: list[int]) -> str:
    """What the figure's lines are, for a line beneath it, given each run's number of logged values:
    a PNG read apart from its board said nothing of which line was smoothed, and over how much, nor
    what the dotted one was."""
    windows = {_window(n) for n in lengths}
    if windows == {1}:
        lines = "lines: each logged value (too few to smooth)"
    else:
        over = "2% of each run's logged values"
        if len(set(lengths)) == 1:
            over = f"{windows.pop()} of the {lengths[0]} logged values (2%)"
        lines = f"bold lines: moving average over {over}; faint lines: each logged value"
    return f"{lines}; dotted: D = 1/2, the game's equilibrium, where D cannot tell real from generated"


def plot_gan_dynamics(logs: dict[str, list[dict]], path: Path) -> Path:
    """One column per run (label -> training log): D(x) and D(G(z)) on top, the generator's gradient
    norm (log scale) below, with shared axes so the runs compare at a glance. Saves a PNG at ``path``."""
    from matplotlib.figure import Figure

    from genbench.figure_notes import with_protocol

    runs = {label: gan_rows(log) for label, log in logs.items()}
    runs = {label: rows for label, rows in runs.items() if rows}
    if not runs:
        raise MetricInputError(f"no GAN training log among {', '.join(logs) or 'no runs'}; train a GAN first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(PANEL_WIDTH * len(runs), 5.5))
    axes = fig.subplots(2, len(runs), squeeze=False, sharex="col", sharey="row")
    grads = np.concatenate([_column(rows, "grad_norm_g") for rows in runs.values()])
    log_scale = bool(np.all(grads[np.isfinite(grads)] > 0))
    for c, (label, rows) in enumerate(runs.items()):
        steps = np.array([float(r.get("step", i)) for i, r in enumerate(rows)])
        top, bottom = axes[0, c], axes[1, c]
        for key, name, color in (("d_real", "D(x)", "tab:blue"), ("d_fake", "D(G(z))", "tab:orange")):
            y = _column(rows, key)
            top.plot(steps, y, color=color, alpha=0.25, lw=0.6)
            top.plot(steps, _smooth(y), color=color, lw=1.5, label=name)
        top.axhline(0.5, color="gray", ls=":", lw=0.8)
        top.set_ylim(-0.02, 1.02)
        # wrapped to its panel: a row split by protocol and config, with its seed and outcome, ran
        # past its panel's edge, over its neighbour's title or off the figure
        title = textwrap.fill(label, int(TITLE_CHARS_PER_INCH * PANEL_WIDTH), break_on_hyphens=False)
        top.set_title(title, fontsize=9, parse_math=False)  # a name's "$" is no formula
        g = _column(rows, "grad_norm_g")
        bottom.plot(steps, g, color="tab:green", alpha=0.25, lw=0.6)
        bottom.plot(steps, _smooth(g), color="tab:green", lw=1.5, label="|grad G|")
        if log_scale:
            bottom.set_yscale("log")
        bottom.set_xlabel("step")
        if c == 0:
            top.set_ylabel("discriminator output")
            bottom.set_ylabel("generator gradient norm" + (" (log scale)" if log_scale else ""))
            top.legend(loc="center right", fontsize=7)
            bottom.legend(loc="upper right", fontsize=7)
    if log_scale:  # a narrow span of norms (1 to 2) was labelled "10^0" and "2x10^0" alone
        for bottom in axes[1]:
            round_ticks_when_narrow(bottom.yaxis)
    fig.suptitle("GAN dynamics: D(x), D(G(z)) and the generator's gradient", fontsize=10)
    # about 16 characters an inch at 7 pt, as figure_protocol's 100 at 6 inches
    with_protocol(
        fig, textwrap.fill(lines_note([len(rows) for rows in runs.values()]), int(16 * fig.get_figwidth()))
    )
    from genbench.io import FIX_LEADERBOARDS, save_png

    return save_png(path, lambda fh: fig.savefig(fh, format="png", dpi=120), fix=FIX_LEADERBOARDS)
