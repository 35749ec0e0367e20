"""The background_attribution rule's work (largelr.analyses.background; §5, Fig 10).

A hand-made stand-in segmenter replaces DeepLabV3 here (no weights exist offline): it labels
pixels background where the image is dark, so the expected share is known exactly.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from largelr.analyses import background as B
from largelr.datasets.format import CORE, SpuriousDataset, Split, save_dataset
from largelr.io import read_json


class DarkIsBackground(nn.Module):
    """Class 0 (background) where the mean intensity is below 0.5, else class 1."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # gives background_masks a device/dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = (x.mean(dim=1, keepdim=True) > 0).float()  # input is ImageNet-normalised
        return torch.cat([1 - bright, bright], dim=1)


def _write_inputs(tmp_path, n=3):
    x = np.zeros((n, 3, 8, 8), dtype=np.uint8)
    x[:, :, :, 4:] = 255  # right half bright = object, left half dark = background
    split = Split(x=x, y=np.zeros(n, dtype=np.int64), b=np.zeros(n, dtype=np.int64),
                  region=np.full((n, 8, 8), CORE, dtype=np.uint8))
    save_dataset(SpuriousDataset("toy", 2, split, split), tmp_path / "toy.npz")
    maps = np.zeros((2, 8, 8), dtype=np.float16)
    maps[0] = 1.0            # uniform: half on the background
    maps[1, :, :4] = 2.0     # all on the background
    buffer = io.BytesIO()
    np.savez(buffer, indices=np.array([0, 2]), maps=maps, y=np.zeros(2, dtype=np.int64),
             predictions=np.zeros(2, dtype=np.int64))
    (tmp_path / "maps.npz").write_bytes(buffer.getvalue())


def test_background_share_known_values(tmp_path, monkeypatch):
    _write_inputs(tmp_path)
    monkeypatch.setattr(B, "load_segmenter", lambda *a, **k: DarkIsBackground().eval())
    result = B.background_run(tmp_path / "toy.npz", tmp_path / "maps.npz", tmp_path / "bg.json",
                              {"backend": "torchvision", "weights_path": None, "size": 16})
    assert result["background_attribution"] == pytest.approx((0.5 + 1.0) / 2)
    assert result["background_pixels"] == pytest.approx(0.5)
    assert read_json(tmp_path / "bg.json")["samples"] == 2


def test_missing_weights_names_the_config_key(tmp_path):
    _write_inputs(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"analysis\.segmenter\.weights_path"):
        B.background_run(tmp_path / "toy.npz", tmp_path / "maps.npz", tmp_path / "bg.json",
                         {"backend": "torchvision", "weights_path": str(tmp_path / "absent.pth")})
    assert not (tmp_path / "bg.json").exists()
