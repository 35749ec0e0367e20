"""Shared fixtures: the repository root and the real data folder of shared/ (when present)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
