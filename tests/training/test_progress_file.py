"""Progress as data (issue 28 item 1): both engines append one JSON line per model at each log row;
a killed job, resumed from its checkpoint, leaves every iteration once; a torn line is ignored."""

from __future__ import annotations

import csv
import json
import math

import pytest
from helpers import TINY_FCN, tiny_parity, torch_threads

from largelr import progress_file
from largelr.progress_file import ProgressLog, progress_path, read_progress
from largelr.training import runs
from largelr.training.protocol import TrainSettings

CELLS = [{"dataset": "parity", "model": "fcn", "recipe": "sgd", "lr": lr, "intervention": "none", "seed": seed}
         for lr, seed in ((0.05, 0), (0.5, 0), (0.05, 1))]
SETTINGS = [TrainSettings(lr=c["lr"], seed=c["seed"], batch_size=50, max_iters=200, eval_interval=20,
                          checkpoint_interval=100, train_eval_interval=40) for c in CELLS]
KILL_AT = 140  # a log row after the checkpoint at 100: its line is written, then the job dies


def _group(root, folder, engine):
    training = root / folder
    run_dirs = [training / f"lr~{c['lr']}" / f"seed~{c['seed']}" for c in CELLS]
    with torch_threads(1):
        runs.train_group(root / "parity.npz", run_dirs, CELLS, TINY_FCN, SETTINGS, device="cpu", engine=engine,
                         checkpoint_dir=training, progress=progress_path(training / "group.json"))
    return training, run_dirs


def _history(run_dir):
    with open(run_dir / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _same(value, text):
    if value is None:
        return text == "" or math.isnan(float(text))
    return float(text) == pytest.approx(value, rel=1e-12, abs=0)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("progress")
    tiny_parity(root)
    return root


@pytest.mark.parametrize("engine", ["stacked", "sequential"])
def test_killed_and_resumed_job_writes_every_iteration_once(root, engine, monkeypatch):
    original = ProgressLog.write

    def killing(self, rows):
        rows = list(rows)
        original(self, rows)
        if any(row["iteration"] == KILL_AT for row in rows):
            raise RuntimeError("job killed")

    monkeypatch.setattr(ProgressLog, "write", killing)
    with pytest.raises(RuntimeError, match="job killed"):
        _group(root, f"killed-{engine}", engine)
    monkeypatch.undo()
    path = progress_path(root / f"killed-{engine}" / "group.json")
    assert any(row["iteration"] == KILL_AT for row in read_progress(path))  # written past the checkpoint
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"iteration": 160, "cell": "lr~0.05/se')  # torn by the kill

    training, run_dirs = _group(root, f"killed-{engine}", engine)
    rows = read_progress(path)
    assert path.read_text().endswith("\n")
    for run_dir in run_dirs:
        cell = run_dir.relative_to(training).as_posix()
        mine = [row for row in rows if row["cell"] == cell]
        history = _history(run_dir)
        assert [row["iteration"] for row in mine] == [int(h["iteration"]) for h in history]  # once each, in order
        for row, h in zip(mine, history):
            assert _same(row["train_loss"], h["train_loss"]) and _same(row["test_acc"], h["test_acc"])
            assert _same(row["train_acc"], h["train_acc"]) and _same(row["lr"], h["lr"])
            assert _same(row["bc_loss_ratio"], h["bc_loss_ratio_max"])
        status = json.loads((run_dir / "run.json").read_text())["status"]
        assert mine[-1]["status"] == status and {row["status"] for row in mine[:-1]} <= {"training"}
        assert all(set(row) == set(progress_file.FIELDS) for row in mine)


def test_a_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "group.progress.jsonl"
    log = ProgressLog(path, ["a", "b"])
    log.log_rows([(0, {"iteration": 20, "train_loss": 0.5, "test_acc": float("nan")}, "training")], 1.0)
    log.log_rows([(1, {"iteration": 20, "train_loss": 0.7}, "training")], 1.0)
    with open(path, "a") as handle:
        handle.write('{"iteration": 40, "cell": "a", "train_lo')
    rows = read_progress(path)
    assert [(r["cell"], r["iteration"], r["train_loss"], r["test_acc"]) for r in rows] == [
        ("a", 20, 0.5, None), ("b", 20, 0.7, None)]
    log.resume([20, 0])  # a restarts after 20, b from scratch: b's line and the torn line go
    assert [(r["cell"], r["iteration"]) for r in read_progress(path)] == [("a", 20)]
    assert path.read_text().count("\n") == 1


def test_progress_path_names_the_job():
    assert progress_path("t/g/group.json").name == "group.progress.jsonl"
    assert progress_path("t/g/group.part-2.json").name == "group.part-2.progress.jsonl"
