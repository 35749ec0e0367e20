"""Corrupted CIFAR-10's corruptions (largelr.datasets.corruptions) carry CIFAR-10-C's 32-px parameters.

One test per type-0 corruption, on real CIFAR-10 test images at LfF's level (5), checks a property that
pins its parameter (contrast factor, JPEG quality, pixelation size, saturation factor, ...), so the
ImageNet-C (224-px) values used before (contrast 0.10, JPEG 10, pixelate 9 px, saturate ×5 + 0.1, ...)
fail them.
"""

from __future__ import annotations

import importlib.util
import os
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from largelr.datasets.corruptions import CIFAR10C_PARAMETERS, LFF_SEVERITY, MUD_RGB, corrupt_image
from largelr.datasets.sources import load_cifar10

DATA_ROOT = Path(os.environ.get("LARGELR_DATA_ROOT", Path(__file__).resolve().parents[3] / "shared" / "data"))
if not (DATA_ROOT / "cifar-10-batches-py").is_dir():
    pytest.skip(f"real CIFAR-10 files not found under {DATA_ROOT}", allow_module_level=True)
if importlib.util.find_spec("imagecorruptions") is None:
    pytest.skip("imagecorruptions is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """16 real CIFAR-10 test images, N×32×32×3 uint8."""
    return load_cifar10(DATA_ROOT, "test")[0][:16].transpose(0, 2, 3, 1).copy()


def _corrupt(image: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    return corrupt_image(image, name, LFF_SEVERITY, seed).astype(np.float64)


def test_lffs_level_is_cifar10c_level_5():
    assert LFF_SEVERITY == 5
    level = {name: values[LFF_SEVERITY - 1] for name, values in CIFAR10C_PARAMETERS.items()}
    assert level["contrast"] == 0.15 and level["jpeg_compression"] == 40 and level["pixelate"] == 0.65
    assert level["saturate"] == (2.5, 0.2) and level["brightness"] == 0.3 and level["frost"] == (0.75, 0.45)
    assert level["fog"] == (1.5, 1.75) and level["elastic_transform"] == pytest.approx((3.2, 0.96, 0.96))


def test_contrast_keeps_0_15_of_each_deviation_from_the_mean(images):
    for image in images:
        x = image / 255.0
        out = _corrupt(image, "contrast") / 255.0
        means = x.mean(axis=(0, 1), keepdims=True)
        expected = (x - means) * 0.15 + means
        assert np.abs(out - expected).max() <= 1 / 255 + 1e-9  # truncation to uint8
        ratio = (out - out.mean(axis=(0, 1))).std() / (x - means).std()
        assert 0.13 < ratio < 0.17


def test_jpeg_is_one_quality_40_round_trip(images):
    for image in images:
        out = corrupt_image(image, "jpeg_compression", LFF_SEVERITY, 0)
        buffers = {}
        for quality in (10, 40):
            buffers[quality] = BytesIO()
            Image.fromarray(image).save(buffers[quality], "JPEG", quality=quality)
        np.testing.assert_array_equal(out, np.asarray(Image.open(buffers[40])))
        assert not np.array_equal(out, np.asarray(Image.open(buffers[10])))


def test_pixelate_goes_through_20_px(images):
    for image in images:
        out = corrupt_image(image, "pixelate", LFF_SEVERITY, 0)
        small = Image.fromarray(image).resize((20, 20), Image.BOX)
        np.testing.assert_array_equal(out, np.asarray(small.resize((32, 32), Image.BOX)))
        # the 20-px image is recovered from the output: box-downsampling it again changes almost nothing
        again = np.asarray(Image.fromarray(out).resize((20, 20), Image.BOX)).astype(int)
        assert np.abs(again - np.asarray(small).astype(int)).mean() < 4


def _hsv(x: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hsv

    return rgb2hsv(x / 255.0)


def test_saturate_multiplies_saturation_by_2_5_and_adds_0_2(images):
    for image in images:
        before, after = _hsv(image.astype(np.float64)), _hsv(_corrupt(image, "saturate"))
        expected = np.clip(before[..., 1] * 2.5 + 0.2, 0, 1)
        visible = before[..., 2] > 0.2  # saturation of dark pixels is ill-conditioned after uint8 truncation
        assert np.median(np.abs(after[..., 1] - expected)[visible]) < 0.02


def test_brightness_adds_0_3_to_the_hsv_value(images):
    for image in images:
        before, after = _hsv(image.astype(np.float64)), _hsv(_corrupt(image, "brightness"))
        expected = np.clip(before[..., 2] + 0.3, 0, 1)
        assert np.abs(after[..., 2] - expected).max() <= 1.5 / 255


def test_fog_adds_a_1_5_strong_field_shared_by_the_channels(images):
    for image in images:
        x = image / 255.0
        peak = x.max()
        out = _corrupt(image, "fog") / 255.0
        field = out * (peak + 1.5) / peak - x  # c₀ · plasma, where nothing clipped
        unclipped = (out < 0.999).all(axis=2)
        spread = field.max(axis=2) - field.min(axis=2)
        assert spread[unclipped].max() < 2 * (peak + 1.5) / peak / 255 + 1e-9  # one field for R, G, B
        assert field[unclipped].min() > -0.02 and field[unclipped].max() < 1.5 + 0.02
        assert field[unclipped].max() - field[unclipped].min() > 0.75  # the plasma spans most of [0, 1.5]


def _layer(image: np.ndarray, out: np.ndarray, weight: float) -> np.ndarray:
    return out - weight * image.astype(np.float64)


def test_frost_is_0_75_image_plus_0_45_texture(images):
    # the same seed draws the same texture crop: out − 0.75 · image must not depend on the image
    first, second = images[0], images[1]
    a, b = _corrupt(first, "frost", seed=7), _corrupt(second, "frost", seed=7)
    unclipped = (a < 255) & (b < 255)
    difference = np.abs(_layer(first, a, 0.75) - _layer(second, b, 0.75))[unclipped]
    assert difference.max() <= 1.0 + 1e-9
    assert np.abs(_layer(first, a, 0.6) - _layer(second, b, 0.6))[unclipped].max() > 5  # ImageNet-C's 0.6 fails
    texture = _layer(first, a, 0.75)[unclipped] / 0.45
    assert texture.min() >= -1 / 0.45 and texture.max() <= 255 + 1e-9


def test_snow_blends_0_8_of_the_image_with_its_brightened_grey(images):
    import cv2

    def blended(image: np.ndarray) -> np.ndarray:
        x = image.astype(np.float32) / 255.0
        grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., np.newaxis]
        return (0.8 * x + 0.2 * np.maximum(x, grey * 1.5 + 0.5)) * 255

    first, second = images[2], images[3]
    a, b = _corrupt(first, "snow", seed=3), _corrupt(second, "snow", seed=3)
    unclipped = (a < 255) & (b < 255)
    # the same seed draws the same snow layer: out − blend(image) must not depend on the image
    assert np.abs((a - blended(first)) - (b - blended(second)))[unclipped].max() <= 1.0 + 1e-3
    assert (a - blended(first))[unclipped].min() >= -1.0


def test_spatter_level_5_replaces_pixels_by_mud(images):
    mud = np.array(MUD_RGB, dtype=np.float64)
    covered = []
    for seed, image in enumerate(images):
        x = image.astype(np.float64)
        out = _corrupt(image, "spatter", seed)
        changed = np.abs(out - x).max(axis=2) > 1
        # where mud falls, the blurred mask is ≥ 0.8: a pixel is at least 80 % of the way to mud brown
        distance = np.linalg.norm(out - mud, axis=2)
        assert np.all(distance[changed] <= 0.2 * np.linalg.norm(x - mud, axis=2)[changed] + 2)
        covered.append(changed.mean())
    assert 0 < np.mean(covered) < 0.3


def test_elastic_moves_pixels_a_few_pixels_at_most(images):
    from scipy.ndimage import maximum_filter, minimum_filter

    for seed, image in enumerate(images):
        out = _corrupt(image, "elastic_transform", seed)
        x = np.pad(image.astype(np.float64), ((6, 6), (6, 6), (0, 0)), mode="reflect")
        low = minimum_filter(x, size=(13, 13, 1))[6:-6, 6:-6]
        high = maximum_filter(x, size=(13, 13, 1))[6:-6, 6:-6]
        # α = 3.2 px of smoothed noise plus a ±0.96-px affine jitter: every value comes from ≤ 6 px away
        assert np.all(out >= low - 1) and np.all(out <= high + 1)
        assert np.abs(out - image).mean() > 1  # but it does move them


def test_corruptions_reject_other_sizes_and_levels(images):
    with pytest.raises(ValueError, match="32"):
        corrupt_image(np.zeros((64, 64, 3), np.uint8), "contrast", 5, 0)
    with pytest.raises(ValueError, match="severity"):
        corrupt_image(images[0], "contrast", 6, 0)
