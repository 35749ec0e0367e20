"""Resources of the jobs (issue 17 items 4, 5): per attempt, from the cost estimate, split groups.

The workflow's own functions (workflow/rules/common.smk) are read from a parsed workflow (the
Snakemake API, as `snakemake -n` parses it) and called with a job's wildcards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

from largelr.training.cost import (estimate_cell_minutes, estimate_group_minutes, group_parts, split_cells,
                                   trains_one_after_another)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smk(tmp_path_factory):
    """The globals of the parsed workflow (every preset is resolved; `preset` only picks `all`)."""
    with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(),
                                storage_settings=StorageSettings(), snakefile=REPO / "Snakefile",
                                workdir=tmp_path_factory.mktemp("wd"))
        yield workflow._workflow.globals


class Wildcards(dict):
    """A job's wildcards: attributes and a mapping, as Snakemake's."""

    __getattr__ = dict.__getitem__


def _job(preset, dataset, model, recipe, intervention="none", part=""):
    return Wildcards(preset=preset, dataset=dataset, model=model, recipe=recipe, intervention=intervention, part=part)


def _rows(smk, job):
    return smk["_group_rows"](job).to_dict("records")


def test_split_cells_keeps_order_and_the_limit():
    assert split_cells([3, 3, 3, 3, 3], 7) == [[0, 1], [2, 3], [4]]
    assert split_cells([10, 1, 1], 5) == [[0], [1, 2]]  # a cell above the limit gets a job of its own
    assert split_cells([1, 1], 5) == [[0, 1]]


def test_resnets_stack_on_a_gpu_and_a_stacked_group_over_the_limit_splits_into_smaller_stacks(smk):
    preset = smk["PRESETS"]["paper"]
    rows = _rows(smk, _job("paper", "colored_mnist", "resnet18", "sgd"))
    assert not trains_one_after_another(preset, rows)  # batch-norm statistics only: stacked on CUDA
    whole = estimate_group_minutes(preset, rows)
    assert group_parts(preset, rows, whole) == [list(range(len(rows)))]
    parts = group_parts(preset, rows, whole * 0.6)
    assert len(parts) >= 2 and sorted(i for part in parts for i in part) == list(range(len(rows)))
    assert all(estimate_group_minutes(preset, [rows[i] for i in part]) <= whole * 0.6 for part in parts)
    assert all(part == list(range(part[0], part[-1] + 1)) for part in parts)  # consecutive: neighbouring LRs


def test_retries_ask_more_runtime_and_memory(smk):
    job = _job("ci", "parity", "fcn_parity", "sgd")
    for rule in ("train_group", "evaluate", "landscape"):
        mem = smk["rule_mem_mb"](rule)
        assert [mem(job, attempt) for attempt in (1, 2, 3)] == [mem(job, 1) * k for k in (1, 2, 3)]
    runtime = smk["train_job_runtime"]
    assert [runtime(job, attempt) for attempt in (1, 2)] == [240, 480]
    # one evaluate job analyses every run of a training job: 30 minutes per run at reduced scale
    evaluate, runs, limit = smk["job_runtime"]("evaluate"), len(_rows(smk, job)), smk["PRESETS"]["ci"]["max_job_minutes"]
    assert runs > 1 and [evaluate(job, attempt) for attempt in (1, 2)] == [min(limit, 30 * runs * k) for k in (1, 2)]
    paper = _job("paper", "colored_mnist", "resnet18", "sgd")
    first, second = runtime(paper, 1), runtime(paper, 2)
    assert second == min(2 * first, 1440) and first != 720  # from the estimate, not a fixed 720
    assert runtime(paper, 10) == smk["PRESETS"]["paper"]["max_job_minutes"]  # never above the limit


def test_paper_runtime_requests_come_from_the_estimate(smk):
    presets = smk["PRESETS"]
    for recipe in ("sgd", "adam"):
        job = _job("paper", "colored_mnist", "resnet18", recipe)
        estimate = estimate_group_minutes(presets["paper"], _rows(smk, job))
        assert smk["train_job_runtime"](job, 1) == max(30, -(-1.5 * estimate // 1))


def test_long_unstackable_groups_are_split_into_jobs_within_the_limit(smk):
    preset = smk["PRESETS"]["paper"]
    key = ("paper", "celeba", "swin_t", "adamw_swin", "none")  # Swin-T: buffers, trains one cell at a time
    whole = smk["_whole_group"](*key).to_dict("records")
    assert trains_one_after_another(preset, whole)
    assert estimate_group_minutes(preset, whole) * 1.5 > preset["max_job_minutes"]
    jobs = smk["training_jobs"](*key)
    assert len(jobs) > 1 and all(part.startswith(".part-") for part in jobs)
    assert sorted(i for cells in jobs.values() for i in cells) == list(range(len(whole)))  # every cell once
    for part, cells in jobs.items():
        job = _job(*key, part=part)
        assert smk["training_engine"](job) == "sequential"
        assert smk["train_job_runtime"](job, 1) <= preset["max_job_minutes"]
        if len(cells) > 1:
            assert 1.5 * estimate_group_minutes(preset, _rows(smk, job)) <= preset["max_job_minutes"]
        # each cell's link_run rule waits for the manifest of the part that trains it
        for row in _rows(smk, job):
            cell = Wildcards(preset="paper", **{k: str(row[k]) for k in ("dataset", "model", "recipe", "intervention")},
                                   lr=str(row["lr"]), seed=str(row["seed"]))
            assert smk["group_manifest"](cell).endswith(f"/group{part}.json")
            # ... and its link_metrics rule for the evaluate job of that part
            assert smk["evaluation_manifest"](cell) == smk["group_manifest"](cell).replace("/training/", "/evaluation/")


def test_stacked_and_reduced_groups_stay_one_job(smk):
    assert smk["training_jobs"]("paper", "parity", "fcn_parity", "sgd", "none") == {"": list(range(35))}
    for key in [("ci", "parity", "fcn_parity", "sgd", "none"), ("demo", "parity", "fcn_parity", "psgd_wsd", "none")]:
        assert list(smk["training_jobs"](*key)) == [""]


def test_a_stack_costs_less_per_cell_than_cells_alone(smk):
    preset = smk["PRESETS"]["paper"]
    cell = _rows(smk, _job("paper", "colored_mnist", "fcn", "sgd"))[0]
    assert estimate_cell_minutes(preset, cell, stack=21) < estimate_cell_minutes(preset, cell)


def test_gpu_jobs_and_gpu_memory_are_zero_on_the_cpu(smk):
    job = _job("ci", "parity", "fcn_parity", "sgd")  # ci: device cpu
    assert smk["gpu"](job) == 0 and smk["rule_gpu_mem_mb"]("train_group")(job) == 0


@pytest.mark.parametrize("preset", ["ci", "paper"])
def test_batched_analyses_cover_each_requested_run_once_in_the_job_of_its_part(smk, preset):
    """Issue 25 item 3: a per-run analysis is one job per training job (part) and batch, holding the
    runs whose files the targets read; each run's link rule waits for the job that holds it."""
    requested = smk["requested_analyses"](preset)
    assert {"attribution", "pruning", "dynamics", "landscape"} <= set(requested)
    for batch, cells in requested.items():
        held = []
        for pattern in sorted(cells):
            cell = Wildcards(preset=preset, **dict(part.split("~", 1) for part in pattern.split("/")))
            if batch.startswith("attribution_"):
                cell["method"] = batch.removeprefix("attribution_")
            job = Wildcards(cell, part=smk["_job_part"](cell))
            job_cells = smk["_batch_cells"](batch if "_" not in batch else "attribution_{method}", job)
            assert {k: cell[k] for k in ("lr", "seed")} in [{k: c[k] for k in ("lr", "seed")} for c in job_cells]
            manifest = smk["batch_manifest"](batch)(cell)
            assert manifest.endswith(f"/group{job['part']}.json") and f"/batched/{batch}/" in manifest
            held += [(manifest, c["lr"], c["seed"]) for c in job_cells]
        assert len(set(held)) == len(cells)  # the jobs hold the requested runs and no other


def test_a_batched_job_asks_runtime_per_run_it_analyses(smk):
    job = _job("ci", "parity", "fcn_parity", "sgd")
    runtime, limit = smk["job_runtime"]("attribute", "attribution"), smk["PRESETS"]["ci"]["max_job_minutes"]
    runs = len(smk["_batch_cells"]("attribution", job))
    assert runs == len(_rows(smk, job)) > 1 and runtime(job, 1) == min(limit, 30 * runs)


def test_memory_requests_follow_the_dataset_size_in_the_preset(smk):
    """Issue 26 item 2: a job's mem_mb is at least its dataset's bytes in RAM, read from the preset
    (CelebA at 224 px: 27.5 GB of uint8 splits); small datasets keep RULE_RESOURCES' floors."""
    presets = smk["PRESETS"]
    celeba = _job("paper", "celeba", "swin_t", "adamw_swin")
    mem = smk["rule_mem_mb"]("train_group")
    before = mem(celeba, 1)
    size = presets["paper"]["datasets"]["celeba"]["params"]["image_size"]
    presets["paper"]["datasets"]["celeba"]["params"]["image_size"] = 224
    try:
        assert smk["data_mb"]("train_group", celeba, "device") > 1.25 * 27500 > 24000  # above the fixed request
        assert mem(celeba, 1) > 27500 and mem(celeba, 2) == 2 * mem(celeba, 1)
    finally:
        presets["paper"]["datasets"]["celeba"]["params"]["image_size"] = size
    assert mem(celeba, 1) == before
    ci = _job("ci", "parity", "fcn_parity", "sgd")
    assert mem(ci, 1) == 8000 and smk["rule_mem_mb"]("evaluate")(ci, 1) == 4000  # the floors
