"""Tests for the synthetic parity and moon-star generators (paper §4.1, suppl. C)."""

from __future__ import annotations

import numpy as np
import pytest

from largelr.datasets.format import CORE, NOISE, SPURIOUS, load_dataset, save_dataset
from largelr.datasets.synthetic import generate_moon_star, generate_parity

N_MS = 2000  # moon-star split size used by the tests (keeps the suite fast)


@pytest.fixture(scope="module")
def parity():
    return generate_parity(seed=0)


@pytest.fixture(scope="module")
def moon_star():
    return generate_moon_star(seed=0, n_train=N_MS, n_test=N_MS)


def _parity01(bits: np.ndarray) -> np.ndarray:
    return (bits > 0).sum(axis=1) % 2


def _check_labels(split, rho: float) -> None:
    n = len(split)
    assert split.y.dtype == np.int64 and split.b.dtype == np.int64
    assert set(np.unique(split.y)) <= {0, 1} and set(np.unique(split.b)) <= {0, 1}
    assert abs(split.bias_conflicting_ratio() - rho) <= 0.01
    assert np.sum(split.y != split.b) == int(np.floor(rho * n + 0.5))
    assert abs(int(np.sum(split.y == 1)) - n / 2) <= 0.5  # exactly balanced


# --------------------------------------------------------------------------- parity


def test_parity_shapes_and_dtypes(parity):
    assert parity.name == "parity" and parity.num_classes == 2
    for split in (parity.train, parity.test):
        assert split.x.shape == (10000, 20) and split.x.dtype == np.float32
        assert split.region.shape == (10000, 20) and split.region.dtype == np.uint8
        assert split.y.shape == split.b.shape == (10000,)
        assert set(np.unique(split.x)) == {-1.0, 1.0}


def test_parity_labels_match_bits(parity):
    for split in (parity.train, parity.test):
        np.testing.assert_array_equal(_parity01(split.x[:, :6]), split.y)
        np.testing.assert_array_equal(_parity01(split.x[:, 6:8]), split.b)


def test_parity_bias_ratio_and_balance(parity):
    _check_labels(parity.train, 0.1)
    _check_labels(parity.test, 0.5)
    assert abs(parity.test.b.mean() - 0.5) <= 0.01
    # the unbiased test split has b independent of y: all four groups the same size
    groups = [np.sum((parity.test.y == y) & (parity.test.b == b)) for y in (0, 1) for b in (0, 1)]
    assert max(groups) - min(groups) <= 1


def test_parity_noise_and_free_bits_uniform(parity):
    x = parity.train.x
    # noise bits and the free core bits are fair coins
    assert np.all(np.abs(x[:, 8:].mean(axis=0)) < 0.05)
    assert np.all(np.abs(x[:, :5].mean(axis=0)) < 0.05)


def test_parity_region_layout(parity):
    expected = np.array([CORE] * 6 + [SPURIOUS] * 2 + [NOISE] * 12, dtype=np.uint8)
    for split in (parity.train, parity.test):
        assert np.all(split.region == expected[None, :])


def test_parity_custom_sizes_and_meta():
    d = generate_parity(seed=3, n_train=101, n_test=57, core_bits=5, spurious_bits=1, noise_bits=3,
                        rho_train=0.2, rho_test=0.5)
    assert d.train.x.shape == (101, 9) and d.test.x.shape == (57, 9)
    np.testing.assert_array_equal(_parity01(d.train.x[:, :5]), d.train.y)
    np.testing.assert_array_equal(_parity01(d.train.x[:, 5:6]), d.train.b)
    assert np.sum(d.train.y != d.train.b) == 20  # round(0.2 * 101)
    for key, value in dict(seed=3, n_train=101, n_test=57, core_bits=5, spurious_bits=1,
                           noise_bits=3, rho_train=0.2, rho_test=0.5).items():
        assert d.meta[key] == value


def test_parity_deterministic_bytes(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_dataset(generate_parity(seed=7, n_train=500, n_test=500), a)
    save_dataset(generate_parity(seed=7, n_train=500, n_test=500), b)
    assert a.read_bytes() == b.read_bytes()
    other = generate_parity(seed=8, n_train=500, n_test=500)
    assert not np.array_equal(other.train.x, load_dataset(a).train.x)


def test_parity_test_split_independent_of_train_size():
    small = generate_parity(seed=5, n_train=100, n_test=300)
    large = generate_parity(seed=5, n_train=900, n_test=300)
    np.testing.assert_array_equal(small.test.x, large.test.x)
    np.testing.assert_array_equal(small.test.b, large.test.b)


def test_parity_round_trip(parity, tmp_path):
    path = tmp_path / "parity.npz"
    save_dataset(parity, path)
    loaded = load_dataset(path)
    assert loaded.name == "parity" and loaded.num_classes == 2 and loaded.meta == parity.meta
    for name in ("train", "test"):
        orig, back = parity.split(name), loaded.split(name)
        for field in ("x", "y", "b", "region"):
            a, b = getattr(orig, field), getattr(back, field)
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(spurious_bits=6), "spurious_bits"),
        (dict(spurious_bits=7), "spurious_bits"),
        (dict(spurious_bits=0), "spurious_bits"),
        (dict(core_bits=0), "core_bits"),
        (dict(noise_bits=0), "noise_bits"),
        (dict(n_train=0), "n_train"),
        (dict(n_test=-1), "n_test"),
        (dict(n_train=10.5), "n_train"),
        (dict(rho_train=-0.1), "rho_train"),
        (dict(rho_train=1.5), "rho_train"),
        (dict(rho_test=float("nan")), "rho_test"),
        (dict(seed=-1), "seed"),
    ],
)
def test_parity_invalid_arguments(kwargs, name):
    kwargs = {"seed": 0, "n_train": 10, "n_test": 10, **kwargs}
    with pytest.raises(ValueError, match=name):
        generate_parity(**kwargs)


# --------------------------------------------------------------------------- moon-star


def test_moon_star_shapes_dtypes_range(moon_star):
    assert moon_star.name == "moon_star" and moon_star.num_classes == 2
    assert moon_star.input_shape == (1, 32, 32)
    for split in (moon_star.train, moon_star.test):
        assert split.x.shape == (N_MS, 1, 32, 32) and split.x.dtype == np.uint8
        assert split.region.shape == (N_MS, 32, 32) and split.region.dtype == np.uint8
        xf = split.as_float()
        assert xf.min() >= 0.0 and xf.max() <= 1.0
        assert set(np.unique(split.region)) == {CORE, SPURIOUS, NOISE}


def test_moon_star_bias_ratio_and_balance(moon_star):
    _check_labels(moon_star.train, 0.1)
    _check_labels(moon_star.test, 0.5)
    assert abs(moon_star.test.b.mean() - 0.5) <= 0.01


def _quadrants(region: np.ndarray, value: int) -> np.ndarray:
    """N×2×2 booleans: does the quadrant (row half, column half) contain a pixel of ``value``?"""
    n, h, w = region.shape
    q = (region == value).reshape(n, 2, h // 2, 2, w // 2)
    return q.any(axis=(2, 4))


def test_moon_star_shape_inside_quadrant_given_by_b(moon_star):
    for split in (moon_star.train, moon_star.test):
        core_q = _quadrants(split.region, CORE)
        assert np.all(core_q.sum(axis=(1, 2)) == 1)  # every shape lies in exactly one quadrant
        diag = core_q[:, 0, 0] | core_q[:, 1, 1]  # top-left or bottom-right
        anti = core_q[:, 0, 1] | core_q[:, 1, 0]  # top-right or bottom-left
        np.testing.assert_array_equal(diag, split.b == 0)
        np.testing.assert_array_equal(anti, split.b == 1)
        # the spurious region is the rest of that same quadrant; noise is the other three
        spur_q = _quadrants(split.region, SPURIOUS)
        np.testing.assert_array_equal(spur_q, core_q)
        assert np.all((split.region == NOISE).sum(axis=(1, 2)) == 3 * 16 * 16)
        # both quadrants of the diagonal pair occur
        assert core_q[:, 0, 0].any() and core_q[:, 1, 1].any()
        assert core_q[:, 0, 1].any() and core_q[:, 1, 0].any()


def test_moon_star_pixels_follow_mask(moon_star):
    x = moon_star.train.as_float()[:, 0]
    core = moon_star.train.region == CORE
    # with noise std 0.05, shape pixels stay bright and background dark
    assert x[core].mean() > 0.9 and x[~core].mean() < 0.1
    assert np.all(x[core] > 0.5) and np.all(x[~core] < 0.5)
    area = core.sum(axis=(1, 2))
    assert area.min() >= 10 and area.max() <= 16 * 16


def _normalised_inertia(mask: np.ndarray) -> np.ndarray:
    """Polar moment of inertia of each binary mask about its centroid, divided by area²
    (scale-invariant; a disk gives 1/(2π) ≈ 0.16). A crescent's mass lies on an arc away
    from its centroid, a star's around it."""
    n, h, w = mask.shape
    rows, cols = np.mgrid[0:h, 0:w]
    m = mask.astype(np.float64)
    area = m.sum(axis=(1, 2))
    cy = (m * rows).sum(axis=(1, 2)) / area
    cx = (m * cols).sum(axis=(1, 2)) / area
    d2 = (rows[None] - cy[:, None, None]) ** 2 + (cols[None] - cx[:, None, None]) ** 2
    return (m * d2).sum(axis=(1, 2)) / area**2


def test_moon_star_shapes_distinguishable(moon_star):
    split = moon_star.train
    inertia = _normalised_inertia(split.region == CORE)
    moon, star = inertia[split.y == 0], inertia[split.y == 1]
    assert star.mean() < moon.mean() - 0.08
    # the property separates the classes almost perfectly
    assert np.mean(star < 0.25) > 0.99 and np.mean(moon > 0.25) > 0.99
    # similar areas: size is not a shortcut for the shape
    area = (split.region == CORE).sum(axis=(1, 2))
    assert abs(area[split.y == 0].mean() - area[split.y == 1].mean()) < 0.2 * area.mean()


def test_moon_star_deterministic_bytes(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_dataset(generate_moon_star(seed=11, n_train=200, n_test=100), a)
    save_dataset(generate_moon_star(seed=11, n_train=200, n_test=100), b)
    assert a.read_bytes() == b.read_bytes()
    other = generate_moon_star(seed=12, n_train=200, n_test=100)
    assert not np.array_equal(other.train.x, load_dataset(a).train.x)


def test_moon_star_round_trip(tmp_path):
    d = generate_moon_star(seed=2, n_train=300, n_test=200)
    path = tmp_path / "ms.npz"
    save_dataset(d, path)
    loaded = load_dataset(path)
    assert loaded.name == d.name and loaded.meta == d.meta
    for name in ("train", "test"):
        for field in ("x", "y", "b", "region"):
            a, b = getattr(d.split(name), field), getattr(loaded.split(name), field)
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def test_moon_star_other_image_size_and_no_noise():
    d = generate_moon_star(seed=4, n_train=100, n_test=100, image_size=64, pixel_noise=0.0)
    assert d.train.x.shape == (100, 1, 64, 64) and d.train.region.shape == (100, 64, 64)
    np.testing.assert_array_equal(d.train.x[:, 0] == 255, d.train.region == CORE)
    assert set(np.unique(d.train.x)) == {0, 255}
    core_q = _quadrants(d.train.region, CORE)
    np.testing.assert_array_equal(core_q[:, 0, 1] | core_q[:, 1, 0], d.train.b == 1)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_train=0), "n_train"),
        (dict(n_test=0), "n_test"),
        (dict(image_size=8), "image_size"),
        (dict(image_size=33), "image_size"),
        (dict(rho_train=1.01), "rho_train"),
        (dict(rho_test=-0.5), "rho_test"),
        (dict(pixel_noise=-0.1), "pixel_noise"),
        (dict(pixel_noise=float("inf")), "pixel_noise"),
        (dict(seed="a"), "seed"),
    ],
)
def test_moon_star_invalid_arguments(kwargs, name):
    kwargs = {"seed": 0, "n_train": 10, "n_test": 10, **kwargs}
    with pytest.raises(ValueError, match=name):
        generate_moon_star(**kwargs)
