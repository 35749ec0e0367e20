"""A killed training group, rerun, trains no cell whose run folder is complete (issue 17 item 5).

``run.json`` is written last (largelr.training.runs), so its presence means the cell finished:
the rerun of a group job (Snakemake's ``retries``, ``rerun-incomplete``) returns its record
instead of training it again, and the finished cells' files stay the very files (same inode,
same modification time) with the results of an uninterrupted group.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import TINY_FCN, tiny_parity, torch_threads

from largelr.io import read_json
from largelr.training import runs
from largelr.training.protocol import TrainSettings

CELLS = [{"dataset": "parity", "model": "fcn", "recipe": "sgd", "lr": lr, "intervention": "none", "seed": seed}
         for lr, seed in ((0.1, 0), (0.5, 0), (0.1, 1))]
SETTINGS = [TrainSettings(lr=c["lr"], seed=c["seed"], batch_size=50, max_iters=200, eval_interval=20,
                          checkpoint_interval=50) for c in CELLS]


def _group(root, folder, engine="sequential", settings=SETTINGS):
    run_dirs = [root / folder / f"cell{i}" for i in range(len(CELLS))]
    with torch_threads(1):
        records = runs.train_group(root / "parity.npz", run_dirs, CELLS, TINY_FCN, settings, device="cpu",
                                   engine=engine, checkpoint_dir=root / folder)
    return run_dirs, records


def _counting(monkeypatch, name, fail_on=None):
    """Wrap ``runs.<name>``: record the seeds/LRs it trains; raise (a killed job) at call ``fail_on``."""
    calls = []
    original = getattr(runs, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        if len(calls) == fail_on:
            raise RuntimeError("job killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(runs, name, wrapper)
    return calls


def _stamp(folder):
    return {name: ((folder / name).stat().st_ino, (folder / name).stat().st_mtime_ns)
            for name in ("run.json", "model.pt", "history.csv", "snapshots.pt")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    tiny_parity(root)
    return root, _group(root, "reference")


def test_killed_sequential_group_rerun_retrains_no_finished_cell(uninterrupted, monkeypatch):
    root, (reference_dirs, reference) = uninterrupted
    killed = _counting(monkeypatch, "train", fail_on=2)  # the job dies as the second cell starts
    with pytest.raises(RuntimeError, match="job killed"):
        _group(root, "killed")
    assert len(killed) == 2
    first = root / "killed" / "cell0"
    before = _stamp(first)
    monkeypatch.undo()

    rerun = _counting(monkeypatch, "train")
    run_dirs, records = _group(root, "killed")
    assert len(rerun) == 2  # cells 1 and 2 only: cell 0 was complete
    assert [call[3].seed for call in rerun] == [SETTINGS[1].seed, SETTINGS[2].seed]
    assert [call[3].lr for call in rerun] == [SETTINGS[1].lr, SETTINGS[2].lr]
    assert _stamp(first) == before  # not rewritten: the same files
    # the results of an uninterrupted group, cell by cell
    for got, want, got_dir, want_dir in zip(records, reference, run_dirs, reference_dirs, strict=True):
        assert (got["status"], got["iterations"]) == (want["status"], want["iterations"])
        got_state = torch.load(got_dir / "model.pt", weights_only=True)
        want_state = torch.load(want_dir / "model.pt", weights_only=True)
        assert all(torch.equal(got_state[k], want_state[k]) for k in want_state)
        assert (got_dir / "history.csv").read_text() == (want_dir / "history.csv").read_text()
        assert not (got_dir / runs.CHECKPOINT_NAME).exists()


def test_complete_stack_is_not_trained_again(uninterrupted, monkeypatch):
    root, _ = uninterrupted
    run_dirs, first = _group(root, "stacked", engine="stacked")
    assert {r["engine"]["kind"] for r in first} == {"stacked"}
    before = [_stamp(folder) for folder in run_dirs]
    stacked = _counting(monkeypatch, "train_stacked")
    _, again = _group(root, "stacked", engine="stacked")
    assert stacked == [] and again == first
    assert [_stamp(folder) for folder in run_dirs] == before


def test_a_run_folder_of_other_settings_is_trained_again(uninterrupted, monkeypatch):
    root, _ = uninterrupted
    _group(root, "changed")
    other = [dataclasses.replace(s, max_iters=60) for s in SETTINGS]  # the config changed: not the same run
    calls = _counting(monkeypatch, "train")
    run_dirs, records = _group(root, "changed", settings=other)
    assert len(calls) == len(CELLS)
    assert all(read_json(d / "run.json")["settings"]["max_iters"] == 60 for d in run_dirs)
    assert all(r["iterations"] <= 60 for r in records)
