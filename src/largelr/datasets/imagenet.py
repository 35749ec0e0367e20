"""ImageNet-1k from the standard class-folder layout (paper §4.1, §5 "ImageNet-1k", Fig. 11).

The paper's largest standard-classification experiment: "ImageNet-1k consists of 1,331,167
color images scaled to 256×256 belonging to 1000 classes. We use the traditional
train-validation split with 1,281,167 and 50000 samples each." It is stored like CIFAR-10/100
(:mod:`largelr.datasets.standard`): ``y`` = class, ``b = y`` (no annotated spurious
attribute), region all CORE.

Layout under ``data_root`` (``folder`` defaults to ``imagenet``), read with
``torchvision.datasets.ImageFolder``::

    {data_root}/imagenet/train/n01440764/n01440764_10026.JPEG …   # one folder per class (wnid)
    {data_root}/imagenet/val/n01440764/ILSVRC2012_val_00000293.JPEG …

* classes: the sorted folder names of ``train/`` (ImageFolder's order) → labels 0…K−1;
  ``val/`` must hold the same class folders (it is the test split, as in the paper);
* images: decoded with PIL, RGB, centre square crop then bilinear resize to
  ``image_size``² (the usual resize + centre-crop evaluation transform), uint8 N×3×S×S.
  The pipeline keeps a training set on the device as one float tensor, so the paper preset
  uses a downsampled size (see config.yaml) rather than the paper's 256 px;
* ``subset_train`` / ``subset_test``: deterministic class-stratified subsets;
* no download: ImageNet is licence-restricted. A missing folder fails naming the path to
  fill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from largelr.datasets.celeba_waterbirds import _require, load_images
from largelr.datasets.format import CORE, Split, SpuriousDataset
from largelr.datasets.semisynthetic import _streams, stratified_subset_indices
from largelr.datasets.standard import BIAS_NOTE, REGION_NOTE, check_subsets

IMAGENET_DIR = "imagenet"
#: Our split name → the ImageFolder sub-folder it is read from (val is the paper's test split).
IMAGENET_SPLITS = {"train": "train", "test": "val"}
IMAGENET_HINT = (
    "ImageNet-1k is not downloaded automatically (licence-restricted). Get ILSVRC2012 from "
    "image-net.org and lay out train/ and val/ with one sub-folder per class (wnid), as "
    "torchvision.datasets.ImageFolder reads them (torchvision.datasets.ImageNet or the usual "
    "valprep.sh script sorts the flat validation images into class folders)."
)


def imagenet_dir(data_root: str | Path, folder: str = IMAGENET_DIR) -> Path:
    """The folder holding ``train/`` and ``val/`` (paper §5, ImageNet-1k)."""
    return Path(data_root) / folder


def read_image_folder(root: str | Path) -> tuple[list[str], list[Path], np.ndarray]:
    """Class names, image paths and labels of one ImageFolder tree (§5 ImageNet-1k; torchvision's rules).

    ``FileNotFoundError`` naming ``root`` when it holds no class folder with images.
    """
    from torchvision.datasets import ImageFolder  # keep the registry import light

    try:
        folder = ImageFolder(str(root))
    except FileNotFoundError as error:
        raise FileNotFoundError(f"ImageNet-1k folder {root} holds no class folders with images ({error})\n"
                                f"{IMAGENET_HINT}") from error
    paths = [Path(path) for path, _ in folder.samples]
    labels = np.array([label for _, label in folder.samples], dtype=np.int64)
    return list(folder.classes), paths, labels


def _split(paths: list[Path], labels: np.ndarray, size: int | None, rng: np.random.Generator,
           image_size: int, num_workers: int) -> Split:
    """A class-stratified subset of one ImageFolder split as a :class:`Split` (§5; b = y, all CORE)."""
    chosen = stratified_subset_indices(labels, size, rng)
    x = load_images([paths[i] for i in chosen], image_size, True, num_workers)
    y = labels[chosen]
    region = np.full((len(chosen), image_size, image_size), CORE, dtype=np.uint8)
    return Split(x=x, y=y, b=y.copy(), region=region)


def generate_imagenet(
    *,
    image_size: int = 32,
    seed: int = 0,
    subset_train: int | None = None,
    subset_test: int | None = None,
    data_root: str | Path = "data",
    folder: str = IMAGENET_DIR,
    num_workers: int = 8,
) -> SpuriousDataset:
    """ImageNet-1k (paper §5, Fig. 11) from ``{data_root}/{folder}/train`` and ``…/val``.

    Official train / validation splits (or class-stratified subsets; val is the test split),
    images 3×``image_size``² (centre crop + resize), ``b = y``, region all CORE; see the
    module docstring. ``num_workers`` decoding threads do not change the result.
    """
    check_subsets(subset_train, subset_test)
    if int(image_size) < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size}")
    root = imagenet_dir(data_root, folder)
    _require("ImageNet-1k", [root / sub for sub in IMAGENET_SPLITS.values()], IMAGENET_HINT)
    streams, subsets, splits, classes = _streams(seed), {"train": subset_train, "test": subset_test}, {}, {}
    for split, sub in IMAGENET_SPLITS.items():
        classes[split], paths, labels = read_image_folder(root / sub)
        size = None if subsets[split] is None else int(subsets[split])
        splits[split] = _split(paths, labels, size, streams[f"subset_{split}"], int(image_size), num_workers)
    if classes["test"] != classes["train"]:
        raise ValueError(f"ImageNet-1k: {root / 'val'} and {root / 'train'} hold different class folders "
                         f"({len(classes['test'])} vs {len(classes['train'])})")
    dataset = SpuriousDataset(name="imagenet", num_classes=len(classes["train"]), **splits)
    dataset.meta = {
        "generator": "imagenet", "seed": seed, "image_size": int(image_size), "center_crop": True,
        "subset_train": subset_train, "subset_test": subset_test,
        "n_train": len(dataset.train), "n_test": len(dataset.test),
        "source": f"ImageNet-1k ImageFolder layout under {root}; test split = val/",
        "core": "object (y = class folder, sorted order)", "spurious": "none annotated (b = y)",
        "bias": BIAS_NOTE, "class_names": classes["train"], "regions": REGION_NOTE,
    }
    return dataset


IMAGENET_GENERATORS: dict[str, Callable[..., SpuriousDataset]] = {"imagenet": generate_imagenet}
