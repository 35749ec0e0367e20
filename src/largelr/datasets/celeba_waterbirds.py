"""CelebA and Waterbirds from their official on-disk releases (paper §4.1, §5, suppl. C).

The paper's two naturalistic spurious-correlation datasets (Fig. 7, 18, 32), evaluated by
worst-group test accuracy (§4.1: "In keeping with literature, we examine worst-group test
accuracy in our experiments with CelebA and Waterbirds"):

==========  ============================  ===============================  ==================
dataset     y (core)                      b (spurious)                     files
==========  ============================  ===============================  ==================
CelebA      ``Blond_Hair`` (1 = blond)    ``Male`` (1 = male)              torchvision layout
Waterbirds  bird type (1 = waterbird)     background ``place`` (1 = water)  Sagawa et al. 2020
==========  ============================  ===============================  ==================

The paper's text calls hair colour and gender the spurious and core features of CelebA;
the literature's standard task (Sagawa et al. 2020), followed here by default, is
target ``Blond_Hair`` with spurious ``Male``; both are parameters
(``target_attribute`` / ``spurious_attribute``, any of the 40 attribute names).

Layouts under ``data_root``::

    {data_root}/celeba/img_align_celeba/000001.jpg …
    {data_root}/celeba/list_attr_celeba.txt      # count; 40 names; "file v1 … v40" (±1)
    {data_root}/celeba/list_eval_partition.txt   # "file 0|1|2" = train/val/test
    {data_root}/waterbird_complete95_forest2water2/metadata.csv   # img_id,img_filename,y,split,place,…
    {data_root}/waterbird_complete95_forest2water2/<img_filename>  # e.g. 001.Black_footed_Albatross/….jpg
    {data_root}/waterbirds_v1.0/metadata.csv …     # WILDS' copy, same columns: read if the above is absent

Protocol:

* splits: the official train split (partition/split 0) is ``train``, the official test
  split (2) is ``test``, the split the paper reports worst-group accuracy on; the
  validation split (1) is not used (its size is recorded in ``meta``).
* labels are 0/1 (CelebA's −1 → 0, 1 → 1). A sample is bias-aligned iff ``b == y``, the
  shared convention of :mod:`largelr.datasets.format`. For Waterbirds that is a bird on
  its own habitat (95 % of train, 50 % of test). For CelebA with the default attributes
  it is a blond man or a non-blond woman, which is *not* the majority pattern (blond
  women dominate the blond class, and women are the majority of both classes), so
  BA/BC-based numbers on CelebA have no "aligned vs conflicting" meaning; the paper's
  metric, worst-group accuracy over the four (y, b) groups (:func:`largelr.analyses.metrics.worst_group_accuracy`),
  does not depend on the encoding.
* images: decoded with PIL, converted to RGB, optionally centre-cropped to the largest
  square (``center_crop``; default on for CelebA's 178×218 portraits as in Sagawa et al.),
  resized to ``image_size``×``image_size`` with bilinear filtering and stored uint8 N×3×H×W,
  not normalised (ImageNet mean/std are applied per batch where a model needs them). Waterbirds
  takes group DRO's ``resize`` (256) then a centred ``image_size`` (224) crop; without ``resize``
  the whole image is squashed to ``image_size``. ``paper`` reads both at 224 px (docs/datasets.md).
* region mask: all CORE. Neither release has a pixel-level mask of the spurious feature
  (Waterbirds' bird segmentations come from CUB and are not in the release), so
  core/spurious region shares are undefined for these datasets.
* ``subset_train`` / ``subset_test``: a deterministic subset stratified by *group*
  (y, b) (:func:`~largelr.datasets.semisynthetic.stratified_subset_indices` on
  ``2·y + b``), so small presets keep every group's share, minority groups included.
* no download: CelebA is licence-restricted (non-commercial research agreement) and
  torchvision's Google-Drive download is unreliable; Waterbirds is not in torchvision at
  all. A missing folder or file fails with a message naming the exact paths needed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from largelr.datasets.format import CORE, Split, SpuriousDataset
from largelr.datasets.semisynthetic import _streams, stratified_subset_indices
from largelr.datasets.standard import check_subsets

CELEBA_DIR = "celeba"
CELEBA_IMAGES = "img_align_celeba"
CELEBA_ATTRIBUTES = "list_attr_celeba.txt"
CELEBA_PARTITION = "list_eval_partition.txt"
WATERBIRDS_DIR = "waterbird_complete95_forest2water2"
#: WILDS' copy of the same release (``wilds.get_dataset("waterbirds")``), same metadata.csv columns; read when
#: the original folder is absent (the original download links have died).
WATERBIRDS_WILDS_DIR = "waterbirds_v1.0"
WATERBIRDS_DIRS = (WATERBIRDS_DIR, WATERBIRDS_WILDS_DIR)
WATERBIRDS_METADATA = "metadata.csv"
WATERBIRDS_COLUMNS = ("img_filename", "y", "split", "place")
#: Official split codes of both releases.
OFFICIAL_SPLITS = {"train": 0, "val": 1, "test": 2}
#: Missing image paths listed in full in an error message before "… and N more".
MAX_LISTED = 10

CELEBA_HINT = (
    "CelebA is not downloaded automatically: it is licence-restricted (non-commercial research "
    "agreement) and torchvision's Google-Drive download is unreliable. Get the aligned images "
    "(img_align_celeba.zip, unpacked) and the two annotation files from the official site "
    "(mmlab.ie.cuhk.edu.hk/projects/CelebA.html) and lay them out as torchvision.datasets.CelebA does."
)
WATERBIRDS_HINT = (
    "Waterbirds is not downloaded automatically (torchvision does not provide it). Unpack either the "
    "`waterbird_complete95_forest2water2` release of Sagawa et al. 2020 (group DRO) or WILDS' "
    "`waterbirds_v1.0` folder (same metadata.csv columns), which hold metadata.csv and one sub-folder "
    "of images per CUB species, into data_root."
)


# --------------------------------------------------------------------------- errors


def _missing_files_error(dataset: str, missing: Sequence[Path], hint: str) -> FileNotFoundError:
    listing = "\n  ".join(str(p) for p in missing[:MAX_LISTED])
    more = f"\n  … and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
    return FileNotFoundError(f"{dataset} files are missing:\n  {listing}{more}\n{hint}")


def _require(dataset: str, paths: Sequence[Path], hint: str) -> None:
    """``FileNotFoundError`` listing every path of ``paths`` that does not exist."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise _missing_files_error(dataset, missing, hint)


# --------------------------------------------------------------------------- images


def _centre_crop(image: Any, width: int, height: int) -> Any:
    """The centred ``width``×``height`` window of a PIL image, offsets as torchvision's ``CenterCrop``
    (``int(round((size − crop) / 2))``)."""
    left = int(round((image.size[0] - width) / 2.0))
    top = int(round((image.size[1] - height) / 2.0))
    return image.crop((left, top, left + width, top + height))


def load_image(path: str | Path, image_size: int, center_crop: bool, resize: int | None = None) -> np.ndarray:
    """One image file as uint8 3×``image_size``×``image_size`` (RGB, PIL bilinear resize), no normalisation.

    With ``center_crop`` the largest centred square is cut out first (aspect ratio kept), then resized:
    group DRO's CelebA transform (``CenterCrop(178)``, ``Resize(224)``; kohpangwei/group_DRO
    ``data/celebA_dataset.py``). With ``resize`` the whole image is resized to ``resize``×``resize``
    (aspect ratio changed), then its centred ``image_size`` square is cut out: group DRO's Waterbirds
    transform (``Resize(256)``, ``CenterCrop(224)``; ``data/cub_dataset.py``). With neither, the whole image
    is resized to ``image_size`` (aspect ratio changed).
    """
    from PIL import Image

    with Image.open(path) as handle:
        image = handle.convert("RGB")
    if center_crop:
        side = min(image.size)
        image = _centre_crop(image, side, side)
    if resize is None:
        image = image.resize((image_size, image_size), Image.BILINEAR)
    else:
        image = _centre_crop(image.resize((resize, resize), Image.BILINEAR), image_size, image_size)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def load_images(
    paths: Sequence[Path], image_size: int, center_crop: bool, num_workers: int = 1, resize: int | None = None
) -> np.ndarray:
    """Images ``paths`` as uint8 N×3×S×S, in order; ``num_workers`` threads decode in parallel.

    PIL releases the GIL while decoding and resizing, so threads scale; the result does
    not depend on ``num_workers``.
    """
    out = np.empty((len(paths), 3, image_size, image_size), dtype=np.uint8)

    def fill(i: int) -> None:
        out[i] = load_image(paths[i], image_size, center_crop, resize)

    if num_workers <= 1 or len(paths) < 2:
        for i in range(len(paths)):
            fill(i)
    else:
        with ThreadPoolExecutor(max_workers=num_workers) as pool:
            list(pool.map(fill, range(len(paths))))
    return out


# --------------------------------------------------------------------------- CelebA files


def celeba_dir(data_root: str | Path) -> Path:
    return Path(data_root) / CELEBA_DIR


def read_celeba_attributes(path: str | Path) -> tuple[list[str], list[str], np.ndarray]:
    """``list_attr_celeba.txt`` as (file names, attribute names, int8 N×A matrix of ±1).

    Line 1: the number of images; line 2: the attribute names; then one line per image,
    ``name v1 … vA`` separated by any whitespace. ``ValueError`` naming ``path`` on a
    count mismatch, a short/long row or a value other than −1/1.
    """
    path = Path(path)
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 2 or len(lines[0]) != 1 or not lines[0][0].isdigit():
        raise ValueError(f"CelebA attribute file {path}: expected the image count on line 1, names on line 2")
    count, names, rows = int(lines[0][0]), lines[1], lines[2:]
    if len(rows) != count:
        raise ValueError(f"CelebA attribute file {path}: header says {count} images, found {len(rows)} rows")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(names) + 1), None)
    if bad is not None:
        raise ValueError(
            f"CelebA attribute file {path}: row {bad + 3} has {len(rows[bad]) - 1} values, "
            f"expected {len(names)} (one per attribute)"
        )
    values = np.array([row[1:] for row in rows], dtype=np.int8).reshape(len(rows), len(names))
    if not np.isin(values, (-1, 1)).all():
        raise ValueError(f"CelebA attribute file {path}: values must be -1 or 1")
    return [row[0] for row in rows], names, values


def read_celeba_partition(path: str | Path) -> dict[str, int]:
    """``list_eval_partition.txt`` as {file name: 0 (train) | 1 (val) | 2 (test)}."""
    path = Path(path)
    partition = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ValueError(f"CelebA partition file {path}, line {number}: expected 'file 0|1|2', got {line!r}")
        partition[fields[0]] = int(fields[1])
    return partition


def _attribute_column(names: list[str], attribute: str, path: Path) -> int:
    if attribute not in names:
        raise ValueError(f"CelebA attribute {attribute!r} is not in {path}; known: {names}")
    return names.index(attribute)


def celeba_labels(data_root: str | Path, target_attribute: str, spurious_attribute: str) -> dict[str, Any]:
    """File names, 0/1 ``y`` and ``b`` and official split codes of every CelebA image."""
    folder = celeba_dir(data_root)
    attr_path, part_path = folder / CELEBA_ATTRIBUTES, folder / CELEBA_PARTITION
    _require("CelebA", [folder / CELEBA_IMAGES, attr_path, part_path], CELEBA_HINT)
    files, names, values = read_celeba_attributes(attr_path)
    partition = read_celeba_partition(part_path)
    unlisted = [f for f in files if f not in partition]
    if unlisted:
        raise ValueError(f"CelebA: {len(unlisted)} images of {attr_path} lack a split in {part_path}, "
                         f"e.g. {unlisted[0]}")
    y = (values[:, _attribute_column(names, target_attribute, attr_path)] > 0).astype(np.int64)
    b = (values[:, _attribute_column(names, spurious_attribute, attr_path)] > 0).astype(np.int64)
    paths = [folder / CELEBA_IMAGES / f for f in files]
    return {"paths": paths, "files": files, "y": y, "b": b,
            "split": np.array([partition[f] for f in files], dtype=np.int64)}


# --------------------------------------------------------------------------- Waterbirds files


def waterbirds_dir(data_root: str | Path) -> Path:
    """The first layout of :data:`WATERBIRDS_DIRS` under ``data_root`` that holds ``metadata.csv``;
    ``FileNotFoundError`` naming both layouts' ``metadata.csv`` when neither does."""
    candidates = [Path(data_root) / name for name in WATERBIRDS_DIRS]
    found = next((folder for folder in candidates if (folder / WATERBIRDS_METADATA).is_file()), None)
    if found is None:
        raise _missing_files_error("Waterbirds", [folder / WATERBIRDS_METADATA for folder in candidates],
                                   WATERBIRDS_HINT + " Either folder will do.")
    return found


def waterbirds_labels(data_root: str | Path) -> dict[str, Any]:
    """File names, 0/1 ``y`` (waterbird), ``b`` (water place) and split codes from ``metadata.csv``."""
    import pandas as pd

    folder = waterbirds_dir(data_root)
    meta_path = folder / WATERBIRDS_METADATA
    table = pd.read_csv(meta_path)
    lacking = [c for c in WATERBIRDS_COLUMNS if c not in table.columns]
    if lacking:
        raise ValueError(f"Waterbirds metadata {meta_path} lacks column(s) {lacking}; found {list(table.columns)}")
    columns = {c: table[c].to_numpy(dtype=np.int64) for c in ("y", "place", "split")}
    for name, allowed in (("y", (0, 1)), ("place", (0, 1)), ("split", (0, 1, 2))):
        if not np.isin(columns[name], allowed).all():
            raise ValueError(f"Waterbirds metadata {meta_path}: column {name!r} holds values outside {allowed}")
    files = [str(f) for f in table["img_filename"]]
    return {"paths": [folder / f for f in files], "files": files, "y": columns["y"],
            "b": columns["place"], "split": columns["split"], "folder": folder.name}


# --------------------------------------------------------------------------- generators


def group_counts(y: np.ndarray, b: np.ndarray) -> dict[str, int]:
    """Number of samples in each of the four (y, b) groups, keyed "y=…,b=…"."""
    return {f"y={i},b={j}": int(np.sum((y == i) & (b == j))) for i in (0, 1) for j in (0, 1)}


def _natural_dataset(
    name: str,
    labels: dict[str, Any],
    dataset_label: str,
    hint: str,
    *,
    image_size: int,
    center_crop: bool,
    seed: int,
    subset_train: int | None,
    subset_test: int | None,
    num_workers: int,
    resize: int | None = None,
) -> tuple[SpuriousDataset, dict[str, list[str]]]:
    """Shared body of :func:`generate_celeba` and :func:`generate_waterbirds`."""
    check_subsets(subset_train, subset_test)
    _check_sizes(image_size, resize)
    streams = _streams(seed)
    subsets = {"train": subset_train, "test": subset_test}
    splits, files = {}, {}
    for split in ("train", "test"):
        members = np.flatnonzero(labels["split"] == OFFICIAL_SPLITS[split])
        if len(members) == 0:
            raise ValueError(f"{dataset_label}: the official {split} split is empty")
        y, b = labels["y"][members], labels["b"][members]
        size = None if subsets[split] is None else int(subsets[split])
        chosen = members[stratified_subset_indices(2 * y + b, size, streams[f"subset_{split}"])]
        paths = [labels["paths"][i] for i in chosen]
        _require(dataset_label, paths, hint)
        x = load_images(paths, int(image_size), center_crop, num_workers, None if resize is None else int(resize))
        region = np.full((len(chosen), int(image_size), int(image_size)), CORE, dtype=np.uint8)
        splits[split] = Split(x=x, y=labels["y"][chosen], b=labels["b"][chosen], region=region)
        files[split] = [labels["files"][i] for i in chosen]
    dataset = SpuriousDataset(name=name, num_classes=2, **splits)
    dataset.meta = {
        "generator": name,
        "seed": seed,
        "image_size": int(image_size),
        "center_crop": bool(center_crop),
        "resize": None if resize is None else int(resize),
        "normalisation": "none: uint8 pixels (ImageNet mean/std, where a model needs them, applied per batch)",
        "subset_train": subset_train,
        "subset_test": subset_test,
        "n_train": len(dataset.train),
        "n_test": len(dataset.test),
        "n_val_official": int(np.sum(labels["split"] == OFFICIAL_SPLITS["val"])),
        "rho_train_realised": dataset.train.bias_conflicting_ratio(),
        "rho_test_realised": dataset.test.bias_conflicting_ratio(),
        "groups_train": group_counts(dataset.train.y, dataset.train.b),
        "groups_test": group_counts(dataset.test.y, dataset.test.b),
        "test_split": "official test split (2); evaluate with worst-group accuracy",
        "regions": "all pixels core: no pixel-level mask of the spurious feature exists",
    }
    return dataset, files


def _check_sizes(image_size: int, resize: int | None) -> None:
    if int(image_size) < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size}")
    if resize is not None and int(resize) < int(image_size):
        raise ValueError(f"resize must be null or at least image_size ({image_size}), got {resize}")


def generate_celeba(
    *,
    target_attribute: str = "Blond_Hair",
    spurious_attribute: str = "Male",
    image_size: int = 64,
    center_crop: bool = True,
    seed: int = 0,
    subset_train: int | None = None,
    subset_test: int | None = None,
    data_root: str | Path = "data",
    num_workers: int = 4,
    return_provenance: bool = False,
):
    """CelebA (Liu et al. 2015; paper §4.1, Figs 7, 32): y = ``target_attribute``, b = ``spurious_attribute``.

    Official train (162770) / test (19962) splits of the aligned images, 0/1 labels,
    images 3×``image_size``² (centre square crop by default), region all CORE; see the
    module docstring. ``return_provenance=True`` also returns {split: image file names}.
    ``num_workers`` decoding threads do not change the result.
    """
    if target_attribute == spurious_attribute:
        raise ValueError(f"target and spurious attribute are both {target_attribute!r}")
    labels = celeba_labels(data_root, target_attribute, spurious_attribute)
    dataset, files = _natural_dataset(
        "celeba", labels, "CelebA", CELEBA_HINT, image_size=image_size, center_crop=center_crop,
        seed=seed, subset_train=subset_train, subset_test=subset_test, num_workers=num_workers,
    )
    dataset.meta.update(
        target_attribute=target_attribute,
        spurious_attribute=spurious_attribute,
        source="CelebA aligned images (img_align_celeba), official partition",
        core=f"{target_attribute} (y = 1 where the attribute is 1)",
        spurious=f"{spurious_attribute} (b = 1 where the attribute is 1)",
    )
    return (dataset, files) if return_provenance else dataset


def generate_waterbirds(
    *,
    image_size: int = 64,
    center_crop: bool = False,
    resize: int | None = None,
    seed: int = 0,
    subset_train: int | None = None,
    subset_test: int | None = None,
    data_root: str | Path = "data",
    num_workers: int = 4,
    return_provenance: bool = False,
):
    """Waterbirds (Sagawa et al. 2020; paper §4.1, Fig. 18): y = waterbird, b = water background.

    Official train (4795) / test (5794) splits of ``metadata.csv`` (read from the original release's
    folder or WILDS' ``waterbirds_v1.0``), images 3×``image_size``² (whole image resized by default;
    ``resize`` = 256 with ``image_size`` = 224 is group DRO's resize-then-centre-crop), region all CORE;
    see the module docstring. ``return_provenance=True`` also returns {split: image file names}.
    """
    labels = waterbirds_labels(data_root)
    dataset, files = _natural_dataset(
        "waterbirds", labels, "Waterbirds", WATERBIRDS_HINT, image_size=image_size,
        center_crop=center_crop, seed=seed, subset_train=subset_train, subset_test=subset_test,
        num_workers=num_workers, resize=resize,
    )
    dataset.meta.update(
        source=f"Waterbirds ({labels['folder']}): CUB birds on Places backgrounds",
        core="bird type (y = 1 waterbird, 0 landbird)",
        spurious="background place (b = 1 water, 0 land)",
    )
    return (dataset, files) if return_provenance else dataset


NATURAL_GENERATORS: dict[str, Callable[..., SpuriousDataset]] = {
    "celeba": generate_celeba,
    "waterbirds": generate_waterbirds,
}


# --------------------------------------------------------------------------- worst-group accuracy
