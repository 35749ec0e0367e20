"""Standard classification datasets: CIFAR-10 and CIFAR-100 (paper §4.1, §5, suppl. E).

The paper's "standard classification" experiments (Figs 8, 10, 13, 14, 33, 34) train on
the real CIFAR images without any planted spurious feature. They are stored in the same
format as the spurious-correlation datasets (:mod:`largelr.datasets.format`) so that the
training, pruning and attribution rules need no special case:

* ``x``: the real images, uint8 N×3×32×32 (CIFAR's official train/test splits,
  50000/10000);
* ``y``: the class (10 or 100 fine classes);
* ``b = y`` for every sample: no spurious attribute is annotated, so every sample counts
  as bias-aligned and ρ = 0 on both splits. Metrics defined on bias-conflicting samples
  (BC accuracy, BA−BC gaps) are then undefined — means over an empty set, NaN — and
  "unbiased test accuracy" is the plain test accuracy;
* ``region``: all CORE (N×32×32); no pixel is known to carry a spurious feature. The
  attribution entropy and background share (suppl. E) are the meaningful attribution
  metrics here, not the core/spurious region shares.

``subset_train`` / ``subset_test`` take a deterministic class-stratified subset of the
official split (:func:`largelr.datasets.semisynthetic.stratified_subset_indices`, seeded
like the semi-synthetic generators: for the same seed and size CIFAR-10 picks the same
images as MNIST-CIFAR's core part), so the ci/demo presets stay small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from largelr.datasets.format import CORE, Split, SpuriousDataset
from largelr.datasets.semisynthetic import _streams, stratified_subset_indices
from largelr.datasets.sources import CIFAR10_CLASSES, CIFAR100_CLASSES, load_cifar10, load_cifar100

BIAS_NOTE = (
    "no annotated spurious attribute: b = y for every sample (all bias-aligned, rho = 0), "
    "so bias-conflicting metrics are undefined (NaN)"
)
REGION_NOTE = "all pixels core: no pixel-level spurious feature is known"

Loader = Callable[[str | Path, str, bool], tuple[np.ndarray, np.ndarray]]


def check_subsets(subset_train: int | None, subset_test: int | None) -> None:
    """``ValueError`` naming the key unless each subset size is a positive integer or ``None``."""
    for name, value in (("subset_train", subset_train), ("subset_test", subset_test)):
        if value is not None and int(value) < 1:
            raise ValueError(f"{name} must be a positive integer or null, got {value}")


def standard_split(images: np.ndarray, labels: np.ndarray, index: np.ndarray) -> Split:
    """The samples ``index`` of one source split with ``b = y`` and an all-CORE region mask."""
    y = labels[index].astype(np.int64)
    region = np.full((len(index),) + images.shape[2:], CORE, dtype=np.uint8)
    return Split(x=np.ascontiguousarray(images[index]), y=y, b=y.copy(), region=region)


def _generate_standard(
    name: str,
    source: str,
    loader: Loader,
    class_names: tuple[str, ...],
    seed: int,
    subset_train: int | None,
    subset_test: int | None,
    data_root: str | Path,
    download: bool,
) -> SpuriousDataset:
    """Shared body of :func:`generate_cifar10` and :func:`generate_cifar100`."""
    check_subsets(subset_train, subset_test)
    streams = _streams(seed)
    subsets = {"train": subset_train, "test": subset_test}
    splits = {}
    for split in ("train", "test"):
        images, labels = loader(data_root, split, download)
        size = None if subsets[split] is None else int(subsets[split])
        index = stratified_subset_indices(labels, size, streams[f"subset_{split}"])
        splits[split] = standard_split(images, labels, index)
    dataset = SpuriousDataset(name=name, num_classes=len(class_names), **splits)
    dataset.meta = {
        "generator": name,
        "seed": seed,
        "subset_train": subset_train,
        "subset_test": subset_test,
        "n_train": len(dataset.train),
        "n_test": len(dataset.test),
        "rho_train_realised": dataset.train.bias_conflicting_ratio(),
        "rho_test_realised": dataset.test.bias_conflicting_ratio(),
        "source": source,
        "core": f"object (y = {source} class)",
        "spurious": "none annotated (b = y)",
        "bias": BIAS_NOTE,
        "class_names": list(class_names),
        "regions": REGION_NOTE,
    }
    return dataset


def _standard_generator(name: str, source: str, loader: Loader, class_names: tuple[str, ...],
                        figures: str, classes: str) -> Callable[..., SpuriousDataset]:
    """The generator of one standard dataset (its keyword arguments are the ``params`` it accepts)."""

    def generate(
        *,
        seed: int = 0,
        subset_train: int | None = None,
        subset_test: int | None = None,
        data_root: str | Path = "data",
        download: bool = False,
    ) -> SpuriousDataset:
        return _generate_standard(name, source, loader, class_names, seed, subset_train, subset_test, data_root,
                                  download)

    generate.__name__ = generate.__qualname__ = f"generate_{name}"
    generate.__doc__ = f"""{source} for standard classification (paper §5, {figures}), 3×32×32.

    Real images of the official 50000/10000 splits (or class-stratified subsets), {classes}
    classes, ``b = y``, region all CORE (see the module docstring).
    """
    return generate


generate_cifar10 = _standard_generator("cifar10", "CIFAR-10", load_cifar10, CIFAR10_CLASSES,
                                       "Figs 8, 10, 13, 14, 33", "10")
generate_cifar100 = _standard_generator("cifar100", "CIFAR-100", load_cifar100, CIFAR100_CLASSES,
                                        "Figs 13, 14, 28, 34", "100 fine")


STANDARD_GENERATORS: dict[str, Callable[..., SpuriousDataset]] = {
    "cifar10": generate_cifar10,
    "cifar100": generate_cifar100,
}
