"""`genbench report`: results -> leaderboards/<dataset>.md, .csv and .tex (the markdown's tables
for a paper, :mod:`genbench.latex`), with figures beside them, and ``<dataset>.fid_gaps.csv``
(:mod:`genbench.fid_gaps`' numbers, unrounded) for a board with an FID gaps table.

Figures (matplotlib PNG, linked from the markdown): a sample grid and a nearest-neighbour grid per
board row (copied from the runs, :mod:`genbench.row_figures`), and FID against sampling throughput,
the DDIM step curve and the GAN training dynamics (drawn by :mod:`genbench.board_figures`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genbench.board_figures import ddim_step_curve, fid_vs_throughput, gan_dynamics, main_protocol_rows
from genbench.errors import GenbenchError
from genbench.fid_gaps import GAPS_CSV_SUFFIX
from genbench.frames import board_csv_frame, board_gaps_frame, read_board
from genbench.io import FIX_LEADERBOARDS, atomic_write_text, check_writable
from genbench.latex import leaderboard_latex
from genbench.layout import LEADERBOARDS, board_name
from genbench.markdown import leaderboard_markdown
from genbench.protocols import show_values
from genbench.results import Result, safe_name
from genbench.row_figures import copy_run_figures
from genbench.text import md_code, md_text

#: a features extractor as a result records it: its name and fingerprint
FeaturesKey = tuple[str, str | None]


def describe_features(results: list[Result]) -> dict[str, dict[FeaturesKey, str]]:
    """Per dataset, each features extractor its results used, in words for the caption. Keyed by
    dataset and (name, fingerprint): one ``--out`` can hold two datasets whose extractors share a
    name but not their weights or accuracy (stacked-digits' per-channel classifier)."""
    found: dict[str, dict[FeaturesKey, dict]] = {}
    for r in results:
        info = r.protocol.get("features") or {}
        if info.get("name"):
            key = (str(info["name"]), None if info.get("fingerprint") is None else str(info["fingerprint"]))
            found.setdefault(r.dataset, {}).setdefault(key, info)
    return {dataset: _describe(extractors) for dataset, extractors in found.items()}


def _describe(extractors: dict[FeaturesKey, dict]) -> dict[FeaturesKey, str]:
    # fingerprints shortened as in row labels, in full where two would read the same
    fingerprints = show_values("features_fingerprint", [fp for _, fp in extractors])
    out = {}
    for ((name, fingerprint), info), shown in zip(extractors.items(), fingerprints, strict=True):
        extra = [md_text(info["description"])] if info.get("description") else []
        for key, val in info.items():
            if "accuracy" in key and isinstance(val, int | float) and not isinstance(val, bool):
                # md_text: a key a result someone sent records ("accuracy\x1b[2J\n...") broke the line
                extra.append(f"{md_text(key.replace('_', ' '))} {val:.1%}")
        if fingerprint:  # network and weights; the preprocessing after ":" is in the JSONs
            extra.append(f"fingerprint {md_text(shown)}")
        out[(name, fingerprint)] = md_code(name) + (f" ({'; '.join(extra)})" if extra else "")
    return out


def default_leaderboards(out: Path | str) -> Path:
    """Where a report of ``out`` goes unless told: beside its results, never over the published
    boards that a clone's own ``leaderboards/`` holds (``make leaderboards`` names that one)."""
    return Path(out) / LEADERBOARDS


def written_files(leaderboards: Path | str, dataset: str) -> list[Path]:
    """The files :func:`write_report` wrote for ``dataset`` (figures aside): its .md, .csv and .tex,
    and its FID gaps' CSV where the board has that table."""
    stem = board_name(leaderboards, dataset)  # `_con` for a plugin's `con`: Windows opens a device for con.md
    written = [Path(leaderboards) / f"{stem}{suffix}" for suffix in (".md", ".csv", ".tex")]
    gaps = Path(leaderboards) / f"{stem}{GAPS_CSV_SUFFIX}"
    return written + ([gaps] if gaps.is_file() else [])  # removed by the report where it has none


def _remove_stale(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise GenbenchError(
            f"{path} is an earlier report's, which this board no longer has, and cannot be removed "
            f"({e.strerror or e}); delete it"
        ) from e


def write_report(out: Path | Sequence[Path], leaderboards: Path) -> dict[str, str]:
    """Write leaderboards/<dataset>.md, .csv and .tex (and figures) for every dataset under ``out``,
    or under several results folders as one board (:func:`~genbench.leaderboard.load_folders`), and
    ``<dataset>.fid_gaps.csv`` for a board with an FID gaps table (removing an earlier report's where
    it has none)."""
    board = read_board(out)  # what `genbench.leaderboard_frame` returns is read alike
    loaded, results, frame, agg = board.loaded, board.results, board.frame, board.agg
    check_writable(leaderboards, "--leaderboards")
    described = describe_features(results)
    pages = {}
    for dataset in board.datasets:
        mine = [r for r in results if r.dataset == dataset]
        # each result's own folder, under which its run figures are
        homes = [folder for folder, r in loaded if r.dataset == dataset]
        a = agg[agg["dataset"] == dataset]
        main, protocol = main_protocol_rows(a)
        stem = board_name(leaderboards, dataset)  # its files' and figure folder's name: `_con` for `con`
        fig_dir = check_writable(Path(leaderboards) / stem, "--leaderboards")  # a file there: one line
        figures: dict[str, str] = {}
        for name, make, data, shown in (
            ("FID against samples/s", fid_vs_throughput, main, protocol),
            ("DDIM step curve", ddim_step_curve, *main_protocol_rows(a, "ddim")),
            ("GAN training dynamics", functools.partial(gan_dynamics, rows=a), mine, ""),
        ):
            path = make(data, fig_dir / f"{safe_name(name.lower())}.png")
            if path is not None:
                figures[f"{name} ({shown})" if shown else name] = f"{stem}/{Path(path).name}"
        figures.update(copy_run_figures(mine, homes, fig_dir, a))
        md = leaderboard_markdown(frame, agg, dataset, figures, described.get(dataset, {}))
        # pandas at its floor (2.0) writes a float column by casting it to str, NaN and all, and numpy
        # says "invalid value encountered in cast" of the empty cells: a warning: line of every report
        with np.errstate(invalid="ignore"):
            csv = board_csv_frame(agg, dataset).to_csv(index=False)
            gaps = board_gaps_frame(agg, dataset)  # what `genbench.fid_gaps_frame` returns
            gaps_csv = gaps.to_csv(index=False) if gaps is not None else None
        tex = leaderboard_latex(frame, agg, dataset, described.get(dataset, {}))
        texts = [(".md", md), (".csv", csv), (".tex", tex)]
        texts += [(GAPS_CSV_SUFFIX, gaps_csv)] if gaps_csv is not None else []
        # all rendered before any is written (each write is atomic): a report killed while the
        # CSV rendered used to leave the new .md beside the old .csv
        for suffix, text in texts:
            atomic_write_text(Path(leaderboards) / f"{stem}{suffix}", text, fix=FIX_LEADERBOARDS)
        if gaps is None:  # an earlier report's gaps, beside a board that has none now, would read as its
            _remove_stale(Path(leaderboards) / f"{stem}{GAPS_CSV_SUFFIX}")
        pages[dataset] = md
    return pages
