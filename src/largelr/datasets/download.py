"""The MNIST / CIFAR source files a dataset needs, found under ``data_root`` or downloaded (rule download_source).

The workflow fetches them in a local rule, on the submitting host (compute nodes of a cluster
often have no internet); ``generate_dataset`` then reads them without downloading. Files already
under ``data_root`` (in torchvision's layout, :mod:`largelr.datasets.sources`) are never
downloaded; offline without them, the error names the exact files to place (after a failed
download, with the reason it failed: issue 25).
Torch-free until a download is needed (torchvision fetches the archives).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from largelr.datasets.registry import resolve_data_root
from largelr.datasets.sources import (
    CIFAR10_FILES,
    CIFAR100_FILES,
    MNIST_FILES,
    _cifar_paths,
    _find_idx_file,
    _missing_message,
    cifar10_dir,
    cifar100_dir,
    mnist_dir,
    try_download,
)

#: dataset generator -> the sources it reads (the generators that take ``data_root`` / ``download``)
GENERATOR_SOURCES: dict[str, tuple[str, ...]] = {
    "colored_mnist": ("mnist",),
    "double_mnist": ("mnist",),
    "mnist_cifar": ("mnist", "cifar10"),
    "corrupted_cifar10": ("cifar10",),
    "cifar10": ("cifar10",),
    "cifar100": ("cifar100",),
}
SOURCES = ("mnist", "cifar10", "cifar100")


def _mnist_files(data_root: str, split: str, download: bool) -> list[Path]:
    """MNIST's IDX files of ``split`` (raw or .gz); missing ones fetched by torchvision when ``download``."""
    folder = mnist_dir(data_root)
    stems = MNIST_FILES[split]
    paths, failed = [_find_idx_file(folder, stem) for stem in stems], None
    if any(p is None for p in paths) and download:
        import torchvision  # only needed to download

        failed = try_download(lambda: torchvision.datasets.MNIST(root=data_root, train=(split == "train"),
                                                                 download=True))
        paths = [_find_idx_file(folder, stem) for stem in stems]
    if any(p is None for p in paths):
        missing = [folder / f"{stem}[.gz]" for stem, p in zip(stems, paths) if p is None]
        raise FileNotFoundError(_missing_message("MNIST", missing, folder, "the official IDX files, raw or .gz",
                                                 failed))
    return [p for p in paths if p is not None]


def source_files(source: str, data_root: str | Sequence[str], download: bool) -> dict[str, Any]:
    """Every file of ``source`` (mnist, cifar10, cifar100) under the resolved ``data_root``.

    ``data_root`` is resolved as ``generate_dataset`` resolves it (the first existing folder).
    Missing files are downloaded there when ``download``, else ``FileNotFoundError`` lists them.
    Returns ``{"source", "data_root", "files": [{"path", "bytes"}, ...]}``.
    """
    root = resolve_data_root(data_root)
    files: list[Path] = []
    with _no_empty_folders_left_on_failure(Path(root)):
        for split in ("train", "test"):
            if source == "mnist":
                files += _mnist_files(root, split, download)
            elif source == "cifar10":
                files += _cifar_paths(root, split, download, cifar10_dir(root), CIFAR10_FILES, "CIFAR10",
                                      "the python-version pickle batches")
            elif source == "cifar100":
                files += _cifar_paths(root, split, download, cifar100_dir(root), CIFAR100_FILES, "CIFAR100",
                                      "the python-version pickles `train` and `test`")
            else:
                raise ValueError(f"unknown source {source!r}; known: {SOURCES}")
    return {"source": source, "data_root": root,
            "files": [{"path": str(p), "bytes": p.stat().st_size} for p in files]}


@contextmanager
def _no_empty_folders_left_on_failure(root: Path) -> Iterator[None]:
    """Remove ``root`` again if it did not exist and a failed download left it holding no file.

    torchvision creates ``<root>/MNIST/raw`` before it tries the network. Left behind, that empty
    tree would be "the first existing folder" of ``data_root`` on the next run, and hide a later
    candidate (``../shared/data``) that holds the files."""
    existed = root.exists()
    try:
        yield
    except BaseException:
        if not existed and root.is_dir() and not any(p.is_file() for p in root.rglob("*")):
            shutil.rmtree(root)
        raise
