"""Readers of the real source images behind the semi-synthetic and standard datasets (paper §4.1, suppl. C).

MNIST is read from its official IDX files, CIFAR-10 and CIFAR-100 from their python
pickles, all in torchvision's layout under one ``data_root``::

    {data_root}/MNIST/raw/train-images-idx3-ubyte[.gz]   train-labels-idx1-ubyte[.gz]
    {data_root}/MNIST/raw/t10k-images-idx3-ubyte[.gz]    t10k-labels-idx1-ubyte[.gz]
    {data_root}/cifar-10-batches-py/data_batch_1 … data_batch_5, test_batch
    {data_root}/cifar-100-python/train, test

The readers parse the files themselves (no torchvision dataset class), so they accept
read-only folders, batches with any number of images and either raw or gzipped IDX files,
and they fail with a message naming the offending file. torchvision is used only to
*download* missing files when ``download=True``.
"""

from __future__ import annotations

import gzip
import pickle
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

SOURCE_SPLITS = ("train", "test")

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
CIFAR100_FILES = {"train": ("train",), "test": ("test",)}
#: CIFAR-100 fine labels 0–99 (``fine_label_names`` of the release's ``meta`` file).
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

_IDX_MAGIC_IMAGES = 2051  # 0x00000803: unsigned byte, 3 dimensions
_IDX_MAGIC_LABELS = 2049  # 0x00000801: unsigned byte, 1 dimension


def _check_split(split: str) -> None:
    if split not in SOURCE_SPLITS:
        raise ValueError(f"unknown source split {split!r}; expected one of {SOURCE_SPLITS}")


# --------------------------------------------------------------------------- MNIST


def mnist_dir(data_root: str | Path) -> Path:
    return Path(data_root) / "MNIST" / "raw"


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    """The uncompressed file when present (faster), else the ``.gz`` one, else ``None``."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: str | Path, expected_magic: int) -> np.ndarray:
    """Parse one IDX file (raw or ``.gz``) of unsigned bytes into an array of its header dims.

    Raises ``ValueError`` naming ``path`` if the magic number is wrong, the file is not valid
    gzip, or the number of data bytes differs from the product of the header dims
    (truncated or padded file).
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                data = handle.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:  # truncated / not gzip
        raise ValueError(f"cannot read IDX file {path}: {error}") from error
    ndim = expected_magic & 0xFF
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise ValueError(
            f"IDX file {path} is truncated: {len(data)} bytes, shorter than its {header_bytes}-byte header"
        )
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"IDX file {path} has magic number {magic:#010x}, expected {expected_magic:#010x}; "
            "the file is corrupt or not the file its name says"
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(data) - header_bytes
    if found != expected:
        raise ValueError(
            f"IDX file {path} is truncated or corrupt: header dims {dims} need {expected} data "
            f"bytes, the file has {found}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(dims)


def _missing_message(dataset: str, missing: list[Path], folder: Path, hint: str, failed: str | None = None) -> str:
    """The exact files to place; ``failed``: why the download (``download: true``) did not fetch them."""
    listing = "\n  ".join(str(p) for p in missing)
    message = f"{dataset} source files are missing:\n  {listing}\nPut them in {folder} ({hint})"
    if failed is None:
        return f"{message}, or set `download: true` in the config to let torchvision fetch them into data_root."
    return f"{message}.\nThe download (`download: true`) failed: {failed}"


def try_download(fetch: Callable[[], Any]) -> str | None:
    """Run ``fetch`` (a torchvision download); the reason it failed (offline: a URLError), or None.

    A failed download must end in the missing-files message, not a raw traceback (issue 25)."""
    try:
        fetch()
    except (OSError, RuntimeError, ValueError) as error:  # URLError, HTTPError, a corrupt archive
        return f"{type(error).__name__}: {error}"
    return None


def load_mnist(data_root: str | Path, split: str, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ("train": 60000, "test": 10000) as (uint8 N×28×28, int64 N).

    Reads ``{data_root}/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``. When a
    file is missing, ``download=True`` lets ``torchvision.datasets.MNIST`` fetch it into the
    same layout; otherwise ``FileNotFoundError`` lists the missing paths.
    """
    _check_split(split)
    folder = mnist_dir(data_root)
    stems = MNIST_FILES[split]
    paths, failed = [_find_idx_file(folder, stem) for stem in stems], None
    if any(p is None for p in paths) and download:
        import torchvision  # only needed to download

        failed = try_download(lambda: torchvision.datasets.MNIST(root=str(data_root), train=(split == "train"),
                                                                 download=True))
        paths = [_find_idx_file(folder, stem) for stem in stems]
    if any(p is None for p in paths):
        missing = [folder / f"{stem}[.gz]" for stem, p in zip(stems, paths) if p is None]
        raise FileNotFoundError(
            _missing_message("MNIST", missing, folder, "the official IDX files, raw or .gz", failed)
        )
    image_path, label_path = paths
    images = read_idx(image_path, _IDX_MAGIC_IMAGES)
    labels = read_idx(label_path, _IDX_MAGIC_LABELS)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"IDX file {image_path} holds {images.shape[1:]} images, expected 28×28")
    if len(images) != len(labels):
        raise ValueError(
            f"MNIST {split}: {image_path} has {len(images)} images but {label_path} has {len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"IDX file {label_path} holds label {labels.max()}, expected 0–9")
    return np.array(images, dtype=np.uint8), labels.astype(np.int64)


# --------------------------------------------------------------------------- CIFAR-10


def cifar10_dir(data_root: str | Path) -> Path:
    return Path(data_root) / "cifar-10-batches-py"


def read_cifar_pickle(
    path: str | Path, label_key: bytes = b"labels", num_classes: int = 10, name: str = "CIFAR-10 batch"
) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python pickle as (uint8 N×3×32×32, int64 N); any N.

    The pickle holds a dict with ``b'data'`` (N×3072 uint8, each row the red, green and
    blue 32×32 planes, row-major) and the labels under ``label_key`` (``b'labels'`` for
    CIFAR-10, ``b'fine_labels'`` for CIFAR-100). Raises ``ValueError`` naming ``path`` if
    it is not a pickle of such a dict, if ``b'data'`` is not N×3072 ``uint8``, if the
    label count differs from N or a label lies outside ``0 … num_classes − 1``.
    """
    path = Path(path)
    key = label_key.decode()
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{name} {path} is not a valid pickle: {error!r}") from error
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{name} {path} lacks b'data'/b'{key}' (found {keys})")
    data = np.asarray(batch[b"data"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{name} {path}: b'data' is {data.dtype} {data.shape}, expected uint8 N×3072")
    labels = np.asarray(batch[label_key], dtype=np.int64).reshape(-1)
    if len(labels) != len(data):
        raise ValueError(f"{name} {path}: {len(data)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} {path}: labels outside 0–{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar10_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python pickle batch as (uint8 N×3×32×32, int64 N); any N.

    Raises ``ValueError`` naming ``path`` if it is not a pickle of the expected dict, if
    ``b'data'`` is not N×3072 ``uint8`` or if the label count differs from N.
    """
    return read_cifar_pickle(path, b"labels", 10, "CIFAR-10 batch")


def _cifar_paths(data_root: str | Path, split: str, download: bool, folder: Path, files: dict[str, tuple[str, ...]],
                 torchvision_class: str, hint: str) -> list[Path]:
    """The pickle files of a CIFAR ``split`` in ``folder``; missing ones are fetched by
    ``torchvision.datasets.<torchvision_class>`` when ``download``, else ``FileNotFoundError``
    lists them."""
    _check_split(split)
    paths = [folder / name for name in files[split]]
    missing, failed = [p for p in paths if not p.is_file()], None
    if missing and download:
        import torchvision  # only needed to download

        dataset_class = getattr(torchvision.datasets, torchvision_class)
        failed = try_download(lambda: dataset_class(root=str(data_root), train=(split == "train"), download=True))
        missing = [p for p in paths if not p.is_file()]
    if missing:
        name = torchvision_class.replace("CIFAR", "CIFAR-")
        raise FileNotFoundError(_missing_message(name, missing, folder, hint, failed))
    return paths


def load_cifar10(data_root: str | Path, split: str, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 ``split`` as (uint8 N×3×32×32, int64 N), batches concatenated in order.

    Reads ``{data_root}/cifar-10-batches-py/data_batch_1..5`` (train) or ``test_batch``
    (test) with ``pickle.load(f, encoding='bytes')``; batches may hold any number of
    images (the offline test copy holds 1017 each). When a batch is missing,
    ``download=True`` lets ``torchvision.datasets.CIFAR10`` fetch the archive; otherwise
    ``FileNotFoundError`` lists the missing paths.
    """
    paths = _cifar_paths(data_root, split, download, cifar10_dir(data_root), CIFAR10_FILES, "CIFAR10",
                         "the python-version pickle batches")
    batches = [read_cifar10_batch(p) for p in paths]
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return images, labels


# --------------------------------------------------------------------------- CIFAR-100


def cifar100_dir(data_root: str | Path) -> Path:
    return Path(data_root) / "cifar-100-python"


def read_cifar100_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The CIFAR-100 ``train`` or ``test`` pickle as (uint8 N×3×32×32, int64 fine labels N)."""
    return read_cifar_pickle(path, b"fine_labels", 100, "CIFAR-100 file")


def load_cifar100(data_root: str | Path, split: str, download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-100 ``split`` ("train": 50000, "test": 10000) as (uint8 N×3×32×32, int64 N).

    Reads ``{data_root}/cifar-100-python/{train,test}`` (one pickle per split, labels =
    the 100 ``b'fine_labels'``; the 20 coarse labels are ignored). When the file is
    missing, ``download=True`` lets ``torchvision.datasets.CIFAR100`` fetch the archive;
    otherwise ``FileNotFoundError`` names the missing path.
    """
    paths = _cifar_paths(
        data_root, split, download, cifar100_dir(data_root), CIFAR100_FILES, "CIFAR100",
        "the python-version pickles `train` and `test`; torchvision.datasets.CIFAR100 fetches them",
    )
    return read_cifar100_file(paths[0])
