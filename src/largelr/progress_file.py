"""Training progress as data (issue 28): one JSON line per model at each log row of §4.2's protocol.

A training job (rule ``train_group``) appends to ``<manifest stem>.progress.jsonl`` next to its
manifest in the group's training folder (``training/<group>/group.progress.jsonl``, a part's
``group.part-K.progress.jsonl``: the workflow's template ``largelr.workflow.paths.TRAINING_PROGRESS``,
which the rule passes; :func:`progress_path` names the same file from a manifest), one line per model
(single engine) or per stack row (stacked engine) at every log row, flushed as it is written. A line holds:

``iteration``, ``cell`` (the cell's folder below the training folder, ``lr~LR/seed~S``),
``train_loss`` (mean minibatch loss of the interval), ``train_acc`` (full-split accuracy; null on
rows that did not evaluate it, ``training.train_eval_interval``), ``test_acc`` (unbiased test
subset), ``bc_loss_ratio`` (the interval's maximum BC-loss ratio, §6), ``lr`` (current learning
rate), ``status`` (``training``, or the status the model stopped with at this row: ``converged``,
``stalled``, ``max_iters``; a ``diverged`` line is written at the iteration of the step whose
loss diverged, with no evaluation values), ``wall_time_s`` (training time of the cell so far) and
``time`` (Unix time of the line). Non-finite numbers are written as null (strict JSON).

The file is append-only and safe against a kill: :func:`read_progress` ignores a torn (partial)
last line. A resumed job continues it from each cell's checkpoint iteration without duplicate
lines: :meth:`ProgressLog.resume` drops the lines of the resumed cells after that iteration (and
any torn line) by rewriting the file atomically before the first new line is appended.
``history.csv`` (written when a cell stops) is not affected.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

PROGRESS_SUFFIX = ".progress.jsonl"
TRAINING = "training"
DIVERGED = "diverged"
FIELDS = ("iteration", "cell", "train_loss", "train_acc", "test_acc", "bc_loss_ratio", "lr", "status",
          "wall_time_s", "time")


def progress_path(manifest: str | Path) -> Path:
    """The progress file of the training job whose manifest is ``manifest`` (``group.json`` →
    ``group.progress.jsonl``, ``group.part-2.json`` → ``group.part-2.progress.jsonl``)."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.name.removesuffix(".json") + PROGRESS_SUFFIX)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _parse(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) and "iteration" in row and "cell" in row else None


def read_progress(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a progress file, in order; a torn or unreadable line is skipped, a missing
    file is empty."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # the last line was being written (or torn by a kill)
    return [row for row in map(_parse, lines) if row is not None]


def progress_row(cell: str, history_row: Mapping[str, Any] | None, status: str, wall_time_s: float,
                 iteration: int | None = None) -> dict[str, Any]:
    """A progress line from a log row of ``history.csv`` (:mod:`largelr.training.single`), or a
    ``diverged`` line (``history_row`` None, ``iteration`` given)."""
    row = history_row or {}
    return {
        "iteration": int(row.get("iteration", iteration if iteration is not None else 0)),
        "cell": cell,
        "train_loss": _finite(row.get("train_loss")),
        "train_acc": _finite(row.get("train_acc")),
        "test_acc": _finite(row.get("test_acc")),
        "bc_loss_ratio": _finite(row.get("bc_loss_ratio_max")),
        "lr": _finite(row.get("lr")),
        "status": status,
        "wall_time_s": round(float(wall_time_s), 3),
        "time": round(time.time(), 3),
    }


class ProgressLog:
    """The progress file of one training job, with the cell name of each model it trains."""

    def __init__(self, path: str | Path, cells: Sequence[str]) -> None:
        self.path, self.cells = Path(path), list(cells)

    @classmethod
    def optional(cls, path: str | Path | None, cells: Sequence[str]) -> ProgressLog:
        """The log of ``path``, or one that writes nothing (``path`` None: no progress file)."""
        return cls(path, cells) if path is not None else _NoProgress(Path(os.devnull), cells)

    def for_models(self, indices: Sequence[int]) -> ProgressLog | None:
        """The same file for a subset of the models (a stack, or one cell trained alone)."""
        return type(self)(self.path, [self.cells[i] for i in indices])

    def resume(self, iterations: Sequence[int]) -> None:
        """Model ``m`` continues from ``iterations[m]`` (0 for a fresh start): drop its lines after
        that iteration, and torn lines, so that what follows is appended once."""
        after = dict(zip(self.cells, iterations, strict=True))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        rows = read_progress(self.path)
        kept = [row for row in rows if row["cell"] not in after or row["iteration"] <= after[row["cell"]]]
        if len(kept) == len(rows) and (not self.path.exists() or self.path.read_bytes().endswith(b"\n")
                                       or self.path.stat().st_size == 0):
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text("".join(_line(row) for row in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append lines and flush them to the file."""
        text = "".join(map(_line, rows))
        if text:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()

    def log_rows(self, entries: Iterable[tuple[int, Mapping[str, Any], str]], wall_time_s: float) -> None:
        """One line per (model index, history row, status)."""
        self.write(progress_row(self.cells[m], row, status, wall_time_s) for m, row, status in entries)

    def diverged(self, model: int, iteration: int, wall_time_s: float) -> None:
        self.write([progress_row(self.cells[model], None, DIVERGED, wall_time_s, iteration)])


class _NoProgress(ProgressLog):
    """No progress file: the engines get None."""

    def for_models(self, indices: Sequence[int]) -> None:
        return None


def _line(row: Mapping[str, Any]) -> str:
    return json.dumps({key: _finite(row.get(key)) for key in FIELDS}, allow_nan=False) + "\n"


def latest_by_cell(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The newest line of each cell."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        latest[row["cell"]] = row
    return latest
