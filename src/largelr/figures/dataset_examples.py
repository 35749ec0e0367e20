"""Fig 2: example training images of the semi-synthetic datasets (§4.1).

For each dataset one row of bias-aligned (BA, ``b = y``) and one row of bias-conflicting
(BC, ``b ≠ y``) training images, each captioned with its class ``y`` and bias label ``b``
(the corruption's name for Corrupted CIFAR-10). Images are drawn at their stored pixel
values, without rescaling, so brightness differences (Double MNIST's dim core digit)
stay visible.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.gridspec import GridSpec

from largelr.datasets.format import Split, SpuriousDataset
from largelr.figures.names import DISPLAY_NAMES
from largelr.figures.save import save_figure

_SHORT_CORRUPTION = {"elastic_transform": "elastic", "jpeg_compression": "jpeg"}


def pick_examples(split: Split, aligned: bool, n: int) -> np.ndarray:
    """Indices of ``n`` BA (or BC) samples, cycling through the classes ``y`` = 0, 1, …

    For each slot the first unused sample of the wanted class in dataset order is taken;
    when a class has none left, the first unused sample of any class. Fewer than ``n``
    come back only if the split has fewer such samples.
    """
    mask = (split.y == split.b) if aligned else (split.y != split.b)
    candidates = np.flatnonzero(mask)
    used: set[int] = set()
    chosen: list[int] = []
    classes = np.unique(split.y) if len(split.y) else np.array([0])
    for slot in range(min(n, len(candidates))):
        wanted = classes[slot % len(classes)]
        pick = next((int(i) for i in candidates if split.y[i] == wanted and int(i) not in used), None)
        if pick is None:
            pick = next(int(i) for i in candidates if int(i) not in used)
        used.add(pick)
        chosen.append(pick)
    return np.array(chosen, dtype=np.int64)


def _as_image(x: np.ndarray) -> tuple[np.ndarray, dict]:
    """C×H×W sample → array for ``imshow`` plus its keyword arguments (no rescaling)."""
    if x.ndim != 3:
        raise ValueError(f"dataset examples need image samples (C×H×W), got shape {x.shape}")
    if x.dtype == np.uint8:
        image, vmax = x, 255
    else:
        image, vmax = np.clip(x.astype(np.float32), 0.0, 1.0), 1.0
    if image.shape[0] == 1:
        return image[0], {"cmap": "gray", "vmin": 0, "vmax": vmax}
    return image.transpose(1, 2, 0), {}


def _bias_caption(dataset: SpuriousDataset, b: int) -> str:
    corruptions = dataset.meta.get("corruptions")
    if corruptions:
        name = corruptions[b]
        return _SHORT_CORRUPTION.get(name, name)
    return str(b)


def plot_dataset_examples(
    datasets: dict[str, SpuriousDataset], pdf_path: str | Path, png_path: str | Path, n_per_row: int = 8
) -> None:
    """Draw Fig 2: per dataset a BA row and a BC row of ``n_per_row`` training images."""
    if not datasets:
        raise ValueError("no datasets to plot")
    names = list(datasets)
    aspects = []  # height / width of one image, per dataset
    for name in names:
        shape = datasets[name].train.x.shape
        if len(shape) != 4:
            raise ValueError(f"dataset {name!r} holds vectors {shape}, not images; Fig 2 shows image datasets")
        aspects.append(shape[2] / shape[3])
    cell = 0.95  # inches per image column
    caption = 0.22  # inches above each image for its caption
    row_heights = [cell * a + caption for a in aspects for _ in range(2)]
    fig = plt.figure(figsize=(1.45 + cell * n_per_row, sum(row_heights) + 0.2))
    grid = GridSpec(
        len(row_heights), n_per_row, figure=fig, height_ratios=row_heights,
        left=1.4 / (1.45 + cell * n_per_row), right=0.995, top=0.985, bottom=0.01, wspace=0.08, hspace=0.0,
    )
    for d, name in enumerate(names):
        dataset = datasets[name]
        display = DISPLAY_NAMES.get(dataset.name, dataset.name) if name == dataset.name else name
        for r, aligned in enumerate((True, False)):
            row = 2 * d + r
            picks = pick_examples(dataset.train, aligned, n_per_row)
            for col in range(n_per_row):
                ax = fig.add_subplot(grid[row, col])
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if col == 0:
                    label = f"{display}\n{'BA' if aligned else 'BC'} (b {'=' if aligned else '≠'} y)"
                    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
                if col >= len(picks):
                    continue
                i = picks[col]
                image, kwargs = _as_image(dataset.train.x[i])
                ax.imshow(image, interpolation="nearest", **kwargs)
                ax.set_title(
                    f"y={int(dataset.train.y[i])} b={_bias_caption(dataset, int(dataset.train.b[i]))}",
                    fontsize=5.5, pad=1.5,
                    color="black" if aligned else "firebrick",
                )
    save_figure(fig, pdf_path, png_path)
