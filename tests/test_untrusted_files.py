"""Files from others (a weights file someone sent, another user's results folder, a file in the
machine's shared /tmp) are read without running their code, without reaching outside the folders
they were named in, and what genbench writes has the mode a plain ``open()`` gives it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from genbench.data.digits import Digits
from genbench.errors import GenbenchError
from genbench.features import clean_inception
from genbench.features.clean_inception import CleanInception
from genbench.features.inception import Inception
from genbench.io import atomic_write_text
from genbench.results import Result
from genbench.row_figures import copy_run_figures


@pytest.fixture
def digits(tmp_path) -> Digits:
    return Digits(cache_dir=tmp_path)


class _RunsCode:
    """An object whose unpickling calls ``open(marker, "w")``: what a crafted pickle does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_inception_weights_given_are_not_unpickled_with_their_code(digits, tmp_path, monkeypatch):
    """torch-fidelity loads the file it is handed with ``weights_only=False`` (0.4; 0.3 with torch's
    default, False before 2.6): a ``--inception-weights`` file or ``$GENBENCH_INCEPTION_WEIGHTS``
    someone sent ran whatever its pickle named before genbench said it was no Inception."""
    marker, path = tmp_path / "ran", tmp_path / "sent.pth"
    torch.save({"fc.weight": _RunsCode(marker)}, path)
    for given in ("flag", "variable"):
        if given == "variable":
            monkeypatch.setenv("GENBENCH_INCEPTION_WEIGHTS", str(path))
        with pytest.raises(GenbenchError) as e:
            _ = Inception(digits, cache_dir=tmp_path, weights=path if given == "flag" else None).model
        assert not marker.exists(), given
        line = str(e.value)
        assert "\n" not in line and str(path) in line and "io.open" in line, line
        assert "could run code" in line and "--inception-weights" in line, line


def _other_user(path: Path, monkeypatch) -> None:
    """Make ``path`` another user's: chown where this process may (root), else this process
    pretends to be another user."""
    if os.geteuid() == 0:
        os.chown(path, 4242, 4242)
    else:
        real = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real + 1)


@pytest.mark.skipif(os.name != "posix", reason="POSIX owners and modes")
@pytest.mark.parametrize("whose", ["another user's", "writable by all"])
def test_clean_fids_file_in_the_shared_tmp_is_not_loaded_unless_it_is_the_users(
    whose, digits, tmp_path, monkeypatch
):
    """clean-fid caches its Inception TorchScript in /tmp, which every user of the machine writes:
    another user's file there (or anyone's, writable by all) was loaded as the network, unchecked
    (no digest is published), its features scored as clean-fid's."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    planted = shared / clean_inception.FILENAME
    planted.write_bytes(b"not clean-fid's network")
    if whose == "writable by all":
        planted.chmod(0o666)
    else:
        _other_user(planted, monkeypatch)
    monkeypatch.delenv(clean_inception.ENV, raising=False)
    monkeypatch.setattr(clean_inception, "CLEANFID_CACHE_DIRS", [shared])
    fetched = tmp_path / "weights" / clean_inception.FILENAME
    monkeypatch.setattr(clean_inception, "fetch_weights", lambda *a, **k: fetched)
    with pytest.warns(UserWarning) as said:
        assert CleanInception(digits, cache_dir=tmp_path).weights_path() == fetched
        # asked again (the fingerprint, then the network): said once, not a line each time
        assert CleanInception(digits, cache_dir=tmp_path).weights_path() == fetched
    assert len(said) == 1, [str(w.message) for w in said]
    line = str(said[0].message)
    assert str(planted) in line and "--inception-weights" in line and "\n" not in line, line
    # the user's own file, not writable by others, is clean-fid's cache as before
    if whose == "writable by all":
        planted.chmod(0o644)
        assert CleanInception(digits, cache_dir=tmp_path).weights_path() == planted


def _result(label: str = "copy", seed: int = 0) -> Result:
    return Result(model=label, dataset="toy", seed=seed, status="ok", protocol={}, metrics={"fid": 1.0})


def _grid(out: Path, r: Result, kind: str = "samples") -> Path:
    """A run's figure where a run writes it, its bytes naming it."""
    path = out / "toy" / "figures" / f"{r.label}-seed{r.seed}" / f"{kind}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"{r.label} {kind}".encode())
    return path


def test_a_figure_kind_a_result_names_stays_a_file_name_in_the_report_folder(tmp_path):
    """A result's ``artifacts`` keys went into the copied figure's file name as they were: a result
    file in someone else's folder naming ``x/../../escaped`` made `genbench report` create folders
    and write a file outside ``--leaderboards``."""
    out, dest = tmp_path / "runs", tmp_path / "boards" / "toy"
    dest.mkdir(parents=True)
    r = _result()
    r.artifacts = {"x/../../escaped": str(_grid(out, r))}
    figures = copy_run_figures([r], out, dest)
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents)
    assert [p.parent for p in written] == [dest], written
    assert list(figures.values()) == [f"toy/{written[0].name}"]


def test_a_figure_path_a_result_records_outside_its_results_folder_is_not_copied(tmp_path):
    """A run records its figures' paths; where a figure was not found under the results folder, the
    report copied the file at the recorded path, wherever it was: a result file in someone else's
    folder naming ``~/.ssh/id_ed25519`` had the report copy that key beside the board (by default
    ``<out>/leaderboards/``, in their folder)."""
    out, dest = tmp_path / "runs", tmp_path / "boards" / "toy"
    dest.mkdir(parents=True)
    secret = tmp_path / "home" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(b"private")
    r = _result()
    r.artifacts = {"samples": str(secret)}
    assert copy_run_figures([r], out, dest) == {}
    assert not list(dest.iterdir())
    # a figure of the results folder is found there whatever path was recorded (a moved folder)
    r.artifacts = {"samples": str(tmp_path / "elsewhere" / "toy" / "figures" / "copy-seed0" / "samples.png")}
    _grid(out, r)
    assert list(copy_run_figures([r], out, dest).values()) == ["toy/copy-samples.png"]
    assert (dest / "copy-samples.png").read_bytes() == b"copy samples"


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
@pytest.mark.parametrize("linked", ["file", "folder"])
def test_a_link_in_the_results_folders_figures_is_not_followed(tmp_path, linked):
    """The figures are read from ``<out>/<dataset>/figures/`` alone, but a link there was followed: a
    folder someone sent holding ``figures/copy-seed0/samples.png -> ~/.ssh/id_ed25519`` (or
    ``figures/x -> ~/.ssh``, with a result naming ``x/id_ed25519``) had the report copy the key
    beside the board, by default into their folder's ``leaderboards/``."""
    out, dest = tmp_path / "runs", tmp_path / "boards" / "toy"
    dest.mkdir(parents=True)
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_ed25519").write_bytes(b"private")
    r = _result()
    grid = _grid(out, r)
    if linked == "file":
        grid.unlink()
        grid.symlink_to(ssh / "id_ed25519")
        r.artifacts = {"samples": str(grid)}
    else:
        (grid.parent.parent / "x").symlink_to(ssh)
        r.artifacts = {"samples": "x/id_ed25519"}
    assert copy_run_figures([r], out, dest) == {}
    assert not list(dest.iterdir())


def test_a_name_a_result_records_reaches_the_board_as_text_without_control_characters(tmp_path):
    """A model name, error or figure kind in a result file someone sent went into the markdown and
    LaTeX boards with its control characters: ``\\x1b[2J`` cleared the terminal of whoever ran
    ``cat`` on the board, and LaTeX refused the .tex ("invalid character"). Markdown syntax in them
    (a link, a "|", a line break) was escaped already, and still is."""
    from genbench.reporting import write_report

    out, boards = tmp_path / "runs", tmp_path / "boards"
    evil = "x](http://evil)[y|z\n\x1b[2J"
    for seed in (0, 1):
        r = Result(
            model=f"m{evil}", dataset="toy", seed=seed, status="ok", protocol={}, metrics={"fid": 1.0 + seed}
        )
        r.artifacts = {evil: str(_grid(out, r))}
        r.write(out)
        Result(model=f"f{evil}", dataset="toy", seed=seed, status="failed", error=evil, protocol={}).write(
            out
        )
    write_report(out, boards)
    for board in (boards / "toy.md", boards / "toy.tex"):
        text = board.read_text()
        assert "\x1b" not in text and "x1b" in text, text  # written as "\\x1b", readable
    md = (boards / "toy.md").read_text()
    assert "](http://evil)" not in md.replace("\\](http://evil)", ""), md
    assert "|" not in md.replace("\\|", "").split("## Runs without samples")[1], md


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_an_atomic_write_has_the_mode_open_gives_under_the_umask_of_the_moment(tmp_path):
    """The umask was read once per process, at the first write: a process that set another since
    (a notebook's ``os.umask(0o002)`` for a group's shared folder) wrote results 0644, where
    ``open()`` gives 0664."""
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "first.json", "{}")
        for umask in (0o002, 0o022, 0o077):
            os.umask(umask)
            atomic_write_text(tmp_path / "atomic.json", "{}")  # a new file each time (a rename)
            with open(tmp_path / "plain.json", "w") as fh:
                fh.write("{}")
            modes = {p: oct((tmp_path / p).stat().st_mode & 0o777) for p in ("atomic.json", "plain.json")}
            assert modes["atomic.json"] == modes["plain.json"] == oct(0o666 & ~umask), (oct(umask), modes)
            (tmp_path / "plain.json").unlink()
    finally:
        os.umask(old)


def test_a_recorded_figure_path_through_a_parent_folder_is_not_followed(tmp_path):
    """A result file recording ``figures/../seed0.json`` named a file beside the figures folder,
    not a figure: it is not copied, though the file is there."""
    from genbench.row_figures import run_figure

    out = tmp_path / "runs"
    (out / "toy/figures").mkdir(parents=True)
    (out / "toy/seed0.json").write_text("{}")
    assert run_figure("anywhere/../seed0.json", out, "toy") is None
    (out / "toy/figures/ddpm").mkdir()
    (out / "toy/figures/ddpm/samples.png").write_bytes(b"png")
    assert run_figure("elsewhere/ddpm/samples.png", out, "toy") == out / "toy/figures/ddpm/samples.png"
