"""Stacked training: the same algorithm as the single-model path, exact freezing, real kills,
corrupt checkpoints, stalls, and the run folders of a training group."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from largelr.datasets.format import save_dataset
from largelr.datasets.synthetic import generate_parity
from largelr.training.runs import init_model, to_tensor_split, train_group
from largelr.training.stacked import StackedOptimizer, train_stacked, why_not_stackable
from largelr.training.protocol import CONVERGED, DIVERGED, MAX_ITERS, STALLED, TrainSettings, stalled
from largelr.training.single import train

FCN = {"arch": "fcn", "width": 32, "depth": 2}
CPU = torch.device("cpu")
# three cells of one group: different LRs and seeds (the stacked axis)
CELLS = [(0.05, 0), (0.2, 1), (0.5, 2)]


@pytest.fixture(scope="module")
def parity():
    return generate_parity(seed=0, n_train=300, n_test=300, core_bits=3, spurious_bits=1, noise_bits=4)


def _splits(dataset):
    return to_tensor_split(dataset, "train", CPU), to_tensor_split(dataset, "test", CPU)


def _settings(**overrides):
    return [TrainSettings(lr=lr, seed=seed, **overrides) for lr, seed in CELLS]


def _single(dataset, settings, spec=FCN):
    model = init_model(dataset, spec, settings.seed)
    result = train(model, *_splits(dataset), settings)
    return result, model.state_dict()


def _stacked(dataset, settings, spec=FCN, **kwargs):
    models = [init_model(dataset, spec, s.seed) for s in settings]
    return train_stacked(models, *_splits(dataset), settings, **kwargs)


def _assert_same_run(single, outcome, loss_rtol=1e-5, weight_atol=1e-4):
    result, state = single
    assert outcome.result.status == result.status
    assert outcome.result.iterations == result.iterations
    ours = torch.tensor([row["train_loss"] for row in outcome.result.history])
    theirs = torch.tensor([row["train_loss"] for row in result.history])
    torch.testing.assert_close(ours, theirs, rtol=loss_rtol, atol=0.0)
    assert state.keys() == outcome.state.keys()
    for name in state:
        torch.testing.assert_close(outcome.state[name], state[name], rtol=0.0, atol=weight_atol)


@pytest.mark.parametrize("optimizer", [{"kind": "sgd"}, {"kind": "sgd", "momentum": 0.9, "weight_decay": 1e-3},
                                       {"kind": "adam"}, {"kind": "adamw", "weight_decay": 0.05}])
def test_stacked_equals_single_over_200_steps(parity, one_torch_thread, optimizer):
    lrs = {"sgd": 1.0, "adam": 0.01, "adamw": 0.01}[optimizer["kind"]]
    settings = [dataclasses.replace(s, lr=s.lr * lrs) for s in
                _settings(max_iters=200, eval_interval=1, optimizer=optimizer, l2=1e-4, stop_loss=1e-12)]
    outcomes = _stacked(parity, settings)
    for s, outcome in zip(settings, outcomes):
        assert outcome.result.iterations == 200
        _assert_same_run(_single(parity, s), outcome)


def test_stacked_cnn_with_a_schedule_equals_single(one_torch_thread):
    images = generate_parity(seed=1, n_train=64, n_test=64, core_bits=2, spurious_bits=1, noise_bits=1)
    images = _as_images(images)
    spec = {"arch": "cnn", "width_multiplier": 0.0625}
    settings = _settings(max_iters=30, eval_interval=5, batch_size=16, schedule={"kind": "cosine"})
    outcomes = _stacked(images, settings, spec=spec)
    for s, outcome in zip(settings, outcomes):
        _assert_same_run(_single(images, s, spec=spec), outcome)


def _as_images(dataset):
    """The parity bits as 1-channel 2x2 images (a real CNN input shape on tiny data)."""
    for split in (dataset.train, dataset.test):
        split.x = split.x.reshape(len(split.x), 1, 2, 2)
        split.region = split.region.reshape(len(split.region), 1, 2, 2)
    return dataset


def test_a_model_that_converges_early_has_the_weights_of_a_single_run_stopped_there(parity, one_torch_thread):
    settings = [TrainSettings(lr=lr, seed=seed, max_iters=250, eval_interval=10)
                for lr, seed in [(0.01, 0), (1.0, 1), (2.0, 2)]]
    outcomes = _stacked(parity, settings)
    statuses = [o.result.status for o in outcomes]
    iterations = [o.result.iterations for o in outcomes]
    assert CONVERGED in statuses and len(set(iterations)) > 1, (statuses, iterations)
    for s, outcome in zip(settings, outcomes):
        single = _single(parity, s)
        assert single[0].iterations == outcome.result.iterations
        _assert_same_run(single, outcome)


def test_divergence_freezes_only_that_model(parity, one_torch_thread):
    settings = [TrainSettings(lr=lr, seed=0, max_iters=100, eval_interval=10) for lr in (0.05, 500.0)]
    outcomes = _stacked(parity, settings)
    assert [o.result.status for o in outcomes] == [MAX_ITERS, DIVERGED]
    assert outcomes[0].result.iterations == 100
    single = _single(parity, settings[1])
    assert single[0].status == DIVERGED and single[0].iterations == outcomes[1].result.iterations
    _assert_same_run(_single(parity, settings[0]), outcomes[0])


def test_stall_rule_on_histories():
    settings = TrainSettings(lr=0.1, seed=0, stall_window=3, stall_min_gain=0.01, stall_min_loss_drop=0.05)

    def rows(accs, losses=None):
        return [{"train_acc": a, "train_ce": c} for a, c in zip(accs, losses or [0.3] * len(accs))]

    assert not stalled(rows([0.5, 0.6, 0.6]), settings)  # not enough rows yet
    assert stalled(rows([0.5, 0.9, 0.905, 0.9, 0.909]), settings)  # +0.009 in 3 rows, flat loss
    assert not stalled(rows([0.5, 0.9, 0.905, 0.9, 0.92]), settings)
    # parity's plateau: accuracy flat at the spurious features' 90 %, loss still falling (> 5 %)
    assert not stalled(rows([0.5, 0.9, 0.9, 0.9, 0.9], [0.6, 0.32, 0.31, 0.30, 0.29]), settings)
    assert stalled(rows([0.5, 0.9, 0.9, 0.9, 0.9], [0.6, 0.32, 0.32, 0.31, 0.31]), settings)  # 3 % only
    assert not stalled(rows([0.9] * 10), dataclasses.replace(settings, stall_window=0))
    assert not stalled(rows([1.0] * 10), dataclasses.replace(settings, stop_loss=1e-5))


def test_stalled_model_stops_and_matches_the_single_run(parity, one_torch_thread):
    # a tiny LR barely moves: with a window of 2 evaluations and a 5 % gain required, it stalls
    settings = [TrainSettings(lr=lr, seed=0, max_iters=400, eval_interval=10, stall_window=2, stall_min_gain=0.05,
                              stall_min_loss_drop=0.05)
                for lr in (1e-5, 0.5)]
    outcomes = _stacked(parity, settings)
    assert outcomes[0].result.status == STALLED
    assert outcomes[0].result.iterations < 400
    for s, outcome in zip(settings, outcomes):
        _assert_same_run(_single(parity, s), outcome)


def test_stackability_rules(parity):
    model = init_model(parity, FCN, 0)
    base = _settings()
    assert why_not_stackable(model, base) is None
    assert "asam" in why_not_stackable(model, [dataclasses.replace(s, asam={"rho": 0.1}) for s in base]).lower()
    assert "batch_size" in why_not_stackable(model, [base[0], dataclasses.replace(base[1], batch_size=10)])
    psgd = [dataclasses.replace(s, optimizer={"kind": "psgd_kron"}) for s in base]
    assert "psgd_kron" in why_not_stackable(model, psgd)
    resnet = init_model(_as_images(generate_parity(seed=0, n_train=8, n_test=8, core_bits=2, spurious_bits=1,
                                                   noise_bits=1)), {"arch": "torchvision", "name": "resnet18"}, 0)
    assert why_not_stackable(resnet, base) is None  # batch-norm statistics stack (test_stacked_batch_norm.py)


def test_optimizer_keeps_rows_of_its_state():
    optimizer = StackedOptimizer({"kind": "sgd", "momentum": 0.9}, torch.tensor([0.1, 0.2, 0.3]))
    params = {"w": torch.zeros(3, 2)}
    optimizer.step(params, [torch.ones(3, 2)], factor=1.0)
    torch.testing.assert_close(params["w"][:, 0], torch.tensor([-0.1, -0.2, -0.3]))
    optimizer.keep(torch.tensor([0, 2]))
    assert optimizer.state["w"]["momentum_buffer"].shape == (2, 2)
    torch.testing.assert_close(optimizer.lrs, torch.tensor([0.1, 0.3]))


# ---- checkpoints: corrupt files and real kills -----------------------------------------------


def test_truncated_checkpoint_is_detected_and_the_group_restarts(parity, one_torch_thread, tmp_path, caplog):
    settings = _settings(max_iters=120, eval_interval=20, checkpoint_interval=40)
    checkpoint = tmp_path / "checkpoint.pt"
    assert _stacked(parity, settings, checkpoint_path=checkpoint, stop_after=80) == []
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING"):
        resumed = _stacked(parity, settings, checkpoint_path=checkpoint)
    assert "unreadable" in caplog.text and "restarting from iteration 0" in caplog.text
    fresh = _stacked(parity, settings)
    for a, b in zip(resumed, fresh):
        assert a.result.iterations == b.result.iterations
        for name in a.state:
            assert torch.equal(a.state[name], b.state[name])


def test_truncated_single_run_checkpoint_restarts_from_scratch(parity, one_torch_thread, tmp_path, caplog):
    settings = TrainSettings(lr=0.05, seed=0, max_iters=100, eval_interval=20, checkpoint_interval=20)
    checkpoint = tmp_path / "checkpoint.pt"
    model = init_model(parity, FCN, 0)
    train(model, *_splits(parity), settings, checkpoint_path=checkpoint, stop_after=40)
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    resumed_model = init_model(parity, FCN, 0)
    with caplog.at_level("WARNING"):
        train(resumed_model, *_splits(parity), settings, checkpoint_path=checkpoint)
    assert "unreadable" in caplog.text
    fresh = _single(parity, settings)[1]
    for name, value in resumed_model.state_dict().items():
        assert torch.equal(value, fresh[name])


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from largelr.datasets.format import save_dataset
from largelr.datasets.synthetic import generate_parity
from largelr.training.runs import init_model, to_tensor_split
from largelr.training.stacked import train_stacked
from largelr.training.protocol import TrainSettings
dataset = generate_parity(seed=0, n_train=2000, n_test=300, core_bits=6, spurious_bits=2, noise_bits=12)
settings = [TrainSettings(lr=lr, seed=seed, max_iters=1500, eval_interval=50, checkpoint_interval=50)
            for lr, seed in [(0.05, 0), (0.2, 1), (0.5, 2)]]
models = [init_model(dataset, {"arch": "fcn", "width": 64, "depth": 2}, s.seed) for s in settings]
cpu = torch.device("cpu")
outcomes = train_stacked(models, to_tensor_split(dataset, "train", cpu), to_tensor_split(dataset, "test", cpu),
                         settings, checkpoint_path=sys.argv[1] if sys.argv[1] != "-" else None)
torch.save([(o.result.status, o.result.iterations, o.state) for o in outcomes], sys.argv[2])
"""


def test_sigkilled_stacked_job_resumes_bit_identically(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    reference = tmp_path / "reference.pt"
    subprocess.run([sys.executable, str(script), "-", str(reference)], check=True, env=env, timeout=600)

    checkpoint, resumed = tmp_path / "checkpoint.pt", tmp_path / "resumed.pt"
    job = subprocess.Popen([sys.executable, str(script), str(checkpoint), str(resumed)], env=env)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it train past that checkpoint
    assert job.poll() is None, "the job ended before it could be killed: make it longer"
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL and checkpoint.exists() and not resumed.exists()
    killed_at = torch.load(checkpoint, weights_only=False)["iteration"]
    assert 0 < killed_at < 1500
    subprocess.run([sys.executable, str(script), str(checkpoint), str(resumed)], check=True, env=env, timeout=600)

    ours, theirs = torch.load(resumed, weights_only=False), torch.load(reference, weights_only=False)
    assert [(s, i) for s, i, _ in ours] == [(s, i) for s, i, _ in theirs]
    for (_, _, a), (_, _, b) in zip(ours, theirs):
        assert all(torch.equal(a[name], b[name]) for name in a)


# ---- a training group's run folders ------------------------------------------------------------


def test_train_group_writes_every_cell_folder_and_mixes_engines(parity, tmp_path, one_torch_thread):
    dataset_path = tmp_path / "parity.npz"
    save_dataset(parity, dataset_path)
    settings = _settings(max_iters=60, eval_interval=20, snapshot_interval=20)
    settings.append(dataclasses.replace(settings[0], seed=5, batch_size=50))  # not stackable with the others
    cells = [{"lr": s.lr, "seed": s.seed} for s in settings]
    run_dirs = [tmp_path / f"cell{i}" for i in range(len(cells))]
    records = train_group(dataset_path, run_dirs, cells, FCN, settings, device="cpu", checkpoint_dir=tmp_path)
    assert [r["engine"]["kind"] for r in records] == ["stacked"] * 3 + ["single"]
    assert records[0]["engine"]["group_size"] == 3
    for run_dir, s in zip(run_dirs, settings):
        record = json.loads((run_dir / "run.json").read_text())
        assert record["settings"]["lr"] == s.lr and record["status"] == MAX_ITERS
        snapshots = torch.load(run_dir / "snapshots.pt", weights_only=True)
        assert snapshots["iterations"] == [0, 20, 40, 60]
        assert (run_dir / "history.csv").read_text().count("\n") == 1 + 3
    # the stacked cells equal their single-model runs
    single = _single(parity, settings[1])[1]
    stacked = torch.load(run_dirs[1] / "model.pt", weights_only=True)
    for name in single:
        torch.testing.assert_close(stacked[name], single[name], rtol=0, atol=1e-4)
    assert not list(Path(tmp_path).glob("checkpoint-*.pt"))


def test_train_group_resumed_from_a_checkpoint_writes_cells_that_had_already_stopped(parity, tmp_path,
                                                                                      one_torch_thread):
    dataset_path = tmp_path / "parity.npz"
    save_dataset(parity, dataset_path)
    settings = [TrainSettings(lr=lr, seed=seed, max_iters=300, eval_interval=10, checkpoint_interval=50)
                for lr, seed in [(0.01, 0), (2.0, 1)]]
    # a job killed at iteration 150, after the LR-2 model had converged (iteration < 150)
    _stacked(parity, settings, checkpoint_path=tmp_path / "checkpoint-0.pt", stop_after=150)
    assert 1 in torch.load(tmp_path / "checkpoint-0.pt", weights_only=False)["finished"]
    cells = [{"lr": s.lr, "seed": s.seed} for s in settings]
    run_dirs = [tmp_path / "a", tmp_path / "b"]
    records = train_group(dataset_path, run_dirs, cells, FCN, settings, device="cpu", checkpoint_dir=tmp_path)
    assert [r["status"] for r in records] == [MAX_ITERS, CONVERGED]
    fresh = _stacked(parity, settings)
    for run_dir, outcome in zip(run_dirs, fresh):
        saved = torch.load(run_dir / "model.pt", weights_only=True)
        assert all(torch.equal(saved[name], outcome.state[name]) for name in saved)


def test_train_group_sets_and_records_the_matmul_precision(parity, tmp_path, one_torch_thread):
    dataset_path = tmp_path / "parity.npz"
    save_dataset(parity, dataset_path)
    settings = _settings(max_iters=20, eval_interval=10)[:2]
    before = torch.get_float32_matmul_precision()
    try:
        records = train_group(dataset_path, [tmp_path / "a", tmp_path / "b"], [{"lr": s.lr} for s in settings],
                              FCN, settings, device="cpu", matmul_precision="high")
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)
    assert [r["matmul_precision"] for r in records] == ["high", "high"]
    assert json.loads((tmp_path / "a" / "run.json").read_text())["matmul_precision"] == "high"
