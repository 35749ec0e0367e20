"""Datasets on the training device as uint8, decoded per batch (issue 25 item 4), and the check
that a job's data and models fit where it trains.

Image datasets are stored as uint8 bytes (:mod:`largelr.datasets.format`). Until issue 25 the
training split went to the device as float32 (:meth:`Split.as_float`: ``x.astype(float32) /
255.0``), four times its bytes: CelebA at 224 px would need 98 GB. Now the bytes go to the device
(:class:`DeviceImages`) and each batch is decoded there through a 256-entry table computed by that
very numpy expression, so every batch holds exactly the float32 values of the old path, on any
device (a division on CUDA need not round as numpy's does; a table lookup cannot differ). The
training engines (single and stacked) index ``split.x`` as before and get float32 batches, so
weights, stopping iteration and status stay bit for bit (tests/training/test_device_data.py).
Float datasets (the synthetic ones) stay float32 tensors. Analyses open runs with float splits
(:func:`largelr.training.runs.to_tensor_split`), the same values.

:func:`check_fits` runs before training: the split bytes on the device plus the models' weights,
gradients and optimizer state must fit in the device's free memory (CUDA) or the available RAM
(CPU); otherwise the job fails at once with the preset keys to lower.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from largelr.datasets import SpuriousDataset

#: byte → float32 as Split.as_float computes it (numpy: float32 array / 255.0)
BYTE_VALUES = np.arange(256, dtype=np.uint8).astype(np.float32) / 255.0
#: data encodings on the device: ``uint8`` (images as bytes, decoded per batch) or ``float32`` (before issue 25)
ENCODINGS = ("uint8", "float32")
#: bytes per parameter while training: weights, gradients and up to two optimizer moments (Adam), float32
TRAINING_BYTES_PER_PARAMETER = 16


class DeviceImages:
    """uint8 images on a device, read as float32: ``images[index]`` decodes the selected rows
    through the byte table (per batch, on the device); ``rows(index)`` keeps a subset as bytes."""

    def __init__(self, raw: torch.Tensor, table: torch.Tensor | None = None) -> None:
        if raw.dtype != torch.uint8:
            raise TypeError(f"DeviceImages holds uint8 bytes, got {raw.dtype}")
        self.raw = raw
        self.table = table if table is not None else torch.from_numpy(BYTE_VALUES).to(raw.device)

    def __len__(self) -> int:
        return len(self.raw)

    def __getitem__(self, index: Any) -> torch.Tensor:
        return self.table[self.raw[index].int()]

    def rows(self, index: Any) -> DeviceImages:
        return DeviceImages(self.raw[index], self.table)

    @property
    def shape(self) -> torch.Size:
        return self.raw.shape

    @property
    def device(self) -> torch.device:
        return self.raw.device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def float(self) -> torch.Tensor:
        """Every image as float32 (the whole split decoded at once)."""
        return self.table[self.raw.int()]


def rows(x: torch.Tensor | DeviceImages, index: Any) -> torch.Tensor | DeviceImages:
    """A subset of a split's inputs, still bytes where they are (hold-out and fixed test subsets)."""
    return x.rows(index) if isinstance(x, DeviceImages) else x[index]


def device_inputs(x: np.ndarray, device: torch.device, encoding: str = "uint8") -> torch.Tensor | DeviceImages:
    """A split's inputs on ``device``: uint8 images as :class:`DeviceImages` (``encoding`` uint8),
    else float32 as :meth:`Split.as_float` gives them."""
    if encoding not in ENCODINGS:
        raise ValueError(f"data encoding must be one of {ENCODINGS}, got {encoding!r}")
    if x.dtype == np.uint8 and encoding == "uint8":
        return DeviceImages(torch.from_numpy(x).to(device))
    scaled = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    return torch.from_numpy(scaled).to(device)


def data_bytes(dataset: SpuriousDataset, encoding: str = "uint8") -> int:
    """Bytes the train and test splits take on the device (inputs, y and b as int64)."""
    total = 0
    for split in (dataset.train, dataset.test):
        per_value = 1 if split.x.dtype == np.uint8 and encoding == "uint8" else 4
        total += split.x.size * per_value + 2 * 8 * len(split)
    return total


def free_bytes(device: torch.device) -> int:
    """Free memory where a job trains: the CUDA device's free memory, else the available RAM."""
    if device.type == "cuda":  # the driver's free memory and what torch's allocator holds unused
        unused = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(torch.cuda.mem_get_info(device)[0] + unused)
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def check_fits(dataset: SpuriousDataset, model: torch.nn.Module, n_models: int, device: torch.device,
               cell: dict[str, Any], encoding: str = "uint8", available: int | None = None) -> int:
    """Fail before training when the splits and ``n_models`` models (trained together, a stack)
    do not fit in the free memory of ``device`` (``available`` bytes if given); returns the bytes
    needed. On the CPU the dataset file is already in RAM: only a float copy would add to it."""
    data = data_bytes(dataset, encoding)
    models = n_models * TRAINING_BYTES_PER_PARAMETER * sum(p.numel() for p in model.parameters())
    free = free_bytes(device) if available is None else available
    if device.type != "cuda":
        data = max(0, data - data_bytes(dataset, "uint8"))  # the loaded arrays are reused in place
    if data + models <= free:
        return data + models
    gb = 1e9
    raise MemoryError(
        f"dataset {cell.get('dataset')!r} ({data / gb:.2f} GB on {device}) and {n_models} model(s) "
        f"{cell.get('model')!r} ({models / gb:.2f} GB) do not fit in the {free / gb:.2f} GB free on {device}: "
        f"lower the preset's datasets.{cell.get('dataset')}.params (subset_train / subset_test / n_train / "
        f"image_size), models.{cell.get('model')} (width), or train the group's cells one at a time "
        f"(training.engine: sequential), or run on a device with more memory")


__all__ = ["BYTE_VALUES", "ENCODINGS", "DeviceImages", "check_fits", "data_bytes", "device_inputs", "free_bytes",
           "rows"]
