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
    line = str(said[0].message)
    assert str(planted) in line and "--inception-weights" in line and "\n" not in line, line
    # the user's own file, not writable by others, is clean-fid's cache as before
    if whose == "writable by all":
        planted.chmod(0o644)
        assert CleanInception(digits, cache_dir=tmp_path).weights_path() == planted
