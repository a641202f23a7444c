"""The run figures beside a board: each row's own sample and nearest-neighbour grids (a label split
by protocol or config is several rows), named as its table names it, in files of its own."""

from __future__ import annotations

import re
from pathlib import Path

from genbench.leaderboard import aggregate, results_frame
from genbench.reporting import write_report
from genbench.results import Result, safe_name


def run(model, seed, fid, *, n=100, config=None, status="ok"):
    """A result of dataset ``toy`` at ``--samples n``, trained under ``config`` when given."""
    return Result(
        model=model,
        dataset="toy",
        seed=seed,
        status=status,
        error=None if status == "ok" else "CUDA out of memory",
        protocol={
            "num_samples": n,
            "reference_split": "train",
            "features": {"name": "raw", "fingerprint": "raw-v1"},
        },
        metrics={"fid": fid} if status == "ok" else {},
        config=config or {},
        training={"model_version": 1} if config else {},
    )


def write_with_grids(out: Path, results: list[Result]) -> None:
    """Write ``results`` under ``out`` with each ok run's sample and nearest-neighbour grids where a
    run puts them, each file's bytes naming its run (so a test tells whose grid was copied)."""
    for r in results:
        if r.status == "ok":
            folder = out / r.dataset / "figures" / f"{safe_name(r.label)}-seed{r.seed}"
            folder.mkdir(parents=True, exist_ok=True)
            for kind in ("samples", "nearest_neighbours"):
                (folder / f"{kind}.png").write_bytes(f"{r.label} seed {r.seed} {kind}".encode())
                r.artifacts[kind] = str(folder / f"{kind}.png")
        r.write(out)


def figure_links(md: str) -> dict[str, str]:
    """The board's links to run figures (its grids): link text -> path."""
    links = re.findall(r"^- \[(.+)\]\((.+)\)$", md[md.index("## Figures") :], flags=re.M)
    return {text: path for text, path in links if "(seed " in text and not text.startswith("GAN")}


def test_each_row_of_a_label_split_by_protocol_or_config_has_its_own_grids(tmp_path):
    """`copy` at --samples 100 (seeds 0, 1) and at --samples 200 (seed 2) is two rows, as `ddpm`
    trained under two configs is: only the label's lowest seed's grids were copied, linked as
    "copy: samples (seed 0)", so the row `copy (N=200)` had none and no link said which row it was."""
    out, boards = tmp_path / "runs", tmp_path / "boards"
    rs = [run("copy", 0, 0.0), run("copy", 1, 0.0), run("copy", 2, 0.0, n=200)]
    rs += [run("ddpm", 0, 5.0, config={"dropout": 0.1}), run("ddpm", 1, 6.0, config={"dropout": 0.0})]
    write_with_grids(out, rs)
    md = write_report(out, boards)["toy"]
    rows = aggregate(results_frame(rs))
    copy_rows = sorted(rows.loc[rows["label"] == "copy", "row_label"])
    ddpm = rows[rows["label"] == "ddpm"]
    ddpm_rows = dict(zip(ddpm["seeds"], ddpm["row_label"], strict=True))
    assert copy_rows == ["copy (N=100)", "copy (N=200)"]
    links = figure_links(md)
    # every row of the table has both its grids, from its own lowest seed, named as the table names it
    shown = {(text.split(": ")[0], text.rsplit("(seed ", 1)[1].rstrip(")")) for text in links}
    assert shown == {
        ("copy (N=100)", "0"),
        ("copy (N=200)", "2"),
        (f"{ddpm_rows['0']}", "0"),
        (f"{ddpm_rows['1']}", "1"),
    }
    assert len(links) == 8 and len(set(links.values())) == 8  # a file per row and grid
    for text, path in links.items():
        row, rest = text.split(": ")
        kind, seed = rest.removesuffix(")").split(" (seed ")
        label = row.split(" (")[0]
        assert (boards / path).read_bytes() == f"{label} seed {seed} {kind.replace(' ', '_')}".encode()
        assert f"| {row} " in md  # the link's name is a row of the table


def test_grid_file_names_come_from_the_rows_protocol_and_config_not_the_boards_other_rows(tmp_path):
    """A row's file is named by its label and its protocol's and config's hashes: a rerun (and a
    report of the same runs listed in another order) writes the same board, byte for byte, and a
    label's file keeps its name when another protocol's runs join the board."""
    out, boards = tmp_path / "runs", tmp_path / "boards"
    rs = [run("copy", 0, 0.0), run("copy", 1, 0.0, n=200)]
    write_with_grids(out, rs)
    first = write_report(out, boards)["toy"]
    files = {p.name: p.read_bytes() for p in (boards / "toy").iterdir()}
    assert write_report(out, boards)["toy"] == first
    assert {p.name: p.read_bytes() for p in (boards / "toy").iterdir()} == files
    names = sorted(Path(p).name for p in figure_links(first).values())
    assert all(re.fullmatch(r"copy-protocol_[0-9a-f]{8}-(samples|nearest_neighbours)\.png", n) for n in names)

    write_with_grids(out, [run("copy", 2, 0.0, n=500)])  # a third protocol: every label suffix reads anew
    again = figure_links(write_report(out, boards)["toy"])
    assert set(names) < {Path(p).name for p in again.values()}


def test_labels_that_make_the_same_file_name_keep_their_own_grids(tmp_path):
    """`a b` and `a_b` both make the file name a_b: the second grid copied overwrote the first,
    and both links showed one model's samples."""
    out, boards = tmp_path / "runs", tmp_path / "boards"
    write_with_grids(out, [run("a b", 0, 1.0), run("a_b", 1, 2.0), run("a:b", 2, 3.0)])
    links = figure_links(write_report(out, boards)["toy"])
    samples = {text.split(": samples")[0]: path for text, path in links.items() if ": samples" in text}
    assert samples["a_b"] == "toy/a_b-samples.png"  # the label that is its own file name keeps it
    assert len(set(samples.values())) == 3
    for label, path in samples.items():
        assert (boards / path).read_bytes().startswith(f"{label} seed ".encode())

    # names that differ in case alone are one file on macOS's and Windows' file systems
    out, boards = tmp_path / "runs-case", tmp_path / "boards-case"
    write_with_grids(out, [run("Copy", 0, 1.0), run("copy", 1, 2.0)])
    links = figure_links(write_report(out, boards)["toy"])
    assert len({path.lower() for path in links.values()}) == 4


def test_each_row_of_a_label_split_by_protocol_has_its_own_gan_dynamics_panel(tmp_path, monkeypatch):
    """The GAN dynamics drew one panel per label, "gan (seed 0)", beside a board with the rows
    `gan (N=100)` and `gan (N=200)`: the second row's training was not shown, and the panel did not
    say which row it was."""
    from genbench.board_figures import gan_dynamics
    from genbench.metrics import gan_dynamics as module

    drawn: dict[str, list[dict]] = {}
    monkeypatch.setattr(module, "plot_gan_dynamics", lambda logs, path: drawn.update(logs) or path)
    rs = [run("gan", 0, 5.0), run("gan", 1, 6.0, n=200), run("gan", 2, 0.0, n=200, status="failed")]
    for r in rs:
        r.training_log = [
            {"step": s, "d_real": 0.9, "d_fake": r.seed / 10, "grad_norm_g": 0.1} for s in range(4)
        ]
    assert gan_dynamics(rs[::-1], tmp_path / "gan.png") is not None  # the rows are its results'
    assert drawn == {"gan (N=100) (seed 0)": rs[0].training_log, "gan (N=200) (seed 1)": rs[1].training_log}
    drawn.clear()
    assert gan_dynamics(rs, tmp_path / "gan.png", aggregate(results_frame(rs))) is not None
    assert drawn == {"gan (N=100) (seed 0)": rs[0].training_log, "gan (N=200) (seed 1)": rs[1].training_log}
