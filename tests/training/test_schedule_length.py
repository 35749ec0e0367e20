"""Schedule length (suppl. D.4 schedules): ``schedule.iterations`` instead of ``max_iters``,
in both training paths and in run.json."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from largelr.datasets import save_dataset
from largelr.datasets.synthetic import generate_parity
from largelr.training.optim import build_optimizer, build_scheduler, lr_at, lr_factor, schedule_length
from largelr.training.runs import init_model, to_tensor_split, train_cell
from largelr.training.stacked import train_stacked
from largelr.training.protocol import TrainSettings
from largelr.training.single import train

FCN = {"arch": "fcn", "width": 16, "depth": 2}
CPU = torch.device("cpu")
COSINE_100 = {"kind": "cosine", "iterations": 100}


@pytest.fixture(scope="module")
def parity():
    return generate_parity(seed=0, n_train=200, n_test=200, core_bits=2, spurious_bits=1, noise_bits=3)


def _settings(lr: float = 0.1, seed: int = 0) -> TrainSettings:
    """200 steps (stop_loss keeps the run going past 100 % accuracy), cosine over 100 of them."""
    return TrainSettings(lr=lr, seed=seed, batch_size=50, max_iters=200, eval_interval=50,
                         schedule=COSINE_100, stop_loss=1e-12)


def _lr_by_iteration(history: list[dict]) -> dict[int, float]:
    return {int(row["iteration"]): row["lr"] for row in history}


def test_schedule_length_is_the_blocks_iterations_else_max_iters():
    assert schedule_length(COSINE_100, 200000) == 100
    assert schedule_length({"kind": "cosine"}, 200000) == 200000
    assert schedule_length(None, 7) == 7
    with pytest.raises(ValueError, match="schedule.iterations"):
        schedule_length({"kind": "cosine", "iterations": 0}, 10)


@pytest.mark.parametrize("max_iters", [100, 1000, 200000])
def test_cosine_with_iterations_100_reaches_its_minimum_at_100_whatever_max_iters(max_iters):
    length = schedule_length(COSINE_100, max_iters)
    assert lr_factor("cosine", COSINE_100, 50, length) == pytest.approx(0.5)
    assert lr_factor("cosine", COSINE_100, 100, length) == pytest.approx(0.0, abs=1e-12)
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "sgd"}, 1.0)
    scheduler = build_scheduler(optimizer, COSINE_100, length)
    for _ in range(100):
        optimizer.step()
        scheduler.step()
    assert lr_at(optimizer) == pytest.approx(0.0, abs=1e-12)


def test_wsd_phases_are_fractions_of_the_schedule_length():
    spec = {"kind": "wsd", "warmup": 0.1, "decay": 0.2, "iterations": 100}
    length = schedule_length(spec, 200000)
    assert lr_factor("wsd", spec, 9, length) == 1.0  # warm-up over 10 steps
    assert lr_factor("wsd", spec, 79, length) == 1.0 and lr_factor("wsd", spec, 90, length) == pytest.approx(0.5)
    assert lr_factor("wsd", spec, 100, length) == 0.0


def test_single_run_follows_the_schedule_length_not_max_iters(parity, one_torch_thread):
    model = init_model(parity, FCN, 0)
    result = train(model, to_tensor_split(parity, "train", CPU), to_tensor_split(parity, "test", CPU), _settings())
    lrs = _lr_by_iteration(result.history)
    assert lrs[50] == pytest.approx(0.05) and lrs[100] == pytest.approx(0.0, abs=1e-12) and lrs[200] == 0.0


def test_stacked_run_follows_the_schedule_length_not_max_iters(parity, one_torch_thread):
    settings = [_settings(lr=0.1, seed=0), _settings(lr=0.2, seed=1)]
    models = [init_model(parity, FCN, s.seed) for s in settings]
    outcomes = train_stacked(models, to_tensor_split(parity, "train", CPU), to_tensor_split(parity, "test", CPU),
                             settings)
    for s, outcome in zip(settings, outcomes):
        lrs = _lr_by_iteration(outcome.result.history)
        assert lrs[50] == pytest.approx(s.lr / 2) and lrs[100] == pytest.approx(0.0, abs=1e-12)


def test_run_json_records_the_schedule_length_and_the_stem(parity, tmp_path, one_torch_thread):
    save_dataset(parity, tmp_path / "parity.npz")
    settings = TrainSettings(lr=0.1, seed=0, batch_size=50, max_iters=20, eval_interval=10, schedule=COSINE_100)
    record = train_cell(tmp_path / "parity.npz", tmp_path / "run", {"lr": 0.1, "seed": 0}, FCN, settings,
                        device="cpu")
    assert record["schedule_length"] == 100 and record["stem"] is None
