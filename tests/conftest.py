"""Shared fixtures: the repository root and the real data folder of shared/ (when present)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MNIST").exists():
        pytest.skip(f"real MNIST/CIFAR files not found under {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def shipped_config() -> dict:
    """The repository's config.yaml, freshly parsed (tests may fill or change it)."""
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.fixture
def one_torch_thread():
    """One intra-op thread for tiny models: avoids OpenMP contention on busy 2-core CPUs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
