"""Training cells from dataset file to run folders (the ``train_group`` rule's work; the
``link_run`` rule then links each cell's files into its run folder).

:func:`train_group` trains the cells of one training group (every LR × seed of an
experiment) in one process, stacked where the recipe allows; :func:`train_cell` trains one
cell alone.

A run folder holds ``model.pt`` (final weights), ``history.csv`` (one row per evaluation,
see :mod:`largelr.training.single`), ``snapshots.pt`` (weights through training for the dynamics
figures 3 right / 13 / 28 bottom: ``{"iterations": [...], "states": [...]}``, ascending;
empty lists when ``training.snapshot_interval`` is 0) and ``run.json``: the cell, the
resolved settings, the status (``converged`` / ``max_iters`` / ``stalled`` / ``diverged``),
iterations, wall time, device, the engine that trained it (``single``, with the ``reason`` a group
of several did not stack, or ``stacked`` with its group size) and package versions. ``run.json``
is written last, so its presence means the run is complete; while a run is in progress
``checkpoint.pt`` lets a killed job resume where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from largelr.datasets import SpuriousDataset, load_dataset
from largelr.io import _finite_or_none, atomic_path, atomic_write_json, atomic_write_text, read_json
from largelr.progress_file import ProgressLog
from largelr.training.device_data import check_fits, device_inputs
from largelr.training.models import SpuriousModel, build_model, input_stem
from largelr.training.optim import schedule_length
from largelr.training.stacked import (
    PER_MODEL_SETTINGS,
    StackedOutcome,
    train_stacked,
    why_not_faster_stacked,
    why_not_stackable,
)
from largelr.training.protocol import DIVERGED, TensorSplit, TrainResult, TrainSettings
from largelr.training.single import train

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"
SNAPSHOTS_NAME = "snapshots.pt"


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU (config key ``device``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def to_tensor_split(dataset: SpuriousDataset, split: str, device: torch.device,
                    encoding: str = "float32") -> TensorSplit:
    """A split on ``device``: inputs as float32 (``encoding`` float32: analyses, and training before
    issue 25) or uint8 images decoded per batch to the same floats (uint8: training;
    :mod:`largelr.training.device_data`)."""
    data = dataset.split(split)
    return TensorSplit(
        x=device_inputs(data.x, device, encoding),
        y=torch.from_numpy(data.y).long().to(device),
        b=torch.from_numpy(data.b).long().to(device),
    )


def init_model(dataset: SpuriousDataset, model_spec: dict[str, Any], seed: int) -> SpuriousModel:
    """The model of a cell, initialised deterministically from the cell's seed."""
    torch.manual_seed(seed)
    return build_model(model_spec, dataset.input_shape, dataset.num_classes)


def train_cell(
    dataset_path: str | Path,
    run_dir: str | Path,
    cell: dict[str, Any],
    model_spec: dict[str, Any],
    settings: TrainSettings,
    device: str = "auto",
    data_encoding: str = "uint8",
) -> dict[str, Any]:
    """Train one (dataset, model, recipe, lr, seed) cell and write its run folder (``data_encoding``
    as in :func:`train_group`)."""
    torch_device = _start(device)
    dataset = load_dataset(dataset_path)
    return _train_one(dataset, Path(run_dir), cell, model_spec, settings, torch_device, encoding=data_encoding)


def train_group(
    dataset_path: str | Path,
    run_dirs: Sequence[str | Path],
    cells: Sequence[dict[str, Any]],
    model_spec: dict[str, Any],
    settings: Sequence[TrainSettings],
    device: str = "auto",
    engine: str = "stacked",
    checkpoint_dir: str | Path | None = None,
    matmul_precision: str = "highest",
    progress: str | Path | None = None,
    data_encoding: str = "uint8",
) -> list[dict[str, Any]]:
    """Train the cells of one training group (every LR × seed of an experiment) in one process.

    The dataset is loaded once. With ``engine`` ``stacked``, cells differing only in LR / seed / snapshot interval
    train as one stacked model where the recipe allows it and it is faster on the device (``why_not_stackable``,
    ``why_not_faster_stacked``), resuming from ``checkpoint_dir``; others train one after another, each resuming from
    its run folder. ``progress``: the job's :mod:`~largelr.progress_file`; ``data_encoding``: :mod:`.device_data`;
    ``matmul_precision``: ``torch.set_float32_matmul_precision`` (``training.matmul_precision``).
    """
    torch_device = _start(device, matmul_precision)
    dataset = load_dataset(dataset_path)
    progress_log = ProgressLog.optional(progress, [cell_name(d, progress) for d in run_dirs] if progress else [])
    records: dict[int, dict[str, Any]] = {}
    for number, members in enumerate(_stacks(settings)):
        models = [init_model(dataset, model_spec, settings[i].seed) for i in members]
        member_settings = [settings[i] for i in members]
        reason = (why_not_stackable(models[0], member_settings) or why_not_faster_stacked(models[0], torch_device)
                  if engine == "stacked" else f"training.engine is {engine!r}")
        if reason is not None or len(members) == 1:
            log.info("training %d cells one after another: %s", len(members), reason or "a group of one")
            single = {"kind": "single", **({"reason": reason} if len(members) > 1 else {})}  # run.json's engine
            for i in members:
                records[i] = _train_one(dataset, Path(run_dirs[i]), cells[i], model_spec, settings[i], torch_device,
                                        single, progress_log.for_models([i]), data_encoding)
            continue
        done = [finished_record(Path(run_dirs[i]), cells[i], model_spec, settings[i], torch_device) for i in members]
        if all(record is not None for record in done):  # a rerun after every model of the stack stopped
            log.info("stack of %d cells: every run folder complete, not trained again", len(members))
            records.update(zip(members, done))
            continue
        checkpoint = Path(checkpoint_dir) / f"checkpoint-{number}.pt" if checkpoint_dir is not None else None
        log.info("training %d cells stacked on %s (%d train samples)", len(members), torch_device, len(dataset.train))
        check_fits(dataset, models[0], len(members), torch_device, cells[members[0]], data_encoding)

        def write(row: int, outcome: StackedOutcome, members: list[int] = members) -> None:
            i = members[row]
            records[i] = _write_run(Path(run_dirs[i]), cells[i], model_spec, settings[i], outcome.result,
                                    outcome.state, torch_device, engine={"kind": "stacked", "group_size": len(members)})

        outcomes = train_stacked(models, to_tensor_split(dataset, "train", torch_device, data_encoding),
                                 to_tensor_split(dataset, "test", torch_device, data_encoding), member_settings,
                                 checkpoint_path=checkpoint, on_stop=write, progress=progress_log.for_models(members))
        for row, outcome in enumerate(outcomes):  # cells that had stopped before a resumed checkpoint
            if members[row] not in records:
                write(row, outcome)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    return [records[i] for i in range(len(cells))]


def cell_name(run_dir: str | Path, progress: str | Path) -> str:
    """A cell's name in a progress file: its run folder below the file's folder (``lr~LR/seed~S``)."""
    run_dir, folder = Path(run_dir).resolve(), Path(progress).resolve().parent
    return run_dir.relative_to(folder).as_posix() if run_dir.is_relative_to(folder) else str(run_dir)


def _stacks(settings: Sequence[TrainSettings]) -> list[list[int]]:
    """Indices of cells that may share a stack: equal settings but for the per-model ones."""
    stacks: dict[str, list[int]] = {}
    for i, s in enumerate(settings):
        shared = {k: v for k, v in asdict(s).items() if k not in PER_MODEL_SETTINGS}
        stacks.setdefault(json.dumps(shared, sort_keys=True, default=str), []).append(i)
    return list(stacks.values())


def _start(device: str, matmul_precision: str = "highest") -> torch.device:
    """Deterministic kernels (cuBLAS needs its workspace setting before CUDA starts) and the
    float32 matmul precision (``highest`` = full fp32; ``high`` allows TF32 on CUDA)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_float32_matmul_precision(matmul_precision)
    return resolve_device(device)


def finished_record(run_dir: Path, cell: dict[str, Any], model_spec: dict[str, Any], settings: TrainSettings,
                    torch_device: torch.device) -> dict[str, Any] | None:
    """The ``run.json`` of a complete run folder (written last, module docstring) whose cell, model,
    settings, device and matmul precision are this job's, else None: a rerun of a killed group
    skips the cells it had finished instead of training them again."""
    path = run_dir / "run.json"
    if not path.exists():
        return None
    record = read_json(path)
    expected = json.loads(json.dumps(_finite_or_none({"cell": cell, "model": model_spec, "settings": asdict(settings),
                                      "device": str(torch_device),
                                      "matmul_precision": torch.get_float32_matmul_precision()})))
    if any(record.get(key) != value for key, value in expected.items()):
        log.info("%s: run.json was written for other settings; training again", run_dir)
        return None
    return record


def _train_one(dataset: SpuriousDataset, run_dir: Path, cell: dict[str, Any], model_spec: dict[str, Any],
               settings: TrainSettings, torch_device: torch.device,
               engine: dict[str, Any] | None = None, progress: ProgressLog | None = None,
               encoding: str = "uint8") -> dict[str, Any]:
    """Train one cell into ``run_dir``, or return its record when the folder is already complete."""
    record = finished_record(run_dir, cell, model_spec, settings, torch_device)
    if record is not None:
        log.info("%s: complete in %s (%s), not trained again", cell, run_dir, record["status"])
        (run_dir / CHECKPOINT_NAME).unlink(missing_ok=True)  # left when killed after run.json
        return record
    run_dir.mkdir(parents=True, exist_ok=True)
    model = init_model(dataset, model_spec, settings.seed).to(torch_device)
    log.info("training %s on %s (%d train samples)", cell, torch_device, len(dataset.train))
    check_fits(dataset, model, 1, torch_device, cell, encoding)
    result = train(
        model,
        to_tensor_split(dataset, "train", torch_device, encoding),
        to_tensor_split(dataset, "test", torch_device, encoding),
        settings,
        checkpoint_path=run_dir / CHECKPOINT_NAME,
        progress=progress,
    )
    record = _write_run(run_dir, cell, model_spec, settings, result, model.state_dict(), torch_device,
                        engine=engine or {"kind": "single"})
    (run_dir / CHECKPOINT_NAME).unlink(missing_ok=True)
    return record


def _write_run(run_dir: Path, cell: dict[str, Any], model_spec: dict[str, Any], settings: TrainSettings,
               result: TrainResult, state: dict[str, torch.Tensor], torch_device: torch.device,
               engine: dict[str, Any]) -> dict[str, Any]:
    """Write a run folder (module docstring); ``run.json`` last."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / "model.pt") as tmp:
        torch.save(state, tmp)
    atomic_write_text(run_dir / "history.csv", _history_csv(result.history))
    save_snapshots(run_dir / SNAPSHOTS_NAME, result.snapshots)
    record = {
        "cell": cell,
        "model": model_spec,
        "stem": input_stem(model_spec),
        "settings": asdict(settings),
        "schedule_length": schedule_length(settings.schedule, settings.max_iters),
        "status": result.status,
        "iterations": result.iterations,
        "selected_iteration": result.selected_iteration,
        "wall_time_s": result.wall_time_s,
        "device": str(torch_device),
        "matmul_precision": torch.get_float32_matmul_precision(),
        "engine": engine,
        "final_train_acc": next((r["train_acc"] for r in reversed(result.history) if r["train_acc"] is not None),
                                float("nan")),  # the last full-split row (a diverged run's last row may have none)
        "max_bc_loss_ratio": max((r["bc_loss_ratio_max"] for r in result.history), default=float("nan")),
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    atomic_write_json(run_dir / "run.json", record)
    log.info("%s: %s after %d iterations in %.1f s", cell, result.status, result.iterations, result.wall_time_s)
    return record


def load_trained_model(run_dir: str | Path, dataset: SpuriousDataset, device: torch.device) -> SpuriousModel:
    """Rebuild a run's model from ``run.json`` and load ``model.pt``."""
    run_dir = Path(run_dir)
    record = read_json(run_dir / "run.json")
    model = build_model(record["model"], dataset.input_shape, dataset.num_classes)
    model.load_state_dict(torch.load(run_dir / "model.pt", map_location=device, weights_only=True))
    return model.to(device).eval()


class TrainedRun:
    """A finished run folder opened for an analysis: :func:`open_trained_run`.

    ``record`` (``run.json``) is read at once; ``device``, ``dataset``, ``model`` (``model.pt``
    on the device, in eval mode) and ``test`` (the test split on the device) are loaded on first
    use, in that order of dependence, so an analysis of a diverged run loads nothing.
    """

    def __init__(self, dataset_path: str | Path, run_dir: str | Path, device: str = "auto",
                 dataset: SpuriousDataset | None = None) -> None:
        self.dataset_path, self.run_dir, self.device_name = dataset_path, Path(run_dir), device
        self.record: dict[str, Any] = read_json(self.run_dir / "run.json")
        self._loaded_dataset = dataset

    @property
    def status(self) -> str:
        return self.record["status"]

    @property
    def diverged(self) -> bool:
        """A diverged run has no weights worth analysing: analyses write empty results for it."""
        return self.status == DIVERGED

    @cached_property
    def device(self) -> torch.device:
        return resolve_device(self.device_name)

    @cached_property
    def dataset(self) -> SpuriousDataset:
        return self._loaded_dataset if self._loaded_dataset is not None else load_dataset(self.dataset_path)

    @cached_property
    def model(self) -> SpuriousModel:
        return load_trained_model(self.run_dir, self.dataset, self.device)

    @cached_property
    def test(self) -> TensorSplit:
        return self.split("test")

    def split(self, name: str) -> TensorSplit:
        return to_tensor_split(self.dataset, name, self.device)


def open_trained_run(dataset_path: str | Path, run_dir: str | Path, device: str = "auto",
                     dataset: SpuriousDataset | None = None) -> TrainedRun:
    """The prologue of every per-run analysis: read ``run.json``; unless the run diverged, the
    model, the dataset (``dataset`` if given: the file at ``dataset_path`` already loaded, as by a
    job analysing several runs) and its test split on ``device`` (``auto`` → CUDA when available)."""
    return TrainedRun(dataset_path, run_dir, device, dataset)


def save_snapshots(path: str | Path, snapshots: dict[int, dict[str, torch.Tensor]]) -> None:
    """Write ``{"iterations": [...], "states": [...]}`` (ascending iterations) atomically."""
    iterations = sorted(snapshots)
    with atomic_path(path) as tmp:
        torch.save({"iterations": iterations, "states": [snapshots[i] for i in iterations]}, tmp)


def load_snapshots(run_dir: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    """A run's snapshots as iteration → CPU ``state_dict`` (empty when snapshots were off)."""
    data = torch.load(Path(run_dir) / SNAPSHOTS_NAME, map_location="cpu", weights_only=True)
    return {int(i): state for i, state in zip(data["iterations"], data["states"], strict=True)}


HISTORY_COLUMNS = [
    "iteration", "lr", "train_loss", "ba_loss", "bc_loss", "bc_loss_ratio_max",
    "train_ce", "train_acc", "val_acc", "test_acc", "param_norm", "logit_norm",
]


def _history_csv(history: list[dict[str, float]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()
