"""Helpers shared by the tests: tiny runs written as the workflow writes them, Snakemake in a subprocess.

Importable from every test folder as ``from helpers import ...`` (``pythonpath = ["tests"]`` in
pyproject.toml's pytest section). Fixtures stay in ``conftest.py``; these are plain functions
because their callers choose the folder, the cell and the settings.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from largelr.datasets import SpuriousDataset, save_dataset
from largelr.datasets.synthetic import generate_parity
from largelr.io import atomic_write_json
from largelr.metric_registry import TABLE1_METRICS
from largelr.training.protocol import TrainSettings
from largelr.training.runs import init_model, train_cell

REPO = Path(__file__).resolve().parents[1]


def workflow_preset(name: str) -> dict[str, Any]:
    """Preset ``name`` of the shipped config.yaml as the workflow resolves it (common.smk:
    resolve_config, schema defaults filled in)."""
    import yaml

    from largelr.config import resolve_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return resolve_config(config, REPO / "workflow" / "schemas")[name]

#: an 8-bit parity problem (3 core, 1 spurious, 4 noise bits) small enough to train in a second
TINY_PARITY = {"seed": 0, "n_train": 300, "n_test": 200, "core_bits": 3, "spurious_bits": 1, "noise_bits": 4}
TINY_FCN = {"arch": "fcn", "width": 16, "depth": 2}
TINY_CELL = {"dataset": "parity", "model": "fcn", "recipe": "sgd", "lr": 0.1, "intervention": "none", "seed": 0}


def tiny_parity(root: Path) -> SpuriousDataset:
    """The tiny parity dataset, saved as ``root/parity.npz`` (the dataset rule's output)."""
    dataset = generate_parity(**TINY_PARITY)
    save_dataset(dataset, root / "parity.npz")
    return dataset


def write_untrained_run(run_dir: Path, dataset: SpuriousDataset, cell: dict[str, Any] = TINY_CELL,
              spec: dict[str, Any] = TINY_FCN, **facts: Any) -> None:
    """A converged-looking run folder without training: the initial model as ``model.pt``, and ``run.json``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save(init_model(dataset, spec, seed=cell["seed"]).state_dict(), run_dir / "model.pt")
    atomic_write_json(run_dir / "run.json", {"cell": cell, "status": "converged", "model": spec, **facts})


def write_diverged_run(run_dir: Path, cell: dict[str, Any] = TINY_CELL, spec: dict[str, Any] = TINY_FCN,
                 lr: float = 10.0, **facts: Any) -> None:
    """A diverged run folder: only ``run.json`` (a diverged run keeps no model)."""
    atomic_write_json(run_dir / "run.json",
                      {"cell": {**cell, "lr": lr}, "status": "diverged", "model": spec, **facts})


def train_tiny_run(root: Path, run_dir: Path, cell: dict[str, Any], settings: TrainSettings,
                spec: dict[str, Any] = TINY_FCN) -> dict[str, Any]:
    """Train one cell on ``root/parity.npz`` (see :func:`tiny_parity`) into ``run_dir``, on the CPU."""
    return train_cell(root / "parity.npz", run_dir, cell, spec, settings, device="cpu")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """``n`` intra-op threads inside the block (tiny models on a busy 2-core CPU: 1 avoids contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_snakemake(workdir: Path, *args: str, timeout: float = 1200, cwd: Path | None = None
                  ) -> subprocess.CompletedProcess:
    """``snakemake -s <repo>/Snakefile --directory <workdir> *args`` in a subprocess, output captured."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def assert_figure(pdf: Path, png: Path, min_bytes: int = 1000) -> None:
    """Both files are real (non-trivial) PDF and PNG images."""
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > min_bytes
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > min_bytes


def cell_rows(lr: float, intervention: str, accuracies: list[float], status: str = "converged", dataset: str = "colored_mnist",
              model: str = "cnn", **columns: Any) -> list[dict[str, Any]]:
    """Summary rows of one grid cell, one per seed; every Table 1 metric equals that seed's accuracy."""
    return [{"dataset": dataset, "model": model, "recipe": "sgd", "lr": lr, "intervention": intervention, "seed": seed,
             "status": status, **columns, **{metric: acc for metric in TABLE1_METRICS}}
            for seed, acc in enumerate(accuracies)]
