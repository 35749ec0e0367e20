"""On-disk format of every generated spurious-correlation dataset (§4.1; the pipeline's own file layout).

One dataset is one ``.npz`` file holding both splits:

``{split}_x``       samples; ``float32`` (synthetic data, natural units) or ``uint8`` image
                    bytes (0–255, scaled to [0, 1] by :func:`as_float`). Images are N×C×H×W,
                    vectors N×D.
``{split}_y``       core (class) label, ``int64``.
``{split}_b``       bias (spurious) label, ``int64``; bias-aligned (BA) iff ``b == y``.
``{split}_region``  per-feature region mask, ``uint8``, shape of ``x`` without the channel
                    axis (N×H×W or N×D): :data:`CORE`, :data:`SPURIOUS` or :data:`NOISE`.
``meta``            JSON string: dataset name, number of classes, generator parameters.

``split`` is ``train`` or ``test``. Files are written atomically (see :mod:`largelr.io`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from largelr.io import atomic_write_npz

CORE, SPURIOUS, NOISE = 0, 1, 2
REGION_NAMES = {CORE: "core", SPURIOUS: "spurious", NOISE: "noise"}
SPLITS = ("train", "test")


@dataclass
class Split:
    """One split of a spurious-correlation dataset."""

    x: np.ndarray
    y: np.ndarray
    b: np.ndarray
    region: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.x)
        for name in ("y", "b", "region"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"split field {name!r} has {len(getattr(self, name))} rows, x has {n}")

    def __len__(self) -> int:
        return len(self.x)

    def bias_conflicting_ratio(self) -> float:
        """ρ = fraction of samples with b ≠ y (paper §2, ρ^train := 1 − μ(y = b))."""
        return float(np.mean(self.y != self.b))

    def as_float(self) -> np.ndarray:
        """Samples as float32, uint8 image bytes scaled to [0, 1]."""
        if self.x.dtype == np.uint8:
            return self.x.astype(np.float32) / 255.0
        return self.x.astype(np.float32, copy=False)


@dataclass
class SpuriousDataset:
    """Train and (unbiased) test split plus metadata."""

    name: str
    num_classes: int
    train: Split
    test: Split
    meta: dict[str, Any] = field(default_factory=dict)

    def split(self, name: str) -> Split:
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def save_dataset(dataset: SpuriousDataset, path: str | Path) -> None:
    """Write ``dataset`` to ``path`` (.npz, compressed) atomically and deterministically."""
    arrays: dict[str, np.ndarray] = {}
    for split_name in SPLITS:
        split = dataset.split(split_name)
        arrays[f"{split_name}_x"] = split.x
        arrays[f"{split_name}_y"] = split.y.astype(np.int64)
        arrays[f"{split_name}_b"] = split.b.astype(np.int64)
        arrays[f"{split_name}_region"] = split.region.astype(np.uint8)
    meta = {"name": dataset.name, "num_classes": dataset.num_classes, **dataset.meta}
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    atomic_write_npz(path, arrays, deterministic=True)  # regeneration is byte-identical


def load_dataset(path: str | Path) -> SpuriousDataset:
    """Read a dataset written by :func:`save_dataset`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file {path} does not exist; build it with its `generate_dataset` rule")
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        splits = {
            s: Split(
                x=data[f"{s}_x"], y=data[f"{s}_y"], b=data[f"{s}_b"], region=data[f"{s}_region"]
            )
            for s in SPLITS
        }
    name = meta.pop("name")
    num_classes = int(meta.pop("num_classes"))
    return SpuriousDataset(name=name, num_classes=num_classes, meta=meta, **splits)
