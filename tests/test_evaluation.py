"""Per-run metrics: structured pruning (§3.2) and the metrics file of a run."""

from __future__ import annotations

import math

import pytest
import torch

from largelr.evaluation import evaluate_model
from largelr.pruning import prune_structured
from largelr.models import FCN
from largelr.training import TensorSplit

ANALYSIS = {"prune_kappas": [0.0, 0.3, 0.9], "repr_samples": 50, "repr_seed": 0,
            "compress_kappa": 0.1, "compress_q": 2.0}


def _zero_rows(layer: torch.nn.Linear) -> int:
    return int((layer.weight.detach().abs().sum(dim=1) == 0).sum())


@pytest.mark.parametrize("kappa, expected", [(0.0, 0), (0.1, 2), (0.25, 5), (0.9, 18)])
def test_structured_pruning_removes_ceil_kappa_units_per_hidden_layer(kappa, expected):
    torch.manual_seed(0)
    model = FCN(in_features=8, num_classes=3, width=20, depth=2)
    pruned = prune_structured(model, kappa)
    assert [_zero_rows(layer) for layer in pruned.prunable_layers()] == [expected, expected]
    assert torch.equal(pruned.head.weight, model.head.weight)  # output layer untouched
    assert _zero_rows(model.hidden[0]) == 0  # the original is not modified


def test_pruning_removes_the_smallest_l2_units():
    model = FCN(in_features=3, num_classes=2, width=4, depth=1)
    with torch.no_grad():
        model.hidden[0].weight.copy_(torch.tensor([[3.0, 0, 0], [0.1, 0.1, 0], [0, 2.0, 0], [0, 0, 0.5]]))
    pruned = prune_structured(model, 0.5)
    kept = pruned.hidden[0].weight.detach().abs().sum(dim=1) > 0
    assert kept.tolist() == [True, False, True, False]


def test_evaluate_model_kappa_zero_retains_everything_and_metrics_are_in_range():
    torch.manual_seed(0)
    model = FCN(in_features=6, num_classes=2, width=16, depth=2)
    x = torch.randn(200, 6)
    y = (x[:, 0] > 0).long()
    split = TensorSplit(x, y, 1 - y)
    result = evaluate_model(model, split, ANALYSIS)
    assert result["prune_retention"][0] == pytest.approx(1.0)
    assert result["prunability"] == pytest.approx(sum(result["prune_retention"]) / 3)
    assert 0.0 <= result["act_compressibility"] <= 1.0 and 0.0 <= result["act_sparsity"] <= 1.0
    assert 0.0 <= result["act_pq_index"] < 1.0
    assert all(math.isfinite(result[k]) for k in ("class_sep", "csi", "bsi"))
    # deterministic: the same model gives the same numbers
    assert evaluate_model(model, split, ANALYSIS) == result


def test_worst_group_accuracy_is_the_minimum_over_the_y_b_groups():
    torch.manual_seed(0)
    model = FCN(in_features=6, num_classes=2, width=16, depth=1)
    x = torch.randn(300, 6)
    y = (x[:, 0] > 0).long()
    b = (x[:, 1] > 0).long()
    result = evaluate_model(model, TensorSplit(x, y, b), ANALYSIS)
    with torch.no_grad():
        correct = model(x).argmax(dim=1) == y
    by_group = [correct[(y == i) & (b == j)].float().mean().item() for i in (0, 1) for j in (0, 1)]
    assert result["worst_group_acc"] == pytest.approx(min(by_group))
    assert result["worst_group_acc"] <= result["test_acc"]
