"""Tiny real-format data and weights for the ``paper`` smoke without licensed data (issue 25 item 2).

``largelr fixtures DIR`` (:func:`write_fixtures`) writes under DIR, in the layouts the readers of
:mod:`largelr.datasets` expect (the same writers the tests use):

* ``cifar-100-python/{train,test}``: CIFAR-100 pickles (bytes keys, fine and coarse labels);
* ``celeba/``: ``img_align_celeba/*.png``, ``list_attr_celeba.txt`` (40 ±1 columns),
  ``list_eval_partition.txt``: every group of (Blond_Hair, Male) in every split, so both ``paper``
  entries read it (``celeba``: target Blond_Hair, spurious Male; ``celeba_text_orientation``: §4.1's
  sentence, the other way round);
* ``waterbird_complete95_forest2water2/``: ``metadata.csv`` and one image per row (every group
  of (bird, place) in every split; the reader takes WILDS' ``waterbirds_v1.0/`` too);
* ``imagenet/{train,val}/<wnid>/*.png``: an ImageNet-1k class-folder tree (a few classes);
* ``weights/swin_t-704ceda3.pth`` and ``weights/deeplabv3_resnet50.pth``: RANDOMLY initialised
  torchvision Swin-T and DeepLabV3-ResNet50 state_dicts (§4.2's pretrained Swin-T, Fig 10's
  segmenter: their plumbing only, never evidence);
* links to the MNIST / CIFAR-10 folders of ``link_from`` (the offline copy), when it has them.

The images are tiny: the readers crop and resize them to the preset's size (224 px for CelebA and
Waterbirds, group DRO's preprocessing); the fixtures check that every job runs, not what it finds.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
    "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
    "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
BLOND, BLACK, MALE = (CELEBA_ATTRIBUTES.index(a) for a in ("Blond_Hair", "Black_Hair", "Male"))
WATERBIRDS = "waterbird_complete95_forest2water2"
BORDER = (255, 0, 0)  # CelebA portraits: top and bottom bands outside the centred square
SWIN_T_FILE = "weights/swin_t-704ceda3.pth"  # the paper preset's models.swin_t.pretrained_path
DEEPLAB_FILE = "weights/deeplabv3_resnet50.pth"
LINKED = ("MNIST", "cifar-10-batches-py")  # the sources the offline copy holds
PER_GROUP = {"train": 16, "val": 2, "test": 10}  # CelebA / Waterbirds images per (y, b) group and split
IMAGENET_CLASSES = {"n01440764": (16, 8), "n01443537": (16, 8), "n15075141": (16, 8)}  # train / val images


def write_cifar100(root: Path, split: str, data: np.ndarray, fine: list[int]) -> Path:
    """A CIFAR-100 pickle as the release has it: bytes keys, fine and coarse labels."""
    path = Path(root) / "cifar-100-python" / split
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        b"filenames": [f"img_{i}.png".encode() for i in range(len(data))],
        b"batch_label": f"{split}ing batch 1 of 1".encode(),
        b"fine_labels": list(fine),
        b"coarse_labels": [label // 5 for label in fine],  # not the labels used
        b"data": data,
    }
    with open(path, "wb") as handle:
        pickle.dump(record, handle, protocol=2)
    return path


def tiny_cifar100(root: Path, per_class: dict[str, int], seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both splits with ``per_class[split]`` images of each of the 100 classes, shuffled."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, k in per_class.items():
        labels = rng.permutation(np.repeat(np.arange(100), k))
        data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
        write_cifar100(root, split, data, labels.tolist())
        out[split] = (data, labels)
    return out


def colour(i: int) -> tuple[int, int, int]:
    """A distinct colour per image index (cycles after a few dozen)."""
    return ((10 + 40 * i) % 256, (200 - 30 * i) % 256, (5 * i) % 256)


def portrait(centre: tuple[int, int, int], width: int = 8, height: int = 12) -> Any:
    """A width×height PIL image: red bands above and below a centred width×width square of ``centre``."""
    from PIL import Image

    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = BORDER
    top = (height - width) // 2
    pixels[top : top + width] = centre
    return Image.fromarray(pixels)


def write_celeba(root: Path, rows: list[tuple[str, int, int, int]]) -> Path:
    """The torchvision CelebA layout: images, attribute table (±1, aligned columns), partition.

    ``rows``: (file, partition 0/1/2, Blond_Hair ±1, Male ±1); image i has colour(i) in its centre."""
    folder = Path(root) / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    lines = [str(len(rows)), " ".join(CELEBA_ATTRIBUTES) + " "]
    for i, (name, _, blond, male) in enumerate(rows):
        values = [1 if (i + k) % 3 == 0 else -1 for k in range(len(CELEBA_ATTRIBUTES))]
        values[BLOND], values[MALE], values[BLACK] = blond, male, -blond  # Black_Hair: the opposite
        lines.append(name + " " + " ".join(f"{v:2d}" for v in values))
        portrait(colour(i)).save(folder / "img_align_celeba" / name)
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("".join(f"{r[0]} {r[1]}\n" for r in rows))
    return folder


def write_waterbirds(root: Path, rows: list[tuple[int, int, int]], size: tuple[int, int] = (6, 4),
                     folder_name: str = WATERBIRDS) -> Path:
    """metadata.csv (img_id,img_filename,y,split,place,place_filename) + one image per row.

    ``rows`` holds (y, split, place); image i is split vertically: left half colour(i),
    right half white, so a whole-image resize keeps the halves. ``folder_name``: the original
    release's folder (default) or WILDS' ``waterbirds_v1.0`` (the reader takes either).
    """
    from PIL import Image

    folder = Path(root) / folder_name
    lines = ["img_id,img_filename,y,split,place,place_filename"]
    for i, (y, split, place) in enumerate(rows):
        species = "001.Black_footed_Albatross" if y else "010.Red_winged_Blackbird"
        name = f"{species}/{species.split('.')[1]}_{i:04d}.jpg"
        width, height = size
        pixels = np.full((height, width, 3), 255, dtype=np.uint8)
        pixels[:, : width // 2] = colour(i % 6)
        (folder / species).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / name, format="PNG")  # lossless content, real-style name
        place_file = "/o/ocean/00000001.jpg" if place else "/b/bamboo_forest/00000001.jpg"
        lines.append(f"{i + 1},{name},{y},{split},{place},{place_file}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    return folder


def write_imagenet(root: Path, classes: dict[str, tuple[tuple[int, int, int], int, int]]) -> Path:
    """``root/imagenet/{train,val}/<wnid>/*.png``: per class (colour, train images, val images), 20×12."""
    from PIL import Image

    for wnid, (fill, n_train, n_val) in classes.items():
        for split, count in (("train", n_train), ("val", n_val)):
            folder = Path(root) / "imagenet" / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                Image.new("RGB", (20, 12), fill).save(folder / f"{wnid}_{i}.png")
    return Path(root) / "imagenet"


def grouped_rows(per_group: dict[str, int] = PER_GROUP) -> list[tuple[int, int, int]]:
    """(y, split 0/1/2, b) rows: ``per_group[split]`` of each of the four (y, b) groups per split."""
    splits = {"train": 0, "val": 1, "test": 2}
    return [(y, splits[split], b) for split, count in per_group.items()
            for y in (0, 1) for b in (0, 1) for _ in range(count)]


def write_weights(root: Path) -> dict[str, Path]:
    """RANDOMLY initialised torchvision Swin-T (1000 classes, as the ImageNet-1k checkpoint) and
    DeepLabV3-ResNet50 (21 VOC classes) state_dicts: plumbing only, their outputs mean nothing."""
    import torch
    import torchvision

    torch.manual_seed(0)
    paths = {"swin_t": Path(root) / SWIN_T_FILE, "deeplabv3": Path(root) / DEEPLAB_FILE}
    paths["swin_t"].parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.swin_t(weights=None).state_dict(), paths["swin_t"])
    segmenter = torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None,
                                                                   num_classes=21)
    torch.save(segmenter.state_dict(), paths["deeplabv3"])
    return paths


def write_fixtures(root: str | Path, link_from: str | Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Every tree and weights file of the module docstring under ``root``; returns the config that
    points ``paper`` at them (:func:`config_arguments` prints it for ``--config``)."""
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    tiny_cifar100(root, {"train": 1, "test": 1}, seed)
    rows = grouped_rows()
    write_celeba(root, [(f"{i + 1:06d}.png", split, 1 if b else -1, 1 if y else -1)
                        for i, (y, split, b) in enumerate(rows)])
    write_waterbirds(root, rows)
    write_imagenet(root, {wnid: (colour(k), n_train, n_val)
                          for k, (wnid, (n_train, n_val)) in enumerate(IMAGENET_CLASSES.items())})
    weights = write_weights(root)
    for name in LINKED:
        source = Path(link_from or "") / name
        if link_from is not None and source.is_dir() and not (root / name).exists():
            (root / name).symlink_to(source.resolve(), target_is_directory=True)
    return {"data_root": str(root),
            "models": {"swin_t": {"pretrained_path": str(weights["swin_t"])}},
            "analysis": {"segmenter": {"weights_path": str(weights["deeplabv3"])}}}


def config_arguments(config: dict[str, Any]) -> list[str]:
    """``config`` as ``snakemake --config`` arguments (one ``key=value`` per top-level key, nested
    values as YAML flow mappings)."""
    import yaml

    def flow(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()

    return [f"{key}={flow(value) if isinstance(value, dict) else value}" for key, value in config.items()]
