"""The landscape rule's work (Fig 9) on a tiny untrained-but-saved FCN run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import TINY_FCN, tiny_parity, write_diverged_run, write_untrained_run
from largelr.datasets import load_dataset
from largelr.analyses.landscape import LANDSCAPE_KEYS
from largelr.analyses.landscape import LANDSCAPE_DEFAULTS, landscape_grid, landscape_run, landscape_settings
from largelr.training.runs import init_model, to_tensor_split
from largelr.training.protocol import TensorSplit
from largelr.training.single import evaluate_loss_and_accuracy


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("landscape")
    dataset = tiny_parity(root)
    write_untrained_run(root / "run", dataset)
    write_diverged_run(root / "div")
    return root


def _load(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_grid_centre_is_the_trained_model_on_the_same_samples(run, one_torch_thread):
    analysis = {"landscape": {"points": 5, "span": 0.5, "samples": 100, "seed": 3}}
    summary = landscape_run(run / "parity.npz", run / "run", run / "l.npz", analysis, device="cpu")
    out = _load(run / "l.npz")
    assert str(out["status"]) == "converged" and int(out["train_samples"]) == 100
    np.testing.assert_array_equal(out["alphas"], [-0.5, -0.25, 0.0, 0.25, 0.5])
    np.testing.assert_array_equal(out["betas"], out["alphas"])
    assert all(out[key].shape == (5, 5) for key in LANDSCAPE_KEYS)

    dataset = load_dataset(run / "parity.npz")
    model = init_model(dataset, TINY_FCN, seed=0).eval()  # the saved weights
    train = to_tensor_split(dataset, "train", torch.device("cpu"))
    idx = torch.randperm(300, generator=torch.Generator().manual_seed(3))[:100]  # the documented subset
    loss, train_acc = evaluate_loss_and_accuracy(model, TensorSplit(train.x[idx], train.y[idx], train.b[idx]))
    test = to_tensor_split(dataset, "test", torch.device("cpu"))
    _, test_acc = evaluate_loss_and_accuracy(model, test)
    with torch.no_grad():
        follows_b = float((model(test.x).argmax(dim=1) == test.b).double().mean())
    assert out["loss"][2, 2] == pytest.approx(loss, abs=1e-5)
    assert out["accuracy"][2, 2] == pytest.approx(train_acc, abs=1e-5)
    assert out["spurious_split_accuracy"][2, 2] == pytest.approx(test_acc, abs=1e-5)
    assert out["spurious_utilisation"][2, 2] == pytest.approx(follows_b, abs=1e-5)
    assert summary["loss_at_centre"] == pytest.approx(loss, abs=1e-5)
    # off-centre the weights move, so the loss changes
    assert not np.allclose(out["loss"], loss)


def test_whole_training_split_when_samples_is_null(run, one_torch_thread):
    analysis = {"landscape": {"points": 3, "span": 0.1, "samples": None}}
    landscape_run(run / "parity.npz", run / "run", run / "all.npz", analysis, device="cpu")
    out = _load(run / "all.npz")
    assert int(out["train_samples"]) == 300 and out["loss"].shape == (3, 3)


def test_diverged_run_writes_status_and_empty_grids(run):
    summary = landscape_run(run / "parity.npz", run / "div", run / "d.npz", {}, device="cpu")
    out = _load(run / "d.npz")
    assert summary == {"status": "diverged"} and str(out["status"]) == "diverged"
    assert out["alphas"].shape == (0,) and all(out[key].shape == (0, 0) for key in LANDSCAPE_KEYS)


def test_settings_defaults_and_grid():
    assert landscape_settings({}) == LANDSCAPE_DEFAULTS == {"points": 21, "span": 1.0, "samples": 2000, "seed": 0}
    assert landscape_settings({"landscape": {"points": 7}})["points"] == 7
    assert landscape_settings({"landscape": {"points": 7}})["span"] == 1.0
    grid = landscape_grid(21, 0.3)
    assert grid[10] == 0.0 and grid[0] == -0.3 and grid[-1] == 0.3
    np.testing.assert_array_equal(grid, -grid[::-1])
    assert 0.0 not in landscape_grid(4, 1.0)
    with pytest.raises(ValueError):
        landscape_grid(1, 1.0)
