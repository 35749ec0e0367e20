"""Column / global magnitude pruning (suppl. Figs 20, 21) and parameter compressibility (Fig 25)."""

from __future__ import annotations

import math

import pytest
import torch

from largelr.analyses.pruning import prune_structured
from largelr.training.models import CNN, FCN
from largelr.columns import PRUNE_RANKING_NAMES
from largelr.analyses.pruning import (
    PRUNE_RANKINGS,
    mean_abs_activations,
    parameter_compressibility,
    prune_columns,
    prune_global_magnitude,
    prune_units,
    pruning_curve,
    ranked_pruning_curve,
    weight_norm_masks,
    weight_tensors,
)
from largelr.training.protocol import TensorSplit
from largelr.training.single import evaluate_accuracy


def _fcn(seed: int = 0, in_features: int = 10, width: int = 20, depth: int = 2, classes: int = 3) -> FCN:
    torch.manual_seed(seed)
    return FCN(in_features=in_features, num_classes=classes, width=width, depth=depth)


def _split(in_features: int = 10, n: int = 300, seed: int = 1) -> TensorSplit:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, in_features, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    b = torch.randint(0, 3, (n,), generator=g)
    return TensorSplit(x, y, b)


def _zero_columns(w: torch.Tensor) -> torch.Tensor:
    return w.detach().transpose(0, 1).flatten(1).abs().sum(dim=1) == 0


@pytest.mark.parametrize("method", ["structured", "column", "global"])
def test_kappa_zero_leaves_accuracy_unchanged(method):
    model, split = _fcn(), _split()
    base = evaluate_accuracy(model, split)
    assert pruning_curve(model, split, [0.0], method) == [base]


def test_curve_is_one_accuracy_per_kappa_and_full_pruning_is_chance_or_worse():
    model, split = _fcn(), _split()
    for method in ("structured", "column", "global"):
        curve = pruning_curve(model, split, [0.0, 0.5, 1.0], method)
        assert len(curve) == 3 and all(0.0 <= a <= 1.0 for a in curve)
    # everything pruned: constant zero logits -> argmax = class 0 for every sample
    frac_class0 = float((split.y == 0).double().mean())
    assert pruning_curve(model, split, [1.0], "global") == [pytest.approx(frac_class0)]
    with pytest.raises(ValueError, match="unknown pruning method"):
        pruning_curve(model, split, [0.1], "rows")


def test_structured_method_is_the_evaluation_function():
    model, split = _fcn(), _split()
    for kappa in (0.25, 0.6):
        assert pruning_curve(model, split, [kappa], "structured") == [evaluate_accuracy(prune_structured(model, kappa), split)]
    pruned = prune_structured(model, 0.25)  # ⌈0.25·20⌉ = 5 units per hidden layer
    assert [int((layer.weight.abs().sum(dim=1) == 0).sum()) for layer in pruned.prunable_layers()] == [5, 5]


@pytest.mark.parametrize("kappa", [0.0, 0.1, 0.25, 0.55, 1.0])
def test_column_pruning_zeroes_ceil_kappa_columns_per_layer_smallest_l2(kappa):
    model = _fcn()
    pruned = prune_columns(model, kappa)
    layers = list(zip(model.prunable_layers() + [model.head], pruned.prunable_layers() + [pruned.head]))
    for original, new in layers:
        w0, w = original.weight.detach(), new.weight.detach()
        k = math.ceil(round(kappa * w0.shape[1], 9))
        zero = _zero_columns(w)
        assert int(zero.sum()) == k
        expected = torch.zeros(w0.shape[1], dtype=torch.bool)
        expected[w0.norm(dim=0).argsort()[:k]] = True  # the k smallest-L2 columns
        assert torch.equal(zero, expected)
        assert torch.equal(w[:, ~zero], w0[:, ~zero])  # kept columns untouched
    # the original is untouched and the copy has plain parameters (pruning made permanent)
    assert int(_zero_columns(model.hidden[0].weight).sum()) == 0
    assert not hasattr(pruned.hidden[0], "weight_orig")
    assert isinstance(pruned.hidden[0].weight, torch.nn.Parameter)


def test_column_pruning_hand_case_and_head_option():
    model = FCN(in_features=4, num_classes=2, width=3, depth=1)
    with torch.no_grad():
        model.hidden[0].weight.copy_(torch.tensor([[1.0, 0.1, 3.0, 0.0], [0.0, 0.1, 0.0, 0.2], [1.0, 0.0, 0.0, 0.2]]))
        model.head.weight.copy_(torch.tensor([[0.1, 2.0, 0.0], [0.1, 0.0, 1.0]]))
    pruned = prune_columns(model, 0.5)  # ⌈0.5·4⌉ = 2 of 4 columns, ⌈0.5·3⌉ = 2 of 3 head columns
    assert _zero_columns(pruned.hidden[0].weight).tolist() == [False, True, False, True]
    assert _zero_columns(pruned.head.weight).tolist() == [True, False, True]
    hidden_only = prune_columns(model, 0.5, include_head=False)
    assert torch.equal(hidden_only.head.weight, model.head.weight)


def test_column_pruning_conv_removes_input_channels():
    torch.manual_seed(0)
    model = CNN(in_channels=3, num_classes=2, channels=(4, "M", 6), width_multiplier=1.0)
    pruned = prune_columns(model, 0.5)
    conv0, conv1 = pruned.prunable_layers()
    assert int(_zero_columns(conv0.weight).sum()) == 2  # ⌈0.5·3⌉ input channels
    assert int(_zero_columns(conv1.weight).sum()) == 2  # ⌈0.5·4⌉
    expected = model.prunable_layers()[1].weight.detach().transpose(0, 1).flatten(1).norm(dim=1).argsort()[:2]
    assert set(torch.nonzero(_zero_columns(conv1.weight)).flatten().tolist()) == set(expected.tolist())
    assert pruned(torch.randn(2, 3, 8, 8)).shape == (2, 2)


@pytest.mark.parametrize("kappa", [0.0, 0.1, 0.37, 0.9])
def test_global_pruning_zeroes_round_kappa_total_smallest_weights(kappa):
    model = _fcn(seed=3)
    pruned = prune_global_magnitude(model, kappa)
    before = torch.cat([layer.weight.detach().flatten() for layer in model.prunable_layers() + [model.head]])
    after = torch.cat([layer.weight.detach().flatten() for layer in pruned.prunable_layers() + [pruned.head]])
    n = round(kappa * before.numel())
    zero = after == 0
    assert int(zero.sum()) == n
    if 0 < n < before.numel():  # the zeroed ones are exactly the n smallest |w| globally
        assert before[zero].abs().max() < before[~zero].abs().min()
    assert torch.equal(after[~zero], before[~zero])
    assert int((model.hidden[0].weight == 0).sum()) == 0  # original untouched


def test_global_pruning_is_global_not_layerwise():
    model = FCN(in_features=2, num_classes=2, width=2, depth=1)
    with torch.no_grad():
        model.hidden[0].weight.copy_(torch.tensor([[0.01, 0.02], [0.03, 0.04]]))
        model.head.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    pruned = prune_global_magnitude(model, 0.5)  # the 4 smallest are all in the hidden layer
    assert torch.equal(pruned.hidden[0].weight, torch.zeros(2, 2))
    assert torch.equal(pruned.head.weight, model.head.weight)


def test_invalid_kappa_raises():
    with pytest.raises(ValueError):
        prune_columns(_fcn(), 1.5)
    with pytest.raises(ValueError):
        prune_global_magnitude(_fcn(), -0.1)


def test_parameter_compressibility_of_one_sparse_layers():
    model = FCN(in_features=10, num_classes=3, width=20, depth=2)
    with torch.no_grad():
        for _, w in weight_tensors(model):
            w.zero_()
        for i, (_, w) in enumerate(weight_tensors(model)):
            w.view(-1)[i] = 2.0 + i  # one non-zero entry per layer
    out = parameter_compressibility(model)
    sizes = [200, 400, 60]
    assert [r["numel"] for r in out["layers"]] == sizes
    for r, d in zip(out["layers"], sizes):
        assert r["pq_index"] == pytest.approx(1 - d ** -0.5)
        assert r["qk_compressibility"] == pytest.approx(1.0)
    assert out["param_pq_index_layer_mean"] == pytest.approx(sum(1 - d ** -0.5 for d in sizes) / 3)
    assert out["param_qk_compressibility"] == pytest.approx(1.0)
    # whole vector: 3 non-zeros 2, 3, 4 among d = 660: I = 1 − d^(−1/2)·‖w‖₁/‖w‖₂
    assert out["param_pq_index"] == pytest.approx(1 - 660 ** -0.5 * 9 / math.sqrt(29))
    assert out["param_pq_index"] > 0.8


def test_parameter_compressibility_of_flat_weights_is_low():
    model = FCN(in_features=10, num_classes=3, width=20, depth=2)
    with torch.no_grad():
        for _, w in weight_tensors(model):
            w.fill_(-0.5)
    out = parameter_compressibility(model, kappa=0.1, q=2.0)
    assert out["param_pq_index"] == pytest.approx(0.0, abs=1e-12)
    assert out["param_pq_index_layer_mean"] == pytest.approx(0.0, abs=1e-12)
    # flat vector: keeping ⌈0.1·660⌉ = 66 entries leaves sqrt(594/660) of the 2-norm
    assert out["param_qk_compressibility"] == pytest.approx(1 - math.sqrt(594 / 660))


def test_parameter_compressibility_increases_with_global_pruning():
    model = _fcn(seed=5)
    dense = parameter_compressibility(model)
    sparse = parameter_compressibility(prune_global_magnitude(model, 0.8))
    assert sparse["param_pq_index"] > dense["param_pq_index"]
    assert sparse["param_qk_compressibility"] > dense["param_qk_compressibility"]


# ---- unit rankings of §3.2 prunability (PRUNE_RANKINGS) ----------------------------------------

def _disagreeing_fcn() -> tuple[FCN, torch.Tensor]:
    """2 hidden layers x 2 units. Layer 1: unit 0 has the larger weight row (‖(3, 0)‖ = 3 > 1) but
    is dead on x (pre-activation 3·x₀ < 0); layer 2's rows (norms 10, 20) outweigh layer 1's."""
    model = FCN(in_features=2, num_classes=2, width=2, depth=2)
    with torch.no_grad():
        model.hidden[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 1.0]]))
        model.hidden[1].weight.copy_(torch.tensor([[10.0, 0.0], [0.0, 20.0]]))
        model.head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    return model, torch.tensor([[-1.0, 5.0], [-2.0, 3.0]])


def _removed(masks: list[torch.Tensor]) -> list[list[int]]:
    return [torch.nonzero(mask).flatten().tolist() for mask in masks]


def test_rankings_are_named_in_one_place_matching_the_config_names():
    assert tuple(PRUNE_RANKINGS) == PRUNE_RANKING_NAMES
    assert PRUNE_RANKINGS["weight_norm"] is weight_norm_masks


def test_mean_abs_activations_are_the_post_relu_means_per_unit():
    model, x = _disagreeing_fcn()
    scores = mean_abs_activations(model, x)
    # layer 1: relu(3·x0) = 0, relu(x1) = 5, 3 -> 4; layer 2: 10·0 = 0, 20·(5, 3) -> 80
    assert [s.tolist() for s in scores] == [[0.0, 4.0], [0.0, 80.0]]


@pytest.mark.parametrize("ranking, removed", [
    ("weight_norm", [[1], [0]]),          # per layer, smallest ‖w_i‖₂: 1 < 3 and 10 < 20
    ("activation", [[0], [0]]),           # per layer, smallest mean |activation|: the dead units
    ("global_weight_norm", [[0, 1], []]),  # the ⌈0.5·4⌉ = 2 smallest norms of (3, 1, 10, 20)
])
def test_each_ranking_removes_its_own_known_units(ranking, removed):
    model, x = _disagreeing_fcn()
    masks = PRUNE_RANKINGS[ranking](model, 0.5, x)
    assert _removed(masks) == removed
    pruned = prune_units(model, masks)
    for layer, original, gone in zip(pruned.prunable_layers(), model.prunable_layers(), removed):
        zero = layer.weight.abs().sum(dim=1) == 0
        assert zero.nonzero().flatten().tolist() == gone
        assert torch.equal(layer.weight[~zero], original.weight[~zero])  # kept units untouched
    assert torch.equal(pruned.head.weight, model.head.weight) and model.hidden[0].weight[1, 1] == 1.0


def test_rankings_give_different_accuracies_on_the_hand_built_model():
    model, x = _disagreeing_fcn()
    split = TensorSplit(x, torch.tensor([1, 1]), torch.tensor([0, 0]))  # logits (0, 80): class 1
    curves = {name: ranked_pruning_curve(model, split, [0.0, 0.5], name, x) for name in PRUNE_RANKINGS}
    # removing dead units keeps the prediction; removing layer 1's live unit zeroes the logits (argmax 0)
    assert curves == {"weight_norm": [1.0, 0.0], "activation": [1.0, 1.0], "global_weight_norm": [1.0, 0.0]}


@pytest.mark.parametrize("kappa", [0.0, 0.1, 0.25, 0.6, 0.9])
def test_weight_norm_ranking_is_the_structured_pruning_of_the_default_metric(kappa):
    model, split = _fcn(seed=3), _split()
    assert ranked_pruning_curve(model, split, [kappa], "weight_norm") == pruning_curve(model, split, [kappa])
    expected = prune_structured(model, kappa)
    ranked = prune_units(model, weight_norm_masks(model, kappa))
    for a, b in zip(expected.prunable_layers(), ranked.prunable_layers()):
        assert torch.equal(a.weight.detach(), b.weight.detach())


def test_activation_ranking_needs_samples_and_scores_conv_kernels_per_channel():
    model, _ = _disagreeing_fcn()
    with pytest.raises(ValueError, match="needs input samples"):
        PRUNE_RANKINGS["activation"](model, 0.5, None)
    with pytest.raises(ValueError, match="unknown prune ranking"):
        ranked_pruning_curve(model, _split(2), [0.5], "random")
    torch.manual_seed(0)
    cnn = CNN(in_channels=3, num_classes=2, channels=(4, "M", 6), width_multiplier=1.0)
    scores = mean_abs_activations(cnn, torch.rand(5, 3, 8, 8))
    assert [len(s) for s in scores] == [4, 6] and all(bool((s >= 0).all()) for s in scores)
    assert [int(m.sum()) for m in PRUNE_RANKINGS["activation"](cnn, 0.5, torch.rand(5, 3, 8, 8))] == [2, 3]
