"""Models behind one interface (SPEC §3; paper §4.2, suppl. C).

Every model is a :class:`SpuriousModel`: ``features(x)`` returns the **penultimate
post-activation representation** (the input of the final linear layer, used by every
representation metric of §3.3), ``head`` is that final linear layer, and
``prunable_layers()`` lists the layers whose output units (FC neurons, conv kernels) the
κ-prunability metric of §3.2 may remove — every hidden layer, never the output layer.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


class SpuriousModel(nn.Module):
    """Common interface: ``forward(x) = head(features(x))``."""

    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def prunable_layers(self) -> list[nn.Module]:
        raise NotImplementedError

    @property
    def representation_size(self) -> int:
        return self.head.in_features


class FCN(SpuriousModel):
    """Fully connected ReLU network without any bias (SPEC §3: flatten → hidden → linear).

    Width 200 with 3 hidden layers is the paper's parity model (Fig 3), 200 × 2 its
    moon-star model (suppl. C), 1024 × 2 (2048 for CIFAR-based data) its image FCN.
    """

    def __init__(self, in_features: int, num_classes: int, width: int, depth: int) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"FCN depth must be >= 1, got {depth}")
        sizes = [in_features] + [width] * depth
        self.hidden = nn.ModuleList(
            nn.Linear(n_in, n_out, bias=False) for n_in, n_out in zip(sizes[:-1], sizes[1:])
        )
        self.head = nn.Linear(width, num_classes, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(start_dim=1)
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return h

    def prunable_layers(self) -> list[nn.Module]:
        return list(self.hidden)


def build_model(spec: dict[str, Any], input_shape: tuple[int, ...], num_classes: int) -> SpuriousModel:
    """Instantiate the model described by a ``models:`` entry of the config."""
    arch = spec["arch"]
    if arch == "fcn":
        return FCN(math.prod(input_shape), num_classes, width=spec["width"], depth=spec["depth"])
    raise ValueError(f"unknown model arch {arch!r} (config key models.*.arch); known: ['fcn']")
