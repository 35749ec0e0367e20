"""``smoke: true``: the dress rehearsal of a preset (issue 25), in minutes, on any machine.

:func:`smoke_preset` turns a resolved preset P into ``P-smoke`` (its own results folder,
``results/P-smoke/``), which runs every job kind of P, never as evidence:

* every training group, recipe, intervention, figure and table is kept; each experiment keeps
  its lowest and highest LR, the lowest and highest value of each intervention it varies (and
  those a figure's ``interventions`` names, as Fig 9's ``focal_gamma=2``), and
  its first seed (two seeds where an ``attribution_gallery`` figure draws the group, so that the
  suppl. E.1 selection has seeds to count);
* every dataset is cut to :data:`TRAIN_SAMPLES` / :data:`TEST_SAMPLES` samples (``subset_*`` of
  the MNIST / CIFAR / CelebA / Waterbirds / ImageNet readers, ``n_*`` of the generators);
* every iteration count (``max_iters`` at every level, ``eval`` / ``checkpoint`` / ``snapshot`` /
  ``train_eval`` intervals, schedule ``iterations`` / ``at`` / ``total``, ``lr_drop_at``) is
  replaced by its rank among all of them (1, 2, ...): order kept, distinct values stay distinct
  (no two cells merge), every interval below ``max_iters`` so a drop, a snapshot, a checkpoint
  happens; stall windows (counted in evaluations) and batch sizes are ranked the same way, apart;
* analysis sample counts at the smallest values that still run their code (:data:`ANALYSIS`);
* models untouched (real architecture and width).
"""

from __future__ import annotations

import copy
from typing import Any

SUFFIX = "-smoke"
TRAIN_SAMPLES = 48
TEST_SAMPLES = 32
TEST_EVAL_SAMPLES = 16
ITERATION_KEYS = ("max_iters", "eval_interval", "checkpoint_interval", "snapshot_interval", "train_eval_interval")
SCHEDULE_KEYS = ("iterations", "at", "total")
ANALYSIS = {"repr_samples": 8, "attribution_samples": 4, "ig_steps": 2, "gallery_samples": 2}
LANDSCAPE = {"points": 3, "samples": 8}
SEGMENTER_SIZE = 32
FIGURE_SAMPLES = 2  # attribution_methods: n_samples (<= attribution_samples)
SMALLEST_BATCH = 2  # batch-norm needs two samples per batch in training mode


def smoke_name(preset: str) -> str:
    """The name (and results folder) of ``preset``'s smoke: ``paper`` -> ``paper-smoke``."""
    return f"{preset}{SUFFIX}"


def is_smoke(preset: str) -> bool:
    """Whether the preset named ``preset`` is a smoke (figures, tables, inventory, status say so)."""
    return str(preset).endswith(SUFFIX)


def smoke_preset(preset: dict[str, Any]) -> dict[str, Any]:
    """The smoke of a resolved (validated, defaults filled) preset: see the module docstring."""
    smoke = copy.deepcopy(preset)
    smoke["smoke"] = True
    smoke["description"] = f"SMOKE (a dress rehearsal, not evidence) of: {preset.get('description', '')}".strip()
    _cut_experiments(smoke)
    _rank_values(smoke, _iteration_slots(smoke))
    _rank_values(smoke, _stall_slots(smoke))
    _rank_values(smoke, _batch_slots(smoke), start=SMALLEST_BATCH)
    _cut_datasets(smoke)
    _cut_analysis(smoke)
    _cut_figures(smoke)
    return smoke


def _gallery_groups(preset: dict[str, Any]) -> set[tuple[str, str | None]]:
    """(dataset, model or None) pairs an attribution_gallery figure draws."""
    groups = set()
    for spec in preset.get("figures", {}).values():
        if spec.get("kind") == "attribution_gallery":
            datasets = spec.get("datasets") or [spec.get("dataset")]
            groups |= {(dataset, spec.get("model")) for dataset in datasets}
    return groups


def _named_interventions(preset: dict[str, Any]) -> set[tuple[str, float]]:
    """(kind, value) of every intervention a figure names (Fig 9's ``interventions: [focal_gamma=2]``)."""
    named = set()
    for spec in preset.get("figures", {}).values():
        for label in spec.get("interventions", []):
            kind, _, value = str(label).partition("=")
            named.add((kind, float(value)))
    return named


def _cut_experiments(preset: dict[str, Any]) -> None:
    """Each experiment: its lowest and highest LR and intervention values (and the values a figure's
    ``interventions`` names), its first seed (two for a gallery's group)."""
    galleries, named = _gallery_groups(preset), _named_interventions(preset)
    for experiment in preset["experiments"]:
        experiment["lrs"] = sorted({min(experiment["lrs"]), max(experiment["lrs"])})
        for kind, values in experiment.get("vary", {}).items():
            experiment["vary"][kind] = sorted({min(values), max(values)}
                                              | {v for v in values if (kind, float(v)) in named})
        seeds = list(experiment.get("seeds") or preset["seeds"])
        drawn = {(experiment["dataset"], experiment["model"]), (experiment["dataset"], None)} & galleries
        experiment["seeds"] = seeds[: 2 if drawn else 1]


Slot = tuple[dict[str, Any] | list[Any], Any]  # a container and the key (or index) of one value in it


def _iteration_slots(preset: dict[str, Any]) -> list[Slot]:
    slots: list[Slot] = [(preset["training"], key) for key in ITERATION_KEYS if key in preset["training"]]
    for experiment in preset["experiments"]:
        training = experiment.get("training", {})
        slots += [(training, key) for key in ITERATION_KEYS if key in training]
        drops = experiment.get("vary", {}).get("lr_drop_at", [])
        slots += [(drops, index) for index in range(len(drops))]
    for recipe in preset["recipes"].values():
        schedule = recipe.get("schedule", {})
        slots += [(schedule, key) for key in SCHEDULE_KEYS if key in schedule]
    return slots


def _stall_slots(preset: dict[str, Any]) -> list[Slot]:
    holders = [preset["training"]] + [experiment.get("training", {}) for experiment in preset["experiments"]]
    return [(holder, "stall_window") for holder in holders if "stall_window" in holder]


def _batch_slots(preset: dict[str, Any]) -> list[Slot]:
    slots: list[Slot] = [(preset["training"], "batch_size")] if "batch_size" in preset["training"] else []
    for experiment in preset["experiments"]:
        if "batch_size" in experiment.get("training", {}):
            slots.append((experiment["training"], "batch_size"))
        sizes = experiment.get("vary", {}).get("batch_size", [])
        slots += [(sizes, index) for index in range(len(sizes))]
    return slots


def rank_map(values: list[float], start: int = 1) -> dict[float, int]:
    """Each distinct positive value -> ``start`` + its rank among them (0 stays 0: "off" / "at once")."""
    positive = sorted({value for value in values if value > 0})
    return {0: 0, **{value: start + rank for rank, value in enumerate(positive)}}


def _rank_values(preset: dict[str, Any], slots: list[Slot], start: int = 1) -> None:
    """Replace every value of ``slots`` by its rank among them (:func:`rank_map`), in place."""
    ranks = rank_map([holder[key] for holder, key in slots], start)
    for holder, key in slots:
        holder[key] = ranks[holder[key]]


def _cut_datasets(preset: dict[str, Any]) -> None:
    """Every dataset at a few dozen samples: the readers' ``subset_*``, the generators' ``n_*``."""
    import inspect  # the dataset layer (torch, PIL) is imported only when a smoke is resolved

    from largelr.datasets.registry import GENERATORS

    for spec in preset["datasets"].values():
        accepted = inspect.signature(GENERATORS[spec["generator"]]).parameters
        params = spec.setdefault("params", {})
        for prefix in ("subset", "n"):
            if f"{prefix}_train" in accepted:
                params[f"{prefix}_train"] = min(params.get(f"{prefix}_train") or TRAIN_SAMPLES, TRAIN_SAMPLES)
                params[f"{prefix}_test"] = min(params.get(f"{prefix}_test") or TEST_SAMPLES, TEST_SAMPLES)
                break


def _cut_analysis(preset: dict[str, Any]) -> None:
    """Analysis sample counts at the smallest values that still run their code."""
    analysis = preset["analysis"]
    for key, value in ANALYSIS.items():
        analysis[key] = min(analysis.get(key, value), value)
    kappas = sorted(analysis["prune_kappas"])
    analysis["prune_kappas"] = sorted({kappas[0], kappas[len(kappas) // 2], kappas[-1]})
    landscape = analysis.setdefault("landscape", {})
    for key, value in LANDSCAPE.items():
        landscape[key] = min(landscape.get(key, value), value)
    segmenter = analysis.setdefault("segmenter", {})
    segmenter["size"] = min(segmenter.get("size", SEGMENTER_SIZE), SEGMENTER_SIZE)
    preset["training"]["test_eval_samples"] = min(preset["training"]["test_eval_samples"], TEST_EVAL_SAMPLES)
    for experiment in preset["experiments"]:
        if "test_eval_samples" in experiment.get("training", {}):
            experiment["training"]["test_eval_samples"] = TEST_EVAL_SAMPLES


def _cut_figures(preset: dict[str, Any]) -> None:
    """Every figure kept; LRs and seeds it names fall back to the grid's (the lowest and highest LR,
    the first seed), its sample counts within the smoke's."""
    for spec in preset.get("figures", {}).values():
        spec.pop("lrs", None)
        spec.pop("seeds", None)
        if "n_samples" in spec:
            spec["n_samples"] = min(spec["n_samples"], FIGURE_SAMPLES)
        if "sample" in spec:
            spec["sample"] = 0
