"""The four semi-synthetic spurious-correlation datasets of §4.1 and suppl. C.

=====================  ===============================  ===============================  ======
dataset                core feature (y)                 spurious feature (b)             ρ_train
=====================  ===============================  ===============================  ======
Colored MNIST          digit shape                      digit colour (LfF, 10 colours)    0.025
Double MNIST           left digit, dimmed               right digit, full brightness      0.025
MNIST-CIFAR            CIFAR-10 object (bottom)         MNIST digit (top, 2-px padded)    0.1
Corrupted CIFAR-10     CIFAR-10 object                  corruption type (LfF "type 0")    0.1
=====================  ===============================  ===============================  ======

Shared protocol (§4.1, suppl. C; the notation of §2):

* ``y`` is always the label of the source image that carries the core feature.
* Colored MNIST and Corrupted CIFAR-10 (LfF's datasets): each (y, b) cell holds exactly the count
  LfF's ``make_attr_labels`` gives it (:func:`lff_bias_counts`): per class, aligned ratio 1 − ρ_train
  (train) or 0.1 (test, unbiased), the rest spread evenly over the other K − 1 labels.
* Double MNIST and MNIST-CIFAR: the training split has exactly ``round(ρ_train · n)``
  bias-conflicting (BC, ``b ≠ y``) samples, chosen uniformly at random; a BC sample's ``b`` is
  uniform over the other K − 1 classes; every other sample is bias-aligned (``b = y``). The test
  split is unbiased: within each class ``y`` the bias labels are spread as evenly as possible over
  all K classes (random order, remainder to random distinct classes), so ``b`` is uniform and
  independent of ``y`` and ρ_test ≈ 1 − 1/K = 0.9.
* ``subset_train`` / ``subset_test`` take a deterministic class-stratified subset of the
  *source* split (MNIST or CIFAR-10) before construction, so the ci/demo presets stay
  small. Images drawn for the spurious part (Double MNIST's right digit, MNIST-CIFAR's
  MNIST digit) come from the whole MNIST split of the same name, so train and test never
  share a source image.
* Everything is deterministic given ``seed`` (``np.random.SeedSequence(seed)`` spawns one
  stream per purpose); ``data_root``/``download`` do not enter the stored metadata, so the
  saved file is byte-identical wherever it is built.
* Images are stored as ``uint8`` N×C×H×W; region masks (N×H×W) mark core / spurious /
  noise pixels for the attribution metrics (suppl. D).

Every generator takes, as keyword arguments, its own parameters and those of :class:`Protocol`
(``rho_train``, ``seed``, ``data_root``, ``download``, ``subset_train``, ``subset_test``,
``return_provenance``); :func:`_semisynthetic` makes a generator from a dataset's recipe, so
a new dataset here is one recipe. ``return_provenance=True`` also returns, per split, the indices
of the source images it used (``core_index`` into the source split; ``spurious_index``
into the MNIST split where a second image is drawn; ``corruption_seed`` for Corrupted
CIFAR-10) — used by the tests to check that every sample's ``y`` and pixels come from
the right source image.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from largelr.datasets.corruptions import (
    CIFAR10C_PARAMETERS,
    LFF_SEVERITY,
    CORRUPTIONS_TYPE0,
    _imagecorruptions,
    corrupt_images,
)
from largelr.datasets.format import CORE, NOISE, SPURIOUS, Split, SpuriousDataset
from largelr.datasets.sources import CIFAR10_CLASSES, load_cifar10, load_mnist

NUM_CLASSES = 10

#: LfF's Colored MNIST mean colour of bias label 0–9 (RGB in [0, 1]).
COLORED_MNIST_COLORS = np.array(
    [
        (0.9837, 0.3125, 0.1686),
        (0.9905, 0.9156, 0.3515),
        (0.6730, 0.4611, 0.5798),
        (0.7833, 0.8316, 0.6013),
        (0.0880, 0.7780, 0.9818),
        (0.3214, 0.9611, 0.4465),
        (0.0246, 0.2357, 0.7587),
        (0.5552, 0.1016, 0.7618),
        (0.2077, 0.3929, 0.0187),
        (0.8337, 0.2024, 0.2669),
    ],
    dtype=np.float64,
)
#: Standard deviation of the per-image Gaussian colour perturbation by LfF "severity".
COLOR_STD_BY_SEVERITY = {1: 0.05, 2: 0.02, 3: 0.01, 4: 0.005, 5: 0.002}

_STREAMS = ("subset_train", "subset_test", "bias_train", "bias_test", "content_train", "content_test")


# --------------------------------------------------------------------------- shared protocol


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per purpose, all derived from ``seed``."""
    children = np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children)}


def stratified_subset_indices(labels: np.ndarray, size: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of ``size`` samples.

    Each class gets ``size · n_k / n`` samples, rounded down, and the remaining slots go
    to the classes with the largest fractional parts (ties: lower class first). ``None``
    or a ``size`` at least ``len(labels)`` selects everything.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if size is None or size >= n:
        return np.arange(n)
    if size < 1:
        raise ValueError(f"subset size must be positive, got {size}")
    classes, counts = np.unique(labels, return_counts=True)
    quota_exact = size * counts / n
    quota = np.floor(quota_exact).astype(np.int64)
    remainder = size - int(quota.sum())
    order = np.lexsort((np.arange(len(classes)), -(quota_exact - quota)))
    quota[order[:remainder]] += 1
    chosen = [
        rng.choice(np.flatnonzero(labels == cls), size=int(q), replace=False)
        for cls, q in zip(classes, quota)
    ]
    return np.sort(np.concatenate(chosen))


def sample_bias_labels(y: np.ndarray, rho: float, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Training bias labels with exactly ``round(rho · n)`` bias-conflicting samples.

    The BC samples are a uniformly random subset; each one's ``b`` is uniform over the
    ``num_classes − 1`` classes other than its ``y``; all others have ``b = y``.
    """
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"bias-conflicting ratio must lie in [0, 1], got {rho}")
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    n_conflicting = int(round(rho * n))
    b = y.copy()
    conflicting = rng.choice(n, size=n_conflicting, replace=False)
    b[conflicting] = (y[conflicting] + rng.integers(1, num_classes, size=n_conflicting)) % num_classes
    return b


def sample_unbiased_bias_labels(y: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Test bias labels independent of ``y``: balanced over all classes within each class.

    A class with ``n_k`` samples gets each bias label ``n_k // K`` times plus one each for
    ``n_k mod K`` distinct random labels, in random order; ρ_test ≈ 1 − 1/K.
    """
    y = np.asarray(y, dtype=np.int64)
    b = np.empty_like(y)
    for cls in range(num_classes):
        idx = np.flatnonzero(y == cls)
        n_k = len(idx)
        values = np.concatenate(
            [
                np.repeat(np.arange(num_classes), n_k // num_classes),
                rng.choice(num_classes, size=n_k % num_classes, replace=False),
            ]
        )
        b[idx] = rng.permutation(values)
    return b


def lff_bias_counts(n_per_class: np.ndarray, aligned_ratio: float, num_classes: int) -> np.ndarray:
    """K×K matrix: entry (y, b) = how many samples of class y get bias label b, as LfF's
    ``make_attr_labels`` (github alinlab/LfF, ``make_dataset.py``) fixes them.

    Class y's samples are split by the ratios ``aligned_ratio`` for b = y and
    ``(1 − aligned_ratio) / (K − 1)`` for each other b, as differences of the rounded cumulative
    milestones ``round(n_y · cumsum(ratios))`` (NumPy's half-to-even rounding, as LfF's), so each row sums
    to n_y exactly. LfF uses ``aligned_ratio = 1 − ρ`` for training and 0.1 (uniform) for its test split.
    """
    n_per_class = np.asarray(n_per_class, dtype=np.float64)
    eye = np.eye(num_classes)
    ratios = aligned_ratio * eye + (1 - aligned_ratio) / (num_classes - 1) * (1 - eye)
    milestones = np.round(n_per_class[:, None] * np.cumsum(ratios, axis=1))
    return np.diff(milestones, axis=1, prepend=0).astype(np.int64)


def sample_bias_labels_per_class(
    y: np.ndarray, aligned_ratio: float, num_classes: int, rng: np.random.Generator
) -> np.ndarray:
    """Bias labels with exactly :func:`lff_bias_counts` samples in each (y, b) cell, in random order
    within each class (LfF assigns them in the source's order, which carries no information)."""
    y = np.asarray(y, dtype=np.int64)
    counts = lff_bias_counts(np.bincount(y, minlength=num_classes), aligned_ratio, num_classes)
    b = np.empty_like(y)
    for cls in range(num_classes):
        idx = np.flatnonzero(y == cls)
        b[idx] = rng.permutation(np.repeat(np.arange(num_classes), counts[cls]))
    return b


def _class_pools(pool_labels: np.ndarray, classes: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(class, entries of ``classes`` of that class, pool indices of that class) for each class with
    entries, in class order; raises ``ValueError`` where such a class has no pool image."""
    for cls in range(NUM_CLASSES):
        rows = np.flatnonzero(classes == cls)
        if len(rows) == 0:
            continue
        pool = np.flatnonzero(pool_labels == cls)
        if len(pool) == 0:
            raise ValueError(f"no source image of class {cls} to draw from")
        yield cls, rows, pool


def _draw_without_replacement(
    pool_labels: np.ndarray, classes: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[int, int]]:
    """For each entry of ``classes`` a pool index of that class, each pool image used once where the
    class has enough (Shah et al. 2020 pair images without replacement); where it has not, the pool is
    used once in random order, then again in a fresh random order, and so on. Returns the indices and,
    per class that ran short, how many entries reuse an image."""
    out = np.empty(len(classes), dtype=np.int64)
    reused: dict[int, int] = {}
    for cls, rows, pool in _class_pools(pool_labels, classes):
        rounds = -(-len(rows) // len(pool))
        out[rows] = np.concatenate([rng.permutation(pool) for _ in range(rounds)])[: len(rows)]
        if len(rows) > len(pool):
            reused[cls] = len(rows) - len(pool)
    return out, reused


def _draw_from_class(
    pool_labels: np.ndarray,
    classes: np.ndarray,
    rng: np.random.Generator,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """For each entry of ``classes`` a uniformly random pool index of that class.

    With ``exclude`` (pool indices, one per entry) the draw never returns that index.
    """
    out = np.empty(len(classes), dtype=np.int64)
    for cls, rows, pool in _class_pools(pool_labels, classes):
        if exclude is None:
            out[rows] = pool[rng.integers(len(pool), size=len(rows))]
            continue
        excluded = exclude[rows]
        pos = np.searchsorted(pool, excluded)
        in_pool = (pos < len(pool)) & (pool[np.minimum(pos, len(pool) - 1)] == excluded)
        if len(pool) == 1 and in_pool.any():
            raise ValueError(f"class {cls} has too few source images to draw a different one")
        draw = rng.integers(0, len(pool) - in_pool.astype(np.int64))
        draw += in_pool & (draw >= pos)
        out[rows] = pool[draw]
    return out


def _biased_split_labels(
    source_y: np.ndarray, subset: int | None, rho: float | None, streams: dict, split: str, lff: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source indices, y, b) of one split: subset, then biased (train) or unbiased (test) b; with
    ``lff`` the exact per-class counts of LfF's ``make_attr_labels`` (aligned ratio 1 − ρ / 0.1)."""
    index = stratified_subset_indices(source_y, _opt(subset), streams[f"subset_{split}"])
    y = source_y[index]
    if lff:
        aligned = 1.0 - rho if split == "train" else 1.0 / NUM_CLASSES
        return index, y, sample_bias_labels_per_class(y, aligned, NUM_CLASSES, streams[f"bias_{split}"])
    if split == "train":
        b = sample_bias_labels(y, rho, NUM_CLASSES, streams["bias_train"])
    else:
        b = sample_unbiased_bias_labels(y, NUM_CLASSES, streams["bias_test"])
    return index, y, b


def _opt(value: int | None) -> int | None:
    return None if value is None else int(value)


def _common_meta(generator: str, dataset: SpuriousDataset, **params: Any) -> dict[str, Any]:
    return {
        "generator": generator,
        **params,
        "n_train": len(dataset.train),
        "n_test": len(dataset.test),
        "rho_train_realised": dataset.train.bias_conflicting_ratio(),
        "rho_test_realised": dataset.test.bias_conflicting_ratio(),
    }


def _finish(dataset: SpuriousDataset, provenance: dict, return_provenance: bool):
    return (dataset, provenance) if return_provenance else dataset


SplitMaker = Callable[[str, int | None, dict[str, np.random.Generator]], tuple[Split, dict[str, np.ndarray]]]


@dataclass(frozen=True)
class Protocol:
    """The parameters every generator of this module takes besides its own (the shared protocol of
    the module docstring); ``rho_train``'s default is the dataset's (§4.1)."""

    rho_train: float
    seed: int = 0
    data_root: str | Path = "data"
    download: bool = False
    subset_train: int | None = None
    subset_test: int | None = None
    return_provenance: bool = False


#: What a dataset's recipe returns: its ``make_split`` and its own entries of the stored meta.
RecipeResult = tuple[SplitMaker, dict[str, Any]]
Recipe = Callable[..., RecipeResult]


def _semisynthetic(name: str, rho_train: float) -> Callable[[Recipe], Callable[..., Any]]:
    """Decorator making the generator of dataset ``name`` from its recipe.

    ``recipe(protocol, **own)`` checks its own keyword parameters and returns ``make_split`` and the
    dataset's own meta. The generator takes ``own`` and the fields of :class:`Protocol` (``rho_train``
    defaulting to ``rho_train``) as keyword arguments — :func:`inspect.signature` lists them all, as
    :mod:`largelr.datasets.registry` reads it — checks the protocol's values, then runs the recipe
    and :func:`_generate`.
    """

    def decorate(recipe: Recipe) -> Callable[..., Any]:
        own = list(inspect.signature(recipe).parameters.values())[1:]
        shared = [
            param.replace(kind=inspect.Parameter.KEYWORD_ONLY, default=rho_train if param.name == "rho_train"
                          else param.default)
            for param in inspect.signature(Protocol).parameters.values()
        ]
        signature = inspect.Signature(shared[:1] + own + shared[1:])

        @functools.wraps(recipe)
        def generator(**kwargs: Any):
            bound = signature.bind(**kwargs)
            bound.apply_defaults()
            protocol = Protocol(**{field.name: bound.arguments[field.name] for field in fields(Protocol)})
            _check_common(protocol.rho_train, protocol.subset_train, protocol.subset_test)
            make_split, meta = recipe(protocol, **{param.name: bound.arguments[param.name] for param in own})
            return _generate(name, make_split, protocol, **meta)

        generator.__signature__ = signature
        return generator

    return decorate


def _generate(name: str, make_split: SplitMaker, protocol: Protocol, **meta: Any):
    """The frame of every generator here: ``make_split(split, subset, streams)`` builds the train
    then the test split (and its provenance) from the seed's streams; the meta is
    :func:`_common_meta` with the common parameters and ``meta``."""
    streams = _streams(protocol.seed)
    subsets = {"train": protocol.subset_train, "test": protocol.subset_test}
    splits, provenance = {}, {}
    for split in ("train", "test"):
        splits[split], provenance[split] = make_split(split, subsets[split], streams)
    dataset = SpuriousDataset(name=name, num_classes=NUM_CLASSES, **splits)
    dataset.meta = _common_meta(name, dataset, rho_train=protocol.rho_train, seed=protocol.seed,
                                subset_train=protocol.subset_train, subset_test=protocol.subset_test, **meta)
    return _finish(dataset, provenance, protocol.return_provenance)


def _two_halves(n: int, shape: tuple[int, int], axis: int, first: int, second: int) -> np.ndarray:
    """``n`` uint8 region masks of ``shape`` whose first half along ``axis`` (1 = rows, 2 = columns)
    is ``first`` and second half ``second``."""
    region = np.empty((n, *shape), dtype=np.uint8)
    half = region.shape[axis] // 2
    region[(slice(None),) * axis + (slice(None, half),)] = first
    region[(slice(None),) * axis + (slice(half, None),)] = second
    return region


def _check_common(rho_train: float, subset_train: int | None, subset_test: int | None) -> None:
    if not 0.0 <= rho_train <= 1.0:
        raise ValueError(f"rho_train must lie in [0, 1], got {rho_train}")
    for name, value in (("subset_train", subset_train), ("subset_test", subset_test)):
        if value is not None and int(value) < 1:
            raise ValueError(f"{name} must be a positive integer or null, got {value}")


# --------------------------------------------------------------------------- Colored MNIST


def colorize_digits(digits: np.ndarray, b: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """LfF colouring: foreground of each 28×28 digit in colour ``b`` (+ one N(0, std²) RGB shift).

    pixel = ⌊clip(colour_b + ε, 0, 1) · intensity⌋ with ε ~ N(0, std² I₃) drawn once per
    image; the black background stays black. Returns uint8 N×3×28×28.
    """
    n = len(digits)
    colours = np.clip(COLORED_MNIST_COLORS[b] + rng.normal(0.0, std, size=(n, 3)), 0.0, 1.0)
    out = np.empty((n, 3) + digits.shape[1:], dtype=np.uint8)
    for start in range(0, n, 8192):  # chunks keep the float64 buffer small
        sl = slice(start, start + 8192)
        out[sl] = np.floor(colours[sl, :, None, None] * digits[sl, None].astype(np.float64))
    return out


@_semisynthetic("colored_mnist", rho_train=0.025)
def generate_colored_mnist(p: Protocol, *, severity: int = 4) -> RecipeResult:
    """Colored MNIST (Nam et al. 2020, LfF protocol; paper §4.1, ρ_train = 0.025).

    ``y`` = digit, ``b`` = colour: the digit's foreground takes the colour of label ``b``
    (:data:`COLORED_MNIST_COLORS`) plus one Gaussian colour perturbation per image with
    std :data:`COLOR_STD_BY_SEVERITY` [``severity``] (default 4 → 0.005, LfF's released
    "Severity4"), clamped to [0, 1]; background black. Output uint8 3×28×28, 60000/10000.

    Region mask: digit foreground (MNIST intensity > 0) is CORE, background NOISE. Colour
    and shape occupy the same pixels, so no pixel is SPURIOUS in this dataset (the paper,
    suppl. E: "pixels for spurious and core features overlap").
    """
    if severity not in COLOR_STD_BY_SEVERITY:
        raise ValueError(f"severity must be one of {sorted(COLOR_STD_BY_SEVERITY)}, got {severity}")
    std = COLOR_STD_BY_SEVERITY[severity]

    def make_split(split, subset, streams):
        digits, labels = load_mnist(p.data_root, split, p.download)
        index, y, b = _biased_split_labels(labels, subset, p.rho_train, streams, split, lff=True)
        core = digits[index]
        x = colorize_digits(core, b, std, streams[f"content_{split}"])
        region = np.where(core > 0, CORE, NOISE).astype(np.uint8)
        return Split(x=x, y=y, b=b, region=region), {"core_index": index}

    return make_split, dict(
        severity=severity,
        color_std=std,
        bias_labels=("exact count per (y, b) cell as LfF's make_attr_labels (alinlab/LfF make_dataset.py): "
                     "aligned ratio 1 − rho_train (train), 0.1 (test), the rest spread evenly over the other labels"),
        source="MNIST",
        core="digit shape (y = MNIST label)",
        spurious="digit colour (b = colour index, LfF colours)",
        colors=COLORED_MNIST_COLORS.tolist(),
        regions="core = digit foreground, noise = black background; no spurious pixels (colour lies on the digit)",
    )


# --------------------------------------------------------------------------- Double MNIST


@_semisynthetic("double_mnist", rho_train=0.025)
def generate_double_mnist(p: Protocol, *, core_brightness: float = 0.5) -> RecipeResult:
    """Double MNIST (new in the paper, §4.1; Fig. 1): two digits side by side, 1×28×56.

    Left half: an MNIST digit of class ``y`` with intensities scaled by
    ``core_brightness`` (< 1, dimmer; rounded to uint8) — the core feature. Right half:
    a different MNIST image (same split) of class ``b`` at full brightness — the
    spurious feature. 60000/10000.

    Region mask: left half (columns 0–27) CORE, right half (28–55) SPURIOUS; no NOISE.
    """
    if not 0.0 < core_brightness <= 1.0:
        raise ValueError(f"core_brightness must lie in (0, 1], got {core_brightness}")

    def make_split(split, subset, streams):
        digits, labels = load_mnist(p.data_root, split, p.download)
        index, y, b = _biased_split_labels(labels, subset, p.rho_train, streams, split)
        right_index = _draw_from_class(labels, b, streams[f"content_{split}"], exclude=index)
        left = np.rint(core_brightness * digits[index].astype(np.float64)).astype(np.uint8)
        x = np.concatenate([left, digits[right_index]], axis=2)[:, None]
        region = _two_halves(len(x), (28, 56), 2, CORE, SPURIOUS)
        return Split(x=x, y=y, b=b, region=region), {"core_index": index, "spurious_index": right_index}

    return make_split, dict(
        core_brightness=core_brightness,
        source="MNIST",
        core="left digit, scaled by core_brightness (y)",
        spurious="right digit, full brightness (b)",
        regions="core = left half (28×28), spurious = right half; no noise pixels",
    )


# --------------------------------------------------------------------------- MNIST-CIFAR


def pad_digits(digits: np.ndarray, size: int = 32) -> np.ndarray:
    """Zero-pad uint8 N×28×28 digits to N×size×size, (size − 28) / 2 px on each side (Shah et al. 2020's
    MNIST-CIFAR pads 2 px: 28 → 32)."""
    margin = (size - digits.shape[1]) // 2
    if margin < 0 or 2 * margin + digits.shape[1] != size:
        raise ValueError(f"cannot pad {digits.shape[1]}-px digits evenly to {size} px")
    return np.pad(digits, ((0, 0), (margin, margin), (margin, margin)))


@_semisynthetic("mnist_cifar", rho_train=0.1)
def generate_mnist_cifar(p: Protocol) -> RecipeResult:
    """MNIST-CIFAR (Shah et al. 2020's domino, all 10 classes; §4.1), 3×64×32.

    Bottom 32 rows: a CIFAR-10 image of class ``y`` (core; ``y`` = CIFAR class). Top 32
    rows: an MNIST digit of class ``b`` from the MNIST split of the same name, zero-padded
    28 → 32 (2 px a side, as Shah et al.) and replicated to 3 channels (spurious). Digits are
    paired without replacement where the split has enough of class ``b``; the unbiased test
    split needs ~1000 digits per class and MNIST's test set has 892 fives (and 974 eights, 982
    fours, 958 sixes, 1009 nines ...), so a class that runs short uses every digit once, then
    reuses digits in a fresh random order (the meta's ``digits_reused`` counts them).
    ρ_train = 0.1 (0.25 for FCNs, suppl. C). Built on the CIFAR-10 splits, 50000/10000.

    Region mask: top half SPURIOUS, bottom half CORE; no NOISE.
    """
    reused: dict[str, dict[int, int]] = {}

    def make_split(split, subset, streams):
        images, labels = load_cifar10(p.data_root, split, p.download)
        digits, digit_labels = load_mnist(p.data_root, split, p.download)
        index, y, b = _biased_split_labels(labels, subset, p.rho_train, streams, split)
        digit_index, short = _draw_without_replacement(digit_labels, b, streams[f"content_{split}"])
        reused[split] = {str(cls): count for cls, count in short.items()}
        top = np.repeat(pad_digits(digits[digit_index])[:, None], 3, axis=1)
        x = np.concatenate([top, images[index]], axis=2)
        region = _two_halves(len(x), (64, 32), 1, SPURIOUS, CORE)
        return Split(x=x, y=y, b=b, region=region), {"core_index": index, "spurious_index": digit_index}

    return make_split, dict(
        source="CIFAR-10 (bottom) + MNIST (top)",
        core="CIFAR-10 object, bottom 32×32 (y = CIFAR class)",
        spurious="MNIST digit zero-padded 28 → 32 (2 px a side, Shah et al. 2020), top (b = digit)",
        digit_pairing=("without replacement within each split where the MNIST split has enough digits of the "
                       "class; a class that runs short (the unbiased test split: MNIST test has 892 fives) "
                       "uses each digit once, then again in a fresh random order"),
        digits_reused=reused,
        class_names=list(CIFAR10_CLASSES),
        regions="spurious = top half (rows 0–31), core = bottom half (rows 32–63); no noise pixels",
    )


# --------------------------------------------------------------------------- Corrupted CIFAR-10


@_semisynthetic("corrupted_cifar10", rho_train=0.1)
def generate_corrupted_cifar10(p: Protocol, *, severity: int = LFF_SEVERITY, num_workers: int = 1) -> RecipeResult:
    """Corrupted CIFAR-10 (Nam et al. 2020, LfF "type 0"; §4.1, Fig. 16), 3×32×32.

    ``y`` = CIFAR-10 class, ``b`` = corruption type: image gets corruption
    :data:`CORRUPTIONS_TYPE0` [``b``] with CIFAR-10-C's 32-px parameters at level ``severity`` (1–5;
    LfF's folder "SeverityN" used level N + 1, so its common "Severity4" is the default 5). Each
    (y, b) cell holds LfF's exact count (:func:`lff_bias_counts`). ρ_train = 0.1 (0.25 for
    FCNs, suppl. C). 50000/10000. ``num_workers`` parallelises the corruption loop
    without changing the result.

    Region mask: all pixels CORE. The corruption covers the whole image, so no pixel is
    SPURIOUS (like Colored MNIST, core and spurious features overlap spatially).
    """
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f"severity must be an integer in 1–5, got {severity}")
    _imagecorruptions()  # fail early if the package is missing

    def make_split(split, subset, streams):
        images, labels = load_cifar10(p.data_root, split, p.download)
        index, y, b = _biased_split_labels(labels, subset, p.rho_train, streams, split, lff=True)
        seeds = streams[f"content_{split}"].integers(0, 2**32, size=len(index), dtype=np.uint64)
        x = corrupt_images(images[index], b, seeds, severity, num_workers)
        region = np.full((len(x), 32, 32), CORE, dtype=np.uint8)
        return Split(x=x, y=y, b=b, region=region), {"core_index": index, "corruption_seed": seeds}

    from importlib.metadata import version

    return make_split, dict(
        severity=severity,
        source="CIFAR-10",
        core="object (y = CIFAR class)",
        spurious="corruption type (b), LfF type 0",
        corruptions=list(CORRUPTIONS_TYPE0),
        corruption_parameters={name: np.asarray(CIFAR10C_PARAMETERS[name][severity - 1]).tolist()
                               for name in CORRUPTIONS_TYPE0},
        corruption_source=("CIFAR-10-C's 32-px parameters (hendrycks/robustness ImageNet-C/create_c/make_cifar_c.py, "
                           "as alinlab/LfF data/corrupted_cifar10_protocol.py); imagecorruptions' frost images and "
                           "NumPy motion blur (snow)"),
        imagecorruptions_version=version("imagecorruptions"),
        bias_labels=("exact count per (y, b) cell as LfF's make_attr_labels (alinlab/LfF make_dataset.py): "
                     "aligned ratio 1 − rho_train (train), 0.1 (test), the rest spread evenly over the other labels"),
        class_names=list(CIFAR10_CLASSES),
        regions="all pixels core: the corruption covers the whole image, no spurious pixels",
    )


SEMISYNTHETIC_GENERATORS: dict[str, Callable[..., SpuriousDataset]] = {
    "colored_mnist": generate_colored_mnist,
    "double_mnist": generate_double_mnist,
    "mnist_cifar": generate_mnist_cifar,
    "corrupted_cifar10": generate_corrupted_cifar10,
}
