"""The metric registry (largelr.metric_registry): every list derived from it is the one the outputs
have always used, every declaration is consistent, and the preset schema's metric enum agrees."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from largelr import metric_registry as registry

REPO = Path(__file__).resolve().parents[1]


def test_derived_lists_keep_the_column_orders_of_runs_csv_and_the_tables():
    assert registry.METRIC_NAMES == (
        "test_acc", "worst_group_acc", "prunability", "pruned_accuracy", "act_compressibility", "act_sparsity",
        "act_pq_index", "class_sep", "csi", "csi_live", "bsi", "bsi_live")
    assert registry.TABLE1_METRICS == ["test_acc", "prunability", "act_compressibility", "csi", "class_sep"]
    assert registry.TABLE1_READINGS == {"pruned_accuracy": "prunability"}
    assert [m.name for m in registry.SCORECARD_METRICS] == registry.TABLE1_METRICS + [
        "worst_group_acc", "pruned_accuracy", "csi_live", "bsi", "bsi_live"]
    assert {name for name, claim in registry.CLAIMS.items() if not claim} == {"bsi", "bsi_live"}
    assert registry.LR_SWEEP_DEFAULTS == registry.TABLE1_METRICS
    assert registry.ATTRIBUTION_COLUMNS == (
        "core_attribution", "spurious_attribution", "noise_attribution", "attribution_entropy")
    assert registry.PARAMETER_COLUMNS == ("param_qk_compressibility", "param_pq_index")
    assert registry.BACKGROUND_COLUMNS == ("background_attribution",)
    assert registry.columns_of("run") == ("max_bc_loss_ratio",)
    assert registry.METRIC_FILE == {
        **{name: "attributions" for name in registry.ATTRIBUTION_COLUMNS},
        "param_qk_compressibility": "pruning", "param_pq_index": "pruning", "background_attribution": "background"}


def test_every_analysis_file_kind_is_one_the_summary_joins():
    from largelr.reporting.summary import ANALYSIS_FILE_COLUMNS

    assert set(registry.METRIC_FILE.values()) == set(ANALYSIS_FILE_COLUMNS)
    for kind, (columns, _) in ANALYSIS_FILE_COLUMNS.items():
        assert tuple(columns) == registry.columns_of(kind)


def test_every_formula_is_a_function_of_the_metrics_module():
    from largelr.analyses import metrics

    for metric in registry.METRICS:
        if metric.formula:
            assert callable(getattr(metrics, metric.formula, None)), metric.name


def test_evaluation_computes_exactly_the_declared_inputs():
    import torch

    from largelr.analyses.evaluation import metric_inputs
    from largelr.training.protocol import TensorSplit
    from largelr.training.models import FCN

    torch.manual_seed(0)
    x, y = torch.rand(40, 6), torch.arange(40) % 2
    analysis = {"prune_kappas": [0.0, 0.5], "repr_samples": 20, "repr_seed": 0, "compress_kappa": 0.1,
                "compress_q": 2.0}
    inputs, _ = metric_inputs(FCN(in_features=6, num_classes=2, width=8, depth=1), TensorSplit(x, y, 1 - y), analysis)
    assert tuple(inputs) == registry.EVALUATION_INPUTS


@pytest.mark.parametrize(("change", "problem"), [
    ({"name": "csi"}, "declared twice"),
    ({"source": "nowhere"}, "unknown source"),
    ({"scorecard": "maybe"}, "unknown scorecard value"),
    ({"on": ("w",)}, "unknown inputs"),
    ({"source": "attributions"}, "only metrics.json metrics have a formula"),
    ({"on": (), "formula": ""}, "names its inputs"),
    ({"table1": 1}, "Table 1 place 1 taken twice"),
    ({"table1_reading_of": "nothing"}, "unknown 'nothing'"),
])
def test_inconsistent_declarations_are_refused(change: dict[str, Any], problem: str):
    extra = registry.Metric("new_metric", "New", "index", formula="sparsity", on=("z",))
    with pytest.raises(ValueError, match=problem):
        registry.check_registry(registry.METRICS + (dataclasses.replace(extra, **change),))


def _enums_naming(schema: Any, member: str) -> Iterator[list]:
    """Every ``enum`` list of ``schema`` (any layout: flow or block style, inline or under $defs) holding ``member``."""
    if isinstance(schema, dict):
        if isinstance(schema.get("enum"), list) and member in schema["enum"]:
            yield schema["enum"]
        for value in schema.values():
            yield from _enums_naming(value, member)
    elif isinstance(schema, list):
        for value in schema:
            yield from _enums_naming(value, member)


def test_the_preset_schema_metric_enum_is_the_registry():
    from largelr.config import load_preset_schema

    raw = yaml.safe_load((REPO / "workflow/schemas/preset.schema.yaml").read_text(encoding="utf-8"))
    assert not list(_enums_naming(raw, "test_acc"))  # the registry is the one place to add a metric
    enums = list(_enums_naming(load_preset_schema(REPO / "workflow/schemas"), "test_acc"))
    assert enums, "load_preset_schema: no metric enum"
    for enum in enums:
        assert sorted(enum) == sorted(registry.LR_SWEEP_METRICS), (
            "workflow/schemas/preset.schema.yaml's metric enum differs from largelr.metric_registry.METRICS")


def test_plotting_and_reporting_modules_reach_the_registry_without_torch():
    code = ("import sys, largelr.metric_registry, largelr.columns, largelr.reporting.tables, "
            "largelr.reporting.summary; assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
