"""Stacked batch-norm ResNets (suppl. C models) train as the single path does: losses, weights and
running statistics over 200 steps, exact freezing at convergence, a SIGKILL-resumed group."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from largelr.datasets.format import Split, SpuriousDataset, save_dataset
from largelr.training.protocol import CONVERGED, MAX_ITERS, TrainSettings
from largelr.training.single import train
from largelr.training.models import build_model
from largelr.training.runs import init_model, to_tensor_split, train_group
from largelr.training.stacked import train_stacked, why_not_faster_stacked, why_not_stackable
from largelr.training.stacked_state import StackedForward, StackedState, why_buffers_not_stackable

#: a reduced-width torchvision ResNet18 (base width 4 instead of 64) with its stock stem
RESNET = {"arch": "torchvision", "name": "resnet18", "width": 4, "small_input": False}
CPU = torch.device("cpu")


def tiny_images(seed: int = 0, n_train: int = 128, n_test: int = 64, signal_strength: float = 0.5) -> SpuriousDataset:
    """3×32×32 noise images whose class (2) shifts the mean of the red channel by ``±signal_strength``."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> Split:
        y = rng.integers(0, 2, n)
        x = rng.normal(0.0, 1.0, (n, 3, 32, 32)).astype(np.float32)
        x[:, 0] += (signal_strength * (2 * y - 1))[:, None, None].astype(np.float32)
        return Split(x, y, y.copy(), np.zeros((n, 3, 32, 32), dtype=np.uint8))

    return SpuriousDataset("tiny_images", 2, split(n_train), split(n_test))


@pytest.fixture(scope="module")
def images():
    return tiny_images()


def _splits(dataset, dtype=torch.float32):
    return tuple(dataclasses.replace(split, x=split.x.to(dtype))
                 for split in (to_tensor_split(dataset, "train", CPU), to_tensor_split(dataset, "test", CPU)))


def _single(dataset, settings, dtype=torch.float32):
    model = init_model(dataset, RESNET, settings.seed).to(dtype)
    return train(model, *_splits(dataset, dtype), settings), model.state_dict()


def _stacked(dataset, settings, dtype=torch.float32, **kwargs):
    models = [init_model(dataset, RESNET, s.seed).to(dtype) for s in settings]
    return train_stacked(models, *_splits(dataset, dtype), settings, **kwargs)


def _assert_same_run(single, outcome, loss_rtol=1e-5, state_atol=1e-4):
    """Same status and iterations, interval losses to ``loss_rtol``, every state_dict entry (weights,
    running means / variances, batch counts) to ``state_atol``."""
    result, state = single
    assert (outcome.result.status, outcome.result.iterations) == (result.status, result.iterations)
    ours = torch.tensor([row["train_loss"] for row in outcome.result.history], dtype=torch.float64)
    theirs = torch.tensor([row["train_loss"] for row in result.history], dtype=torch.float64)
    torch.testing.assert_close(ours, theirs, rtol=loss_rtol, atol=0.0)
    assert list(outcome.state) == list(state)
    for name in state:
        assert outcome.state[name].dtype == state[name].dtype, name
        torch.testing.assert_close(outcome.state[name], state[name], rtol=0.0, atol=state_atol)


def test_batch_norm_models_are_stackable_and_other_buffers_are_not():
    resnet = build_model(RESNET, (3, 32, 32), 2)
    # models.*.width: torchvision's ResNet18 at base width 4 (stages 4, 8, 16, 32 instead of 64 ... 512)
    assert isinstance(resnet.backbone, torchvision.models.ResNet) and resnet.head.in_features == 32
    assert [resnet.backbone.get_submodule(f"layer{i}")[1].conv2.out_channels for i in range(1, 5)] == [4, 8, 16, 32]
    with pytest.raises(ValueError, match="ResNets only"):
        build_model({"arch": "torchvision", "name": "swin_t", "width": 4}, (3, 32, 32), 2)
    settings = [TrainSettings(lr=0.1, seed=0), TrainSettings(lr=0.2, seed=1)]
    assert why_buffers_not_stackable(resnet) is None and why_not_stackable(resnet, settings) is None
    cumulative = copy.deepcopy(resnet)
    cumulative.backbone.bn1.momentum = None
    assert "momentum=None" in why_not_stackable(cumulative, settings)
    other = nn.Sequential(nn.Linear(2, 2))
    other.register_buffer("mask", torch.ones(2))
    assert "not batch-norm statistics" in why_not_stackable(other, settings)


def test_batch_norm_groups_train_one_after_another_on_the_cpu_and_run_json_says_why(images, tmp_path,
                                                                                       one_torch_thread):
    resnet = build_model(RESNET, (3, 32, 32), 2)
    assert "CPU" in why_not_faster_stacked(resnet, CPU) and why_not_faster_stacked(resnet, torch.device("cuda")) is None
    assert why_not_faster_stacked(build_model({"arch": "fcn", "width": 8, "depth": 1}, (3, 32, 32), 2), CPU) is None
    dataset_path = tmp_path / "images.npz"
    save_dataset(images, dataset_path)
    settings = [TrainSettings(lr=lr, seed=0, max_iters=5, eval_interval=5, batch_size=16) for lr in (0.01, 0.1)]
    run_dirs = [tmp_path / "a", tmp_path / "b"]
    records = train_group(dataset_path, run_dirs, [{"lr": s.lr} for s in settings], RESNET, settings, device="cpu")
    for run_dir, record in zip(run_dirs, records):
        assert record["engine"] == {"kind": "single", "reason": why_not_faster_stacked(resnet, CPU)}
        assert json.loads((run_dir / "run.json").read_text())["engine"] == record["engine"]


def test_stacked_forward_updates_each_models_statistics_in_train_mode_and_uses_them_in_eval_mode():
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(build_model(RESNET, (3, 32, 32), 2))
    singles = [copy.deepcopy(m) for m in models]
    state, forward = StackedState.stack(models, CPU), StackedForward(models[0])
    x = torch.randn(3, 8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for _ in range(2):
        train_logits = forward.train(state, x)
    eval_logits = forward.eval(state, x)
    for row, model in enumerate(singles):
        model.train()
        model(x[row])
        torch.testing.assert_close(train_logits[row], model(x[row]), rtol=0, atol=1e-5)
        model.eval()
        torch.testing.assert_close(eval_logits[row], model(x[row]), rtol=0, atol=1e-5)
        ours = state.model_state(row)
        assert list(ours) == list(model.state_dict())
        for name, value in model.state_dict().items():
            torch.testing.assert_close(ours[name], value, rtol=0, atol=1e-5)
    assert int(state.model_state(0)["backbone.bn1.num_batches_tracked"]) == 2
    kept = state.keep(torch.tensor([2, 0]))
    assert len(kept) == 2 and all(torch.equal(kept.model_state(0)[k], v) for k, v in state.model_state(2).items())


def test_stacked_resnet_equals_single_over_200_steps(images, one_torch_thread):
    # float64: a batch-norm ResNet's trajectories separate chaotically (float32 rounding differences of the
    # grouped convolutions grow ~10x per 20 steps here), so float64 is what makes 200 steps comparable
    settings = [TrainSettings(lr=lr, seed=seed, max_iters=200, eval_interval=20, batch_size=16, stop_loss=1e-12,
                              optimizer={"kind": "sgd", "momentum": 0.9, "weight_decay": 5e-4})
                for lr, seed in [(0.01, 0), (0.03, 1)]]
    outcomes = _stacked(images, settings, torch.float64)
    for s, outcome in zip(settings, outcomes):
        assert outcome.result.iterations == 200
        assert int(outcome.state["backbone.bn1.num_batches_tracked"]) == 200
        _assert_same_run(_single(images, s, torch.float64), outcome)


def test_a_converged_resnet_leaves_the_stack_with_the_state_of_a_single_run_stopped_there(images,
                                                                                         one_torch_thread):
    settings = [TrainSettings(lr=lr, seed=seed, max_iters=60, eval_interval=5, batch_size=16)
                for lr, seed in [(0.001, 0), (0.2, 1)]]
    outcomes = _stacked(images, settings, torch.float64)
    statuses = [o.result.status for o in outcomes]
    iterations = [o.result.iterations for o in outcomes]
    assert statuses[1] == CONVERGED and iterations[1] < iterations[0], (statuses, iterations)
    for s, outcome in zip(settings, outcomes):
        _assert_same_run(_single(images, s, torch.float64), outcome)
        assert int(outcome.state["backbone.bn1.num_batches_tracked"]) == outcome.result.iterations


KILL_SETTINGS = [TrainSettings(lr=lr, seed=seed, max_iters=120, eval_interval=20, checkpoint_interval=20, batch_size=16,
                               optimizer={"kind": "sgd", "momentum": 0.9}, snapshot_interval=40)
                 for lr, seed in [(0.00001, 0), (0.2, 1)]]  # model 1 converges at iteration 40
KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from largelr.training.runs import init_model
from largelr.training.stacked import train_stacked
dataset, train_split, test_split, spec, settings = torch.load(sys.argv[3], weights_only=False)
models = [init_model(dataset, spec, s.seed) for s in settings]
outcomes = train_stacked(models, train_split, test_split, settings, checkpoint_path=sys.argv[1])
torch.save([(o.result.status, o.result.iterations, o.state, o.result.snapshots) for o in outcomes], sys.argv[2])
"""


def test_sigkilled_stacked_batch_norm_group_resumes_bit_identically(images, tmp_path, one_torch_thread):
    script, data = tmp_path / "job.py", tmp_path / "data.pt"
    script.write_text(KILL_SCRIPT)
    torch.save((images, *_splits(images), RESNET, KILL_SETTINGS), data)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    theirs = [(o.result.status, o.result.iterations, o.state, o.result.snapshots)
              for o in _stacked(images, KILL_SETTINGS)]  # uninterrupted, in this process (one thread too)

    checkpoint, resumed = tmp_path / "checkpoint.pt", tmp_path / "resumed.pt"
    job = subprocess.Popen([sys.executable, str(script), str(checkpoint), str(resumed), str(data)], env=env)
    deadline = time.monotonic() + 300
    while job.poll() is None and time.monotonic() < deadline and not _finished_a_model(checkpoint):
        time.sleep(0.05)
    assert job.poll() is None, "the job ended before it could be killed: make it longer"
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL and not resumed.exists()
    saved = torch.load(checkpoint, weights_only=False)
    assert 0 < saved["iteration"] < 120 and "buffers" in saved and 1 in saved["finished"]  # model 1 had converged
    subprocess.run([sys.executable, str(script), str(checkpoint), str(resumed), str(data)], check=True, env=env,
                   timeout=600)

    ours = torch.load(resumed, weights_only=False)
    assert [(s, i) for s, i, _, _ in ours] == [(s, i) for s, i, _, _ in theirs]
    assert [s for s, _, _, _ in ours] == [MAX_ITERS, CONVERGED]
    for (_, _, a, snaps_a), (_, _, b, snaps_b) in zip(ours, theirs):
        assert list(a) == list(b) and all(torch.equal(a[name], b[name]) for name in a)
        assert snaps_a.keys() == snaps_b.keys()
        assert all(torch.equal(snaps_a[i][k], snaps_b[i][k]) for i in snaps_a for k in snaps_a[i])


def _finished_a_model(checkpoint) -> bool:
    """Whether the group's checkpoint (written atomically) holds a model that already left the stack."""
    return checkpoint.exists() and bool(torch.load(checkpoint, weights_only=False)["finished"])
