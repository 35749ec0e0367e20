"""Per-run metrics: structured pruning (§3.2) and the metrics file of a run."""

from __future__ import annotations

import math

import pytest
import torch

from helpers import TINY_CELL, tiny_parity, write_diverged_run, write_untrained_run
from largelr.analyses.evaluation import evaluate_model, evaluate_run, evaluate_runs
from largelr.io import read_json
from largelr.reporting.summary import summarize_runs
from largelr.analyses.pruning import prune_structured
from largelr.training.models import FCN
from largelr.training.protocol import TensorSplit

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


def test_evaluate_model_writes_one_prunability_per_listed_ranking_the_first_is_prunability():
    torch.manual_seed(0)
    model = FCN(in_features=6, num_classes=2, width=16, depth=2)
    x = torch.randn(200, 6)
    split = TensorSplit(x, (x[:, 0] > 0).long(), (x[:, 1] > 0).long())
    default = evaluate_model(model, split, ANALYSIS)  # no prune_rankings: [weight_norm]
    assert default["prunability_weight_norm"] == default["prunability"]
    assert not any(k.startswith("prunability_") and k != "prunability_weight_norm" for k in default)
    analysis = {**ANALYSIS, "prune_rankings": ["activation", "weight_norm", "global_weight_norm"]}
    result = evaluate_model(model, split, analysis, train_x=torch.randn(50, 6))
    assert {k for k in result if k.startswith("prunability_")} == {
        "prunability_activation", "prunability_weight_norm", "prunability_global_weight_norm"}
    assert result["prunability"] == result["prunability_activation"]
    assert result["prune_retention"] == result["prune_retention_activation"]
    assert result["prunability_weight_norm"] == default["prunability"]  # the default reading is unchanged


def test_metrics_json_and_summary_carry_a_column_per_ranking(tmp_path, one_torch_thread):
    facts = {"iterations": 1, "wall_time_s": 0.1, "device": "cpu", "max_bc_loss_ratio": 0.5}
    write_untrained_run(tmp_path, tiny_parity(tmp_path), **facts)
    write_diverged_run(tmp_path / "div", **facts)
    analysis = {**ANALYSIS, "prune_rankings": ["weight_norm", "activation"]}
    evaluate_run(tmp_path / "parity.npz", tmp_path, tmp_path / "metrics.json", analysis, device="cpu")
    evaluate_run(tmp_path / "parity.npz", tmp_path / "div", tmp_path / "div.json", analysis, device="cpu")
    written = read_json(tmp_path / "metrics.json")
    assert written["prunability"] == written["prunability_weight_norm"]
    assert 0.0 <= written["prunability_activation"] <= 2.0
    frame = summarize_runs([tmp_path / "run.json", tmp_path / "div" / "run.json"],
                           [tmp_path / "metrics.json", tmp_path / "div.json"])
    assert list(frame.columns[-2:]) == ["prunability_weight_norm", "prunability_activation"]
    assert "prunability_global_weight_norm" not in frame.columns  # not listed: no column
    assert frame["prunability_activation"].iloc[0] == written["prunability_activation"]
    assert math.isnan(frame["prunability_activation"].iloc[1])  # the diverged run keeps an empty value


def test_evaluate_model_gives_both_normalisations_of_the_same_curve_and_live_selectivities():
    torch.manual_seed(0)
    model = FCN(in_features=6, num_classes=2, width=16, depth=2)
    x = torch.randn(200, 6)
    split = TensorSplit(x, (x[:, 0] > 0).long(), (x[:, 1] > 0).long())
    analysis = {**ANALYSIS, "prune_rankings": ["weight_norm", "activation"],
                "prune_normalisations": ["retention", "accuracy"]}
    train_x = torch.randn(50, 6)
    result = evaluate_model(model, split, analysis, train_x=train_x)
    for name in ("weight_norm", "activation"):  # accuracy reading = Acc(f) × mean retention, no new pass
        mean_retention = sum(result[f"prune_retention_{name}"]) / 3
        assert result[f"pruned_accuracy_{name}"] == pytest.approx(result["test_acc"] * mean_retention)
        assert result[f"prunability_{name}"] == pytest.approx(mean_retention)
    assert result["pruned_accuracy"] == result["pruned_accuracy_weight_norm"]
    assert result["csi_live"] >= result["csi"] and result["bsi_live"] >= result["bsi"]
    only_retention = evaluate_model(model, split, {**analysis, "prune_normalisations": ["retention"]}, train_x=train_x)
    assert math.isnan(only_retention["pruned_accuracy"]) and "pruned_accuracy_activation" not in only_retention
    assert only_retention["prunability_activation"] == result["prunability_activation"]


def test_evaluate_runs_writes_what_evaluate_run_writes_for_each_run_of_a_job(tmp_path, one_torch_thread):
    """The evaluate rule's one-process-per-training-job path changes no number (issue 19): each
    run's metrics.json equals the one evaluate_run writes alone, a diverged run included."""
    facts = {"iterations": 1, "wall_time_s": 0.1, "device": "cpu", "max_bc_loss_ratio": 0.5}
    dataset = tiny_parity(tmp_path)
    write_untrained_run(tmp_path / "a", dataset, **facts)
    write_untrained_run(tmp_path / "b", dataset, cell={**TINY_CELL, "seed": 1}, **facts)
    write_diverged_run(tmp_path / "div", **facts)
    runs = [tmp_path / "a", tmp_path / "div", tmp_path / "b"]
    records = evaluate_runs(tmp_path / "parity.npz", runs, [tmp_path / "job" / f"{r.name}.json" for r in runs],
                            ANALYSIS, device="cpu")
    assert [r["status"] for r in records] == [read_json(r / "run.json")["status"] for r in runs]
    for run in runs:
        evaluate_run(tmp_path / "parity.npz", run, tmp_path / f"alone_{run.name}.json", ANALYSIS, device="cpu")
        assert (tmp_path / "job" / f"{run.name}.json").read_text() == (tmp_path / f"alone_{run.name}.json").read_text()
    assert read_json(tmp_path / "job" / "a.json") != read_json(tmp_path / "job" / "b.json")  # two models
