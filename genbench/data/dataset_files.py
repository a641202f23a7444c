"""The fix for ``--dataset PATH`` naming the files of a built-in dataset rather than images: CIFAR-10's
``cifar-10-python.tar.gz`` or its extracted ``cifar-10-batches-py/``, MNIST's and Fashion-MNIST's IDX
files (torchvision's ``MNIST/raw/``), or a torchvision root holding them. A path is read as a folder
of PNG/JPEG images or an ``.npz``/``.npy`` of them, so such a path was "no PNG/JPEG images in ...;
pass a folder of .png/.jpg files" or "neither a folder nor an .npz/.npy image archive", naming no way
to the dataset whose files they are: ``--dataset cifar10 --data-dir ROOT``, which reads them in place
(:meth:`genbench.data.cifar10.CIFAR10.data_folders`, :meth:`genbench.data.mnist.MNIST.data_folders`).
A ``.zip`` or tar of images (clean-fid reads a ``.zip`` as a folder) is told to be unpacked.
"""

from __future__ import annotations

from pathlib import Path

from genbench.data import cifar10, mnist

#: the IDX files MNIST and Fashion-MNIST share the names of, gzipped and not
_IDX_FILES = frozenset(n for gz in mnist.RESOURCES["mnist"] for n in (gz, gz.removesuffix(".gz")))
#: {torchvision's folder: genbench's name} and {genbench's folder: its name}
_TORCHVISION_IDX = {"MNIST": "mnist", "FashionMNIST": "fashion-mnist"}
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


def _use(dataset: str, data_dir: Path, what: str) -> str:
    return f"it is {what}: pass --dataset {dataset} --data-dir {data_dir} (its files are read in place)"


def _above_own_folder(folder: Path, own: str) -> Path:
    """The ``--data-dir`` of a folder that holds a dataset's files: genbench's own ``<data-dir>/<own>``
    is named by the folder above it, any other folder (torchvision's root) by itself."""
    return folder.parent if folder.name == own else folder


def _cifar10(path: Path) -> str | None:
    if path.is_file():
        if path.name != cifar10.ARCHIVE:
            return None
        return _use("cifar10", _above_own_folder(path.parent, "cifar10"), "CIFAR-10's archive")
    if path.name == cifar10.FOLDER or any((path / n).is_file() for n in cifar10.BATCH_MD5):
        what = f"CIFAR-10's extracted {cifar10.FOLDER}/"
        return _use("cifar10", _above_own_folder(path.parent, "cifar10"), what)
    if (path / cifar10.ARCHIVE).is_file() or (path / cifar10.FOLDER).is_dir():
        return _use("cifar10", _above_own_folder(path, "cifar10"), "a folder of CIFAR-10's files")
    return None


def _idx(path: Path) -> str | None:
    folder = path.parent if path.is_file() else path
    holds = path.name in _IDX_FILES if path.is_file() else any((path / n).is_file() for n in _IDX_FILES)
    if holds and folder.name == "raw" and folder.parent.name in _TORCHVISION_IDX:
        name = _TORCHVISION_IDX[folder.parent.name]
        return _use(name, folder.parent.parent, f"torchvision's {folder.parent.name}/raw/ of {name}")
    if holds and folder.name in _TORCHVISION_IDX.values():
        return _use(folder.name, folder.parent, f"genbench's {folder.name}/ folder")
    if holds:  # MNIST's and Fashion-MNIST's files share their names: which one, the folder does not say
        return (
            "it holds MNIST-format IDX files: put them into DIR/mnist/ (or DIR/fashion-mnist/) and pass "
            "--dataset mnist (or fashion-mnist) --data-dir DIR"
        )
    if path.is_dir():
        if path.name in _TORCHVISION_IDX and ((path / "raw").is_dir() or (path / "processed").is_dir()):
            name = _TORCHVISION_IDX[path.name]
            return _use(name, path.parent, f"torchvision's {path.name}/ of {name}")
        for theirs, name in _TORCHVISION_IDX.items():
            if (path / theirs / "raw").is_dir() or (path / theirs / "processed").is_dir():
                return _use(name, path, f"a torchvision root holding {theirs}/")
    return None


def unpack_fix(path: Path) -> str | None:
    """For a ``.zip`` or tar file (of images, as clean-fid reads a ``.zip``): unpack it and pass the
    folder; None for any other file. CIFAR-10's archive is :func:`dataset_files_fix`'s."""
    name = path.name.lower()
    if name.endswith(".zip"):
        how = f"unzip it (unzip {path.name} -d DIR)"
    elif name.endswith(_TAR_SUFFIXES) and path.name != cifar10.ARCHIVE:
        how = f"extract it (tar xf {path.name} -C DIR)"
    else:
        return None
    return f"it is an archive of files, which genbench does not read: {how} and pass the folder"


def dataset_files_fix(path: Path) -> str | None:
    """What to pass instead of ``--dataset path`` where ``path`` holds no images but a built-in
    dataset's files (or is an archive to unpack); None where it is nothing of the kind."""
    path = Path(path)
    try:
        return (unpack_fix(path) if path.is_file() else None) or _cifar10(path) or _idx(path)
    except OSError:  # unreadable: the caller's own error stands
        return None
