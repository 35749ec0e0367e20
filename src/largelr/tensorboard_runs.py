"""Every cell of a preset as a TensorBoard run (issue 28; ``largelr tensorboard --preset P``).

:func:`write_tensorboard` writes ``results/{preset}/tensorboard/<cell path>/`` (one run per cell,
named by its cell path ``dataset~D/model~M/recipe~O/lr~LR/intervention~H/seed~S``), from the
results folder alone, so it works mid-sweep on the runs so far:

* scalars against iteration (§4.2's log rows): ``train/loss`` (mean minibatch loss of the interval),
  ``train/acc`` (full-split training accuracy, on the rows that evaluated it), ``test/unbiased_acc``
  (unbiased test accuracy), ``train/bc_loss_ratio`` (maximum BC-loss ratio of the interval, §6) and
  ``train/lr``: from the cell's ``history.csv`` once it stopped, else from its training job's
  progress file (:mod:`largelr.progress_file`);
* hyper-parameters (dataset, model, recipe, intervention, LR, seed, and the status) with the final
  metrics of ``metrics.json`` (:data:`largelr.metric_registry.METRIC_NAMES`, as ``metrics/<name>``)
  as the hparams metrics, so TensorBoard's HParams view compares the sweep at a glance.

It is idempotent: a run whose sources (history or progress file, ``run.json``, ``metrics.json``)
have not changed since it was written is left as it is; a changed one is written again from
scratch. ``tensorboard`` is an optional dependency (``pip install -e '.[tensorboard]'``).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from largelr.monitor import Cell, preset_cells, run_json
from largelr.workflow import paths
from largelr.workflow.paths import fields_of

INSTALL_HINT = ("largelr tensorboard needs the tensorboard package: pip install -e '.[tensorboard]' "
                "(or pip install tensorboard)")
# scalar tag -> (history.csv column, progress file field)
SCALARS = {
    "train/loss": ("train_loss", "train_loss"),
    "train/acc": ("train_acc", "train_acc"),
    "test/unbiased_acc": ("test_acc", "test_acc"),
    "train/bc_loss_ratio": ("bc_loss_ratio_max", "bc_loss_ratio"),
    "train/lr": ("lr", "lr"),
}
HPARAMS = ("dataset", "model", "recipe", "intervention", "lr", "seed")
SOURCES_FILE = "sources.json"


def tensorboard_missing() -> str | None:
    """None when ``torch.utils.tensorboard`` can write event files, else how to install it."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


@dataclass
class Written:
    runs: int  # cells with a run (some data so far, or stopped)
    rewritten: int  # runs written by this call (the others were up to date)
    cells: int  # cells of the preset


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def cell_curves(results: Path, cell: Cell) -> tuple[list[dict[str, Any]], list[Path]]:
    """The cell's log rows as ``{tag: value, "iteration": i}`` and the files they come from:
    ``history.csv`` of a stopped cell, else its lines in the group's progress files."""
    from largelr.progress_file import read_progress

    finished = run_json(results, cell)
    if finished is not None and (finished.parent / "history.csv").exists():
        history = finished.parent / "history.csv"
        with open(history, newline="", encoding="utf-8") as handle:
            rows = [_values(row, 0) for row in csv.DictReader(handle)]
        return rows, [history, finished]
    pattern = Path(paths.in_results(paths.TRAINING_PROGRESS, **fields_of(cell.group), part="*"))
    files = sorted((results / pattern.parent).glob(pattern.name))  # the whole group's and each part's
    rows = [_values(row, 1) for path in files for row in read_progress(path) if row["cell"] == cell.member]
    return rows, files if rows else []


def _values(row: dict[str, Any], source: int) -> dict[str, Any]:
    values = {tag: _number(row.get(columns[source])) for tag, columns in SCALARS.items()}
    return {"iteration": int(float(row["iteration"])), **values}


def _metrics(results: Path, cell: Cell) -> tuple[dict[str, float], str | None, list[Path]]:
    """metrics.json's registry metrics (finite ones) and the status, with the files read."""
    from largelr.metric_registry import METRIC_NAMES

    path = results / "analysis" / cell.pattern / "metrics.json"
    if not path.exists():
        return {}, None, []
    metrics = json.loads(path.read_text(encoding="utf-8"))
    values = {f"metrics/{name}": _number(metrics.get(name)) for name in METRIC_NAMES}
    return {k: v for k, v in values.items() if v is not None}, metrics.get("status"), [path]


def _signature(paths: Iterable[Path]) -> list[list[Any]]:
    return [[str(p), p.stat().st_mtime_ns, p.stat().st_size] for p in paths]


def write_cell(folder: Path, cell: Cell, rows: list[dict[str, Any]], metrics: dict[str, float],
               status: str | None) -> None:
    """One cell's run (module docstring), written from scratch into ``folder``."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    shutil.rmtree(folder, ignore_errors=True)
    hparam_values = {key: cell.record[key] for key in HPARAMS}
    hparam_values["status"] = status or "training"  # no run.json yet
    with SummaryWriter(log_dir=str(folder)) as writer:
        for row in rows:
            for tag in SCALARS:
                if row[tag] is not None:
                    writer.add_scalar(tag, row[tag], global_step=row["iteration"])
        for summary in hparams({k: v if isinstance(v, (int, float, str, bool)) else str(v)
                                for k, v in hparam_values.items()}, metrics):
            writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            writer.add_scalar(tag, value)


def write_tensorboard(results: str | Path, preset: dict[str, Any]) -> Written:
    """Write (or bring up to date) ``results/tensorboard/<cell path>/`` for every cell of ``preset``
    that has data (``results``: the preset's folder, results/{preset})."""
    results = Path(results)
    cells = preset_cells(preset)
    runs = rewritten = 0
    for cell in cells:
        rows, sources = cell_curves(results, cell)
        if not sources:  # not started (a run that diverged before its first log row has hparams only)
            continue
        runs += 1
        metrics, status, metric_files = _metrics(results, cell)
        if (finished := run_json(results, cell)) is not None:
            status = json.loads(finished.read_text(encoding="utf-8")).get("status")
        folder = results / "tensorboard" / cell.pattern
        signature = _signature([*sources, *metric_files])
        marker = folder / SOURCES_FILE
        if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) == signature:
            continue
        write_cell(folder, cell, rows, metrics, status)
        marker.write_text(json.dumps(signature), encoding="utf-8")
        rewritten += 1
    return Written(runs, rewritten, len(cells))
