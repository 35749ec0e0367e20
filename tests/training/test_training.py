"""The §4.2 training protocol: status, divergence, determinism, exact resume, BC loss ratio."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from largelr.datasets.synthetic import generate_parity
from largelr.training.runs import init_model, to_tensor_split
from largelr.training.protocol import CONVERGED, DIVERGED, MAX_ITERS, TrainSettings, bias_conflicting_loss_ratio
from largelr.training.single import evaluate_accuracy, parameter_norm, train

MODEL = {"arch": "fcn", "width": 32, "depth": 2}


@pytest.fixture(scope="module")
def parity():
    # C=2, S=1 is easy: every LR solves it quickly (a fast, real training problem)
    return generate_parity(seed=0, n_train=400, n_test=400, core_bits=2, spurious_bits=1, noise_bits=3)


def _run(dataset, settings, checkpoint=None, stop_after=None):
    model = init_model(dataset, MODEL, settings.seed)
    cpu = torch.device("cpu")
    result = train(model, to_tensor_split(dataset, "train", cpu), to_tensor_split(dataset, "test", cpu),
                   settings, checkpoint_path=checkpoint, stop_after=stop_after)
    return model, result


def test_easy_task_converges_to_full_training_accuracy(parity):
    _, result = _run(parity, TrainSettings(lr=0.5, seed=0, batch_size=50, max_iters=3000, eval_interval=20))
    assert result.status == CONVERGED
    assert result.history[-1]["train_acc"] == 1.0
    assert result.iterations % 20 == 0 and result.iterations < 3000


def test_cap_gives_max_iters_status(parity):
    _, result = _run(parity, TrainSettings(lr=0.001, seed=0, batch_size=50, max_iters=40, eval_interval=20))
    assert result.status == MAX_ITERS and result.iterations == 40
    assert [row["iteration"] for row in result.history] == [20, 40]


def test_huge_learning_rate_is_recorded_as_diverged(parity):
    model, result = _run(parity, TrainSettings(lr=1e6, seed=0, batch_size=50, max_iters=500, eval_interval=10))
    assert result.status == DIVERGED
    assert result.iterations < 500


def test_same_seed_gives_identical_weights_and_history(parity):
    settings = TrainSettings(lr=0.1, seed=3, batch_size=50, max_iters=60, eval_interval=20)
    model_a, result_a = _run(parity, settings)
    model_b, result_b = _run(parity, settings)
    assert result_a.history == result_b.history
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values()):
        assert torch.equal(a, b)
    model_c, _ = _run(parity, dataclasses.replace(settings, seed=4))
    assert not torch.equal(model_a.head.weight, model_c.head.weight)


RESUMABLE_VARIANTS = {
    "sgd": {},
    "momentum+step schedule": {"optimizer": {"kind": "sgd", "momentum": 0.9}, "schedule": {"kind": "step", "at": 60}},
    "adam+wsd": {"optimizer": {"kind": "adam"}, "schedule": {"kind": "wsd", "warmup": 20, "decay": 50}, "lr": 1e-3},
    "asam+l2+focal": {"asam": {"rho": 0.05}, "l2": 1e-3, "loss": {"kind": "focal", "gamma": 2.0}},
    "adamw+cosine+validation selection": {"optimizer": {"kind": "adamw", "weight_decay": 0.05}, "lr": 1e-3,
                                          "schedule": {"kind": "cosine"}, "validation_fraction": 0.2,
                                          "select_best": True},
}


@pytest.mark.parametrize("variant", RESUMABLE_VARIANTS, ids=list(RESUMABLE_VARIANTS))
def test_interrupted_run_resumes_to_bit_identical_result(parity, tmp_path, variant):
    settings = TrainSettings(**{"lr": 0.05, "seed": 1, "batch_size": 30, "max_iters": 200, "eval_interval": 20,
                                "checkpoint_interval": 40, **RESUMABLE_VARIANTS[variant]})
    reference, full = _run(parity, settings)
    checkpoint = tmp_path / "checkpoint.pt"
    # a job killed right after its checkpoint at iteration 40 (mid-epoch: 400/30 is not whole)...
    _, interrupted = _run(parity, settings, checkpoint=checkpoint, stop_after=40)
    assert interrupted.status == "interrupted" and checkpoint.exists()
    # ...is started again from scratch by its rule and picks up the checkpoint
    resumed, result = _run(parity, settings, checkpoint=checkpoint)
    assert result.status == full.status and result.iterations == full.iterations
    assert result.history == full.history
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_from_other_settings_is_refused(parity, tmp_path):
    settings = TrainSettings(lr=0.1, seed=1, batch_size=30, max_iters=100, eval_interval=20, checkpoint_interval=20)
    checkpoint = tmp_path / "checkpoint.pt"
    _run(parity, settings, checkpoint=checkpoint, stop_after=20)
    with pytest.raises(ValueError, match="different settings"):
        _run(parity, dataclasses.replace(settings, lr=0.2), checkpoint=checkpoint)


def test_bias_conflicting_loss_ratio_known_value():
    losses = torch.tensor([1.0, 3.0, 0.5, 0.5])
    conflicting = torch.tensor([False, True, True, False])
    assert float(bias_conflicting_loss_ratio(losses, conflicting)) == pytest.approx(3.5 / 5.0)
    assert float(bias_conflicting_loss_ratio(torch.zeros(3), torch.tensor([True, False, False]))) == 0.0


def test_step_schedule_divides_the_logged_lr_after_its_iteration(parity):
    settings = TrainSettings(lr=0.2, seed=0, batch_size=50, max_iters=60, eval_interval=20,
                             schedule={"kind": "step", "at": 40, "factor": 0.1})
    _, result = _run(parity, settings)
    assert [row["lr"] for row in result.history] == pytest.approx([0.2, 0.02, 0.02])


def test_stop_loss_trains_past_full_accuracy(parity):
    base = TrainSettings(lr=0.5, seed=0, batch_size=50, max_iters=3000, eval_interval=20)
    _, accuracy_stop = _run(parity, base)
    _, loss_stop = _run(parity, dataclasses.replace(base, stop_loss=1e-3))
    assert loss_stop.status == CONVERGED and loss_stop.history[-1]["train_ce"] < 1e-3
    assert loss_stop.iterations > accuracy_stop.iterations


def test_l2_penalty_shrinks_the_weights(parity):
    base = TrainSettings(lr=0.1, seed=0, batch_size=50, max_iters=100, eval_interval=50)
    plain, _ = _run(parity, base)
    decayed, _ = _run(parity, dataclasses.replace(base, l2=0.5))
    assert parameter_norm(decayed) < parameter_norm(plain)


def test_validation_selection_restores_the_best_validation_weights(parity):
    settings = TrainSettings(lr=2.0, seed=0, batch_size=50, max_iters=200, eval_interval=20,
                             validation_fraction=0.25, select_best=True)
    model, result = _run(parity, settings)
    val_accs = [row["val_acc"] for row in result.history]
    best_row = result.history[val_accs.index(max(val_accs))]
    assert result.selected_iteration == best_row["iteration"]
    # the returned model is the selected one: its accuracy on the held-out part is the best logged
    from largelr.training.single import _hold_out
    _, validation = _hold_out(to_tensor_split(parity, "train", torch.device("cpu")), 0.25, 0)
    assert len(validation) == 100
    assert evaluate_accuracy(model, validation) == max(val_accs)


# ---------------------------------------------------------------------------------------------
# snapshots for the dynamics figures (Fig 3 right, Fig 13, Fig 28 bottom)
# ---------------------------------------------------------------------------------------------


def test_snapshots_fall_on_zero_the_interval_multiples_and_the_final_iteration(parity, one_torch_thread):
    settings = TrainSettings(lr=0.001, seed=0, batch_size=50, max_iters=70, eval_interval=10, snapshot_interval=20)
    initial = {k: v.clone() for k, v in init_model(parity, MODEL, 0).state_dict().items()}
    model, result = _run(parity, settings)
    assert result.status == MAX_ITERS
    assert sorted(result.snapshots) == [0, 20, 40, 60, 70]
    for key, value in result.snapshots[0].items():  # iteration 0 = the initial weights
        assert torch.equal(value, initial[key])
    for key, value in result.snapshots[70].items():  # the final iteration = the returned weights
        assert torch.equal(value, model.state_dict()[key])
    assert not torch.equal(result.snapshots[20]["head.weight"], result.snapshots[40]["head.weight"])


def test_snapshots_are_off_by_default_and_the_final_one_of_a_converged_run_is_kept(parity, one_torch_thread):
    _, plain = _run(parity, TrainSettings(lr=0.5, seed=0, batch_size=50, max_iters=3000, eval_interval=20))
    assert plain.snapshots == {}
    _, result = _run(parity, TrainSettings(lr=0.5, seed=0, batch_size=50, max_iters=3000, eval_interval=20,
                                           snapshot_interval=40))
    assert result.status == CONVERGED and result.iterations == plain.iterations
    expected = {0, result.iterations} | set(range(40, result.iterations + 1, 40))
    assert set(result.snapshots) == expected


def test_interrupted_run_resumes_to_identical_snapshots(parity, tmp_path, one_torch_thread):
    settings = TrainSettings(lr=0.002, seed=1, batch_size=30, max_iters=100, eval_interval=10,
                             checkpoint_interval=40, snapshot_interval=20,
                             optimizer={"kind": "sgd", "momentum": 0.9})
    _, full = _run(parity, settings)
    checkpoint = tmp_path / "checkpoint.pt"
    _, interrupted = _run(parity, settings, checkpoint=checkpoint, stop_after=40)
    assert interrupted.status == "interrupted" and sorted(interrupted.snapshots) == [0, 20, 40]
    _, resumed = _run(parity, settings, checkpoint=checkpoint)
    assert full.status == MAX_ITERS and resumed.history == full.history
    assert sorted(resumed.snapshots) == sorted(full.snapshots) == [0, 20, 40, 60, 80, 100]
    for iteration, state in full.snapshots.items():
        for key, value in state.items():
            assert torch.equal(value, resumed.snapshots[iteration][key]), (iteration, key)


def test_train_settings_pass_snapshot_interval_through_and_train_cell_writes_snapshots(parity, tmp_path,
                                                                                    one_torch_thread):
    from largelr.datasets import save_dataset
    from largelr.training.recipes import train_settings
    from largelr.training.runs import load_snapshots, train_cell

    settings = train_settings({"lr": 0.01, "seed": 0}, {"kind": "sgd"},
                              {"batch_size": 50, "max_iters": 30, "eval_interval": 10, "snapshot_interval": 10})
    assert settings.snapshot_interval == 10
    save_dataset(parity, tmp_path / "parity.npz")
    train_cell(tmp_path / "parity.npz", tmp_path / "on", {"lr": 0.01, "seed": 0}, MODEL, settings, device="cpu")
    snapshots = load_snapshots(tmp_path / "on")
    assert sorted(snapshots) == [0, 10, 20, 30]
    final = torch.load(tmp_path / "on" / "model.pt", weights_only=True)
    assert all(torch.equal(final[k], snapshots[30][k]) for k in final)
    train_cell(tmp_path / "parity.npz", tmp_path / "off", {"lr": 0.01, "seed": 0}, MODEL,
               dataclasses.replace(settings, snapshot_interval=0), device="cpu")
    assert torch.load(tmp_path / "off" / "snapshots.pt", weights_only=True) == {"iterations": [], "states": []}
