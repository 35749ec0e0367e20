"""Watching a sweep from its results folder alone (issue 19; the ``largelr`` console script).

:func:`survey` reads ``results/{preset}/`` as the workflow lays it out (README, "What the
pipeline builds"; the templates of :mod:`largelr.workflow.paths`) and never runs or touches the DAG, so
it works while Snakemake runs, on a cluster's shared file system, or with nothing running:

* a cell is **done** when its ``run.json`` exists: ``runs/<cell>/run.json`` (linked) or
  ``training/<group>/lr~LR/seed~S/run.json`` (written by the group job when the cell stopped;
  ``run.json`` is written last, so its presence means the run is complete);
* a training job has **started** when its log ``logs/train/<group>.log`` (a part of a split
  group: ``<group>.part-K.log``) exists (the job opens it first) and is **running** until its
  manifest ``training/<group>/group.json`` (``group.part-K.json``) exists (:func:`job_logs`); a
  log holding a Python traceback is a failed job;
* a running job's cells are **training**: every cell of the group not yet done when the job
  trains them stacked, the one named by its last ``training {cell} on ...`` line when it trains
  them one after another; every other cell that is not done is **pending**.

The list of all cells cannot be read from the results folder (a group that has not started has
no files), so the preset's grid comes from ``config.yaml`` through :mod:`largelr.config` (the
same resolution as the workflow's; top-level override blocks of the file apply, a
``snakemake --config ...`` given on the command line does not). Its ``training.max_iters`` is the
cap that the time left is counted to.

Progress comes from the training log's per-evaluation lines (``largelr.training.stacked``:
``iter N  K models training, train acc LOW-HIGH`` or ``(not evaluated at this row)``;
``largelr.training.single``: ``iter N  loss ... train acc ACC|-  test acc ...``) and their
timestamps: iterations per second over the last :data:`RATE_WINDOW` evaluations.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

import yaml

from largelr.columns import GRID_COLUMNS
from largelr.engine_facts import RunStatus
from largelr.workflow import paths
from largelr.workflow.paths import fields_of

STATUSES = tuple(RunStatus)
STATUS_LABELS = {**{status: status.value for status in RunStatus}, RunStatus.MAX_ITERS: "capped (max_iters)"}
GROUP_KEYS = ("dataset", "model", "recipe", "intervention")
RATE_WINDOW = 20  # evaluations the iteration rate is measured over
STALE_AFTER_S = 900  # a running job's log silent this long is flagged (the job may have been killed)

_TIME = r"(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ \w+ "
_ITER = re.compile(_TIME + r"iter\s+(?P<iteration>\d+)\s+(?P<rest>.*)$")
_STACKED_ROW = re.compile(r"(?P<models>\d+) models training, train acc (?:(?P<low>[\d.]+|nan)-(?P<high>[\d.]+|nan))?")
_SINGLE_ROW = re.compile(r"train acc (?P<acc>[\d.]+|nan|-)\s")
_START_STACKED = re.compile(_TIME + r"training \d+ cells stacked on ")
_START_SEQUENTIAL = re.compile(_TIME + r"training \d+ cells one after another")
_START_CELL = re.compile(_TIME + r"training (?P<cell>\{.*\}) on ")
_TRACEBACK = "Traceback (most recent call last)"


# ---- the preset's cells ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One grid cell: its row, its run folder pattern, its training group and its place in it."""

    row: tuple  # values of GRID_COLUMNS
    pattern: str  # dataset~D/model~M/recipe~O/lr~LR/intervention~H/seed~S (runs/, analysis/)
    group: str  # dataset~D/model~M/recipe~O/intervention~H (training/, logs/train/)
    member: str  # lr~LR/seed~S below the group's training folder
    max_iters: int

    @property
    def record(self) -> dict[str, Any]:
        return dict(zip(GRID_COLUMNS, self.row))


def load_preset(config_paths: str | Path | Sequence[str | Path], name: str | None = None) -> tuple[str, dict[str, Any]]:
    """Preset ``name`` (default: the files' ``preset``) of the config files, merged in order as
    Snakemake merges ``config.yaml`` and each ``--configfile``, resolved as the workflow does
    (schemas in ``workflow/schemas`` next to the first file)."""
    from largelr.config import deep_merge, resolve_config

    paths = [Path(config_paths)] if isinstance(config_paths, (str, Path)) else [Path(p) for p in config_paths]
    config: dict[str, Any] = {}
    for path in paths:
        config = deep_merge(config, yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    presets = resolve_config(config, paths[0].parent / "workflow" / "schemas")
    name = name or config["preset"]
    if name not in presets:
        raise SystemExit(f"unknown preset {name!r}; {', '.join(map(str, paths))} define {sorted(presets)}")
    return name, presets[name]


def preset_cells(preset: dict[str, Any]) -> list[Cell]:
    """Every cell of the preset's grid, with the folder names the workflow gives it (Paramspace)."""
    from snakemake.utils import Paramspace

    from largelr.config import cell_training, training_grid

    grid = training_grid(preset)
    cells = []
    for row, pattern in zip(grid.itertuples(index=False), Paramspace(grid).instance_patterns):
        parts = dict(part.split("~", 1) for part in pattern.split("/"))
        values = tuple(value.item() if hasattr(value, "item") else value for value in row)  # Python scalars
        record = dict(zip(GRID_COLUMNS, values))
        cells.append(Cell(
            row=values, pattern=pattern,
            group="/".join(f"{key}~{parts[key]}" for key in GROUP_KEYS),
            member=f"lr~{parts['lr']}/seed~{parts['seed']}",
            max_iters=int(cell_training(preset, record)["max_iters"]),
        ))
    return cells


def run_json(results: Path, cell: Cell) -> Path | None:
    """The cell's ``run.json`` (its run folder's, else its group job's), or None while not done."""
    fields = fields_of(cell.pattern)
    for folder in (paths.RUN_DIR, paths.GROUP_CELL_DIR):
        candidate = results / paths.in_results(folder, **fields) / "run.json"
        if candidate.exists():
            return candidate
    return None


def run_status(path: Path) -> str:
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["status"])
    except (OSError, ValueError, KeyError):
        return "unreadable"


# ---- a training job's log ----------------------------------------------------------------------------
@dataclass
class LogProgress:
    """What a training log says: how the job trains, its current cell, its latest evaluations."""

    mode: str | None = None  # "stacked" | "sequential" (None before the job said)
    cell: dict[str, Any] | None = None  # the cell trained alone now (sequential)
    points: list[tuple[float, int]] = field(default_factory=list)  # (time, iteration) of this segment
    models: int | None = None  # models of the stack at the last evaluation
    train_acc: tuple[float, float] | None = None  # range at the last evaluation that measured it
    acc_iteration: int | None = None
    failed: bool = False

    @property
    def iteration(self) -> int | None:
        return self.points[-1][1] if self.points else None

    def rate(self) -> float | None:
        """Iterations per second over the last :data:`RATE_WINDOW` evaluations."""
        if len(self.points) < 2:
            return None
        (t0, i0), (t1, i1) = self.points[-min(len(self.points), RATE_WINDOW + 1)], self.points[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 else None

    def restart(self) -> None:
        """A new stack, cell or replay: the iteration count starts again."""
        self.points, self.models, self.train_acc, self.acc_iteration = [], None, None, None


def _timestamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def parse_training_log(text: str) -> LogProgress:
    """The progress of a training job from its log (module docstring for the lines read)."""
    progress = LogProgress()
    for line in text.splitlines():
        if _TRACEBACK in line:
            progress.failed = True
        elif _START_STACKED.match(line) or _START_SEQUENTIAL.match(line):
            progress.mode = "stacked" if _START_STACKED.match(line) else "sequential"
            progress.cell = None
            progress.restart()
        elif match := _START_CELL.match(line):
            progress.cell = _literal(match["cell"])
            progress.restart()
        elif match := _ITER.match(line):
            _read_evaluation(progress, match)
    return progress


def _literal(text: str) -> dict[str, Any] | None:
    """The cell dict a ``training {cell} on ...`` line prints (None if it is not a plain literal)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, dict) else None


def _read_evaluation(progress: LogProgress, match: re.Match) -> None:
    iteration = int(match["iteration"])
    if progress.points and iteration <= progress.points[-1][1]:
        progress.restart()  # a replay from an earlier iteration (divergence watch)
    progress.points.append((_timestamp(match["time"]), iteration))
    if stacked := _STACKED_ROW.match(match["rest"]):
        progress.models = int(stacked["models"])
        if stacked["low"] is not None:
            progress.train_acc = (float(stacked["low"]), float(stacked["high"]))
            progress.acc_iteration = iteration
    elif (single := _SINGLE_ROW.search(match["rest"])) and single["acc"] != "-":
        progress.models = 1
        progress.train_acc = (float(single["acc"]),) * 2
        progress.acc_iteration = iteration
    else:
        progress.models = 1


def job_logs(results: Path, group: str) -> list[tuple[Path, Path]]:
    """(log, manifest) of every training job of a group that has started: the whole group's
    log and manifest (:data:`largelr.workflow.paths.TRAINING_LOG`, ``TRAINING_MANIFEST``; part "",
    ``logs/train/<group>.log`` and ``training/<group>/group.json``) and each part's (part ``.part-K``)."""
    fields = fields_of(group)

    def job(part: str) -> tuple[Path, Path]:
        return tuple(results / paths.in_results(template, **fields, part=part)  # type: ignore[return-value]
                     for template in (paths.TRAINING_LOG, paths.TRAINING_MANIFEST))

    whole_log, _ = job("")
    jobs = [job("")] if whole_log.exists() else []
    stem = whole_log.name[:-len(".log")]
    for log in sorted(whole_log.parent.glob(f"{stem}.part-*.log")):
        jobs.append(job(log.name[len(stem):-len(".log")]))
    return jobs


# ---- the survey ----------------------------------------------------------------------------------------
@dataclass
class JobState:
    """A running training job: its log, what the log says, and how long the log has been silent."""

    log: Path
    progress: LogProgress
    cells: list[Cell]  # the cells it trains now
    age_s: float

    @property
    def cap(self) -> int:
        return max(cell.max_iters for cell in self.cells) if self.cells else 0

    def seconds_to_cap(self) -> float | None:
        rate, iteration = self.progress.rate(), self.progress.iteration
        if not rate or iteration is None:
            return None
        return max(0, self.cap - iteration) / rate


@dataclass
class GroupState:
    """One training group: its cells, the status of the done ones, its running jobs."""

    group: str
    cells: list[Cell]
    done: dict[str, str] = field(default_factory=dict)  # cell pattern -> status
    jobs: list[JobState] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)  # logs of failed jobs

    @property
    def training(self) -> list[Cell]:
        cells = {cell.pattern: cell for job in self.jobs for cell in job.cells}  # once each
        return list(cells.values())

    @property
    def pending(self) -> list[Cell]:
        busy = {cell.pattern for cell in self.training}
        return [c for c in self.cells if c.pattern not in self.done and c.pattern not in busy]


@dataclass
class Survey:
    preset: str
    results: Path
    groups: list[GroupState]

    def count(self, what: str) -> int:
        if what == "done":
            return sum(len(g.done) for g in self.groups)
        return sum(len(getattr(g, what)) for g in self.groups)

    def status_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for group in self.groups:
            for status in group.done.values():
                counts[status] = counts.get(status, 0) + 1
        return counts


def survey(results: str | Path, preset_name: str, preset: dict[str, Any], now: float | None = None) -> Survey:
    """The state of every cell of ``preset`` in ``results`` (the preset's folder, results/{preset})."""
    results, now = Path(results), time.time() if now is None else now
    by_group: dict[str, list[Cell]] = {}
    for cell in preset_cells(preset):
        by_group.setdefault(cell.group, []).append(cell)
    return Survey(preset_name, results, [_group_state(results, group, cells, now) for group, cells in by_group.items()])


def _group_state(results: Path, group: str, cells: list[Cell], now: float) -> GroupState:
    state = GroupState(group, cells)
    for cell in cells:
        if (path := run_json(results, cell)) is not None:
            state.done[cell.pattern] = run_status(path)
    for log, manifest in job_logs(results, group):
        if manifest.exists():
            continue  # that job has finished
        progress = parse_training_log(log.read_text(encoding="utf-8", errors="replace"))
        if progress.failed:
            state.failed.append(log)
            continue
        left = [cell for cell in cells if cell.pattern not in state.done]
        if progress.mode == "sequential":
            left = [cell for cell in left if progress.cell is not None and cell.record == progress.cell]
        state.jobs.append(JobState(log, progress, left, max(0.0, now - log.stat().st_mtime)))
    return state


# ---- the report --------------------------------------------------------------------------------------
def format_status(state: Survey) -> str:
    """``largelr status``'s text; the last line is ``runs: N done, R training, P pending``."""
    done, training, pending = (state.count(what) for what in ("done", "training", "pending"))
    lines = [f"preset {state.preset} ({state.results}): {done + training + pending} cells in "
             f"{len(state.groups)} training groups",
             "done: " + ", ".join(f"{n} {STATUS_LABELS.get(s, s)}" for s, n in state.status_counts().items()),
             "cells by training group (done / training / not started):"]
    width = max((len(g.group) for g in state.groups), default=0)
    for group in state.groups:
        mark = "  failed: see " + ", ".join(map(str, group.failed)) if group.failed else ""
        lines.append(f"  {group.group:<{width}}  {len(group.done):3d} / {len(group.training):3d} / "
                     f"{len(group.pending):3d}{mark}")
    jobs = [(group, job) for group in state.groups for job in group.jobs]
    lines.append("training now:" if jobs else "training now: none")
    lines += [f"  {group.group} ({job.log.name}, {job.progress.mode or 'starting'}): {_job_line(job)}"
              for group, job in jobs]
    lines.append(f"runs: {done} done, {training} training, {pending} pending")
    return "\n".join(lines)


def _job_line(job: JobState) -> str:
    from largelr.progress import format_duration

    progress = job.progress
    count = len(job.cells)
    parts = [f"{count} model{'s' if count != 1 else ''} training" if progress.mode != "sequential"
             else f"1 model training ({_cell_name(job.cells[0]) if job.cells else 'finishing'})"]
    if progress.iteration is None:
        parts.append("no evaluation logged yet")
    else:
        parts.append(f"iteration {progress.iteration} of {job.cap} (cap)")
    if progress.train_acc is not None:
        low, high = progress.train_acc
        parts.append(f"train acc {low:.4f}-{high:.4f} (iteration {progress.acc_iteration})")
    elif progress.iteration is not None:
        parts.append("train acc not evaluated yet (training.train_eval_interval)")
    rate = progress.rate()
    parts.append(f"{rate:.1f} it/s" if rate else "it/s unknown")
    if (left := job.seconds_to_cap()) is not None:
        parts.append(f"{format_duration(left)} to the cap at that rate")
    silent = f"last log line {format_duration(job.age_s)} ago"
    parts.append(silent + (" (stale? the job may have stopped)" if job.age_s > STALE_AFTER_S else ""))
    return ", ".join(parts)


def _cell_name(cell: Cell) -> str:
    return cell.member.replace("/", " ")


# ---- partial summary ---------------------------------------------------------------------------------
# Files of `largelr summarize --partial`, below results/{preset}; no rule produces these names, so
# writing them never changes what Snakemake sees (summary/runs.csv, tables/claims.* are the rules').
PARTIAL_RUNS = Path("summary", "runs.partial.csv")
PARTIAL_CLAIMS = Path("tables", "claims.partial")


@dataclass
class PartialSummary:
    cells: int  # cells of the preset
    trained: int  # runs with a run.json in their run folder
    evaluated: int  # ... and a metrics.json: the rows of runs.partial.csv
    claims_rows: int
    verdicts: dict[str, int]


def summarize_partial(results: str | Path, preset: dict[str, Any]) -> PartialSummary:
    """``summary/runs.partial.csv`` and ``tables/claims.partial.{csv,md}`` from the runs finished so
    far: the summarize / filter_learning_rates / claims_scorecard rules' code on the evaluated runs
    (run.json and metrics.json present; attribution columns where attribution.json is)."""
    from largelr.reporting.lr_filter import filter_learning_rates, kept_runs
    from largelr.reporting.summary import add_analysis_file_columns, summarize_runs, write_csv
    from largelr.reporting.tables import claims_scorecard

    results = Path(results)
    cells = preset_cells(preset)
    trained = [c for c in cells if (results / "runs" / c.pattern / "run.json").exists()]
    evaluated = [c for c in trained if (results / "analysis" / c.pattern / "metrics.json").exists()]
    frame = summarize_runs([results / "runs" / c.pattern / "run.json" for c in evaluated],
                           [results / "analysis" / c.pattern / "metrics.json" for c in evaluated])
    attributed_datasets = preset["analysis"].get("attribution_datasets")
    attributed = [c for c in evaluated if (results / "analysis" / c.pattern / "attribution.json").exists()
                  and (attributed_datasets is None or c.record["dataset"] in attributed_datasets)]
    frame = add_analysis_file_columns(frame, [results / "runs" / c.pattern / "run.json" for c in attributed],
                                 [results / "analysis" / c.pattern / "attribution.json" for c in attributed],
                                 "attributions")
    write_csv(frame, results / PARTIAL_RUNS)
    decisions = filter_learning_rates(frame, max_drop=preset["analysis"]["max_acc_drop"])
    card = claims_scorecard(kept_runs(frame, decisions))
    caption = (f"Claims scorecard from the {len(evaluated)} of {len(cells)} runs evaluated so far (largelr"
               f" summarize --partial, {datetime.now():%Y-%m-%d %H:%M}); the verdicts can change as the sweep"
               " completes. Columns and verdicts as in tables/claims.md.")
    _write_partial_table(card, results / PARTIAL_CLAIMS, caption)
    verdicts = card["verdict"].value_counts().to_dict() if len(card) else {}
    return PartialSummary(len(cells), len(trained), len(evaluated), len(card), verdicts)


def _write_partial_table(card: Any, target: Path, caption: str) -> None:
    """``target``.csv / .md by :func:`largelr.reporting.tables.write_table`, which names its files
    ``stem.with_suffix(...)`` (a stem ``claims.partial`` would give ``claims.csv``, the rule's file):
    written as ``claims.*`` in a scratch folder next to the target, then renamed."""
    from largelr.reporting.tables import write_table

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".partial.", dir=target.parent) as scratch:
        write_table(card, Path(scratch) / "claims", caption=caption, formats=("csv", "md"))
        for suffix in (".csv", ".md"):
            os.replace(Path(scratch) / f"claims{suffix}", f"{target}{suffix}")
