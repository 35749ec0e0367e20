"""Shared fixtures: the repository root and the real data folder of shared/ (when present).

Plain helper functions (tiny runs, Snakemake in a subprocess) live in ``helpers.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import REPO, torch_threads

SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m deselection
def pytest_collection_modifyitems(items):
    """Every `slow` or `cluster` test is a real Snakemake run too: ``-m "not workflow"`` leaves it out.

    (A ``-m`` on the command line replaces the one of pyproject's ``addopts``, so without this the
    quick loop ``pytest -m "not workflow"`` would pick up the 70-minute demo run and the SLURM test.)
    """
    for item in items:
        if item.get_closest_marker("slow") or item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.workflow)


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
    with torch_threads(1):
        yield
