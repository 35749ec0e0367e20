"""CIFAR-100 reader (largelr.datasets.sources) and the standard-classification generators
(largelr.datasets.standard) on tiny files in the real pickle format, plus real CIFAR-10."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from largelr.datasets import registry, sources
from largelr.datasets.format import CORE, load_dataset, save_dataset
from largelr.datasets.sources import CIFAR100_CLASSES, load_cifar100
from largelr.datasets.standard import generate_cifar10, generate_cifar100
from largelr.fixtures import tiny_cifar100, write_cifar100  # the writers of `largelr fixtures`


@pytest.fixture
def cifar100_root(tmp_path):
    files = tiny_cifar100(tmp_path, {"train": 4, "test": 2})
    return tmp_path, files


# --------------------------------------------------------------------------- CIFAR-100 reader


def test_cifar100_round_trip_pixels_labels_and_chw_layout(cifar100_root):
    root, files = cifar100_root
    for split in ("train", "test"):
        data, fine = files[split]
        x, y = load_cifar100(root, split)
        assert x.shape == (len(data), 3, 32, 32) and x.dtype == np.uint8
        assert y.dtype == np.int64 and y.tolist() == fine.tolist()  # fine, not coarse, labels
        # each row holds the red, green and blue 32×32 planes, row-major
        for c in range(3):
            np.testing.assert_array_equal(x[:, c], data[:, c * 1024 : (c + 1) * 1024].reshape(-1, 32, 32))
        assert x[0, 1, 2, 3] == data[0, 1024 + 2 * 32 + 3]


def test_cifar100_class_names_are_the_100_sorted_fine_labels():
    assert len(CIFAR100_CLASSES) == 100 and list(CIFAR100_CLASSES) == sorted(CIFAR100_CLASSES)
    assert CIFAR100_CLASSES[0] == "apple" and CIFAR100_CLASSES[99] == "worm"


def test_cifar100_label_out_of_range_names_the_file(tmp_path):
    path = write_cifar100(tmp_path, "test", np.zeros((2, 3072), dtype=np.uint8), [3, 100])
    with pytest.raises(ValueError, match="0–99") as error:
        load_cifar100(tmp_path, "test")
    assert str(path) in str(error.value)


def test_cifar100_pickle_without_fine_labels_is_rejected(tmp_path):
    path = tmp_path / "cifar-100-python" / "train"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as handle:  # a CIFAR-10-style batch in the CIFAR-100 place
        pickle.dump({b"data": np.zeros((1, 3072), dtype=np.uint8), b"labels": [0]}, handle)
    with pytest.raises(ValueError, match="fine_labels") as error:
        load_cifar100(tmp_path, "train")
    assert str(path) in str(error.value)


def test_missing_cifar100_names_file_folder_and_download(tmp_path):
    write_cifar100(tmp_path, "test", np.zeros((1, 3072), dtype=np.uint8), [0])
    with pytest.raises(FileNotFoundError) as error:
        load_cifar100(tmp_path, "train")
    message = str(error.value)
    folder = tmp_path / "cifar-100-python"
    assert str(folder / "train") in message and f"Put them in {folder}" in message
    assert str(folder / "test") not in message.split("Put them")[0]  # only the missing file is listed
    assert "download: true" in message and "torchvision.datasets.CIFAR100" in message


def test_cifar100_download_only_when_missing(tmp_path, monkeypatch):
    import torchvision

    calls = []
    data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)

    class FakeCIFAR100:  # stands in for the network download
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            write_cifar100(Path(root), "train" if train else "test", data, [7, 42])

    monkeypatch.setattr(torchvision.datasets, "CIFAR100", FakeCIFAR100)
    x, y = load_cifar100(tmp_path, "test", download=True)
    assert calls == [(str(tmp_path), False, True)]
    assert y.tolist() == [7, 42] and x.reshape(2, -1).tolist() == data.tolist()
    load_cifar100(tmp_path, "test", download=True)  # present now: no second download
    assert len(calls) == 1


def test_cifar100_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_cifar100(tmp_path, "val")


# --------------------------------------------------------------------------- standard generators


def test_cifar100_generator_b_equals_y_and_all_core(cifar100_root):
    root, files = cifar100_root
    ds = generate_cifar100(seed=0, data_root=root)
    assert ds.name == "cifar100" and ds.num_classes == 100 and ds.input_shape == (3, 32, 32)
    for split in ("train", "test"):
        part = ds.split(split)
        data, fine = files[split]
        # no subset: every source image, in source order
        assert part.y.tolist() == fine.tolist()
        np.testing.assert_array_equal(part.x.reshape(len(part), -1), data)
        np.testing.assert_array_equal(part.b, part.y)
        assert part.region.shape == (len(part), 32, 32) and part.region.dtype == np.uint8
        assert (part.region == CORE).all()
        assert part.bias_conflicting_ratio() == 0.0
    assert ds.meta["rho_train_realised"] == 0.0 and ds.meta["rho_test_realised"] == 0.0
    assert ds.meta["class_names"] == list(CIFAR100_CLASSES) and ds.meta["spurious"] == "none annotated (b = y)"


def test_stratified_subset_counts_per_class_and_pixels_from_source(cifar100_root):
    root, files = cifar100_root
    ds = generate_cifar100(seed=5, subset_train=200, subset_test=100, data_root=root)
    assert np.bincount(ds.train.y, minlength=100).tolist() == [2] * 100  # 4 per class → half
    assert np.bincount(ds.test.y, minlength=100).tolist() == [1] * 100  # 2 per class → half
    data, fine = files["train"]
    rows = {row.tobytes(): label for row, label in zip(data, fine)}
    chosen = [row.tobytes() for row in ds.train.x.reshape(len(ds.train), -1)]
    assert len(set(chosen)) == 200  # no image twice
    assert [rows[c] for c in chosen] == ds.train.y.tolist()  # every image keeps its own label
    assert ds.meta["subset_train"] == 200 and ds.meta["n_train"] == 200 and ds.meta["seed"] == 5


def test_standard_generator_is_deterministic_in_the_seed(cifar100_root, tmp_path):
    root, _ = cifar100_root
    a = generate_cifar100(seed=1, subset_train=150, subset_test=50, data_root=root)
    b = generate_cifar100(seed=1, subset_train=150, subset_test=50, data_root=root)
    c = generate_cifar100(seed=2, subset_train=150, subset_test=50, data_root=root)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.train.x, c.train.x)
    # saved files are byte-identical, data_root does not enter the metadata
    save_dataset(a, tmp_path / "a.npz")
    save_dataset(b, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = load_dataset(tmp_path / "a.npz")
    assert back.num_classes == 100 and back.meta == a.meta
    np.testing.assert_array_equal(back.train.b, back.train.y)


def test_invalid_subset_names_the_key(cifar100_root):
    root, _ = cifar100_root
    with pytest.raises(ValueError, match="subset_test"):
        generate_cifar100(subset_test=0, data_root=root)


def test_registry_builds_standard_datasets_through_data_root(cifar100_root):
    root, _ = cifar100_root
    assert {"cifar10", "cifar100", "celeba", "waterbirds"} <= set(registry.GENERATORS)
    spec = {"generator": "cifar100", "params": {"subset_train": 100, "subset_test": 100}}
    registry.check_params("cifar100", spec)
    ds = registry.build_dataset(spec, seed=0, data_root=[str(root / "nowhere"), str(root)], download=False)
    assert len(ds.train) == 100 and np.bincount(ds.train.y).tolist() == [1] * 100
    with pytest.raises(ValueError, match="rho_train"):
        registry.check_params("cifar10", {"generator": "cifar10", "params": {"rho_train": 0.1}})


def test_real_cifar10_generator(shared_data):
    ds = generate_cifar10(seed=0, subset_train=100, subset_test=50, data_root=shared_data)
    assert ds.name == "cifar10" and ds.num_classes == 10
    assert ds.train.x.shape == (100, 3, 32, 32) and ds.test.x.shape == (50, 3, 32, 32)
    assert ds.train.x.dtype == np.uint8
    assert set(ds.train.y.tolist()) == set(range(10)) and ds.test.y.min() >= 0 and ds.test.y.max() <= 9
    # the partial copy is roughly balanced, so a stratified 100 gives about 10 per class
    assert np.abs(np.bincount(ds.train.y, minlength=10) - 10).max() <= 1
    np.testing.assert_array_equal(ds.train.b, ds.train.y)
    # pixels are real CIFAR-10 images: each chosen image occurs in the source with its label
    x_src, y_src = sources.load_cifar10(shared_data, "test")
    lookup = {img.tobytes(): int(label) for img, label in zip(x_src, y_src)}
    assert [lookup[img.tobytes()] for img in ds.test.x] == ds.test.y.tolist()


def test_real_cifar10_subset_matches_mnist_cifar_core_images(shared_data):
    from largelr.datasets.semisynthetic import generate_mnist_cifar

    ds = generate_cifar10(seed=4, subset_train=60, subset_test=30, data_root=shared_data)
    domino = generate_mnist_cifar(seed=4, subset_train=60, subset_test=30, data_root=shared_data)
    for split in ("train", "test"):  # bottom half of MNIST-CIFAR = the same CIFAR images
        np.testing.assert_array_equal(domino.split(split).x[:, :, 32:], ds.split(split).x)
        np.testing.assert_array_equal(domino.split(split).y, ds.split(split).y)
