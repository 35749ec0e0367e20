"""Filter-normalised loss / accuracy / spurious-utilisation landscapes (paper Fig 9)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from largelr.analyses.landscape import LANDSCAPE_KEYS, filter_normalised_direction, loss_landscape, random_directions
from largelr.training.models import CNN, FCN
from largelr.training.protocol import TensorSplit
from largelr.training.single import evaluate_loss_and_accuracy


def _model() -> FCN:
    torch.manual_seed(0)
    return FCN(in_features=12, num_classes=3, width=16, depth=2)


def _split(n: int = 250, seed: int = 1) -> TensorSplit:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g)
    y = torch.randint(0, 3, (n,), generator=g)
    b = torch.randint(0, 3, (n,), generator=g)
    return TensorSplit(x, y, b)


def test_direction_filter_norms_equal_weight_filter_norms():
    model = _model()
    with torch.no_grad():
        model.hidden[0].weight[3].zero_()  # a dead (pruned) filter gets a zero direction
    d = filter_normalised_direction(model, torch.Generator().manual_seed(0))
    params = list(model.parameters())
    assert len(d) == len(params)
    for di, p in zip(d, params):
        assert di.shape == p.shape
        torch.testing.assert_close(di.norm(dim=1), p.detach().norm(dim=1), rtol=1e-5, atol=1e-7)
    assert torch.equal(d[0][3], torch.zeros(12))
    # random: not a rescaled copy of the weights; seeded: reproducible
    assert not torch.allclose(d[1], params[1].detach())
    d_again = filter_normalised_direction(model, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(d, d_again))


def test_direction_conv_kernels_and_one_dim_params():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.BatchNorm2d(5), torch.nn.Linear(4, 2))
    d = filter_normalised_direction(model, torch.Generator().manual_seed(1))
    names = [n for n, _ in model.named_parameters()]
    for name, di, p in zip(names, d, model.parameters()):
        if p.dim() <= 1:  # conv bias, BN weight/bias, linear bias
            assert torch.equal(di, torch.zeros_like(p)), name
        else:
            torch.testing.assert_close(di.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))


def test_landscape_origin_matches_model_and_weights_are_restored():
    model, split = _model(), _split()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    alphas, betas = [-1.0, -0.5, 0.0, 0.5], [-0.25, 0.0, 0.25]
    grids = loss_landscape(model, split, random_directions(model, seed=0), alphas, betas)
    assert set(grids) == set(LANDSCAPE_KEYS)
    assert all(g.shape == (4, 3) for g in grids.values())
    loss, acc = evaluate_loss_and_accuracy(model, split)
    assert grids["loss"][2, 1] == pytest.approx(loss, abs=1e-6)
    assert grids["accuracy"][2, 1] == pytest.approx(acc, abs=1e-12)
    with torch.no_grad():
        follows_b = float((model(split.x).argmax(dim=1) == split.b).double().mean())
    assert grids["spurious_utilisation"][2, 1] == pytest.approx(follows_b)
    np.testing.assert_array_equal(grids["spurious_split_accuracy"], grids["accuracy"])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert model.training  # mode restored
    # away from the origin the loss changes; every value is a valid loss/fraction
    assert not np.allclose(grids["loss"], loss)
    assert np.all(np.isfinite(grids["loss"])) and np.all((grids["accuracy"] >= 0) & (grids["accuracy"] <= 1))


def test_landscape_point_equals_manually_perturbed_model_and_spurious_split():
    model, split, other = _model(), _split(), _split(n=120, seed=7)
    d1, d2 = random_directions(model, seed=3)
    grids = loss_landscape(model, split, (d1, d2), [0.3], [-0.7], spurious_split=other)
    moved = _model()
    with torch.no_grad():
        for p, u, v in zip(moved.parameters(), d1, d2):
            p.add_(0.3 * u - 0.7 * v)
    loss, acc = evaluate_loss_and_accuracy(moved, split)
    _, other_acc = evaluate_loss_and_accuracy(moved, other)
    with torch.no_grad():
        follows_b = float((moved(other.x).argmax(dim=1) == other.b).double().mean())
    assert grids["loss"][0, 0] == pytest.approx(loss, rel=1e-5)
    assert grids["accuracy"][0, 0] == pytest.approx(acc)
    assert grids["spurious_split_accuracy"][0, 0] == pytest.approx(other_acc)
    assert grids["spurious_utilisation"][0, 0] == pytest.approx(follows_b)


def test_spurious_utilisation_of_a_bias_following_model_is_one():
    # the model predicts argmax of the first 3 inputs; put a one-hot of b there
    model = FCN(in_features=3, num_classes=3, width=3, depth=1)
    with torch.no_grad():
        model.hidden[0].weight.copy_(torch.eye(3))
        model.head.weight.copy_(torch.eye(3))
    b = torch.tensor([0, 1, 2, 2, 1, 0])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    split = TensorSplit(torch.nn.functional.one_hot(b, 3).float(), y, b)
    zero = [torch.zeros_like(p) for p in model.parameters()]
    grids = loss_landscape(model, split, (zero, zero), [0.0, 1.0], [0.0])
    np.testing.assert_array_equal(grids["spurious_utilisation"], np.ones((2, 1)))
    np.testing.assert_array_equal(grids["accuracy"], np.full((2, 1), 2 / 6))


def test_landscape_on_cnn_and_weights_restored_after_error():
    torch.manual_seed(0)
    model = CNN(in_channels=1, num_classes=2, channels=(3, "M", 4), width_multiplier=1.0)
    split = TensorSplit(torch.randn(10, 1, 8, 8), torch.randint(0, 2, (10,)), torch.randint(0, 2, (10,)))
    before = [p.detach().clone() for p in model.parameters()]
    grids = loss_landscape(model, split, random_directions(model, 1), [0.0, 1.0], [0.0, 1.0, 2.0])
    assert grids["loss"].shape == (2, 3)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))
    bad = TensorSplit(torch.randn(4, 2, 8, 8), torch.zeros(4, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    with pytest.raises(RuntimeError):  # wrong channel count fails mid-sweep ...
        loss_landscape(model, bad, random_directions(model, 1), [0.5], [0.5])
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))  # ... weights restored
    with pytest.raises(ValueError, match="direction"):
        loss_landscape(model, split, ([], []), [0.0], [0.0])


def test_fcn_fast_path_equals_full_forward():
    model, split, other = _model(), _split(n=300), _split(n=90, seed=4)
    dirs = random_directions(model, seed=5)
    alphas, betas = [-0.8, 0.4], [0.0, 1.5]
    fast = loss_landscape(model, split, dirs, alphas, betas, spurious_split=other, batch_size=160)
    plain = loss_landscape(model, split, dirs, alphas, betas, spurious_split=other, batch_size=160, fast=False)
    np.testing.assert_allclose(fast["loss"], plain["loss"], rtol=1e-5)
    for key in ("accuracy", "spurious_utilisation", "spurious_split_accuracy"):
        np.testing.assert_allclose(fast[key], plain[key], atol=1.5 / 90)  # at most a tie-level argmax flip
    # over budget -> plain path, same numbers
    capped = loss_landscape(model, split, dirs, alphas, betas, spurious_split=other, batch_size=160, fast_max_bytes=0)
    np.testing.assert_array_equal(capped["loss"], plain["loss"])


def test_landscape_of_a_pruned_fcn_uses_weight_orig_and_restores_it():
    from largelr.analyses.pruning import prune_structured

    pruned, split = prune_structured(_model(), 0.5), _split()
    before = [p.detach().clone() for p in pruned.parameters()]
    grids = loss_landscape(pruned, split, random_directions(pruned, 2), [0.0, 0.5], [0.0])
    loss, _ = evaluate_loss_and_accuracy(pruned, split)
    assert grids["loss"][0, 0] == pytest.approx(loss, abs=1e-6)
    assert grids["loss"][1, 0] != pytest.approx(loss, abs=1e-6)
    assert all(torch.equal(p, q) for p, q in zip(pruned.parameters(), before))
