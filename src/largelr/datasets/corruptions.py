"""Corrupted CIFAR-10's corruptions: LfF's "type 0" list and a compatibility layer for ``imagecorruptions``.

Corrupted CIFAR-10 (§4.1, suppl. C; Nam et al. 2020) gives bias label ``b`` the ``b``-th corruption of
:data:`CORRUPTIONS_TYPE0` from the ``imagecorruptions`` package (ImageNet-C's code). Its release 1.1.2 no
longer imports on current setuptools and NumPy; :func:`_imagecorruptions_corrupt` makes it work without
changing what it computes. :func:`corrupt_image` applies one corruption reproducibly,
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
from typing import Callable

import numpy as np

#: LfF's Corrupted CIFAR-10 "type 0": bias label k ↦ k-th corruption (imagecorruptions names).
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
#: Side length at which each corruption is applied to a 32×32 CIFAR image.
#:
#: ``imagecorruptions`` carries ImageNet-C's parameters, tuned for 224×224 images. Checked
#: on real CIFAR-10 images at 32×32, all ten return 32×32×3 uint8, but four whose
#: parameters are absolute pixel sizes break down: ``elastic_transform`` (σ = 0.32 px
#: turns the displacement field into white noise, scrambling pixels), ``snow`` (12-px
#: motion-blur streaks white out the image), ``frost`` (a 32-px crop of the large frost
#: texture is a flat haze) and ``spatter`` (blobs cover much of the object). These are
#: applied at ImageNet-C scale instead: bilinear upsampling to 224×224, corruption,
#: area (box) downsampling back to 32×32 — what CIFAR-10-C achieves with rescaled
#: parameters. The rest act per pixel (brightness, contrast, saturate) or at a scale
#: relative to the image (fog's plasma fractal, pixelate, JPEG's 8×8 blocks) and are
#: applied at native 32×32 (an up/down round trip would erase pixelate and JPEG).
CORRUPTION_WORKING_SIZE = {
    "snow": 224,
    "frost": 224,
    "spatter": 224,
    "elastic_transform": 224,
    "fog": 32,
    "brightness": 32,
    "contrast": 32,
    "jpeg_compression": 32,
    "pixelate": 32,
    "saturate": 32,
}


_CORRUPT: Callable[..., np.ndarray] | None = None


def _plasma_fractal(mapsize: int = 256, wibbledecay: float = 3) -> np.ndarray:
    """imagecorruptions' ``plasma_fractal`` (used by fog) with ``np.float64`` for NumPy ≥ 2.

    imagecorruptions 1.1.2 allocates with ``np.float_``, removed in NumPy 2.0; this is the
    same diamond-square algorithm drawing the same numbers from ``np.random``.
    """
    assert mapsize & (mapsize - 1) == 0
    maparray = np.empty((mapsize, mapsize), dtype=np.float64)
    maparray[0, 0] = 0
    stepsize = mapsize
    wibble = 100.0

    def wibbledmean(array: np.ndarray) -> np.ndarray:
        return array / 4 + wibble * np.random.uniform(-wibble, wibble, array.shape)

    while stepsize >= 2:
        # squares: centre of each square = mean of its corners + wibble
        cornerref = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        squareaccum = cornerref + np.roll(cornerref, shift=-1, axis=0)
        squareaccum += np.roll(squareaccum, shift=-1, axis=1)
        maparray[stepsize // 2 : mapsize : stepsize, stepsize // 2 : mapsize : stepsize] = wibbledmean(squareaccum)
        # diamonds: edge midpoints = mean of their four neighbours + wibble
        drgrid = maparray[stepsize // 2 : mapsize : stepsize, stepsize // 2 : mapsize : stepsize]
        ulgrid = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        ltsum = drgrid + np.roll(drgrid, 1, axis=0) + (ulgrid + np.roll(ulgrid, -1, axis=1))
        maparray[0:mapsize:stepsize, stepsize // 2 : mapsize : stepsize] = wibbledmean(ltsum)
        ttsum = drgrid + np.roll(drgrid, 1, axis=1) + (ulgrid + np.roll(ulgrid, -1, axis=0))
        maparray[stepsize // 2 : mapsize : stepsize, 0:mapsize:stepsize] = wibbledmean(ttsum)
        stepsize //= 2
        wibble /= wibbledecay
    maparray -= maparray.min()
    return maparray / maparray.max()


def _imagecorruptions_corrupt() -> Callable[..., np.ndarray]:
    """``imagecorruptions.corrupt``, made importable and working on current setuptools/NumPy.

    imagecorruptions 1.1.2 imports ``pkg_resources.resource_filename`` (gone from
    setuptools ≥ 81): if ``pkg_resources`` is missing, a stand-in module providing only
    that function is registered for the import and removed afterwards. Its fog uses
    ``np.float_`` (gone from NumPy 2): its ``plasma_fractal`` is replaced by
    :func:`_plasma_fractal`, the identical algorithm.
    """
    global _CORRUPT
    if _CORRUPT is not None:
        return _CORRUPT
    shimmed = False
    if importlib.util.find_spec("imagecorruptions") is None:
        raise ImportError(
            "Corrupted CIFAR-10 needs the `imagecorruptions` package: pip install imagecorruptions"
        )
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
            import imagecorruptions
            import imagecorruptions.corruptions as corruptions
    finally:
        if shimmed:
            del sys.modules["pkg_resources"]
    corruptions.plasma_fractal = _plasma_fractal
    _CORRUPT = imagecorruptions.corrupt
    return _CORRUPT


def corrupt_image(image: np.ndarray, corruption: str, severity: int, seed: int) -> np.ndarray:
    """Apply one ``imagecorruptions`` corruption to an H×W×3 uint8 image; same shape back.

    The corruption runs at :data:`CORRUPTION_WORKING_SIZE` [``corruption``] (bilinear
    up-, box downsampling around it when that differs from the image size).
    imagecorruptions draws from the global ``np.random``; it is seeded with ``seed`` for
    this call and its previous state restored afterwards, so results are reproducible.
    """
    from PIL import Image

    if corruption not in CORRUPTION_WORKING_SIZE:
        raise ValueError(f"unknown corruption {corruption!r}; expected one of {CORRUPTIONS_TYPE0}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 image, got {image.dtype} {image.shape}")
    corrupt = _imagecorruptions_corrupt()
    height, width = image.shape[:2]
    size = max(CORRUPTION_WORKING_SIZE[corruption], height, width)
    work = image
    if (height, width) != (size, size):
        work = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
    state = np.random.get_state()
    try:
        np.random.seed(int(seed) % 2**32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = corrupt(np.ascontiguousarray(work), corruption_name=corruption, severity=int(severity))
    finally:
        np.random.set_state(state)
    if out.shape[:2] != (height, width):
        out = np.asarray(Image.fromarray(out).resize((width, height), Image.BOX))
    if out.shape != image.shape or out.dtype != np.uint8:
        raise RuntimeError(f"corruption {corruption} returned {out.dtype} {out.shape} for {image.shape}")
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
