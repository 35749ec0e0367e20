"""Synthetic spurious-correlation datasets: parity and moon-star (paper §4.1, suppl. C).

Both generators are deterministic given ``seed`` and use numpy only. The train and test
splits come from two independent child streams of ``np.random.SeedSequence(seed)``
(``SeedSequence(seed).spawn(2)``), so changing ``n_train`` never changes the test split and
vice versa.

Label sampling (shared by both generators)
------------------------------------------
``y`` is exactly balanced (``n // 2`` samples of class 0, the rest class 1). Exactly
``m = round(ρ·n)`` samples (round half up) are bias-conflicting (``b = 1 − y``), the others
bias-aligned (``b = y``). The conflicting samples are split across the two classes as evenly
as possible (``m // 2`` of class 0, ``m − m // 2`` of class 1), so every (y, b) group has a
fixed size; with ρ = 0.5 the test split is exactly unbiased (b independent of y and uniform)
up to rounding. The sample order is then a uniform random permutation.

Parity (Qiu et al. 2024, "Complexity matters: Dynamics of feature learning in the presence
of spurious correlations", arXiv:2403.03375)
-------------------------------------------------------------------------------------------
``x ∈ {−1, +1}^(C+S+N)`` (float32) with layout ``[core | spurious | noise]``. ``y`` is the
parity of the C core bits and ``b`` the parity of the S spurious bits, where the parity of a
±1 vector is 1 iff it has an odd number of ``+1`` entries. Given (y, b), the core bits are
uniform over the vectors of parity y (the first C−1 bits are uniform, the last one fixes the
parity), likewise the spurious bits with parity b; the N noise bits are uniform. S < C makes
the spurious feature the simpler one (paper §4.1). Defaults C=6, S=2, N=12 are the pipeline's choice
(the paper gives none): low LR near chance, high LR clearly above, as Table 1's parity range suggests.
Region mask (N×D): CORE / SPURIOUS / NOISE by feature block, identical for every sample.

Moon-star (Geirhos et al. 2020, "Shortcut learning in deep neural networks", Nature Machine
Intelligence 2:665–673, Fig. 2)
-------------------------------------------------------------------------------------------
1×H×W grayscale images (uint8 bytes, [0, 1] once loaded) (H = W = ``image_size``, default 32) with one white shape on
black: ``y = 0`` moon, ``y = 1`` star. The spurious feature is the quadrant holding the
shape: ``b = 0`` → top-left or bottom-right, ``b = 1`` → top-right or bottom-left (the
diagonal pair is chosen uniformly at random per sample). Choices (the paper is silent):

* size: outer radius ``R ~ U[4, 6.5]·image_size/32`` pixels; rotation uniform in [0, 2π);
  shape centre uniform per axis in ``[R + 0.5, Q − R − 0.5]`` inside its Q×Q quadrant
  (``Q = image_size/2``), so the shape never leaves the quadrant (0.5 px margin);
* moon (crescent): the disk of radius R minus a disk of radius ``0.85·R`` whose centre is
  offset by ``0.45·R`` in the rotation direction (thickest part 0.6·R, two cusps);
* star: regular 5-pointed star polygon, outer radius R, inner radius ``0.45·R``, rasterised
  by its polar radius function r(θ) (exact straight edges between outer and inner vertices);
* rasterisation: a pixel is "on" iff its centre lies inside the shape (binary, no
  anti-aliasing); then i.i.d. Gaussian pixel noise of std ``pixel_noise`` is added and the
  image clipped to [0, 1];
* region mask (N×H×W): CORE where the shape covers the pixel (before noise), SPURIOUS for
  the rest of the object's quadrant (the location cue), NOISE for the other three quadrants.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from largelr.datasets.format import CORE, NOISE, SPURIOUS, Split, SpuriousDataset

__all__ = ["generate_parity", "generate_moon_star"]

# Moon-star shape constants (module docstring, "Choices").
MOON_STAR_RADIUS_RANGE = (4.0, 6.5)  # outer radius in pixels at image_size 32
MOON_STAR_MARGIN = 0.5  # pixels between the shape's bounding circle and the quadrant edge
MOON_CUT_RADIUS = 0.85  # radius of the removed disk, in units of R
MOON_CUT_OFFSET = 0.45  # offset of the removed disk's centre, in units of R
STAR_POINTS = 5
STAR_INNER_RADIUS = 0.45  # inner vertex radius, in units of R

_CHUNK = 2048  # samples rasterised at once (bounds peak memory)


# --------------------------------------------------------------------------- validation


def _count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _ratio(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def _seed(value: Any) -> int:
    return _count(value, "seed", minimum=0)


def _split_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the train and the test split."""
    train_ss, test_ss = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(train_ss), np.random.default_rng(test_ss)


# --------------------------------------------------------------------------- labels


def _num_conflicting(n: int, rho: float) -> int:
    """round(ρ·n), half up (not Python's banker's rounding)."""
    return min(n, int(math.floor(rho * n + 0.5)))


def sample_labels(rng: np.random.Generator, n: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Balanced binary ``y`` and ``b`` with exactly ``round(ρ·n)`` samples where ``b ≠ y``.

    Class 0 gets ``n // 2`` samples, of which ``m // 2`` conflict; class 1 the rest. Returned
    in uniformly random order (int64).
    """
    m = _num_conflicting(n, rho)
    n0, m0 = n // 2, m // 2
    n1, m1 = n - n0, m - m0
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n1, np.int64)])
    conflict = np.concatenate(
        [np.arange(n0) < m0, np.arange(n1) < m1]
    )  # m0 ≤ n0 and m1 ≤ n1 since m ≤ n
    b = np.where(conflict, 1 - y, y)
    order = rng.permutation(n)
    return y[order], b[order]


# --------------------------------------------------------------------------- parity


def _bits_with_parity(rng: np.random.Generator, parity: np.ndarray, width: int) -> np.ndarray:
    """±1 rows uniform among vectors of ``width`` bits whose number of +1 entries ≡ parity (mod 2)."""
    n = len(parity)
    free = rng.integers(0, 2, size=(n, width - 1), dtype=np.int64)
    last = (parity - free.sum(axis=1)) % 2  # makes the count of ones ≡ parity
    bits01 = np.concatenate([free, last[:, None]], axis=1)
    return (2 * bits01 - 1).astype(np.float32)


def parity_of(bits: np.ndarray) -> np.ndarray:
    """Parity (int64) of ±1 rows: 1 iff the number of +1 entries is odd."""
    return ((bits > 0).sum(axis=-1) % 2).astype(np.int64)


def _parity_split(
    rng: np.random.Generator, n: int, rho: float, core_bits: int, spurious_bits: int, noise_bits: int
) -> Split:
    y, b = sample_labels(rng, n, rho)
    core = _bits_with_parity(rng, y, core_bits)
    spurious = _bits_with_parity(rng, b, spurious_bits)
    noise = (2 * rng.integers(0, 2, size=(n, noise_bits), dtype=np.int64) - 1).astype(np.float32)
    x = np.concatenate([core, spurious, noise], axis=1)
    row = np.concatenate(
        [
            np.full(core_bits, CORE, np.uint8),
            np.full(spurious_bits, SPURIOUS, np.uint8),
            np.full(noise_bits, NOISE, np.uint8),
        ]
    )
    region = np.ascontiguousarray(np.broadcast_to(row, x.shape))
    return Split(x=x, y=y, b=b, region=region)


def generate_parity(
    seed: int,
    n_train: int = 10000,
    n_test: int = 10000,
    core_bits: int = 6,
    spurious_bits: int = 2,
    noise_bits: int = 12,
    rho_train: float = 0.1,
    rho_test: float = 0.5,
) -> SpuriousDataset:
    """Parity dataset (Qiu et al. 2024): y = parity of the core bits, b = parity of the spurious bits.

    ``x`` is N×(C+S+N) float32 in {−1, +1}, laid out ``[core | spurious | noise]``.
    Raises ``ValueError`` (naming the argument) for counts < 1, ``spurious_bits >=
    core_bits`` or a ratio outside [0, 1].
    """
    seed = _seed(seed)
    n_train = _count(n_train, "n_train")
    n_test = _count(n_test, "n_test")
    core_bits = _count(core_bits, "core_bits")
    spurious_bits = _count(spurious_bits, "spurious_bits")
    noise_bits = _count(noise_bits, "noise_bits")
    if spurious_bits >= core_bits:
        raise ValueError(
            f"spurious_bits ({spurious_bits}) must be smaller than core_bits ({core_bits}): "
            "the spurious feature has to be the simpler one"
        )
    rho_train = _ratio(rho_train, "rho_train")
    rho_test = _ratio(rho_test, "rho_test")

    rng_train, rng_test = _split_streams(seed)
    bits = (core_bits, spurious_bits, noise_bits)
    train = _parity_split(rng_train, n_train, rho_train, *bits)
    test = _parity_split(rng_test, n_test, rho_test, *bits)
    meta = {
        "generator": "parity",
        "source": "Qiu et al. 2024 (arXiv:2403.03375); paper §4.1",
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "core_bits": core_bits,
        "spurious_bits": spurious_bits,
        "noise_bits": noise_bits,
        "rho_train": rho_train,
        "rho_test": rho_test,
        "layout": ["core", "spurious", "noise"],
        "bit_values": [-1, 1],
        "parity": "1 iff the number of +1 entries is odd",
    }
    return SpuriousDataset(name="parity", num_classes=2, train=train, test=test, meta=meta)


# --------------------------------------------------------------------------- moon-star


def _moon_mask(dx: np.ndarray, dy: np.ndarray, radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Crescent: disk of ``radius`` minus a smaller disk offset along ``angle`` (per-sample arrays)."""
    r = radius[:, None, None]
    ox = MOON_CUT_OFFSET * r * np.cos(angle)[:, None, None]
    oy = MOON_CUT_OFFSET * r * np.sin(angle)[:, None, None]
    outer = dx * dx + dy * dy <= r * r
    cut = (dx - ox) ** 2 + (dy - oy) ** 2 <= (MOON_CUT_RADIUS * r) ** 2
    return outer & ~cut


def _star_mask(dx: np.ndarray, dy: np.ndarray, radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Regular star polygon via its polar radius function r(θ) (per-sample radius and rotation)."""
    r_out = radius[:, None, None]
    r_in = STAR_INNER_RADIUS * r_out
    half = np.pi / STAR_POINTS  # angle between an outer and the next inner vertex
    dist = np.sqrt(dx * dx + dy * dy)
    theta = np.arctan2(dy, dx) - angle[:, None, None]
    # angle from the nearest outer vertex, folded into [0, half]
    t = np.abs(np.mod(theta + half, 2 * half) - half)
    # straight edge from (r_out, 0) to (r_in, half) in polar coordinates
    edge = r_out * r_in * np.sin(half) / (r_out * np.sin(t) + r_in * np.sin(half - t))
    return dist <= edge


def _moon_star_split(
    rng: np.random.Generator, n: int, rho: float, image_size: int, pixel_noise: float
) -> Split:
    y, b = sample_labels(rng, n, rho)
    scale = image_size / 32.0
    q = image_size / 2.0
    radius = rng.uniform(*MOON_STAR_RADIUS_RANGE, size=n) * scale
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    # b = 0: TL (row 0, col 0) or BR (1, 1); b = 1: TR (0, 1) or BL (1, 0)
    q_row = rng.integers(0, 2, size=n, dtype=np.int64)
    q_col = q_row ^ b
    low = radius + MOON_STAR_MARGIN
    high = q - radius - MOON_STAR_MARGIN
    cy = q_row * q + rng.uniform(low, high)  # pixel-coordinate centre (pixel i spans [i, i+1))
    cx = q_col * q + rng.uniform(low, high)

    centres = np.arange(image_size, dtype=np.float64) + 0.5
    shape = np.zeros((n, image_size, image_size), dtype=bool)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(n, start + _CHUNK))
        dy = centres[None, :, None] - cy[sl, None, None]
        dx = centres[None, None, :] - cx[sl, None, None]
        dy, dx = np.broadcast_arrays(dy, dx)
        is_star = y[sl] == 1
        block = np.empty(dx.shape, dtype=bool)
        for fn, pick in ((_moon_mask, ~is_star), (_star_mask, is_star)):
            if pick.any():
                block[pick] = fn(dx[pick], dy[pick], radius[sl][pick], angle[sl][pick])
        shape[sl] = block

    x = shape.astype(np.float32)
    if pixel_noise > 0:
        x += rng.normal(0.0, pixel_noise, size=x.shape).astype(np.float32)
    np.clip(x, 0.0, 1.0, out=x)
    x = np.rint(x * 255.0).astype(np.uint8)  # image bytes: 4x smaller files (format.Split.as_float)

    rows = np.arange(image_size)
    in_row = (rows[None, :] >= q) == (q_row[:, None] == 1)  # N×H: row in the object's quadrant row
    in_col = (rows[None, :] >= q) == (q_col[:, None] == 1)  # N×W
    quadrant = in_row[:, :, None] & in_col[:, None, :]
    region = np.full(shape.shape, NOISE, dtype=np.uint8)
    region[quadrant] = SPURIOUS
    region[shape] = CORE
    return Split(x=x[:, None], y=y, b=b, region=region)


def generate_moon_star(
    seed: int,
    n_train: int = 10000,
    n_test: int = 10000,
    image_size: int = 32,
    rho_train: float = 0.1,
    rho_test: float = 0.5,
    pixel_noise: float = 0.05,
) -> SpuriousDataset:
    """Moon-star dataset (Geirhos et al. 2020): y = shape (0 moon, 1 star), b = quadrant pair.

    ``x`` is N×1×H×W uint8 (scaled to [0, 1] by ``Split.as_float``); ``b = 0`` puts the shape in the top-left or
    bottom-right quadrant, ``b = 1`` in the top-right or bottom-left one. Raises
    ``ValueError`` (naming the argument) for invalid arguments.
    """
    seed = _seed(seed)
    n_train = _count(n_train, "n_train")
    n_test = _count(n_test, "n_test")
    image_size = _count(image_size, "image_size", minimum=16)
    if image_size % 2:
        raise ValueError(f"image_size must be even (four equal quadrants), got {image_size}")
    rho_train = _ratio(rho_train, "rho_train")
    rho_test = _ratio(rho_test, "rho_test")
    try:
        pixel_noise = float(pixel_noise)
    except (TypeError, ValueError):
        raise ValueError(f"pixel_noise must be a non-negative number, got {pixel_noise!r}") from None
    if not (pixel_noise >= 0.0 and math.isfinite(pixel_noise)):
        raise ValueError(f"pixel_noise must be a finite number >= 0, got {pixel_noise}")

    rng_train, rng_test = _split_streams(seed)
    train = _moon_star_split(rng_train, n_train, rho_train, image_size, pixel_noise)
    test = _moon_star_split(rng_test, n_test, rho_test, image_size, pixel_noise)
    meta = {
        "generator": "moon_star",
        "source": "Geirhos et al. 2020 (Shortcut learning, Nat. Mach. Intell.); paper §4.1, suppl. C",
        "seed": seed,
        "n_train": n_train,
        "n_test": n_test,
        "image_size": image_size,
        "rho_train": rho_train,
        "rho_test": rho_test,
        "pixel_noise": pixel_noise,
        "classes": ["moon", "star"],
        "bias": {"0": "top-left or bottom-right quadrant", "1": "top-right or bottom-left quadrant"},
        "radius_range_px": [r * image_size / 32.0 for r in MOON_STAR_RADIUS_RANGE],
        "margin_px": MOON_STAR_MARGIN,
        "moon_cut_radius": MOON_CUT_RADIUS,
        "moon_cut_offset": MOON_CUT_OFFSET,
        "star_points": STAR_POINTS,
        "star_inner_radius": STAR_INNER_RADIUS,
    }
    return SpuriousDataset(name="moon_star", num_classes=2, train=train, test=test, meta=meta)
