"""How long a training group takes on one GPU: the estimate behind ``train_group``'s runtime request.

The workflow asks a cluster for a training job's wall time from this estimate (not a fixed
number), and splits a group whose cells train one after another into several jobs when the
estimate exceeds the preset's ``max_job_minutes`` (workflow/rules/common.smk). The §4.2
protocol trains every cell to 100 % training accuracy, so the iterations are not known in
advance; the estimate is a stated rule, not a measurement:

* **Per-step time** (:data:`STEP_SECONDS`): one training step of one model at batch 100 on one
  NVIDIA H200 in fp32, single-model engine. FCN and CNN: the README's H200 measurements
  (Benchmarks: parity FCN 3×200 468 steps/s, Colored MNIST FCN 2×1024 511 steps/s, VGG11-like
  CNN 322 steps/s; ``benchmarks/gpu_check.sh``, 2026-11-26). The torchvision models have no H200
  measurement on record: their entries are **assumptions**, a launch-bound step on ≤ 64-px inputs
  (about 10 µs per kernel for the forward, backward and update kernels of the model, rounded up).
  Inputs larger than 32×32 at batch 100 scale the step by their pixels × batch.
* **Stacks** (:data:`STACK_COST`): M stacked models cost ``max(1, STACK_COST · M)`` single steps
  (README: M = 45 costs 1.6 (parity FCN) to 3.5 (Colored MNIST FCN) single FCN steps, 27 CNN
  steps; torchvision models are assumed to gain nothing).
* **Stopping check**: today's full-split evaluation every ``eval_interval`` iterations, in
  chunks of 2000 samples (:data:`largelr.engine_facts.EVAL_BATCH`); a chunk costs :data:`CHECK_CHUNK_STEPS`
  training steps (an FCN chunk is launch-bound like a step; the others are compute-bound, a
  forward pass being about a third of a step, over 20× the samples). An early-exit check only
  makes jobs end sooner than requested.
* **Iterations** (:func:`expected_iterations`): ``max(E_min · n / b, S / η)`` capped at
  ``max_iters`` (``max_iters`` for ``stop_loss`` runs), with ``S`` ("SGD time" η·t) and ``E_min``
  per model family and optimizer family in :data:`largelr.engine_facts.ITERATIONS_RULE`: the values of
  ``benchmarks/paper_cost.py``'s built-in calibration (FCN fitted on the demo's finished runs,
  2026-12-02; CNN, ResNet and Swin-T assumed). Momentum β counts as an LR η / (1 − β); a step
  schedule (LR × 0.1, Figs 22 and 28 top right) as LR × 0.1 throughout.

Public API (kept small; ``benchmarks/paper_cost.py`` may reuse it): :func:`estimate_cell_minutes`,
:func:`estimate_group_minutes`, :func:`trains_one_after_another`, and the sizes the memory requests
follow (issue 26 item 2): :func:`input_shape` (from the preset's ``image_size``), :func:`train_size`,
:func:`test_size` and :func:`dataset_bytes`. Torch-free: the workflow
imports it while it builds the DAG.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable, Mapping

from largelr.config import cell_training, recipe_name
from largelr.engine_facts import (EVAL_BATCH, STACKABLE_OPTIMIZERS, TRAIN_SIZES, effective_lr, iterations_to_fit,
                                  model_family, optimizer_family)
from largelr.intervention_labels import NO_INTERVENTION, parse_intervention
from largelr.training.recipes import INTERVENTIONS

#: seconds per training step of one model at batch 100, single engine, one NVIDIA H200, fp32 (module doc)
STEP_SECONDS: dict[str, float] = {
    "fcn": 1 / 468,  # README Benchmarks, H200: parity FCN 3x200 (b) single, 468 steps/s (the slower FCN)
    "cnn": 1 / 322,  # README Benchmarks, H200: VGG11-like CNN (b) single, 322 steps/s
    "resnet18": 0.010,  # assumed (no H200 measurement on record): launch-bound, ~600 kernels per step
    "resnet50": 0.025,  # assumed: ~1500 kernels per step
    "wide_resnet101_2": 0.040,  # assumed: ~3000 kernels per step, 127 M weights
    "swin_t": 0.030,  # assumed: ~2500 kernels per step
    "torchvision": 0.040,  # assumed: any other torchvision classifier
}
#: M stacked models cost max(1, STACK_COST * M) single steps (README Benchmarks, H200, M = 45)
STACK_COST: dict[str, float] = {"fcn": 3.5 / 45, "cnn": 27 / 45, "torchvision": 1.0}
#: training steps per 2000-sample chunk of the full-split check (module doc)
CHECK_CHUNK_STEPS: dict[str, float] = {"fcn": 1.0, "cnn": 2000 / 100 / 3, "torchvision": 2000 / 100 / 3}
#: test-split sizes of the same sources (params n_test / subset_test override): MNIST / CIFAR test sets,
#: CelebA's and Waterbirds' official test splits, ImageNet-1k's validation set
TEST_SIZES: dict[str, int] = {
    "parity": 10000, "moon_star": 10000,
    "colored_mnist": 10000, "double_mnist": 10000, "mnist_cifar": 10000, "corrupted_cifar10": 10000,
    "cifar10": 10000, "cifar100": 10000, "celeba": 19962, "waterbirds": 5794, "imagenet": 50000,
}
#: generator -> (input shape, classes) from its params (datasets/*.py); image_size where it has one
INPUTS: dict[str, Any] = {
    "parity": lambda p: ((p.get("core_bits", 6) + p.get("spurious_bits", 2) + p.get("noise_bits", 12),), 2),
    "moon_star": lambda p: ((1, p.get("image_size", 32), p.get("image_size", 32)), 2),
    "colored_mnist": lambda p: ((3, 28, 28), 10),
    "double_mnist": lambda p: ((1, 28, 56), 10),
    "mnist_cifar": lambda p: ((3, 64, 32), 10),
    "corrupted_cifar10": lambda p: ((3, 32, 32), 10),
    "cifar10": lambda p: ((3, 32, 32), 10),
    "cifar100": lambda p: ((3, 32, 32), 100),
    "celeba": lambda p: ((3, p.get("image_size", 64), p.get("image_size", 64)), 2),
    "waterbirds": lambda p: ((3, p.get("image_size", 64), p.get("image_size", 64)), 2),
    "imagenet": lambda p: ((3, p.get("image_size", 32), p.get("image_size", 32)), 1000),
}
#: generators whose samples are float (the rest are uint8 images: 1 byte per value on the device)
FLOAT_GENERATORS = ("parity",)
#: architectures without buffers, which stack on any device
BUFFER_FREE_ARCHS = ("fcn", "cnn")
#: torchvision models whose only buffers are batch-norm statistics (suppl. C's ResNets and WRNs): they
#: stack on a GPU (largelr.training.stacked_state.why_buffers_not_stackable), and on the CPU train one
#: after another because that is faster there (largelr.training.stacked.why_not_faster_stacked). These
#: estimates are of an H200, so they count them stacked. Swin-T keeps a position-index buffer: never.
BATCH_NORM_ONLY_MODELS = ("resnet", "wide_resnet")
STARTUP_MINUTES = 5.0  # loading the dataset onto the device, building the models (assumed)


def arch_key(model: Mapping[str, Any]) -> str:
    """The :data:`STEP_SECONDS` key of a ``models:`` entry."""
    if model["arch"] != "torchvision":
        return model["arch"]
    return model["name"] if model["name"] in STEP_SECONDS else "torchvision"


def _family(model: Mapping[str, Any]) -> str:
    return model["arch"] if model["arch"] in ("fcn", "cnn") else "torchvision"


def train_size(dataset: Mapping[str, Any]) -> int:
    """Training samples of a ``datasets:`` entry (params n_train / subset_train, else the source's)."""
    params = dataset.get("params", {})
    full = params.get("n_train") or TRAIN_SIZES.get(dataset["generator"], 60000)
    return int(min(full, params.get("subset_train") or full))


def test_size(dataset: Mapping[str, Any]) -> int:
    """Test samples of a ``datasets:`` entry (params n_test / subset_test, else the source's)."""
    params = dataset.get("params", {})
    full = params.get("n_test") or TEST_SIZES.get(dataset["generator"], 10000)
    return int(min(full, params.get("subset_test") or full))


def input_shape(dataset: Mapping[str, Any]) -> tuple[int, ...]:
    """One sample's shape, read from the preset (``image_size`` where the generator has one)."""
    return tuple(INPUTS[dataset["generator"]](dataset.get("params", {}))[0])


def dataset_bytes(dataset: Mapping[str, Any], split: str = "both", bytes_per_value: int | None = None) -> int:
    """Bytes of a dataset's inputs (train, test or both splits) and its int64 y and b labels: as the
    training device holds them (uint8 images, float32 synthetic values; issue 25 item 4), or at
    ``bytes_per_value`` (4: float32 splits, as the analyses hold the test split). CelebA at 224 px:
    (162 770 + 19 962) x 3 x 224 x 224 bytes = 27.5 GB, its training split 24.5 GB."""
    per_value = bytes_per_value or (4 if dataset["generator"] in FLOAT_GENERATORS else 1)
    n = {"train": train_size(dataset), "test": test_size(dataset)}
    samples = n["train"] + n["test"] if split == "both" else n[split]
    return samples * (math.prod(input_shape(dataset)) * per_value + 16)


#: a job's request is at least its data times this (models, optimizer state, activations beside it)
DATA_HEADROOM = 1.25


def data_memory_mb(dataset: Mapping[str, Any], where: str, trains: bool) -> int:
    """MB of a job on ``dataset`` (issue 26 item 2: the requests follow the image size): in RAM
    (``where`` host) the file's arrays and a float32 test split; on the GPU (device) the uint8 splits
    of a training job (``trains``) or an analysis' float32 test split; times :data:`DATA_HEADROOM`.
    The workflow asks the larger of this and its fixed request, which holds for small datasets."""
    test_float = dataset_bytes(dataset, "test", bytes_per_value=4)
    data = dataset_bytes(dataset) + test_float if where == "host" else (
        dataset_bytes(dataset) if trains else test_float)
    return math.ceil(DATA_HEADROOM * data / 1e6)


def cell_recipe(preset: Mapping[str, Any], cell: Mapping[str, Any]) -> tuple[dict, dict]:
    """(recipe, training block) of a cell with its intervention applied (as recipes.train_settings)."""
    recipe = copy.deepcopy(preset["recipes"][recipe_name(cell["recipe"])])
    training = dict(cell_training(preset, dict(cell)))
    intervention = parse_intervention(cell.get("intervention", NO_INTERVENTION))
    if intervention is not None:
        INTERVENTIONS[intervention[0]](recipe, training, intervention[1])
    return recipe, training


def expected_iterations(preset: Mapping[str, Any], cell: Mapping[str, Any]) -> int:
    """Iterations to 100 % training accuracy: ``max(E_min · n / b, S / η)``, at most ``max_iters``."""
    recipe, training = cell_recipe(preset, cell)
    cap = int(training["max_iters"])
    if recipe.get("stop_loss") is not None:
        return cap
    family = (model_family(preset["models"][cell["model"]]), optimizer_family(recipe.get("kind", "sgd")))
    lr = effective_lr(cell["lr"], recipe.get("momentum", 0.0), recipe.get("schedule"))
    # the split trained on: validation selection (suppl. D.3) holds out a fraction of it, as paper_cost.py counts
    n = train_size(preset["datasets"][cell["dataset"]]) * (1 - _validation_fraction(recipe))
    return iterations_to_fit(lr, n, int(training.get("batch_size", 100)), cap, family)


def step_seconds(preset: Mapping[str, Any], cell: Mapping[str, Any]) -> float:
    """One training step of one model of ``cell`` (:data:`STEP_SECONDS`, scaled for large inputs, ASAM ×2)."""
    recipe, training = cell_recipe(preset, cell)
    params = preset["datasets"][cell["dataset"]].get("params", {})
    side = int(params.get("image_size", 32))
    scale = max(1.0, side * side * int(training.get("batch_size", 100)) / (32 * 32 * 100))
    return STEP_SECONDS[arch_key(preset["models"][cell["model"]])] * scale * (2 if recipe.get("asam") else 1)


def estimate_cell_minutes(preset: Mapping[str, Any], cell: Mapping[str, Any], stack: int = 1) -> float:
    """GPU minutes of one cell trained alone (``stack`` = 1), or its share of a stack of ``stack`` models."""
    _, training = cell_recipe(preset, cell)
    family = _family(preset["models"][cell["model"]])
    iterations = expected_iterations(preset, cell)
    n = train_size(preset["datasets"][cell["dataset"]]) + int(training.get("test_eval_samples", 0))
    check = math.ceil(n / EVAL_BATCH) * CHECK_CHUNK_STEPS[family]
    steps = iterations * (1 + check / max(1, int(training["eval_interval"])))
    factor = max(1.0, STACK_COST[family] * stack) / stack
    return steps * step_seconds(preset, cell) * factor / 60


def trains_one_after_another(preset: Mapping[str, Any], cells: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a training group's cells train one after another (not stacked), read from the config.

    Mirrors :func:`largelr.training.stacked.why_not_stackable` (engine ``sequential``, an optimizer
    without a stacked update, ASAM, validation selection, a model with buffers) without building
    the model. A group with differing shared settings (an intervention group never has them) is
    treated as stacked, the side that never splits.
    """
    cells = list(cells)
    recipe, training = cell_recipe(preset, cells[0])
    return (training.get("engine", "stacked") != "stacked"
            or recipe.get("kind", "sgd") not in STACKABLE_OPTIMIZERS
            or bool(recipe.get("asam")) or _validation_fraction(recipe) > 0
            or not stacks_on_gpu(preset["models"][cells[0]["model"]]))


def stacks_on_gpu(model: Mapping[str, Any]) -> bool:
    """Whether a ``models:`` entry trains stacked on a GPU: no buffers, or batch-norm statistics only."""
    if model["arch"] in BUFFER_FREE_ARCHS:
        return True
    return model["arch"] == "torchvision" and str(model.get("name", "")).startswith(BATCH_NORM_ONLY_MODELS)


def _validation_fraction(recipe: Mapping[str, Any]) -> float:
    return float(recipe.get("validation_fraction", 0) or 0)


def estimate_group_minutes(preset: Mapping[str, Any], group_rows: Iterable[Mapping[str, Any]]) -> float:
    """GPU minutes of one ``train_group`` job on one H200: its cells one after another, or as one stack.

    ``preset`` is a resolved preset (``resolve_config``), ``group_rows`` the grid rows of the job's
    cells (dicts with dataset, model, recipe, lr, intervention, seed). Includes :data:`STARTUP_MINUTES`.
    """
    rows = list(group_rows)
    if not rows:
        return 0.0
    stack = 1 if trains_one_after_another(preset, rows) else len(rows)
    if stack == 1:
        return STARTUP_MINUTES + sum(estimate_cell_minutes(preset, row) for row in rows)
    # a stack runs until its slowest model stops: every model costs its share until then
    slowest = max(rows, key=lambda row: expected_iterations(preset, row))
    return STARTUP_MINUTES + stack * estimate_cell_minutes(preset, slowest, stack)


def split_cells(minutes: list[float], limit: float) -> list[list[int]]:
    """Consecutive runs of cell indices whose minutes sum to at most ``limit`` (a cell above it alone)."""
    parts: list[list[int]] = [[]]
    total = 0.0
    for i, m in enumerate(minutes):
        if parts[-1] and total + m > limit:
            parts.append([])
            total = 0.0
        parts[-1].append(i)
        total += m
    return parts


def group_parts(preset: Mapping[str, Any], rows: list[Mapping[str, Any]], limit: float) -> list[list[int]]:
    """Positions of a training group's cells per job, each job's estimate within ``limit`` minutes.

    One part when the whole group fits. Otherwise a group whose cells train one after another is cut
    into consecutive runs of cells (:func:`split_cells`); a stacked group into the fewest consecutive
    stacks of near-equal size that each fit (the grid orders cells by LR, so slow low-LR cells share a
    stack). A single cell above the limit stays a job of its own: it resumes from its checkpoint when
    a retry follows the cluster's kill.
    """
    if estimate_group_minutes(preset, rows) <= limit:
        return [list(range(len(rows)))]
    if trains_one_after_another(preset, rows):
        return split_cells([estimate_cell_minutes(preset, row) for row in rows], limit - STARTUP_MINUTES)
    for count in range(2, len(rows) + 1):
        size = math.ceil(len(rows) / count)
        parts = [list(range(start, min(start + size, len(rows)))) for start in range(0, len(rows), size)]
        if all(estimate_group_minutes(preset, [rows[i] for i in part]) <= limit for part in parts):
            return parts
    return [[i] for i in range(len(rows))]
