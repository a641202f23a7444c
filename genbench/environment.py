"""The environment a result was made in, recorded with every result (``Result.environment``): the
versions of genbench and the libraries its numbers depend on, the machine's hardware that timings
depend on (:func:`machine`, also saved with each checkpoint, and :func:`machine_text`, its words in
captions), numpy's and scipy's BLAS and the variables that set thread counts (:func:`blas`,
:func:`thread_settings`), and the code itself (:func:`git_commit` for a checkout, :func:`source_digest` for any
install), so that a number can be traced to the code and machine that made it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import platform
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def environment(device: str) -> dict[str, Any]:
    """Versions and machine facts recorded with every result."""
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    import genbench

    return {
        # the running code's own version: the metadata's may be another install's (a clone run
        # beside an installed genbench), and `genbench --version` prints this one
        "genbench": genbench.__version__,
        "torch": version("torch"),
        "torch_fidelity": version("torch-fidelity"),
        "clean_fid": version("clean-fid"),
        "numpy": version("numpy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "git_commit": git_commit(),
        "source_digest": source_digest(),
        **machine(device),
        "blas": blas(),
        "thread_settings": thread_settings(),
    }


#: the variables that set the thread counts of torch's and numpy's and scipy's kernels at start-up
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_settings() -> dict[str, str]:
    """The :data:`THREAD_VARIABLES` that are set, with their values: torch's thread count is
    recorded (``cpu_threads``), but not what chose it, nor numpy's BLAS's, which they set too."""
    return {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ}


def blas() -> list[str] | None:
    """The BLAS libraries numpy and scipy call (FID's covariances, eigenvalues and ``sqrtm``, KID's
    kernels), each with its version and thread count: ``["openblas 0.3.31 (2 threads)"]``. The
    thread count moves ``numpy.linalg.eigvals`` of a 2048-dimensional covariance product, so
    Inception FID, in its 11th digit (a 2048-feature FID of 24364.462511872 on 1 thread and
    24364.462514647 on 2); None where threadpoolctl (scikit-learn's dependency) cannot say."""
    try:
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS, where it ships its own)
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    found = []
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            threads = lib.get("num_threads")
            text = f"{lib.get('internal_api')} {lib.get('version')} ({threads} thread{'' if threads == 1 else 's'})"
            if text not in found:
                found.append(text)
    return sorted(found)  # threadpoolctl lists them in the order they were loaded


def machine(device: str) -> dict[str, Any]:
    """The hardware that timings depend on: the CPU's model, the instruction set torch's CPU kernels
    use on it (one model name, "AMD EPYC" for one, covers CPUs with and without AVX-512, which ran the
    test suite about twice apart and round differently), the threads torch uses, and the GPU's name
    on CUDA, with the CUDA runtime and cuDNN that torch's GPU kernels come from and whether they may
    round in TF32 (:func:`genbench.features.reference.arithmetic`). Recorded in results and in
    checkpoints (where training was timed: their words, :func:`machine_text`)."""
    import torch

    facts: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_threads": torch.get_num_threads(),
    }
    if device.startswith("cuda"):
        from genbench.features.reference import arithmetic

        facts["gpu"] = torch.cuda.get_device_name(torch.device(device))
        # a GPU result named the GPU alone: PyPI's torch wheel ("2.11.0") names no CUDA, another
        # cuDNN picks other convolution kernels, and TF32 moves Inception features in the third or
        # fourth digit, as the CPU's instruction set (cpu_capability) does on the CPU
        facts["cuda"] = torch.version.cuda
        facts["cudnn"] = torch.backends.cudnn.version()
        facts["arithmetic"] = arithmetic(torch.device(device))
    return facts


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_text(facts: dict[str, Any]) -> str:
    """``facts`` (from :func:`machine`, or a result's environment) in a few words, for captions:
    "NVIDIA H200" or "CPU: AMD EPYC (AVX2), 2 threads" (results written before the instruction set
    was recorded lack it); "" when nothing was recorded."""
    if facts.get("gpu"):
        return str(facts["gpu"])
    parts = [str(facts["cpu"])] if facts.get("cpu") else []
    if parts and facts.get("cpu_capability"):
        parts[0] += f" ({facts['cpu_capability']})"
    if threads := facts.get("cpu_threads"):
        parts.append(f"{threads} thread{'' if threads == 1 else 's'}")  # "1 threads" read as a typo
    if parts:
        return "CPU: " + ", ".join(parts)
    return "CPU" if str(facts.get("device", "")).startswith("cpu") else ""


def machine_as_written(text: str) -> str:
    """A machine's words that an older genbench recorded (a checkpoint's ``machine``, a result's
    ``training.trained_on``) as :func:`machine_text` writes them now: before 6 December it wrote
    "1 threads", and a board read the machine of such a checkpoint as another than the one its
    results sampled on ("Rows were timed differently")."""
    return re.sub(r"(?<![0-9])1 threads\b", "1 thread", text)


#: the packages whose code makes a result: the harness and the reference models beside it
SOURCE_PACKAGES = ("genbench", "baselines")


@functools.cache
def source_digest() -> str | None:
    """A digest of the Python sources of :data:`SOURCE_PACKAGES`, found where Python imports them
    from: ``git_commit`` names a checkout only, so the results of two installed builds both called
    0.1.0 could not be told apart. A wheel and a clone of one commit give the same digest.
    Configuration files and weights are not hashed (results record their own hashes). None when
    no source could be read. Read once per process (about a hundred files, milliseconds)."""
    return digest_sources(_package_dirs())


def _package_dirs() -> dict[str, list[Path]]:
    """Where each of :data:`SOURCE_PACKAGES` is imported from (its spec, without importing it)."""
    dirs: dict[str, list[Path]] = {}
    for package in SOURCE_PACKAGES:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.submodule_search_locations:
            dirs[package] = [Path(loc) for loc in spec.submodule_search_locations]
    return dirs


def digest_sources(dirs: Mapping[str, Sequence[Path]]) -> str | None:
    """The digest of the ``*.py`` files under each package's folders: each file's path in the
    package and its content with Windows line ends read as Unix ones (a checkout with
    ``core.autocrlf`` is the same code). Hidden files and folders (an editor's ``.#x.py`` lock, a
    ``.venv``) are no part of the package; a file that cannot be read (a dangling link) is skipped."""
    h = hashlib.blake2b(digest_size=8)
    read = 0
    for package, roots in dirs.items():
        files = sorted(
            (f"{package}/{path.relative_to(root).as_posix()}", path)
            for root in roots
            for path in Path(root).rglob("*.py")
            if not any(part.startswith(".") for part in path.relative_to(root).parts)
        )
        for name, path in files:
            try:
                source = path.read_bytes()
            except OSError:
                continue
            h.update(name.encode() + b"\0" + source.replace(b"\r\n", b"\n") + b"\0")
            read += 1
    return h.hexdigest() if read else None


def git_commit() -> str | None:
    """The commit of the genbench checkout, when it is one (with '+dirty' for local changes).

    Only when the repository's top level is genbench's own: git looks upwards, so genbench installed
    into a project's ``.venv`` recorded the project's commit as genbench's. Asked once per process,
    as :func:`source_digest` is read: the code that runs is the code imported, and every result
    asked git again (two commands, about 25 ms each time, and a test session writes thousands), so
    the results of a long run also recorded edits made in the checkout while it ran."""
    return _git_commit(Path(__file__).resolve().parent.parent)


@functools.cache
def _git_commit(root: Path) -> str | None:
    """:func:`git_commit` of the checkout at ``root``."""
    try:
        sha = _git(root, "rev-parse", "--show-toplevel", "HEAD")
        lines = sha.stdout.split("\n")
        if sha.returncode != 0 or len(lines) < 2 or Path(lines[0]).resolve() != root:
            return None
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
        return lines[1].strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` run in ``root``, its output as text, given 5 s."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=5)
