"""`largelr tensorboard` (issue 28 item 3): one TensorBoard run per cell whose scalars equal its
history.csv to float32 precision (or its progress lines mid-sweep), with the cell's hparams and
metrics.json's metrics, read back with tensorboard's own event reader; idempotent."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml
from helpers import REPO, TINY_FCN, tiny_parity, torch_threads

pytest.importorskip("tensorboard", reason="pip install -e '.[test]' brings tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

from largelr import cli  # noqa: E402
from largelr.config import resolve_preset  # noqa: E402
from largelr.io import atomic_write_json  # noqa: E402
from largelr.monitor import load_preset, preset_cells  # noqa: E402
from largelr.progress_file import progress_path  # noqa: E402
from largelr.tensorboard_runs import SCALARS  # noqa: E402
from largelr.training import runs  # noqa: E402
from largelr.training.protocol import TrainSettings  # noqa: E402

EXPERIMENT = {"dataset": "parity", "model": "fcn_tiny", "recipe": "sgd", "lrs": [0.05, 0.5], "seeds": [0]}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A preset of two tiny parity cells trained by the group job's code (history.csv, progress file)."""
    root = tmp_path_factory.mktemp("tensorboard")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    preset = {key: value for key, value in resolve_preset(config, "ci").items() if key != "figures"}
    preset["models"] = {**preset["models"], "fcn_tiny": TINY_FCN}
    preset.update(experiments=[EXPERIMENT], figures={})
    (root / "workflow").mkdir()
    (root / "workflow" / "schemas").symlink_to(REPO / "workflow" / "schemas")
    (root / "config.yaml").write_text(yaml.safe_dump({"preset": "tb", "data_root": ["data"], "presets": {"tb": preset}}))
    cells = preset_cells(load_preset(root / "config.yaml")[1])
    results = root / "results" / "tb"
    training = results / "training" / cells[0].group
    settings = [TrainSettings(lr=c.record["lr"], seed=c.record["seed"], batch_size=50, max_iters=200, eval_interval=20,
                              train_eval_interval=40) for c in cells]
    tiny_parity(root)
    with torch_threads(1):
        runs.train_group(root / "parity.npz", [training / c.member for c in cells], [c.record for c in cells],
                         TINY_FCN, settings, device="cpu", progress=progress_path(training / "group.json"))
    atomic_write_json(results / "analysis" / cells[0].pattern / "metrics.json",
                      {"status": "converged", "test_acc": 0.875, "prunability": 0.25, "prune_retention": [1.0]})
    return root, results, cells


def _export(root, results) -> None:
    assert cli.main(["tensorboard", "--config", str(root / "config.yaml"), "--results", str(results.parent)]) == 0


def _history(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _check_scalars(run_dir, history) -> None:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    for tag, (column, _) in SCALARS.items():
        want = [(int(row["iteration"]), np.float32(row[column])) for row in history if row[column] not in ("", "nan")]
        got = [(event.step, np.float32(event.value)) for event in events.Scalars(tag)]
        assert got == want and len(want) > 0, tag
    return events


def _hparams(events) -> dict:
    content = events.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    return {key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
            for key, value in data.session_start_info.hparams.items()}


def test_scalars_equal_history_and_hparams_are_present(finished):
    root, results, cells = finished
    _export(root, results)
    for cell in cells:
        run_dir = results / "tensorboard" / cell.pattern
        events = _check_scalars(run_dir, _history(results / "training" / cell.group / cell.member / "history.csv"))
        hparams = _hparams(events)
        assert hparams["lr"] == pytest.approx(cell.record["lr"]) and hparams["seed"] == cell.record["seed"]
        assert {hparams[k] for k in ("dataset", "model", "recipe", "intervention")} == {
            "parity", "fcn_tiny", "sgd", "none"}
        status = json.loads((results / "training" / cell.group / cell.member / "run.json").read_text())["status"]
        assert hparams["status"] == status
    metrics = _check_scalars(results / "tensorboard" / cells[0].pattern, _history(
        results / "training" / cells[0].group / cells[0].member / "history.csv"))
    assert [e.value for e in metrics.Scalars("metrics/test_acc")] == [0.875]
    assert [e.value for e in metrics.Scalars("metrics/prunability")] == [0.25]
    assert "metrics/prune_retention" not in metrics.Tags()["scalars"]


def test_idempotent_and_mid_sweep_from_progress(finished, tmp_path):
    root, results, cells = finished
    _export(root, results)
    files = sorted(p for p in (results / "tensorboard").rglob("*") if p.is_file())
    stamps = [(p, p.stat().st_mtime_ns) for p in files]
    _export(root, results)  # nothing changed: nothing rewritten
    assert sorted(p for p in (results / "tensorboard").rglob("*") if p.is_file()) == files
    assert [(p, p.stat().st_mtime_ns) for p in files] == stamps
    # mid-sweep: the second cell has no run.json yet, its curves come from the job's progress file
    run_dir = results / "training" / cells[1].group / cells[1].member
    history = _history(run_dir / "history.csv")
    (run_dir / "run.json").rename(tmp_path / "run.json")
    try:
        _export(root, results)
        events = _check_scalars(results / "tensorboard" / cells[1].pattern, history)
        assert _hparams(events)["status"] == "training"
        assert len(list((results / "tensorboard" / cells[1].pattern).glob("events.*"))) == 1  # written afresh
    finally:
        (tmp_path / "run.json").rename(run_dir / "run.json")


def test_without_tensorboard_it_says_how_to_install(finished, monkeypatch, capsys):
    import builtins

    root, results, _ = finished
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("tensorboard."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    assert cli.main(["tensorboard", "--config", str(root / "config.yaml"), "--results", str(results.parent)]) == 1
    assert "pip install -e '.[tensorboard]'" in capsys.readouterr().err
