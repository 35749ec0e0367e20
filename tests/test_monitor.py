"""`largelr status` and `largelr summarize --partial` on a results folder in every state (issue 19):
finished runs (run.json + metrics.json), a stacked group in progress (a checkpoint and a growing
log), a group trained one cell after another, a failed job and cells that never started; and the
progress helper's interval, on an injected clock."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import REPO
from largelr.config import resolve_preset
from largelr.io import atomic_write_json
from largelr.monitor import load_preset, parse_training_log, preset_cells
from largelr.progress import Progress

EXPERIMENTS = [
    # A: finished (one run trained but not evaluated yet; LR 0.5 seed 1 diverged)
    {"dataset": "parity", "model": "fcn_parity", "recipe": "sgd", "lrs": [0.05, 0.2, 0.5]},
    # B: a stacked group in progress (one cell stopped, stalled; not linked into runs/ yet)
    {"dataset": "moon_star", "model": "fcn_moon_star", "recipe": "sgd", "lrs": [0.05, 0.5]},
    # E: one cell after another in parts (logs/train/<group>.part-K.log): part 1 done, part 2 training
    {"dataset": "parity", "model": "fcn_tiny", "recipe": "sgd", "lrs": [0.1, 0.2, 0.3], "seeds": [0],
     "training": {"max_iters": 800}},
    # C: its job failed (a traceback in logs/train/<group>.log): not started
    {"dataset": "parity", "model": "fcn_parity", "recipe": "sgd", "lrs": [0.5], "seeds": [0],
     "vary": {"l2": [0.001]}},
]
A, B, E, C = ("dataset~parity/model~fcn_parity/recipe~sgd/intervention~none",
              "dataset~moon_star/model~fcn_moon_star/recipe~sgd/intervention~none",
              "dataset~parity/model~fcn_tiny/recipe~sgd/intervention~none",
              "dataset~parity/model~fcn_parity/recipe~sgd/intervention~l2=0.001")
A_STATUSES = {"lr~0.05/seed~0": "converged", "lr~0.05/seed~1": "converged", "lr~0.2/seed~0": "max_iters",
              "lr~0.2/seed~1": "converged", "lr~0.5/seed~0": "converged", "lr~0.5/seed~1": "diverged"}
NOT_EVALUATED = "lr~0.2/seed~1"


def _config(root: Path) -> Path:
    """The repository's ci preset with the experiments above, as preset `watch` of root/config.yaml."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    preset = {key: value for key, value in resolve_preset(config, "ci").items() if key != "figures"}
    preset["models"] = {**preset["models"], "fcn_tiny": {"arch": "fcn", "width": 16, "depth": 2}}
    preset.update(experiments=EXPERIMENTS, figures={})
    (root / "workflow").mkdir()
    (root / "workflow" / "schemas").symlink_to(REPO / "workflow" / "schemas")
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump({"preset": "watch", "data_root": ["data"], "presets": {"watch": preset}}))
    return path


def _record(cell, status: str) -> dict:
    return {"cell": cell.record, "status": status, "iterations": 100, "wall_time_s": 1.0, "device": "cpu",
            "max_bc_loss_ratio": 1.0}


def _line(second: int, message: str, module: str = "largelr.training.stacked") -> str:
    return f"2026-12-02 10:{second // 60:02d}:{second % 60:02d},000 {module} INFO {message}\n"


def _build(results: Path, cells) -> None:
    by_member = {(c.group, c.member): c for c in cells}
    for member, status in A_STATUSES.items():  # A: every run finished, all but one evaluated
        cell = by_member[(A, member)]
        atomic_write_json(results / "runs" / cell.pattern / "run.json", _record(cell, status))
        if member != NOT_EVALUATED:
            lr = cell.record["lr"]
            atomic_write_json(results / "analysis" / cell.pattern / "metrics.json",
                              {"test_acc": 0.9, "prunability": lr, "csi": 2 * lr})
    stopped = by_member[(B, "lr~0.5/seed~1")]  # B: stacked, in progress
    atomic_write_json(results / "training" / B / stopped.member / "run.json", _record(stopped, "stalled"))
    (results / "training" / B / "checkpoint-0.pt").write_bytes(b"checkpoint")
    log = results / "logs" / "train" / f"{B}.log"  # rule train_group's log (paths.TRAINING_LOG)
    log.parent.mkdir(parents=True)
    log.write_text(_line(0, "training 4 cells stacked on cpu (1000 train samples)", "largelr.training.runs")
                   + "".join(_line(10 * k, f"iter {100 * k:6d}  4 models training, train acc (not evaluated at this row)")
                             for k in (1, 2)))
    first = by_member[(E, "lr~0.1/seed~0")]  # E: one after another, its second cell training
    atomic_write_json(results / "training" / E / first.member / "run.json", _record(first, "converged"))
    second = by_member[(E, "lr~0.2/seed~0")].record
    atomic_write_json(results / "training" / E / "group.part-1.json", {"cells": []})  # part 1 finished
    (results / "logs" / "train" / E).parent.mkdir(parents=True)
    (results / "logs" / "train" / f"{E}.part-1.log").write_text(_line(0, "training 1 cells one after another"))
    (results / "logs" / "train" / f"{E}.part-2.log").write_text(
        _line(0, "training 3 cells one after another: training.engine is 'sequential'", "largelr.training.runs")
        + _line(1, f"training {first.record} on cpu (2000 train samples)", "largelr.training.runs")
        + _line(5, f"{first.record}: converged after 300 iterations in 4.0 s", "largelr.training.runs")
        + _line(6, f"training {second} on cpu (2000 train samples)", "largelr.training.runs")
        + "".join(_line(6 + 5 * k, f"iter {100 * k:6d}  loss 0.5000  BC-ratio 1.000  train acc "
                                   f"{'0.7500' if k == 2 else '-'}  test acc 0.7000", "largelr.training.single")
                  for k in (1, 2)))
    failed = results / "logs" / "train" / f"{C}.log"  # C: the job failed
    failed.parent.mkdir(parents=True, exist_ok=True)
    failed.write_text(_line(0, "training 1 cells one after another: a group of one", "largelr.training.runs")
                      + "Traceback (most recent call last):\n  ...\nRuntimeError: out of memory\n")


def _largelr(root: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "largelr.cli", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    config = _config(tmp_path)
    cells = preset_cells(load_preset(config)[1])
    assert len(cells) == 6 + 4 + 3 + 1
    _build(tmp_path / "results" / "watch", cells)
    return tmp_path


def _group_line(output: str, group: str, section: str) -> str:
    lines = output.split(section, 1)[1].splitlines()
    return next(line for line in lines if line.strip().startswith(group))


def test_status_counts_cells_and_follows_a_growing_log(sweep: Path) -> None:
    out = _largelr(sweep, "status")
    assert out.splitlines()[-1] == "runs: 8 done, 4 training, 2 pending"
    assert "done: 5 converged, 1 capped (max_iters), 1 stalled, 1 diverged" in out
    table = "cells by training group"
    assert _group_line(out, A, table).split()[1:] == ["6", "/", "0", "/", "0"]
    assert _group_line(out, B, table).split()[1:] == ["1", "/", "3", "/", "0"]
    assert _group_line(out, E, table).split()[1:] == ["1", "/", "1", "/", "1"]
    assert _group_line(out, C, table).split()[1:5] == ["0", "/", "0", "/"] and "failed: see" in out
    stacked = _group_line(out, B, "training now:")
    assert "3 models training" in stacked and "iteration 200 of 1500 (cap)" in stacked
    assert "10.0 it/s" in stacked and "2 min 10 s to the cap" in stacked  # (1500 - 200) / 10 it/s
    alone = _group_line(out, E, "training now:")
    assert "1 model training (lr~0.2 seed~0)" in alone and "iteration 200 of 800 (cap)" in alone
    assert "train acc 0.7500-0.7500 (iteration 200)" in alone and "20.0 it/s" in alone

    log = sweep / "results" / "watch" / "logs" / "train" / f"{B}.log"
    with log.open("a") as handle:  # the job goes on: faster, and a train-accuracy row
        handle.write(_line(25, "iter    300  3 models training, train acc (not evaluated at this row)"))
        handle.write(_line(30, "iter    400  3 models training, train acc 0.9100-0.9900"))
    stacked = _group_line(_largelr(sweep, "status"), B, "training now:")
    assert "iteration 400 of 1500 (cap)" in stacked and "15.0 it/s" in stacked  # 300 iterations in 20 s
    assert "train acc 0.9100-0.9900 (iteration 400)" in stacked


def test_summarize_partial_writes_only_partial_files(sweep: Path) -> None:
    out = _largelr(sweep, "summarize", "--partial")
    results = sweep / "results" / "watch"
    assert "5 runs (6 of 14 trained, 1 not yet evaluated)" in out
    runs = pd.read_csv(results / "summary" / "runs.partial.csv")
    assert len(runs) == 5 and set(runs["dataset"]) == {"parity"}
    assert sorted(runs["status"]) == ["converged"] * 3 + ["diverged", "max_iters"]
    # LR 0.5 is dropped (a seed diverged, §4.2 filter); 0.05 and 0.2 stay: one row per metric given
    claims = pd.read_csv(results / "tables" / "claims.partial.csv")
    assert sorted(claims["metric"]) == ["csi", "prunability", "test_acc"]
    assert set(claims["verdict"]) == {"inconclusive (under-trained)"}  # fewer than 3 converged LRs
    assert (claims["runs"] == 3).all()
    assert sorted(p.name for p in (results / "tables").iterdir()) == ["claims.partial.csv", "claims.partial.md"]
    assert sorted(p.name for p in (results / "summary").iterdir()) == ["runs.partial.csv"]
    assert "5 of 14 runs evaluated so far" in (results / "tables" / "claims.partial.md").read_text()
    assert _largelr(sweep, "summarize") == out  # --partial is implied, not a required flag


def test_a_replay_restarts_the_rate_and_a_traceback_fails_the_job() -> None:
    text = (_line(0, "training 2 cells stacked on cpu (10 train samples)", "largelr.training.runs")
            + _line(10, "iter    100  2 models training, train acc (not evaluated at this row)")
            + _line(20, "iter    200  2 models training, train acc (not evaluated at this row)")
            + _line(21, "divergence flagged at iteration(s) [150]: replaying from iteration 100 with the per-step test",
                    "largelr.training.protocol")
            + _line(40, "iter    200  1 models training, train acc 1.0000-1.0000"))
    progress = parse_training_log(text)
    assert (progress.mode, progress.iteration, progress.models, progress.train_acc) == ("stacked", 200, 1, (1.0, 1.0))
    assert progress.rate() is None and not progress.failed  # one evaluation since the replay
    assert parse_training_log(text + "Traceback (most recent call last):\n").failed


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock, log = FakeClock(), logging.getLogger("test.progress")
    progress = Progress(log, "landscape", total=120, unit="points", interval=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for _ in range(100):  # one point per second
            clock.now += 1
            progress.step()
        progress.finish()
    lines = [record.getMessage() for record in caplog.records]
    assert lines[:3] == ["landscape: 30/120 points (25 %), 1 points/s, ~1 min 30 s left",
                         "landscape: 60/120 points (50 %), 1 points/s, ~1 min 0 s left",
                         "landscape: 90/120 points (75 %), 1 points/s, ~30 s left"]
    assert lines[3] == "landscape: 100/120 points in 1 min 40 s (1 points/s)" and len(lines) == 4


def test_progress_without_a_total_and_with_slow_steps(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = Progress(logging.getLogger("test.progress"), "dynamics", unit="snapshots", interval=30, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.progress"):
        for seconds in (10, 50, 5, 5):  # a step longer than the interval logs at its end
            clock.now += seconds
            progress.step(note="last: iteration 7")
    assert [r.getMessage() for r in caplog.records] == ["dynamics: 2 snapshots, 0.0333 snapshots/s, last: iteration 7"]


def test_job_logs_are_the_files_the_training_rule_names(tmp_path: Path) -> None:
    """job_logs finds the whole group's log and each part's log at the paths of the workflow's
    templates (rule train_group's log and output), paired with that job's manifest."""
    from largelr.monitor import job_logs
    from largelr.workflow.paths import TRAINING_LOG, TRAINING_MANIFEST

    fields = dict(preset="p", dataset="parity", model="fcn", recipe="sgd", intervention="none")
    group = "dataset~parity/model~fcn/recipe~sgd/intervention~none"
    for part in ("", ".part-1", ".part-2"):
        log = tmp_path / TRAINING_LOG.format(**fields, part=part)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
    results = tmp_path / "results" / "p"
    expected = [(tmp_path / TRAINING_LOG.format(**fields, part=part), tmp_path / TRAINING_MANIFEST.format(**fields, part=part))
                for part in ("", ".part-1", ".part-2")]
    assert job_logs(results, group) == expected
