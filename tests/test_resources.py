"""Resources of the jobs (issue 17 items 4, 5): per attempt, from the cost estimate, split groups.

The workflow's own functions (largelr.workflow.plan, wired to the rules by workflow/rules/common.smk)
are called directly with a job's wildcards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from largelr.config import figure_kinds, resolve_config
from largelr.workflow.cost import (estimate_cell_minutes, estimate_group_minutes, group_parts, split_cells,
                                   trains_one_after_another)
from largelr.workflow.inputs import WorkflowPlan
from largelr.workflow.plan import Plan

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def plan():
    """The workflow's plan of every preset of the shipped config.yaml, as common.smk builds it."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    return Plan(resolve_config(config, REPO / "workflow" / "schemas"))


@pytest.fixture(scope="module")
def workflow_plan():
    """The workflow's plan with the targets' inputs (WorkflowPlan), as common.smk builds it."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    presets = resolve_config(config, REPO / "workflow" / "schemas")
    return WorkflowPlan(presets, figure_kinds(presets))


class Wildcards(dict):
    """A job's wildcards: attributes and a mapping, as Snakemake's."""

    __getattr__ = dict.__getitem__


def _job(preset, dataset, model, recipe, intervention="none", part=""):
    return Wildcards(preset=preset, dataset=dataset, model=model, recipe=recipe, intervention=intervention, part=part)


def _rows(plan, job):
    return plan.group_rows(job).to_dict("records")


def test_split_cells_keeps_order_and_the_limit():
    assert split_cells([3, 3, 3, 3, 3], 7) == [[0, 1], [2, 3], [4]]
    assert split_cells([10, 1, 1], 5) == [[0], [1, 2]]  # a cell above the limit gets a job of its own
    assert split_cells([1, 1], 5) == [[0, 1]]


def test_resnets_stack_on_a_gpu_and_a_stacked_group_over_the_limit_splits_into_smaller_stacks(plan):
    preset = plan.presets["paper"]
    rows = _rows(plan, _job("paper", "colored_mnist", "resnet18", "sgd"))
    assert not trains_one_after_another(preset, rows)  # batch-norm statistics only: stacked on CUDA
    whole = estimate_group_minutes(preset, rows)
    assert group_parts(preset, rows, whole) == [list(range(len(rows)))]
    parts = group_parts(preset, rows, whole * 0.6)
    assert len(parts) >= 2 and sorted(i for part in parts for i in part) == list(range(len(rows)))
    assert all(estimate_group_minutes(preset, [rows[i] for i in part]) <= whole * 0.6 for part in parts)
    assert all(part == list(range(part[0], part[-1] + 1)) for part in parts)  # consecutive: neighbouring LRs


def test_retries_ask_more_runtime_and_memory(plan):
    job = _job("ci", "parity", "fcn_parity", "sgd")
    for rule in ("train_group", "evaluate", "landscape"):
        mem = plan.rule_mem_mb(rule)
        assert [mem(job, attempt) for attempt in (1, 2, 3)] == [mem(job, 1) * k for k in (1, 2, 3)]
    runtime = plan.train_job_runtime
    assert [runtime(job, attempt) for attempt in (1, 2)] == [240, 480]
    # one evaluate job analyses every run of a training job: 30 minutes per run at reduced scale
    evaluate, runs, limit = plan.job_runtime("evaluate"), len(_rows(plan, job)), plan.presets["ci"]["max_job_minutes"]
    assert runs > 1 and [evaluate(job, attempt) for attempt in (1, 2)] == [min(limit, 30 * runs * k) for k in (1, 2)]
    paper = _job("paper", "colored_mnist", "resnet18", "sgd")
    first, second = runtime(paper, 1), runtime(paper, 2)
    assert second == min(2 * first, 1440) and first != 720  # from the estimate, not a fixed 720
    assert runtime(paper, 10) == plan.presets["paper"]["max_job_minutes"]  # never above the limit


def test_paper_runtime_requests_come_from_the_estimate(plan):
    presets = plan.presets
    for recipe in ("sgd", "adam"):
        job = _job("paper", "colored_mnist", "resnet18", recipe)
        estimate = estimate_group_minutes(presets["paper"], _rows(plan, job))
        assert plan.train_job_runtime(job, 1) == max(30, -(-1.5 * estimate // 1))


def test_long_unstackable_groups_are_split_into_jobs_within_the_limit(plan):
    preset = plan.presets["paper"]
    key = ("paper", "celeba", "swin_t", "adamw_swin", "none")  # Swin-T: buffers, trains one cell at a time
    whole = plan.whole_group(*key).to_dict("records")
    assert trains_one_after_another(preset, whole)
    assert estimate_group_minutes(preset, whole) * 1.5 > preset["max_job_minutes"]
    jobs = plan.training_jobs(*key)
    assert len(jobs) > 1 and all(part.startswith(".part-") for part in jobs)
    assert sorted(i for cells in jobs.values() for i in cells) == list(range(len(whole)))  # every cell once
    for part, cells in jobs.items():
        job = _job(*key, part=part)
        assert plan.training_engine(job) == "sequential"
        assert plan.train_job_runtime(job, 1) <= preset["max_job_minutes"]
        if len(cells) > 1:
            assert 1.5 * estimate_group_minutes(preset, _rows(plan, job)) <= preset["max_job_minutes"]
        # each cell's link_run rule waits for the manifest of the part that trains it
        for row in _rows(plan, job):
            cell = Wildcards(preset="paper", **{k: str(row[k]) for k in ("dataset", "model", "recipe", "intervention")},
                                   lr=str(row["lr"]), seed=str(row["seed"]))
            assert plan.group_manifest(cell).endswith(f"/group{part}.json")
            # ... and its link_metrics rule for the evaluate job of that part
            assert plan.evaluation_manifest(cell) == plan.group_manifest(cell).replace("/training/", "/evaluation/")


def test_stacked_and_reduced_groups_stay_one_job(plan):
    assert plan.training_jobs("paper", "parity", "fcn_parity", "sgd", "none") == {"": list(range(35))}
    for key in [("ci", "parity", "fcn_parity", "sgd", "none"), ("demo", "parity", "fcn_parity", "psgd_wsd", "none")]:
        assert list(plan.training_jobs(*key)) == [""]


def test_a_stack_costs_less_per_cell_than_cells_alone(plan):
    preset = plan.presets["paper"]
    cell = _rows(plan, _job("paper", "colored_mnist", "fcn", "sgd"))[0]
    assert estimate_cell_minutes(preset, cell, stack=21) < estimate_cell_minutes(preset, cell)


def test_gpu_jobs_and_gpu_memory_are_zero_on_the_cpu(plan):
    job = _job("ci", "parity", "fcn_parity", "sgd")  # ci: device cpu
    assert plan.gpu(job) == 0 and plan.rule_gpu_mem_mb("train_group")(job) == 0


def test_the_cell_template_is_the_folder_snakemake_names_a_cell(plan):
    """paths.CELL (built from GRID_COLUMNS) is Paramspace's wildcard pattern of every preset's grid, so the
    templates, the monitor and the rules agree on a run's folder."""
    from snakemake.utils import Paramspace

    from largelr.workflow.paths import CELL, RUN_DIR, in_results

    assert {Paramspace(grid).wildcard_pattern for grid in plan.grids.values()} == {CELL}
    cell = next(iter(Paramspace(plan.grids["ci"]).instance_patterns))
    fields = dict(part.split("~", 1) for part in cell.split("/"))
    assert in_results(RUN_DIR, **fields) == f"runs/{cell}"


@pytest.mark.parametrize("preset", ["ci", "paper"])
def test_batched_analyses_cover_each_requested_run_once_in_the_job_of_its_part(workflow_plan, preset):
    """Issue 25 item 3: a per-run analysis is one job per training job (part) and batch, holding the
    runs whose files the targets read; each run's link rule waits for the job that holds it."""
    requested = workflow_plan.requested_analyses(preset)
    assert {"attribution", "pruning", "dynamics", "landscape"} <= set(requested)
    for batch, cells in requested.items():
        held = []
        for pattern in sorted(cells):
            cell = Wildcards(preset=preset, **dict(part.split("~", 1) for part in pattern.split("/")))
            if batch.startswith("attribution_"):
                cell["method"] = batch.removeprefix("attribution_")
            job = Wildcards(cell, part=workflow_plan.job_part(cell))
            job_cells = workflow_plan.batch_cells(batch if "_" not in batch else "attribution_{method}", job)
            assert {k: cell[k] for k in ("lr", "seed")} in [{k: c[k] for k in ("lr", "seed")} for c in job_cells]
            manifest = workflow_plan.batch_manifest(batch)(cell)
            assert manifest.endswith(f"/group{job['part']}.json") and f"/batched/{batch}/" in manifest
            held += [(manifest, c["lr"], c["seed"]) for c in job_cells]
        assert len(set(held)) == len(cells)  # the jobs hold the requested runs and no other


def test_a_batched_job_asks_runtime_per_run_it_analyses(workflow_plan):
    job = _job("ci", "parity", "fcn_parity", "sgd")
    runtime, limit = workflow_plan.job_runtime("attribute", "attribution"), workflow_plan.presets["ci"]["max_job_minutes"]
    runs = len(workflow_plan.batch_cells("attribution", job))
    assert runs == len(_rows(workflow_plan, job)) > 1 and runtime(job, 1) == min(limit, 30 * runs)
    assert workflow_plan.job_runtime("evaluate")(job, 1) == min(limit, 30 * len(_rows(workflow_plan, job)))


def test_memory_requests_follow_the_dataset_size_in_the_preset(plan):
    """Issue 26 item 2: a job's mem_mb is at least its dataset's bytes in RAM, read from the preset
    (CelebA at 224 px: 27.5 GB of uint8 splits); small datasets keep RULE_RESOURCES' floors."""
    presets = plan.presets
    celeba = _job("paper", "celeba", "swin_t", "adamw_swin")
    mem = plan.rule_mem_mb("train_group")
    before = mem(celeba, 1)
    size = presets["paper"]["datasets"]["celeba"]["params"]["image_size"]
    presets["paper"]["datasets"]["celeba"]["params"]["image_size"] = 224
    try:
        assert plan.data_mb("train_group", celeba, "device") > 1.25 * 27500 > 24000  # above the fixed request
        assert mem(celeba, 1) > 27500 and mem(celeba, 2) == 2 * mem(celeba, 1)
    finally:
        presets["paper"]["datasets"]["celeba"]["params"]["image_size"] = size
    assert mem(celeba, 1) == before
    ci = _job("ci", "parity", "fcn_parity", "sgd")
    assert mem(ci, 1) == 8000 and plan.rule_mem_mb("evaluate")(ci, 1) == 4000  # the floors
