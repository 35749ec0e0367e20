"""Corrupted CIFAR-10's corruptions: LfF's "type 0" list with CIFAR-10-C's 32-px parameters.

Corrupted CIFAR-10 (§4.1, suppl. C; Nam et al. 2020) gives bias label ``b`` the ``b``-th corruption of
:data:`CORRUPTIONS_TYPE0`. LfF (github alinlab/LfF, ``data/corrupted_cifar10_protocol.py``) builds them with
the functions and parameters of CIFAR-10-C (Hendrycks & Dietterich 2019; github hendrycks/robustness,
``ImageNet-C/create_c/make_cifar_c.py``), tuned for 32×32 images, and its ``make_dataset.py`` calls them with
``severity + 1``: its published "Severity4" folders are level 5, this module's default
(:data:`LFF_SEVERITY`). The parameters of :data:`CIFAR10C_PARAMETERS` are CIFAR-10-C's; the code is this
module's. Two pieces come from the ``imagecorruptions`` package where they compute what CIFAR-10-C needs:
its frost texture images (the same six pictures as ImageNet-C's) and its NumPy motion blur, which stands in
for ImageMagick's (CIFAR-10-C's snow calls Wand); ``docs/datasets.md`` lists the remaining differences.

:func:`corrupt_image` applies one corruption reproducibly (its own ``RandomState(seed)``),
:func:`corrupt_images` a batch, optionally in worker processes. Used by
:func:`largelr.datasets.semisynthetic.generate_corrupted_cifar10`.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import sys
import types
import warnings
from concurrent.futures import ProcessPoolExecutor
from io import BytesIO
from typing import Any, Callable

import numpy as np

#: LfF's Corrupted CIFAR-10 "type 0": bias label k ↦ k-th corruption.
CORRUPTIONS_TYPE0 = (
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "spatter",
    "elastic_transform",
    "jpeg_compression",
    "pixelate",
    "saturate",
)
#: LfF's released "Severity4" datasets call the corruptions at level 4 + 1 (``make_dataset.py``).
LFF_SEVERITY = 5
#: CIFAR-10-C's parameters (``make_cifar_c.py``), levels 1–5, for the type-0 corruptions.
CIFAR10C_PARAMETERS: dict[str, tuple[Any, ...]] = {
    # snow: (mean, std of the snow layer, zoom, threshold, motion-blur radius, sigma, image blend)
    "snow": ((0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9), (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
             (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85), (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)),
    # frost: (image weight, frost weight)
    "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
    # fog: (fog strength, plasma wibble decay)
    "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
    # brightness: added to HSV value
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
    # contrast: factor on the deviation from the per-channel mean
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
    # spatter: (mean, std, blur sigma, threshold, blur / intensity, mud (1) or water (0))
    "spatter": ((0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0), (0.65, 0.3, 1, 0.69, 0.5, 0),
                (0.65, 0.1, 0.7, 0.69, 0.6, 1), (0.65, 0.1, 0.5, 0.68, 0.6, 1)),
    # elastic: (alpha, sigma, affine jitter) in pixels = 32 × CIFAR-10-C's fractions
    "elastic_transform": tuple(tuple(32 * v for v in c) for c in (
        (0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))),
    # JPEG quality
    "jpeg_compression": (80, 65, 58, 50, 40),
    # pixelate: side of the intermediate image = int(32 · factor)
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),
    # saturate: HSV saturation · factor + offset
    "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
}
#: Mud colour of spatter levels 4–5 and water colour of levels 1–3 (RGB, CIFAR-10-C).
MUD_RGB = (63, 42, 20)

_IMAGECORRUPTIONS: types.ModuleType | None = None
SIZE = 32


def _imagecorruptions() -> types.ModuleType:
    """``imagecorruptions.corruptions``, importable on current setuptools (frost images, motion blur).

    imagecorruptions 1.1.2 imports ``pkg_resources.resource_filename`` (gone from setuptools ≥ 81): if
    ``pkg_resources`` is missing, a stand-in providing only that function is registered for the import
    and removed afterwards.
    """
    global _IMAGECORRUPTIONS
    if _IMAGECORRUPTIONS is not None:
        return _IMAGECORRUPTIONS
    if importlib.util.find_spec("imagecorruptions") is None:
        raise ImportError("Corrupted CIFAR-10 needs the `imagecorruptions` package: pip install imagecorruptions")
    shimmed = False
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")

            def resource_filename(package: str, resource: str) -> str:
                spec = importlib.util.find_spec(package)
                return os.path.join(os.path.dirname(spec.origin), resource)

            shim.resource_filename = resource_filename
            sys.modules["pkg_resources"] = shim
            shimmed = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import imagecorruptions.corruptions as corruptions
    finally:
        if shimmed:
            del sys.modules["pkg_resources"]
    _IMAGECORRUPTIONS = corruptions
    return corruptions


def plasma_fractal(rng: np.random.RandomState, mapsize: int = SIZE, wibbledecay: float = 3) -> np.ndarray:
    """Diamond-square height map in [0, 1] of side ``mapsize`` (a power of two): fog's texture.

    Each step sets a square's centre, then each edge midpoint, to the mean of its neighbours plus a
    uniform perturbation of ±wibble², with wibble starting at 100 and divided by ``wibbledecay`` per step.
    """
    assert mapsize & (mapsize - 1) == 0
    grid = np.zeros((mapsize, mapsize), dtype=np.float64)
    step, wibble = mapsize, 100.0

    def perturbed(total: np.ndarray) -> np.ndarray:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0:mapsize:step, 0:mapsize:step]
        total = corners + np.roll(corners, shift=-1, axis=0)
        total += np.roll(total, shift=-1, axis=1)
        grid[half:mapsize:step, half:mapsize:step] = perturbed(total)
        centres = grid[half:mapsize:step, half:mapsize:step]
        corners = grid[0:mapsize:step, 0:mapsize:step]
        left = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        grid[0:mapsize:step, half:mapsize:step] = perturbed(left)
        top = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        grid[half:mapsize:step, 0:mapsize:step] = perturbed(top)
        step //= 2
        wibble /= wibbledecay
    grid -= grid.min()
    return grid / grid.max()


def _clipped_zoom(image: np.ndarray, factor: float) -> np.ndarray:
    """Zoom the centre of an H×H×C array by ``factor`` (linear), cropped back to H×H."""
    from scipy.ndimage import zoom

    h = image.shape[0]
    crop = int(np.ceil(h / factor))
    top = (h - crop) // 2
    out = zoom(image[top : top + crop, top : top + crop], (factor, factor, 1), order=1)
    trim = (out.shape[0] - h) // 2
    return out[trim : trim + h, trim : trim + h]


def _hsv_channel(x: np.ndarray, channel: int, scale: float, offset: float) -> np.ndarray:
    """Image in [0, 1] with HSV channel ``channel`` (1 = saturation, 2 = value) set to clip(· scale + offset)."""
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(x)
    hsv[:, :, channel] = np.clip(hsv[:, :, channel] * scale + offset, 0, 1)
    return hsv2rgb(hsv)


# --------------------------------------------------------------------------- the ten corruptions
# Each takes an H×W×3 uint8 image, its level's parameters and the image's RandomState; it returns the
# corrupted image as floats in [0, 255] (or uint8), truncated to uint8 by corrupt_image as
# CIFAR-10-C's np.uint8(...) does.


def snow(x: np.ndarray, c: tuple, rng: np.random.RandomState) -> np.ndarray:
    """Snow: a thresholded, zoomed Gaussian layer streaked by a motion blur (imagecorruptions' NumPy
    port of ImageMagick's), added twice (once rotated 180°) to the image brightened toward grey · 1.5 + 0.5."""
    import cv2

    image = x.astype(np.float32) / 255.0
    layer = rng.normal(size=image.shape[:2], loc=c[0], scale=c[1])
    layer = _clipped_zoom(layer[..., np.newaxis], c[2])
    layer[layer < c[3]] = 0
    layer = (np.clip(layer.squeeze(), 0, 1) * 255).astype(np.uint8) / 255.0  # CIFAR-10-C's PNG round trip
    layer = _imagecorruptions()._motion_blur(layer, radius=c[4], sigma=c[5], angle=rng.uniform(-135, -45))
    layer = (np.round(np.clip(layer, 0, 1) * 255) / 255.0)[..., np.newaxis]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., np.newaxis]
    image = c[6] * image + (1 - c[6]) * np.maximum(image, grey * 1.5 + 0.5)
    return np.clip(image + layer + np.rot90(layer, k=2), 0, 1) * 255


def _frost_textures() -> list[np.ndarray]:
    """The first five of imagecorruptions' six frost pictures (CIFAR-10-C draws ``randint(5)``), BGR,
    scaled by 0.2 as CIFAR-10-C does."""
    import cv2

    folder = os.path.join(os.path.dirname(_imagecorruptions().__file__), "frost")
    names = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
    return [cv2.resize(cv2.imread(os.path.join(folder, name)), (0, 0), fx=0.2, fy=0.2) for name in names]


_FROST: list[np.ndarray] = []


def frost(x: np.ndarray, c: tuple, rng: np.random.RandomState) -> np.ndarray:
    """Frost: c₀ · image + c₁ · a random 32×32 crop of a frost picture scaled by 0.2."""
    if not _FROST:
        _FROST.extend(_frost_textures())
    texture = _FROST[rng.randint(5)]
    top, left = rng.randint(0, texture.shape[0] - SIZE), rng.randint(0, texture.shape[1] - SIZE)
    crop = texture[top : top + SIZE, left : left + SIZE][..., [2, 1, 0]]
    return np.clip(c[0] * x.astype(np.float64) + c[1] * crop, 0, 255)


def fog(x: np.ndarray, c: tuple, rng: np.random.RandomState) -> np.ndarray:
    """Fog: image + c₀ · plasma fractal (decay c₁), rescaled by max / (max + c₀)."""
    image = x / 255.0
    peak = image.max()
    image = image + c[0] * plasma_fractal(rng, SIZE, c[1])[: x.shape[0], : x.shape[1]][..., np.newaxis]
    return np.clip(image * peak / (peak + c[0]), 0, 1) * 255


def brightness(x: np.ndarray, c: float, rng: np.random.RandomState) -> np.ndarray:
    """Brightness: HSV value + c."""
    return np.clip(_hsv_channel(x / 255.0, 2, 1.0, c), 0, 1) * 255


def contrast(x: np.ndarray, c: float, rng: np.random.RandomState) -> np.ndarray:
    """Contrast: each channel's deviation from its image mean scaled by c."""
    image = x / 255.0
    means = image.mean(axis=(0, 1), keepdims=True)
    return np.clip((image - means) * c + means, 0, 1) * 255


def _water(image: np.ndarray, liquid: np.ndarray, intensity: float) -> np.ndarray:
    """Spatter levels 1–3: pale turquoise water drops shaded by the distance to their edges."""
    import cv2

    liquid = (liquid * 255).astype(np.uint8)
    dist = cv2.distanceTransform(255 - cv2.Canny(liquid, 50, 150), cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
    mask = liquid * cv2.blur(dist, (3, 3)).astype(np.float32)
    mask = mask / mask.max() * intensity if mask.max() > 0 else mask
    colour = np.array([175, 238, 238], dtype=np.float32) / 255.0
    return np.clip(image + mask[..., np.newaxis] * colour, 0, 1) * 255


def spatter(x: np.ndarray, c: tuple, rng: np.random.RandomState) -> np.ndarray:
    """Spatter: a blurred, thresholded Gaussian layer; water drops (levels 1–3) or mud (4–5: pixels
    where the blurred drop mask reaches 0.8 are replaced by mud brown in proportion to it)."""
    from skimage.filters import gaussian

    image = x.astype(np.float32) / 255.0
    liquid = gaussian(rng.normal(size=image.shape[:2], loc=c[0], scale=c[1]), sigma=c[2])
    liquid[liquid < c[3]] = 0
    if c[5] == 0:
        return _water(image, liquid, c[4])
    mask = gaussian((liquid > c[3]).astype(np.float32), sigma=c[4])
    mask[mask < 0.8] = 0
    mud = np.array(MUD_RGB, dtype=np.float32) / 255.0
    return np.clip(image * (1 - mask[..., np.newaxis]) + mud * mask[..., np.newaxis], 0, 1) * 255


def elastic_transform(x: np.ndarray, c: tuple, rng: np.random.RandomState) -> np.ndarray:
    """Elastic: a random affine map (corners jittered by ±c₂ px), then a displacement field of
    uniform noise smoothed by a Gaussian of σ = c₁ px and scaled by α = c₀ px, linear interpolation."""
    import cv2
    from scipy.ndimage import map_coordinates
    from skimage.filters import gaussian

    image = x.astype(np.float32) / 255.0
    shape = image.shape
    centre = np.float32(shape[:2]) // 2
    side = min(shape[:2]) // 3
    source = np.float32([centre + side, [centre[0] + side, centre[1] - side], centre - side])
    target = source + rng.uniform(-c[2], c[2], size=source.shape).astype(np.float32)
    image = cv2.warpAffine(image, cv2.getAffineTransform(source, target), shape[:2][::-1],
                           borderMode=cv2.BORDER_REFLECT_101)
    dx, dy = ((gaussian(rng.uniform(-1, 1, size=shape[:2]), c[1], mode="reflect", truncate=3) * c[0])
              .astype(np.float32)[..., np.newaxis] for _ in range(2))
    cols, rows, chans = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    where = (np.reshape(rows + dy, (-1, 1)), np.reshape(cols + dx, (-1, 1)), np.reshape(chans, (-1, 1)))
    return np.clip(map_coordinates(image, where, order=1, mode="reflect").reshape(shape), 0, 1) * 255


def jpeg_compression(x: np.ndarray, c: int, rng: np.random.RandomState) -> np.ndarray:
    """JPEG: one PIL encode/decode at quality c."""
    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(x).save(buffer, "JPEG", quality=c)
    return np.asarray(Image.open(buffer))


def pixelate(x: np.ndarray, c: float, rng: np.random.RandomState) -> np.ndarray:
    """Pixelate: box-downsample to int(32 · c) px, box-upsample back."""
    from PIL import Image

    side = int(SIZE * c)
    return np.asarray(Image.fromarray(x).resize((side, side), Image.BOX).resize(x.shape[:2][::-1], Image.BOX))


def saturate(x: np.ndarray, c: tuple, rng: np.random.RandomState) -> np.ndarray:
    """Saturate: HSV saturation · c₀ + c₁."""
    return np.clip(_hsv_channel(x / 255.0, 1, c[0], c[1]), 0, 1) * 255


CORRUPTION_FUNCTIONS: dict[str, Callable[[np.ndarray, Any, np.random.RandomState], np.ndarray]] = {
    "snow": snow, "frost": frost, "fog": fog, "brightness": brightness, "contrast": contrast,
    "spatter": spatter, "elastic_transform": elastic_transform, "jpeg_compression": jpeg_compression,
    "pixelate": pixelate, "saturate": saturate,
}


def corrupt_image(image: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """Apply one type-0 corruption at CIFAR-10-C level ``severity`` to a 32×32×3 uint8 image; same shape back.

    The corruption draws from its own ``np.random.RandomState(seed)``, so results are reproducible and
    independent of the global NumPy state. The result is truncated to uint8 as CIFAR-10-C's
    ``np.uint8(...)`` does.
    """
    if corruption not in CORRUPTION_FUNCTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; expected one of {CORRUPTIONS_TYPE0}")
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be an integer in 1–5, got {severity}")
    if image.dtype != np.uint8 or image.shape != (SIZE, SIZE, 3):
        raise ValueError(f"expected a 32×32×3 uint8 image (CIFAR-10-C's parameters are for 32 px), "
                         f"got {image.dtype} {image.shape}")
    rng = np.random.RandomState(int(seed) % 2**32)
    parameters = CIFAR10C_PARAMETERS[corruption][int(severity) - 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.asarray(CORRUPTION_FUNCTIONS[corruption](np.ascontiguousarray(image), parameters, rng))
    out = out.astype(np.uint8)
    if out.shape != image.shape:
        raise RuntimeError(f"corruption {corruption} returned {out.shape} for {image.shape}")
    return out


def _corrupt_chunk(images_chw: np.ndarray, corruption_ids: np.ndarray, seeds: np.ndarray, severity: int) -> np.ndarray:
    out = np.empty_like(images_chw)
    for i, (image, k, s) in enumerate(zip(images_chw, corruption_ids, seeds)):
        out[i] = corrupt_image(image.transpose(1, 2, 0), CORRUPTIONS_TYPE0[k], severity, s).transpose(2, 0, 1)
    return out


def corrupt_images(
    images_chw: np.ndarray, corruption_ids: np.ndarray, seeds: np.ndarray, severity: int, num_workers: int = 1
) -> np.ndarray:
    """Corrupt uint8 N×3×H×W images, image i with type-0 corruption ``corruption_ids[i]``.

    Per-image seeds make the result independent of ``num_workers``. Workers are forked
    (as torch's DataLoader workers are) where the platform allows: "spawn" would re-run
    an unguarded ``__main__`` such as a Snakemake script in every worker.
    """
    if num_workers <= 1 or len(images_chw) < 2:
        return _corrupt_chunk(images_chw, corruption_ids, seeds, severity)
    bounds = np.linspace(0, len(images_chw), 4 * num_workers + 1).astype(int)
    chunks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=num_workers, mp_context=context) as pool:
        parts = pool.map(
            _corrupt_chunk,
            [images_chw[c] for c in chunks],
            [corruption_ids[c] for c in chunks],
            [seeds[c] for c in chunks],
            [severity] * len(chunks),
        )
        return np.concatenate(list(parts))
