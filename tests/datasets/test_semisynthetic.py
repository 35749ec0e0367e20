"""Semi-synthetic datasets of §4.1 (largelr.datasets.semisynthetic) built from real MNIST/CIFAR-10.

Each dataset is generated once per module on class-stratified subsets of the real files
(shared/data) with ``return_provenance=True``, so every sample can be traced back to the
source image(s) it was built from.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from helpers import assert_figure
from largelr.datasets.format import CORE, NOISE, SPURIOUS, load_dataset, save_dataset
from largelr.datasets.corruptions import CORRUPTIONS_TYPE0, LFF_SEVERITY
from largelr.datasets.semisynthetic import (
    COLOR_STD_BY_SEVERITY,
    COLORED_MNIST_COLORS,
    SEMISYNTHETIC_GENERATORS,
    _draw_without_replacement,
    lff_bias_counts,
    pad_digits,
    sample_bias_labels,
    sample_unbiased_bias_labels,
    stratified_subset_indices,
)
from largelr.datasets.sources import load_cifar10, load_mnist

DATA_ROOT = Path(os.environ.get("LARGELR_DATA_ROOT", Path(__file__).resolve().parents[3] / "shared" / "data"))
if not (DATA_ROOT / "MNIST" / "raw").is_dir() or not (DATA_ROOT / "cifar-10-batches-py").is_dir():
    pytest.skip(f"real MNIST/CIFAR-10 files not found under {DATA_ROOT} (set LARGELR_DATA_ROOT)",
                allow_module_level=True)

K = 10
RHO_DEFAULT = {"colored_mnist": 0.025, "double_mnist": 0.025, "mnist_cifar": 0.1, "corrupted_cifar10": 0.1}
INPUT_SHAPE = {"colored_mnist": (3, 28, 28), "double_mnist": (1, 28, 56), "mnist_cifar": (3, 64, 32),
               "corrupted_cifar10": (3, 32, 32)}
# subsets of the source splits: big enough for the label statistics, small enough to be fast
SUBSETS = {"colored_mnist": (2000, 1000), "double_mnist": (2000, 1000), "mnist_cifar": (2000, 500),
           "corrupted_cifar10": (200, 100)}


def _needs_corruptions(name: str = "corrupted_cifar10") -> None:
    # find_spec, not importorskip: imagecorruptions imports only through the generator's shim
    if name == "corrupted_cifar10" and importlib.util.find_spec("imagecorruptions") is None:
        pytest.skip("imagecorruptions is not installed")


@pytest.fixture(scope="module")
def mnist():
    return {split: load_mnist(DATA_ROOT, split) for split in ("train", "test")}


@pytest.fixture(scope="module")
def cifar():
    return {split: load_cifar10(DATA_ROOT, split) for split in ("train", "test")}


_BUILT: dict = {}


def built(name: str):
    """(dataset, provenance) of ``name`` on its test subset, generated once per session."""
    _needs_corruptions(name)
    if name not in _BUILT:
        n_train, n_test = SUBSETS[name]
        _BUILT[name] = SEMISYNTHETIC_GENERATORS[name](
            seed=3, data_root=DATA_ROOT, subset_train=n_train, subset_test=n_test, return_provenance=True
        )
    return _BUILT[name]


def source_labels(name: str, split: str, mnist, cifar) -> np.ndarray:
    return (cifar if name in ("mnist_cifar", "corrupted_cifar10") else mnist)[split][1]


# --------------------------------------------------------------------------- shared protocol


def test_stratified_subset_keeps_class_proportions():
    labels = np.repeat(np.arange(4), [500, 300, 150, 50])
    index = stratified_subset_indices(labels, 100, np.random.default_rng(0))
    assert len(index) == 100 and len(np.unique(index)) == 100
    assert np.all(np.diff(index) > 0)
    assert np.bincount(labels[index]).tolist() == [50, 30, 15, 5]
    again = stratified_subset_indices(labels, 100, np.random.default_rng(0))
    np.testing.assert_array_equal(index, again)
    np.testing.assert_array_equal(stratified_subset_indices(labels, None, np.random.default_rng(0)), np.arange(1000))


def test_stratified_subset_distributes_remainder():
    labels = np.repeat(np.arange(3), [10, 10, 10])
    counts = np.bincount(labels[stratified_subset_indices(labels, 10, np.random.default_rng(0))], minlength=3)
    assert counts.sum() == 10 and counts.max() - counts.min() <= 1


@pytest.mark.parametrize("rho", [0.0, 0.025, 0.1, 0.25, 1.0])
def test_exactly_round_rho_n_conflicting(rho):
    y = np.random.default_rng(0).integers(0, K, size=1237)
    b = sample_bias_labels(y, rho, K, np.random.default_rng(1))
    assert int((b != y).sum()) == round(rho * len(y))


def test_conflicting_bias_labels_are_uniform_over_other_classes():
    y = np.random.default_rng(0).integers(0, K, size=100_000)
    b = sample_bias_labels(y, 0.5, K, np.random.default_rng(1))
    shift = (b - y)[b != y] % K
    counts = np.bincount(shift, minlength=K)
    assert counts[0] == 0
    expected = len(shift) / (K - 1)
    assert np.all(np.abs(counts[1:] - expected) < 0.05 * expected)


def test_unbiased_bias_labels_are_balanced_within_every_class():
    y = np.random.default_rng(0).integers(0, K, size=5003)
    b = sample_unbiased_bias_labels(y, K, np.random.default_rng(1))
    for cls in range(K):
        counts = np.bincount(b[y == cls], minlength=K)
        assert counts.max() - counts.min() <= 1
    assert abs(float(np.mean(b != y)) - 0.9) < 0.01


# --------------------------------------------------------------------------- every dataset


@pytest.mark.parametrize("name", list(SEMISYNTHETIC_GENERATORS))
def test_shapes_dtypes_and_ranges(name):
    dataset, _ = built(name)
    n_train, n_test = SUBSETS[name]
    assert dataset.name == name and dataset.num_classes == K
    assert dataset.input_shape == INPUT_SHAPE[name]
    for split, n in (("train", n_train), ("test", n_test)):
        part = dataset.split(split)
        assert part.x.shape == (n,) + INPUT_SHAPE[name] and part.x.dtype == np.uint8
        assert part.y.dtype == np.int64 and part.b.dtype == np.int64
        assert part.y.min() >= 0 and part.y.max() < K and part.b.min() >= 0 and part.b.max() < K
        assert part.region.shape == (n,) + INPUT_SHAPE[name][1:] and part.region.dtype == np.uint8
        assert set(np.unique(part.region)) <= {CORE, SPURIOUS, NOISE}
        assert part.x.max() > 200  # real image content, not an empty canvas
    assert dataset.meta["rho_train"] == RHO_DEFAULT[name]
    assert dataset.meta["n_train"] == n_train


@pytest.mark.parametrize("name", list(SEMISYNTHETIC_GENERATORS))
def test_every_y_is_its_source_label(name, mnist, cifar):
    dataset, provenance = built(name)
    for split in ("train", "test"):
        labels = source_labels(name, split, mnist, cifar)
        np.testing.assert_array_equal(dataset.split(split).y, labels[provenance[split]["core_index"]])
        # the subset is stratified: class counts follow the source split's proportions
        counts = np.bincount(dataset.split(split).y, minlength=K)
        expected = len(dataset.split(split)) * np.bincount(labels, minlength=K) / len(labels)
        assert np.all(np.abs(counts - expected) <= 1)


LFF_DATASETS = ("colored_mnist", "corrupted_cifar10")


def test_lff_bias_counts_known_values():
    # LfF's make_attr_labels: milestones round(100 · cumsum([.98, .02/9, ...])) = 98, 98, 98, 99, 99, 99, 99, 100, ...
    assert lff_bias_counts(np.full(10, 100), 0.98, K)[0].tolist() == [98, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert lff_bias_counts(np.array([5, 7]), 0.1, 2).tolist() == [[0, 5], [6, 1]]  # 0.5 and 6.5 round to even


def test_colored_mnist_full_scale_cells_are_lffs(mnist):
    n = np.bincount(mnist["train"][1], minlength=K)
    counts = lff_bias_counts(n, 1 - 0.025, K)
    off_diagonal = counts[~np.eye(K, dtype=bool)]
    assert off_diagonal.min() == 15 and off_diagonal.max() == 19  # LfF's published Colored MNIST cells
    assert counts.sum(axis=1).tolist() == n.tolist()
    assert counts.diagonal().tolist() == [5775, 6573, 5809, 5978, 5696, 5286, 5770, 6108, 5705, 5800]


@pytest.mark.parametrize("name", LFF_DATASETS)
def test_lff_datasets_have_exact_counts_per_cell(name):
    dataset, _ = built(name)
    for split, aligned in (("train", 1 - RHO_DEFAULT[name]), ("test", 0.1)):
        part = dataset.split(split)
        cells = np.zeros((K, K), dtype=np.int64)
        np.add.at(cells, (part.y, part.b), 1)
        expected = lff_bias_counts(np.bincount(part.y, minlength=K), aligned, K)
        np.testing.assert_array_equal(cells, expected)
    assert "make_attr_labels" in dataset.meta["bias_labels"]


@pytest.mark.parametrize("name", list(SEMISYNTHETIC_GENERATORS))
def test_train_split_has_exact_bias_conflicting_ratio(name):
    dataset, _ = built(name)
    train = dataset.train
    rho = RHO_DEFAULT[name]
    if name in LFF_DATASETS:  # per-class rounding (test_lff_datasets_have_exact_counts_per_cell)
        counts = lff_bias_counts(np.bincount(train.y, minlength=K), 1 - rho, K)
        expected = counts.sum() - np.trace(counts)
        assert int((train.y != train.b).sum()) == expected
    else:
        assert int((train.y != train.b).sum()) == round(rho * len(train))
    assert abs(train.bias_conflicting_ratio() - rho) <= 0.01
    # bias-aligned samples dominate every class
    for cls in range(K):
        assert np.mean(train.b[train.y == cls] == cls) > 0.6


@pytest.mark.parametrize("name", list(SEMISYNTHETIC_GENERATORS))
def test_test_split_is_unbiased(name):
    dataset, _ = built(name)
    test = dataset.test
    counts = np.bincount(test.b, minlength=K)
    assert np.all(np.abs(counts - len(test) / K) <= K)
    for cls in range(K):
        per_class = np.bincount(test.b[test.y == cls], minlength=K)
        assert per_class.max() - per_class.min() <= 1  # b independent of y
    assert abs(test.bias_conflicting_ratio() - 0.9) < 0.02


@pytest.mark.parametrize("name", list(SEMISYNTHETIC_GENERATORS))
def test_same_seed_gives_byte_identical_files(name, tmp_path):
    _needs_corruptions(name)
    generator = SEMISYNTHETIC_GENERATORS[name]
    kwargs = dict(data_root=DATA_ROOT, subset_train=60, subset_test=30)
    paths = []
    for i, seed in enumerate((5, 5, 6)):
        path = tmp_path / f"{name}_{i}.npz"
        save_dataset(generator(seed=seed, **kwargs), path)
        paths.append(path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    loaded = load_dataset(paths[0])
    assert loaded.name == name and loaded.meta["seed"] == 5 and "data_root" not in loaded.meta


@pytest.mark.parametrize("name, bad", [
    ("colored_mnist", {"rho_train": 1.5}),
    ("colored_mnist", {"severity": 6}),
    ("double_mnist", {"core_brightness": 0.0}),
    ("mnist_cifar", {"subset_train": 0}),
    ("corrupted_cifar10", {"severity": 0}),
])
def test_invalid_parameters_are_rejected(name, bad):
    with pytest.raises(ValueError):
        SEMISYNTHETIC_GENERATORS[name](**{"data_root": DATA_ROOT, "subset_train": 20, "subset_test": 20, **bad})


# --------------------------------------------------------------------------- Colored MNIST


def _estimated_colours(x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Per-image foreground colour: Σ pixel / Σ digit intensity, per channel (N×3)."""
    return x.reshape(len(x), 3, -1).sum(axis=2) / digits.reshape(len(x), 1, -1).sum(axis=2)


def test_colored_mnist_colours_the_digit_with_colour_b(mnist):
    dataset, provenance = built("colored_mnist")
    for split in ("train", "test"):
        part = dataset.split(split)
        digits = mnist[split][0][provenance[split]["core_index"]]
        background = digits == 0
        assert np.all(part.x.transpose(1, 0, 2, 3)[:, background] == 0)  # background stays black
        colours = _estimated_colours(part.x, digits)
        distances = np.linalg.norm(colours[:, None, :] - COLORED_MNIST_COLORS[None], axis=2)
        np.testing.assert_array_equal(distances.argmin(axis=1), part.b)
        # severity 4: colour noise std 0.005, plus < 1/255 per pixel from flooring to uint8
        assert np.all(np.abs(colours - COLORED_MNIST_COLORS[part.b]) < 0.04)
        np.testing.assert_array_equal(part.region, np.where(digits > 0, CORE, NOISE))


@pytest.mark.parametrize("severity", [1, 5])
def test_colored_mnist_colour_noise_follows_severity(severity, mnist):
    dataset, provenance = SEMISYNTHETIC_GENERATORS["colored_mnist"](
        seed=0, data_root=DATA_ROOT, subset_train=3000, subset_test=10, severity=severity, return_provenance=True
    )
    digits = mnist["train"][0][provenance["train"]["core_index"]]
    colours = _estimated_colours(dataset.train.x, digits)
    residual = colours - COLORED_MNIST_COLORS[dataset.train.b]
    # channels of colours far from 0 and 1 are not clamped: their spread is the noise std
    free = (COLORED_MNIST_COLORS[dataset.train.b] > 0.15) & (COLORED_MNIST_COLORS[dataset.train.b] < 0.85)
    spread = residual[free].std()
    std = COLOR_STD_BY_SEVERITY[severity]
    assert 0.7 * std < spread < 1.3 * std + 0.003  # flooring to uint8 adds ~0.001


# --------------------------------------------------------------------------- Double MNIST


def test_double_mnist_dim_left_digit_y_bright_right_digit_b(mnist):
    dataset, provenance = built("double_mnist")
    brightness = dataset.meta["core_brightness"]
    assert brightness == 0.5
    for split in ("train", "test"):
        part = dataset.split(split)
        digits, labels = mnist[split]
        core, spurious = provenance[split]["core_index"], provenance[split]["spurious_index"]
        left, right = part.x[:, 0, :, :28], part.x[:, 0, :, 28:]
        expected_left = brightness * digits[core].astype(np.float64)
        assert np.abs(left - expected_left).max() <= 0.5 + 1e-9  # scaled source digit, rounded
        np.testing.assert_array_equal(right, digits[spurious])
        np.testing.assert_array_equal(labels[spurious], part.b)
        assert np.all(spurious != core)  # a different image even when b = y
        assert right.mean() > 1.5 * left.mean()
        assert np.all(right.max(axis=(1, 2)) > left.max(axis=(1, 2)))
        assert np.all(part.region[:, :, :28] == CORE) and np.all(part.region[:, :, 28:] == SPURIOUS)


def test_double_mnist_core_brightness_is_a_parameter():
    dataset = SEMISYNTHETIC_GENERATORS["double_mnist"](
        seed=0, data_root=DATA_ROOT, subset_train=50, subset_test=20, core_brightness=0.25
    )
    left = dataset.train.x[:, 0, :, :28]
    assert left.max() <= round(0.25 * 255)


# --------------------------------------------------------------------------- MNIST-CIFAR


def test_mnist_cifar_digit_b_on_top_cifar_y_below(mnist, cifar):
    dataset, provenance = built("mnist_cifar")
    for split in ("train", "test"):
        part = dataset.split(split)
        images, image_labels = cifar[split]
        digits, digit_labels = mnist[split]
        core, spurious = provenance[split]["core_index"], provenance[split]["spurious_index"]
        top, bottom = part.x[:, :, :32], part.x[:, :, 32:]
        np.testing.assert_array_equal(bottom, images[core])
        np.testing.assert_array_equal(image_labels[core], part.y)
        assert np.all(top[:, 0] == top[:, 1]) and np.all(top[:, 0] == top[:, 2])  # grey, 3 channels
        np.testing.assert_array_equal(digit_labels[spurious], part.b)
        np.testing.assert_array_equal(top[:, 0], pad_digits(digits[spurious]))
        np.testing.assert_array_equal(top[:, 0, 2:30, 2:30], digits[spurious])  # 2 px of zeros each side
        assert not top[:, :, :2].any() and not top[:, :, 30:].any() and not top[:, :, :, :2].any()
        assert len(np.unique(spurious)) == len(spurious)  # paired without replacement
        assert np.all(part.region[:, :32] == SPURIOUS) and np.all(part.region[:, 32:] == CORE)
    assert dataset.meta["digits_reused"] == {"train": {}, "test": {}}


def test_mnist_cifar_pairs_without_replacement_until_a_class_runs_short(mnist):
    labels = mnist["test"][1]  # real MNIST test: 892 fives, 974 eights, ...
    b = np.repeat(np.arange(K), 1000)  # the unbiased test split at full scale: 1000 per digit
    index, reused = _draw_without_replacement(labels, b, np.random.default_rng(0))
    np.testing.assert_array_equal(labels[index], b)
    short = {cls: 1000 - int(n) for cls, n in enumerate(np.bincount(labels, minlength=K)) if n < 1000}
    assert reused == short and reused[5] == 108
    for cls in range(K):
        used = np.bincount(index[b == cls])
        assert used.max() <= 2 and (used.max() == 1) == (cls not in short)
        assert len(np.unique(index[b == cls])) == min(1000, int((labels == cls).sum()))


# --------------------------------------------------------------------------- Corrupted CIFAR-10


@pytest.mark.parametrize("corruption", CORRUPTIONS_TYPE0)
def test_every_corruption_returns_a_changed_32x32_uint8_image(corruption, cifar):
    _needs_corruptions()
    from largelr.datasets.corruptions import corrupt_image

    images = cifar["test"][0][:4].transpose(0, 2, 3, 1)
    for i, image in enumerate(images):
        out = corrupt_image(image, corruption, severity=LFF_SEVERITY, seed=i)
        assert out.shape == (32, 32, 3) and out.dtype == np.uint8
        assert np.abs(out.astype(int) - image.astype(int)).mean() > 1.0, f"{corruption} left image {i} unchanged"
        np.testing.assert_array_equal(out, corrupt_image(image, corruption, severity=LFF_SEVERITY, seed=i))
    for severity in (1, 2, 3, 4):
        out = corrupt_image(images[0], corruption, severity=severity, seed=0)
        assert out.shape == (32, 32, 3) and out.dtype == np.uint8


def test_corrupted_cifar10_samples_are_their_source_image_corrupted_by_b(cifar):
    from largelr.datasets.corruptions import corrupt_image

    dataset, provenance = built("corrupted_cifar10")
    assert dataset.meta["corruptions"] == list(CORRUPTIONS_TYPE0)
    assert dataset.meta["severity"] == 5 and dataset.meta["corruption_parameters"]["jpeg_compression"] == 40
    for split in ("train", "test"):
        part = dataset.split(split)
        images = cifar[split][0][provenance[split]["core_index"]]
        seeds = provenance[split]["corruption_seed"]
        for i in range(0, len(part), 9):
            expected = corrupt_image(images[i].transpose(1, 2, 0), CORRUPTIONS_TYPE0[part.b[i]], LFF_SEVERITY,
                                     seeds[i])
            np.testing.assert_array_equal(part.x[i], expected.transpose(2, 0, 1))
        assert np.all(part.region == CORE)
    # the corruption type is visible: contrast images have far lower pixel spread than the rest
    x, b = dataset.train.x.astype(float), dataset.train.b
    spread = x.reshape(len(x), -1).std(axis=1)
    contrast = CORRUPTIONS_TYPE0.index("contrast")
    assert spread[b == contrast].mean() < 0.5 * spread[b != contrast].mean()


def test_corruption_workers_do_not_change_the_result(cifar):
    _needs_corruptions()
    from largelr.datasets.corruptions import corrupt_images

    images = cifar["test"][0][:20]
    ids = np.arange(20) % K
    seeds = np.arange(20, dtype=np.uint64) + 100
    np.testing.assert_array_equal(corrupt_images(images, ids, seeds, 4, num_workers=1),
                                  corrupt_images(images, ids, seeds, 4, num_workers=2))


# --------------------------------------------------------------------------- Fig 2


def test_fig02_dataset_examples_are_written(tmp_path):
    from largelr.figures.dataset_examples import pick_examples, plot_dataset_examples

    datasets = {name: built(name)[0] for name in ("colored_mnist", "double_mnist", "mnist_cifar")}
    ba = pick_examples(datasets["double_mnist"].train, aligned=True, n=8)
    bc = pick_examples(datasets["double_mnist"].train, aligned=False, n=8)
    train = datasets["double_mnist"].train
    assert np.all(train.y[ba] == train.b[ba]) and np.all(train.y[bc] != train.b[bc])
    assert train.y[ba].tolist() == list(range(8))  # one class per column
    pdf, png = tmp_path / "fig02.pdf", tmp_path / "fig02.png"
    plot_dataset_examples(datasets, pdf, png, n_per_row=6)
    assert_figure(pdf, png)
