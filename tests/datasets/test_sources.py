"""MNIST / CIFAR-10 readers (largelr.datasets.sources): real files, corrupt files, missing files."""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from largelr.datasets import sources
from largelr.datasets.sources import load_cifar10, load_mnist, read_idx

DATA_ROOT = Path(os.environ.get("LARGELR_DATA_ROOT", Path(__file__).resolve().parents[3] / "shared" / "data"))
needs_real_data = pytest.mark.skipif(
    not (DATA_ROOT / "MNIST" / "raw").is_dir() or not (DATA_ROOT / "cifar-10-batches-py").is_dir(),
    reason=f"real MNIST/CIFAR-10 files not found under {DATA_ROOT} (set LARGELR_DATA_ROOT)",
)


# --------------------------------------------------------------------------- helpers


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes holding ``array`` (magic 0x0000080N, N = ndim)."""
    header = (0x0800 + array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_mnist(root: Path, split: str, images: np.ndarray, labels: np.ndarray, gz: bool = False) -> list[Path]:
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, array in zip(sources.MNIST_FILES[split], (images, labels)):
        data = idx_bytes(array)
        path = folder / (f"{stem}.gz" if gz else stem)
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        paths.append(path)
    return paths


def write_cifar_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = {b"batch_label": b"testing batch", b"labels": list(labels), b"data": data}
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)


def tiny_mnist(n: int = 7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n).astype(np.uint8)


# --------------------------------------------------------------------------- MNIST, real files


@needs_real_data
def test_real_mnist_splits_have_official_sizes_and_labels():
    x_train, y_train = load_mnist(DATA_ROOT, "train")
    x_test, y_test = load_mnist(DATA_ROOT, "test")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64 and y_test.dtype == np.int64
    # first training labels of the official file; class counts of the official test set
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.max() == 255 and x_train.min() == 0
    # a digit has bright strokes on a black background
    assert 0.1 < float((x_test > 0).mean()) < 0.3


@needs_real_data
def test_gz_only_copy_reads_the_same_as_raw(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for stem in sources.MNIST_FILES["test"]:
        shutil.copyfile(DATA_ROOT / "MNIST" / "raw" / f"{stem}.gz", folder / f"{stem}.gz")
    x_gz, y_gz = load_mnist(tmp_path, "test")
    x_raw, y_raw = load_mnist(DATA_ROOT, "test")
    np.testing.assert_array_equal(x_gz, x_raw)
    np.testing.assert_array_equal(y_gz, y_raw)


# --------------------------------------------------------------------------- MNIST, synthetic files


@pytest.mark.parametrize("gz", [False, True])
def test_written_idx_files_round_trip(tmp_path, gz):
    images, labels = tiny_mnist()
    write_mnist(tmp_path, "train", images, labels, gz=gz)
    x, y = load_mnist(tmp_path, "train")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels.astype(np.int64))


def test_truncated_idx_file_names_the_file(tmp_path):
    images, labels = tiny_mnist()
    image_path, _ = write_mnist(tmp_path, "test", images, labels)
    image_path.write_bytes(image_path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated") as error:
        load_mnist(tmp_path, "test")
    assert str(image_path) in str(error.value)


def test_idx_file_with_extra_bytes_is_rejected(tmp_path):
    images, labels = tiny_mnist()
    _, label_path = write_mnist(tmp_path, "test", images, labels)
    label_path.write_bytes(label_path.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match=str(label_path).replace("\\", "\\\\")):
        load_mnist(tmp_path, "test")


def test_wrong_magic_number_names_the_file(tmp_path):
    images, labels = tiny_mnist()
    image_path, label_path = write_mnist(tmp_path, "test", images, labels)
    # label file where the image file should be: magic 2049 instead of 2051
    image_path.write_bytes(label_path.read_bytes())
    with pytest.raises(ValueError, match="magic") as error:
        load_mnist(tmp_path, "test")
    assert str(image_path) in str(error.value)


def test_truncated_gz_names_the_file(tmp_path):
    images, labels = tiny_mnist()
    image_path, _ = write_mnist(tmp_path, "test", images, labels, gz=True)
    image_path.write_bytes(image_path.read_bytes()[: len(image_path.read_bytes()) // 2])
    with pytest.raises(ValueError) as error:
        load_mnist(tmp_path, "test")
    assert str(image_path) in str(error.value)


def test_image_and_label_counts_must_agree(tmp_path):
    images, labels = tiny_mnist(n=7)
    write_mnist(tmp_path, "test", images, labels[:5])
    with pytest.raises(ValueError, match="7 images but .* 5 labels"):
        load_mnist(tmp_path, "test")


def test_read_idx_shape_from_header(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path, 2051), array)


def test_missing_mnist_lists_exact_paths(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(tmp_path, "train")
    message = str(error.value)
    folder = tmp_path / "MNIST" / "raw"
    assert str(folder / "train-images-idx3-ubyte") in message
    assert str(folder / "train-labels-idx1-ubyte") in message
    assert "download: true" in message


def test_missing_only_labels_lists_only_labels(tmp_path):
    images, labels = tiny_mnist()
    _, label_path = write_mnist(tmp_path, "train", images, labels)
    label_path.unlink()
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(tmp_path, "train")
    assert "train-labels-idx1-ubyte" in str(error.value)
    assert "train-images-idx3-ubyte" not in str(error.value)


def test_download_true_calls_torchvision_then_reads(tmp_path, monkeypatch):
    import torchvision

    images, labels = tiny_mnist(n=4)
    calls = []

    class FakeMNIST:  # stands in for the network download
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            write_mnist(Path(root), "train" if train else "test", images, labels)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    x, y = load_mnist(tmp_path, "test", download=True)
    assert calls == [(str(tmp_path), False, True)]
    np.testing.assert_array_equal(x, images)
    # files present now: no second download
    load_mnist(tmp_path, "test", download=True)
    assert len(calls) == 1


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "validation")
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, "valid")


# --------------------------------------------------------------------------- CIFAR-10


@needs_real_data
def test_real_partial_cifar10_loads():
    x_train, y_train = load_cifar10(DATA_ROOT, "train")
    x_test, y_test = load_cifar10(DATA_ROOT, "test")
    assert x_train.shape == (5085, 3, 32, 32) and x_test.shape == (1017, 3, 32, 32)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert set(np.unique(y_train)) == set(range(10))
    # per-channel means of the test images quoted in shared/data/README.md: R, G, B order
    means = x_test.reshape(len(x_test), 3, -1).mean(axis=(0, 2))
    np.testing.assert_allclose(means, [126.5, 124.1, 115.0], atol=0.06)


def test_tiny_cifar_batches_in_real_format(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    expected_x, expected_y = [], []
    for i, name in enumerate(sources.CIFAR10_FILES["train"]):
        n = i + 1  # batches of different sizes
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        write_cifar_batch(folder / name, data, labels)
        expected_x.append(data)
        expected_y += labels
    x, y = load_cifar10(tmp_path, "train")
    data = np.concatenate(expected_x)
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.uint8
    assert y.tolist() == expected_y and y.dtype == np.int64
    # CIFAR rows hold the red plane, then green, then blue, each row-major 32×32
    for c in range(3):
        np.testing.assert_array_equal(x[:, c], data[:, c * 1024 : (c + 1) * 1024].reshape(-1, 32, 32))


def _garbage_batch(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a pickle")


def _truncated_batch(path: Path) -> None:
    write_cifar_batch(path, np.zeros((4, 3072), dtype=np.uint8), [0, 1, 2, 3])
    path.write_bytes(path.read_bytes()[:5000])


@pytest.mark.parametrize("write_broken_batch, message", [
    pytest.param(lambda path: write_cifar_batch(path, np.zeros((2, 3000), dtype=np.uint8), [0, 1]), "N×3072",
                 id="wrong_width"),
    pytest.param(lambda path: write_cifar_batch(path, np.zeros((3, 3072), dtype=np.uint8), [0, 1]),
                 "3 images but 2 labels", id="label_count_mismatch"),
    pytest.param(_garbage_batch, "not a valid pickle", id="garbage"),
    pytest.param(_truncated_batch, None, id="truncated_pickle"),
])
def test_broken_cifar_batch_names_the_file(tmp_path, write_broken_batch, message):
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    write_broken_batch(path)
    with pytest.raises(ValueError, match=message) as error:
        load_cifar10(tmp_path, "test")
    assert str(path) in str(error.value)


def test_missing_cifar_batches_are_listed(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_batch(folder / "data_batch_1", np.zeros((1, 3072), dtype=np.uint8), [3])
    with pytest.raises(FileNotFoundError) as error:
        load_cifar10(tmp_path, "train")
    message = str(error.value)
    for i in range(2, 6):
        assert str(folder / f"data_batch_{i}") in message
    assert str(folder / "data_batch_1") not in message
    assert "download: true" in message
