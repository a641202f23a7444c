"""The Inception extractors' weights fetched as the datasets are, never from the network: a local
server (tests/test_download.py's) serves a small fake weights file under the real file name."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from test_download import HALF, PAYLOAD, _State, resuming_server
from torch import nn

from genbench.data.digest import sha256_prefix
from genbench.data.digits import Digits
from genbench.errors import GenbenchError
from genbench.features import clean_inception, inception
from genbench.features.clean_inception import CleanInception
from genbench.features.inception import Inception
from genbench.progress import Progress, command_console


class _TorchFidelityNet(nn.Module):
    """torch-fidelity's Inception, reduced to the weights file it is handed (the fake one is no network)."""

    def __init__(self, name: str, layers: list[str], feature_extractor_weights_path: str | None = None):
        super().__init__()
        # None: torch-fidelity downloads the file itself (through torch.hub)
        self.weights_path = Path(feature_extractor_weights_path) if feature_extractor_weights_path else None


@dataclass
class _Weights:
    get: Callable[[], Path | None]  # the weights file the extractor uses, fetched as it does
    dest: Path  # where the download goes
    env: str  # the variable its errors name


def _torch_fidelity(tmp_path: Path, monkeypatch, url: str, real_digest: bool = False) -> _Weights:
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(inception.ENV, raising=False)
    monkeypatch.setattr(inception, "URL", url + inception.FILENAME)
    if not real_digest:  # the fake file's; the real one is in its name
        digest = sha256_prefix(hashlib.sha256(PAYLOAD).hexdigest()[:8])
        monkeypatch.setattr(inception, "DIGEST", digest, raising=False)
    monkeypatch.setattr(tfi, "FeatureExtractorInceptionV3", _TorchFidelityNet)
    digits = Digits(cache_dir=tmp_path)
    return _Weights(
        lambda: Inception(digits, cache_dir=tmp_path).model.weights_path,
        tmp_path / "torch" / "hub" / "checkpoints" / inception.FILENAME,
        inception.ENV,
    )


def _clean_fid(tmp_path: Path, monkeypatch, url: str) -> _Weights:
    import cleanfid.downloads_helper

    monkeypatch.delenv(clean_inception.ENV, raising=False)
    monkeypatch.setattr(clean_inception, "URL", url + clean_inception.FILENAME)
    monkeypatch.setattr(cleanfid.downloads_helper, "inception_url", url + clean_inception.FILENAME)
    monkeypatch.setattr(clean_inception, "CLEANFID_CACHE_DIRS", [tmp_path / "cleanfid"])
    digits = Digits(cache_dir=tmp_path)
    return _Weights(
        lambda: CleanInception(digits, cache_dir=tmp_path).weights_path(),
        tmp_path / "weights" / clean_inception.FILENAME,
        clean_inception.ENV,
    )


@pytest.fixture
def resuming(monkeypatch) -> Iterator[_State]:
    """tests/test_download.py's resuming server."""
    with resuming_server(monkeypatch) as state:
        yield state


@pytest.fixture(params=["inception", "clean-inception"])
def weights(request, resuming, tmp_path, monkeypatch) -> _Weights:
    setup = _torch_fidelity if request.param == "inception" else _clean_fid
    return setup(tmp_path, monkeypatch, resuming.url)


def _one_line_error(get: Callable[[], object]) -> str:
    with pytest.raises(GenbenchError) as e:
        get()
    assert "\n" not in str(e.value), str(e.value)
    return str(e.value)


def test_a_weights_download_cut_off_is_resumed(weights, resuming):
    """torch.hub's download (and clean-fid's) started a cut-off download of the 91 MB file over."""
    resuming.mode = "cut"
    error = _one_line_error(weights.get)
    assert f"kept in {weights.dest.name}.part, which a rerun resumes" in error, error
    assert f"--inception-weights PATH or set {weights.env}" in error, error
    resuming.mode = "ok"
    assert weights.get() == weights.dest
    headers, status = resuming.requests[-1]
    assert (headers.get("Range"), status) == (f"bytes={HALF}-", 206)
    assert weights.dest.read_bytes() == PAYLOAD
    assert [p.name for p in weights.dest.parent.iterdir()] == [weights.dest.name]  # no part, no lock


def test_runs_sharing_a_cache_download_the_weights_once(weights, resuming):
    """A cluster array's jobs starting together each downloaded the file: the second now waits for
    the first's download and uses its file."""
    resuming.mode = "pause"  # the first download holds on half-way until released
    got: dict[str, Path] = {}
    errors: list[BaseException] = []
    said = io.StringIO()

    def run(who: str) -> None:
        out = said if who == "second" else io.StringIO()
        try:
            with command_console(Progress(False, Console(file=out, width=300))):
                got[who] = weights.get()
        except BaseException as e:  # said by the main thread's asserts
            errors.append(e)

    def wait_for(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 60  # a wait, not a timing
        while not done():
            assert not errors and time.monotonic() < deadline, (errors, said.getvalue())
            time.sleep(0.02)

    jobs = [threading.Thread(target=run, args=(who,), daemon=True) for who in ("first", "second")]
    jobs[0].start()
    wait_for(lambda: bool(resuming.requests))
    jobs[1].start()
    wait_for(lambda: "another genbench process is downloading it; waiting for it" in said.getvalue())
    resuming.release.set()
    for job in jobs:
        job.join(60)
    assert not errors, errors
    assert got == {"first": weights.dest, "second": weights.dest}
    assert len(resuming.requests) == 1 and weights.dest.read_bytes() == PAYLOAD


def test_torch_fidelity_weights_that_fail_their_sha256_are_refused(tmp_path, resuming, monkeypatch):
    """torch-fidelity's file name carries its sha256's first digits, which nothing checked
    (torch-fidelity calls ``load_state_dict_from_url`` without ``check_hash``): another file that
    loads as a state dict was used as the Inception."""
    fetched = _torch_fidelity(tmp_path, monkeypatch, resuming.url, real_digest=True)
    fix = f"--inception-weights PATH or set {inception.ENV}"
    error = _one_line_error(fetched.get)  # served: the fake file, not the one the name's digest says
    assert f"checksum mismatch from {resuming.url}{inception.FILENAME}" in error and fix in error, error
    assert list(fetched.dest.parent.iterdir()) == []
    fetched.dest.write_bytes(PAYLOAD)  # in torch.hub's cache already (copied there, or corrupted)
    error = _one_line_error(fetched.get)
    sha256 = hashlib.sha256(PAYLOAD).hexdigest()
    assert f"{fetched.dest} is corrupt (sha256 {sha256}, expected 6726825d); delete it" in error, error
    assert fix in error and len(resuming.requests) == 1, error


def test_a_downloaded_clean_fid_file_that_is_no_torchscript_is_named_to_delete(
    tmp_path, resuming, monkeypatch
):
    """No digest of clean-fid's file is published, so a whole download that is not the file (a
    mirror's) took its name: its error said to pass another file, and the bad one stayed for good."""
    fetched = _clean_fid(tmp_path, monkeypatch, resuming.url)
    extractor = CleanInception(Digits(cache_dir=tmp_path), cache_dir=tmp_path)
    error = _one_line_error(lambda: extractor.model)
    assert f"{fetched.dest} is not clean-fid's Inception TorchScript" in error, error
    assert f"delete it to download it again, or pass {clean_inception.FILENAME}" in error, error
    assert f"--inception-weights PATH or set {clean_inception.ENV}" in error, error
