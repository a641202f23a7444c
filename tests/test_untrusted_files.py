"""Files from others (a weights file someone sent, another user's results folder, a file in the
machine's shared /tmp) are read without running their code, without reaching outside the folders
they were named in, and what genbench writes has the mode a plain ``open()`` gives it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genbench.data.digits import Digits
from genbench.errors import GenbenchError
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
