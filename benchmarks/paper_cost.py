"""What a preset costs on one device, measured: GPU-hours per training group, baseline engine vs this one.

For every training group of a preset (one (dataset, model, recipe, intervention), every
LR × seed: the ``train_group`` job) it prints the cells, the per-step time, the time of one
stopping check, the expected iterations per cell and the group's device-hours, twice:

* **baseline engine**: the §4.2 stopping check over the *whole* training split every
  ``eval_interval`` iterations, a host synchronisation per step (the divergence test reads the
  loss, each batch's indices are copied from a CPU generator), buffer-free models stacked,
  every ResNet / WRN / Swin-T cell alone, one job per GPU;
* **this engine**: an early-exit check (the first chunk that holds an error ends it; the
  full-split ``train_ce`` / ``train_acc`` row every ``training.train_eval_interval`` iterations, at
  every snapshot and once at the end), no host sync per step, batch-norm ResNets stacked
  (``torch.func.stack_module_state`` stacks the running statistics with the parameters),
  and ``--jobs-per-gpu`` jobs sharing the device for the cells that still train alone.

The last lines are ``<preset>: N GPU-hours on <device>`` for both engines and their ratio.

Measured, not assumed: per-step and check times come from a few steps of each distinct
(input shape, classes, model, batch, optimizer, engine, stack size) on the device this runs
on, with random tensors of the dataset's real input shape and the real model of
:mod:`largelr.training.models`; each key is measured once and cached. The timed step is the engines'
own: a run built by :func:`largelr.training.single.new_run` (one model) or
:func:`largelr.training.stacked.new_stacked_run` (a stack), whose ``step_on`` (forward, per-sample loss,
divergence test on the host or on the device, backward, optimizer update) runs on batches drawn as
each engine draws them; the stopping check is timed with the same runs' chunk evaluator
(``evaluate_chunk``). Steps run at :data:`TIMING_LR` (module constant).
Stack sizes between the measured ones are interpolated linearly, larger ones extrapolated
from the last two measured sizes. On a CPU every time is CPU time, so the totals are a ratio
only: the output says so; there the convolutional models are timed at a tenth of their batch
and scaled back (labelled ``*``), and ``--quick`` times one step per key. Jobs sharing a GPU
are modelled, not measured: N jobs of one model gain what N stacked models gain (measured),
at most N. ``--assume-h200`` measures nothing and prints the same tables from the H200 step
times that ``train_group``'s runtime requests assume (:mod:`largelr.workflow.cost`). First, per
dataset: its input shape (the preset's ``image_size``), split sizes and the bytes it takes on the
training device as uint8 (and as float32, before issue 25), which the workflow's ``mem_mb`` /
``gpu_mem_mb`` requests follow.

Expected iterations to 100 % training accuracy, the stated rule (module constant
:data:`CALIBRATION`): SGD moves a distance set by η × iterations, so a cell needs
``max(E_min · n / b, S / η)`` iterations (``E_min`` epochs at least, ``S`` = "SGD time" η·t),
capped at ``max_iters``, η being the effective LR of :func:`effective_lr` (momentum, step
schedule); runs with ``stop_loss`` (Fig 24, CE < 1e-5) are taken to reach the
cap. ``S`` and ``E_min`` are per model family (fcn, cnn, resnet = every torchvision model with
batch norm, other torchvision models) and per optimizer family (sgd; adaptive = adam / adamw /
psgd_kron, whose step does not scale with η in the same way). The built-in values are
calibrated as :data:`CALIBRATION` says, on runs that finished; ``--calibrate-from DIR`` refits
them from the ``run.json`` files of converged runs under DIR (e.g. the GPU check's Colored
MNIST ResNet18 group) and names that calibration in the output.

    python benchmarks/paper_cost.py --preset paper --device cpu
    python benchmarks/paper_cost.py --preset gpu --device cuda --calibrate-from gpu_check_out/calibration
    python benchmarks/paper_cost.py --preset paper --quick      # fewer steps, smaller probes (labelled)
    python benchmarks/paper_cost.py --preset gpu --assume-h200  # no measurement: the assumed H200 times
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import yaml
from torch import nn

from largelr.engine_facts import RunStatus
from largelr.engine_facts import EVAL_BATCH, ITERATIONS_RULE, STACKABLE_OPTIMIZERS, model_family, optimizer_family
from largelr.engine_facts import effective_lr as facts_effective_lr
from largelr.engine_facts import iterations_to_fit as expected_iterations  # the rule train_group's requests use
from largelr.config import cell_training, recipe_name, resolve_config, training_grid
from largelr.workflow.cost import INPUTS, dataset_bytes, input_shape, test_size, train_size
from largelr.training.models import build_model
from largelr.training.protocol import TensorSplit, TrainSettings
from largelr.training.recipes import train_settings
from largelr.training.runs import _stacks, resolve_device
from largelr.training.single import new_run
from largelr.training.stacked import new_stacked_run, why_not_stackable

REPO = Path(__file__).resolve().parents[1]


def dataset_facts(dataset: dict[str, Any]) -> tuple[tuple[int, ...], int, int]:
    """(input shape, training-set size, classes) of a ``datasets:`` entry, read from the preset as the
    workflow's requests read it (largelr.workflow.cost: ``image_size``, n_train / subset_train)."""
    return input_shape(dataset), train_size(dataset), INPUTS[dataset["generator"]](dataset.get("params", {}))[1]


#: (model family, optimizer family) → (S = η × iterations to 100 %, E_min epochs): the rule of
#: largelr.workflow.cost (the runtime requests of train_group), one table for both. FCN: fitted on
#: the demo's finished runs (issue 19, 2026-12-02: Colored MNIST FCN, LR 0.01, 3000 images,
#: 20 800 iterations; S = 208); CNN, ResNet and Swin-T: assumed (see largelr.workflow.cost)
CALIBRATION: dict[tuple[str, str], tuple[float, float]] = dict(ITERATIONS_RULE)
CALIBRATION_NAME = ("built-in (largelr.engine_facts.ITERATIONS_RULE): FCN fitted on the demo's finished runs "
                    "(issue 19, 2026-12-02); CNN, ResNet, Swin-T assumed")

# on a CPU, convolutional models and models above this many parameters (Swin-T) are timed at a
# tenth of their batch and eval probe (a WRN-101-2 step at batch 100 takes ~17 s on one core)
HEAVY_PARAMETERS, HEAVY_REDUCTION = 20_000_000, 10


def is_heavy(model: nn.Module) -> bool:
    """A model a CPU measures at a reduced batch: any convolution, or over HEAVY_PARAMETERS parameters."""
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return has_conv or sum(p.numel() for p in model.parameters()) > HEAVY_PARAMETERS



def effective_lr(settings: Any) -> float:
    """η of the shared rule (:func:`largelr.engine_facts.effective_lr`) for a cell's TrainSettings."""
    return facts_effective_lr(settings.lr, settings.optimizer.get("momentum", 0.0), settings.schedule)


def calibrate(run_dirs: Path) -> tuple[dict[tuple[str, str], tuple[float, float]], str]:
    """:data:`CALIBRATION` refitted from the converged ``run.json`` files under ``run_dirs``.

    Per family: ``S`` = the median η × iterations of the runs whose ``S / η`` exceeds their
    ``E_min`` bound, ``E_min`` = the smallest epoch count seen (epochs from ``n_train.json`` in
    ``run_dirs``, ``{dataset: size}``, else the full dataset's size). Families without converged
    runs keep the built-in values.
    """
    sizes_file = Path(run_dirs) / "n_train.json"  # {dataset: training-set size}, for runs on a subset
    sizes = json.loads(sizes_file.read_text()) if sizes_file.exists() else {}
    found: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for path in sorted(Path(run_dirs).glob("**/run.json")):
        record = json.loads(path.read_text())
        if record.get("status") != RunStatus.CONVERGED:
            continue
        settings = record["settings"]
        n = sizes.get(record["cell"]["dataset"]) or _default_n(record["cell"]["dataset"])
        epochs = record["iterations"] * settings["batch_size"] / n
        family = (model_family(record["model"]), optimizer_family(settings["optimizer"].get("kind", "sgd")))
        found.setdefault(family, []).append((record["cell"]["lr"] * record["iterations"], epochs))
    fitted = dict(CALIBRATION)
    for family, runs in found.items():
        min_epochs = min(e for _, e in runs)
        times = sorted(s for s, e in runs)
        fitted[family] = (times[len(times) // 2], min_epochs)
    names = ", ".join(f"{f[0]}/{f[1]} from {len(r)} runs" for f, r in sorted(found.items()))
    return fitted, f"refitted from {run_dirs}: {names or 'no converged runs'}; other families built-in"


def _default_n(dataset: str) -> int:
    return train_size({"generator": dataset}) if dataset in INPUTS else 10000


# ---- the grid: groups, cells, stacks ----------------------------------------------------------
@dataclass
class Group:
    """One training group (the ``train_group`` job) with what its cost depends on."""

    key: tuple[str, str, str, str]  # dataset, model, recipe, intervention
    spec: dict[str, Any]
    shape: tuple[int, ...]
    classes: int
    n_train: int
    settings: list[Any]
    iterations: list[int]
    stacks_baseline: list[list[int]] = field(default_factory=list)
    stacks_new: list[list[int]] = field(default_factory=list)
    preset: dict[str, Any] = field(default_factory=dict, repr=False)
    cell: dict[str, Any] = field(default_factory=dict)  # the group's first cell


def load_preset(name: str, config_path: Path = REPO / "config.yaml") -> dict[str, Any]:
    """Preset ``name`` validated and resolved as the workflow resolves it (defaults filled in)."""
    config = yaml.safe_load(config_path.read_text())  # every preset: one may build on another (`base:`)
    return resolve_config({**config, "preset": name}, REPO / "workflow" / "schemas")[name]


def preset_groups(preset: dict[str, Any], calibration: dict, only: str | None = None,
                  device: torch.device = torch.device("cuda")) -> list[Group]:
    """Every training group of ``preset`` (optionally those whose dataset or model contains ``only``),
    with its stacks under both engines on ``device``."""
    grid = training_grid(preset)
    groups = []
    for key, rows in grid.groupby(["dataset", "model", "recipe", "intervention"], sort=False):
        if only and only not in key[0] and only not in key[1]:
            continue
        cells = [{**row, "lr": float(row["lr"]), "seed": int(row["seed"])} for row in rows.to_dict("records")]
        dataset = preset["datasets"][key[0]]
        shape, n, classes = dataset_facts(dataset)
        spec = preset["models"][key[1]]
        settings = [train_settings(c, preset["recipes"][recipe_name(key[2])], cell_training(preset, c)) for c in cells]
        n = round(n * (1 - settings[0].validation_fraction))
        family = (model_family(spec), optimizer_family(settings[0].optimizer.get("kind", "sgd")))
        iterations = [expected_iterations(effective_lr(s), n, s.batch_size, s.max_iters, family, calibration,
                                          s.stop_loss) for s in settings]
        group = Group(tuple(key), spec, shape, classes, n, settings, iterations, preset=preset, cell=cells[0])
        group.stacks_baseline, group.stacks_new = _engine_stacks(group, device)
        groups.append(group)
    return groups


def _measured_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec built for timing: pretrained weights are not loaded (same architecture, same cost)."""
    return {k: v for k, v in spec.items() if k not in ("pretrained", "pretrained_path")}


_PROTOTYPES: dict[str, nn.Module] = {}


def _prototype(group: Group) -> nn.Module:
    key = json.dumps([_measured_spec(group.spec), group.shape, group.classes], sort_keys=True)
    if key not in _PROTOTYPES:
        _PROTOTYPES[key] = build_model(_measured_spec(group.spec), group.shape, group.classes).to("meta")
    return _PROTOTYPES[key]


def only_batch_norm_buffers(model: nn.Module) -> bool:
    """Every buffer belongs to a batch-norm layer (running mean / var, batch count)."""
    owners = [m for m in model.modules() if any(True for _ in m.buffers(recurse=False))]
    return bool(owners) and all(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in owners)


def _engine_stacks(group: Group, device: torch.device) -> tuple[list[list[int]], list[list[int]]]:
    """Stacks of cell indices under baseline engine and this one (a stack of one trains alone). This
    engine keeps batch-norm models single where stacking is slower (the CPU:
    :func:`largelr.training.stacked.why_not_faster_stacked`)."""
    from largelr.training.stacked import why_not_faster_stacked

    model = _prototype(group)
    slower = why_not_faster_stacked(model, device) is not None
    baseline, new = [], []
    for members in _stacks(group.settings):
        member_settings = [group.settings[i] for i in members]
        reason = why_not_stackable(model, member_settings)
        has_buffers = any(True for _ in model.buffers())  # baseline engine trains these alone
        baseline += [members] if reason is None and not has_buffers else [[i] for i in members]
        bn_only = reason is not None and "buffers" in reason and only_batch_norm_buffers(model)
        stackable = (reason is None or bn_only) and not (slower and has_buffers)
        new += [members] if stackable else [[i] for i in members]
    return baseline, new


# ---- measurement ------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass
class Timer:
    """Cached measurements on ``device``: seconds per step of M models, seconds per model·sample of eval."""

    device: torch.device
    steps: int = 3
    probe: int = 2000  # most samples one eval forward is timed on (scaled linearly to the chunk)
    budget_s: float = 2.0  # stop timing a key after this long (at least one timed step)
    quick: bool = False  # on a CPU: one step measurement for both engines, heavy models unstacked
    cache: dict[tuple, float | None] = field(default_factory=dict)
    built: dict[str, list[nn.Module]] = field(default_factory=dict)
    cache_path: Path | None = None

    def save(self, path: Path) -> None:
        """The measurements as JSON (``--cache``), for a later run on the same device."""
        path.write_text(json.dumps({"device": device_name(self.device),
                                    "times": [[list(k), v] for k, v in self.cache.items()]}))

    def load(self, path: Path) -> None:
        saved = json.loads(path.read_text())
        if saved["device"] == device_name(self.device):
            self.cache.update({_tuple(k): v for k, v in saved["times"]})

    def _progress(self, group: Group, what: str, started: float) -> None:
        """One line on stderr per measurement (the tables print when every key is measured); the
        measurements so far saved to ``cache_path`` (``--cache``: a run stopped by a time limit keeps them)."""
        if self.cache_path is not None:
            self.save(self.cache_path)
        print(f"  measured {group.key[1]} {group.shape} batch {group.settings[0].batch_size} {what} "
              f"in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    def _models(self, group: Group, m: int) -> list[nn.Module]:
        """``m`` models of the group's architecture on the device (built once per architecture and m:
        a timing does not depend on the weights, and building a WRN-101-2 takes seconds)."""
        spec = _measured_spec(group.spec)
        key = json.dumps([spec, group.shape, group.classes], sort_keys=True)
        if key not in self.built:
            self.built.clear()  # one architecture at a time in memory
            self.built[key] = []
        models = self.built[key]
        while len(models) < m:
            torch.manual_seed(len(models))
            with self.device:  # initialised on the device: fast for the large models
                models.append(build_model(spec, group.shape, group.classes))
        return models[:m]

    def _pool(self, group: Group, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(0)
        x = torch.rand((size, *group.shape), generator=generator).to(self.device)
        return x, torch.randint(group.classes, (size,), generator=generator).to(self.device)

    def _timed(self, one_step: Callable[[int], None]) -> float:
        warm = 3 if self.device.type == "cuda" else 1
        for i in range(warm):
            one_step(i)
        _sync(self.device)
        start, done = time.perf_counter(), 0
        while done < self.steps and (done == 0 or time.perf_counter() - start < self.budget_s):
            one_step(warm + done)
            done += 1
        _sync(self.device)
        return (time.perf_counter() - start) / done

    def step(self, group: Group, m: int, host_sync: bool) -> float | None:
        """Seconds per training step of ``m`` models of ``group`` (m = 1: the single path)."""
        s = group.settings[0]
        if self.quick and self.device.type == "cpu":
            host_sync = False  # a host sync costs nothing on a CPU: one measurement serves both engines
        opt = s.optimizer if m == 1 or s.optimizer.get("kind", "sgd") in STACKABLE_OPTIMIZERS else {"kind": "sgd"}
        key = ("step", _workload(group), json.dumps(opt, sort_keys=True), bool(s.asam) and m == 1, m, host_sync)
        if key not in self.cache:
            started = time.perf_counter()
            try:
                self.cache[key] = self._step(group, m, host_sync, opt)
                self._progress(group, f"step M={m}{' sync' if host_sync else ''}", started)
            except (RuntimeError, ValueError, NotImplementedError) as error:  # e.g. vmap of a model it cannot batch
                print(f"  (no {m}-model step for {group.key[1]}: {type(error).__name__}: {str(error)[:80]})")
                self.cache[key] = None
        return self.cache[key]

    def sizes(self, group: Group, sizes: Sequence[int]) -> list[int]:
        """The stack sizes measured for ``group``: with --quick on a CPU, 1 only for heavy models
        (stacking gains a CPU little: README, Benchmarks)."""
        return [1] if self.quick and self.reduction(group) > 1 else list(sizes)

    def reduction(self, group: Group) -> int:
        """1, or (on a CPU, for a model over :data:`HEAVY_PARAMETERS`) the factor by which the timed
        batch and eval probe are cut; times are scaled back linearly (a CPU step is compute-bound)."""
        if self.device.type != "cpu":
            return 1
        return HEAVY_REDUCTION if is_heavy(_prototype(group)) else 1

    def _step(self, group: Group, m: int, host_sync: bool, opt: dict[str, Any]) -> float:
        s = group.settings[0]
        b = max(min(s.batch_size, 4), s.batch_size // self.reduction(group))  # batch norm needs > 1 sample
        x_pool, y_pool = self._pool(group, max(4 * b, 256))
        models = self._models(group, m)
        n = len(y_pool)
        permutation = torch.randperm(n, device=self.device)
        generator = torch.Generator().manual_seed(0)

        def indices(i: int) -> torch.Tensor:
            if host_sync:  # baseline engine: a CPU generator's indices, copied every step
                return torch.randint(n, (m, b) if m > 1 else (b,), generator=generator).to(self.device)
            start = (i * b) % (n - b + 1)  # this engine: slices of a permutation already on the device
            rows = permutation[start:start + b]
            return rows.expand(m, b) if m > 1 else rows

        step = self.timed_step(models, s, opt, x_pool, y_pool)  # host_sync: the host reads the loss each step

        def one_step(i: int) -> None:
            rows = indices(i)
            if step(x_pool[rows], y_pool[rows], host_sync) is None:
                raise RuntimeError(f"the timed step diverged at learning rate {TIMING_LR}")

        return self._timed(one_step) * s.batch_size / b

    @staticmethod
    def timed_step(models: Sequence[nn.Module], settings: TrainSettings, opt: dict[str, Any], x: torch.Tensor,
                   y: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor, bool], Any]:
        """The step :meth:`step` times: the engine's own ``step_on`` (:func:`engine_run`)."""
        return engine_run(models, settings, opt, x, y).step_on

    def eval_cost(self, group: Group, m: int) -> float | None:
        """Seconds per model·sample of an eval-mode forward pass at the engine's chunk for ``m`` models."""
        key = ("eval", _workload(group), m)
        if key not in self.cache:
            started = time.perf_counter()
            try:
                self.cache[key] = self._eval(group, m)
                self._progress(group, f"eval M={m}", started)
            except (RuntimeError, ValueError, NotImplementedError) as error:
                print(f"  (no {m}-model eval for {group.key[1]}: {type(error).__name__}: {str(error)[:80]})")
                self.cache[key] = None
        return self.cache[key]

    def _eval(self, group: Group, m: int) -> float:
        probe = max(32, self.probe // self.reduction(group))  # fewer samples would time the overhead only
        chunk = min(EVAL_BATCH if m == 1 else max(100, EVAL_BATCH // m), probe)
        x_pool, y_pool = self._pool(group, chunk)
        models = self._models(group, m)
        evaluate = engine_run(models, group.settings[0], {"kind": "sgd"}, x_pool, y_pool).evaluate_chunk  # no step
        rows = torch.arange(m, device=self.device)
        for model in models:
            model.eval()  # the single engine's check runs in eval mode (the stacked one: its eval forward)

        def one_step(i: int) -> None:
            with torch.no_grad():
                evaluate(rows, 0, chunk)

        try:
            return self._timed(one_step) / (m * chunk)
        finally:
            for model in models:
                model.train()


class AssumedTimer:
    """No measurement: the H200 step times that ``train_group``'s runtime requests assume
    (:mod:`largelr.workflow.cost`: README-measured FCN / CNN, assumed torchvision models), for a
    machine without the device. A stack of M costs ``max(1, STACK_COST · M)`` single steps, an
    eval sample ``CHECK_CHUNK_STEPS / EVAL_BATCH`` steps; host syncs are not modelled."""

    device = torch.device("cpu")
    name = "NVIDIA H200, assumed (largelr.workflow.cost step times, not measured)"

    def sizes(self, group: Group, sizes: Sequence[int]) -> list[int]:
        return list(sizes)

    def reduction(self, group: Group) -> int:
        return 1

    def step(self, group: Group, m: int, host_sync: bool) -> float:
        from largelr.workflow import cost

        family = group.spec["arch"] if group.spec["arch"] in ("fcn", "cnn") else "torchvision"
        return cost.step_seconds(group.preset, group.cell) * max(1.0, cost.STACK_COST[family] * m)

    def eval_cost(self, group: Group, m: int) -> float:
        from largelr.workflow import cost

        family = group.spec["arch"] if group.spec["arch"] in ("fcn", "cnn") else "torchvision"
        steps = cost.CHECK_CHUNK_STEPS[family] * max(1.0, cost.STACK_COST[family] * m) / m
        return cost.step_seconds(group.preset, group.cell) * steps / EVAL_BATCH


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _workload(group: Group) -> str:
    return json.dumps([_measured_spec(group.spec), group.shape, group.classes, group.settings[0].batch_size,
                       group.settings[0].loss], sort_keys=True)


#: the learning rate of a timed step: a step's arithmetic does not depend on it, and a small one keeps the
#: steps on random labels finite, so the engine's divergence test never ends a timed run early
TIMING_LR = 1e-4


def engine_run(models: Sequence[nn.Module], settings: TrainSettings, opt: dict[str, Any], x: torch.Tensor,
               y: torch.Tensor) -> Any:
    """The engine's own run over ``models`` on the pool ``(x, y)``: one model, :func:`largelr.training.single.new_run`;
    several, :func:`largelr.training.stacked.new_stacked_run` (seeds 0..M-1). ``settings`` with optimizer
    ``opt``, learning rate :data:`TIMING_LR`, no validation hold-out and no snapshots. Its ``step_on`` is
    the timed step, its ``evaluate_chunk`` the timed check."""
    timing = dataclasses.replace(settings, optimizer=dict(opt), lr=TIMING_LR, validation_fraction=0.0,
                                 select_best=False, snapshot_interval=0)
    split = TensorSplit(x, y, torch.zeros_like(y))
    if len(models) == 1:
        return new_run(models[0], split, split, timing)
    return new_stacked_run(models, split, split, [dataclasses.replace(timing, seed=i) for i in range(len(models))])


# ---- the cost model -----------------------------------------------------------------------------
def curve(points: dict[int, float]) -> Callable[[int], float]:
    """Piecewise-linear in the stack size through the measured ``points``; beyond the largest
    measured size, extrapolated from the last two (never below the last); one point: linear from 0."""
    sizes = sorted(points)

    def at(m: int) -> float:
        if m in points:
            return points[m]
        if len(sizes) == 1:
            return points[sizes[0]] * m / sizes[0]
        if m > sizes[-1]:
            lo, hi = sizes[-2], sizes[-1]
            return max(points[hi], points[lo] + (points[hi] - points[lo]) * (m - lo) / (hi - lo))
        lo, hi = next((a, b) for a, b in zip(sizes, sizes[1:]) if a < m < b)
        return points[lo] + (points[hi] - points[lo]) * (m - lo) / (hi - lo)

    return at


def stack_seconds(iterations: Sequence[int], step: Callable[[int], float], check: Callable[[int], float],
                  eval_interval: int) -> tuple[float, float]:
    """(training, checking) seconds of one stack whose models stop at ``iterations``: a model that
    stops leaves the stack, so each span between two stops runs at the stack size still training."""
    train = checking = 0.0
    before = 0
    ordered = sorted(iterations)
    for k, stop in enumerate(ordered):
        active = len(ordered) - k
        train += (stop - before) * step(active)
        checking += (stop - before) / eval_interval * check(active)
        before = stop
    return train, checking


@dataclass(frozen=True)
class Engine:
    """What distinguishes baseline engine from this one in the cost model (module docstring)."""

    name: str
    host_sync: bool
    early_exit: bool
    new_stacks: bool
    jobs_per_gpu: int


@dataclass
class GroupCost:
    cells: int
    stacks: str
    step_s: float  # one step of the group's largest stack
    check_s: float  # one stopping check of that stack, all its models
    iterations: float  # mean expected iterations per cell
    hours: float
    reduced: bool = False  # timed at a reduced batch on a CPU (HEAVY_PARAMETERS)


def group_cost(group: Group, engine: Engine, timer: Timer, sizes: Sequence[int], full_interval: int) -> GroupCost:
    """Device-hours of one training group under ``engine``."""
    stacks = group.stacks_new if engine.new_stacks else group.stacks_baseline
    sizes = timer.sizes(group, sizes)
    train = checking = 0.0
    shown: tuple[float, float] = (0.0, 0.0)
    for members in sorted(stacks, key=len, reverse=True):
        steps = {k: timer.step(group, k, engine.host_sync) for k in sizes if k <= len(members)}
        steps = {k: v for k, v in steps.items() if v is not None}
        if len(members) > 1 and max(steps, default=1) == 1 and max(sizes) > 1:  # the stacked step failed
            steps = {}
        if not steps:
            for i in members:
                t, c = _stack_cost(group, [i], engine, timer, sizes, full_interval)
                train, checking = train + t, checking + c
            continue
        t, c = _stack_cost(group, members, engine, timer, sizes, full_interval, steps)
        train, checking = train + t, checking + c
        if not shown[0]:
            shown = (curve(steps)(len(members)), _check(group, engine, timer, sizes, full_interval)(len(members)))
    iterations = sum(group.iterations) / len(group.iterations)
    label = ", ".join(f"{n}x{size}" for size, n in sorted(_count(len(m) for m in stacks).items(), reverse=True))
    return GroupCost(len(group.iterations), label, shown[0], shown[1], iterations, (train + checking) / 3600,
                     timer.reduction(group) > 1)


def _count(values: Any) -> dict[int, int]:
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def _stack_cost(group: Group, members: list[int], engine: Engine, timer: Timer, sizes: Sequence[int],
                full_interval: int, steps: dict[int, float] | None = None) -> tuple[float, float]:
    s = group.settings[0]
    if steps is None:
        steps = {1: timer.step(group, 1, engine.host_sync)}
    iterations = [group.iterations[i] for i in members]
    train, checking = stack_seconds(iterations, curve(steps), _check(group, engine, timer, sizes, full_interval),
                                    s.eval_interval)
    if engine.early_exit:  # the full-split rows a cell still gets: its last, and one per snapshot
        per_sample = _eval_curve(group, timer, sizes)(1)
        for i in members:
            interval = group.settings[i].snapshot_interval
            snaps = group.iterations[i] // interval if interval else 0
            checking += (1 + snaps) * per_sample * group.n_train
    gain = _sharing_gain(group, timer, sizes, engine.jobs_per_gpu) if len(members) == 1 else 1.0
    return train / gain, checking / gain


def _eval_curve(group: Group, timer: Timer, sizes: Sequence[int]) -> Callable[[int], float]:
    points = {k: timer.eval_cost(group, k) for k in sizes}
    return curve({k: v for k, v in points.items() if v is not None})


def _check(group: Group, engine: Engine, timer: Timer, sizes: Sequence[int],
           full_interval: int) -> Callable[[int], float]:
    """Seconds of one stopping check (with its log row) for m models still training."""
    s = group.settings[0]
    per_sample = _eval_curve(group, timer, sizes)

    def check(m: int) -> float:
        test = s.test_eval_samples
        if not engine.early_exit:
            return per_sample(m) * m * (group.n_train + test)
        chunk = min(group.n_train, EVAL_BATCH if m == 1 else max(100, EVAL_BATCH // m))
        full_share = s.eval_interval / full_interval  # a full-split row doubles as that check
        return per_sample(m) * m * ((1 - full_share) * chunk + full_share * group.n_train + test)

    return check


def _sharing_gain(group: Group, timer: Timer, sizes: Sequence[int], jobs: int) -> float:
    """Throughput gain of ``jobs`` jobs of one model sharing a device, modelled as the measured
    gain of ``jobs`` stacked models (more concurrent work per kernel; an upper bound for MPS)."""
    if jobs <= 1:
        return 1.0
    points = {k: timer.step(group, k, False) for k in sizes if k <= jobs}
    points = {k: v for k, v in points.items() if v is not None}
    if len(points) < 2:
        return 1.0
    return max(1.0, min(float(jobs), jobs * points[1] / curve(points)(jobs)))


def full_eval_interval(group: Group, override: int | None) -> int:
    """Iterations between the full-split rows of the early-exit engine (largelr.training.protocol):
    ``training.train_eval_interval`` (0 = every row), every row for runs with a stall window or a
    ``stop_loss`` (their rules read the full split), or ``--full-eval-interval``; a multiple of
    ``eval_interval``."""
    s = group.settings[0]
    interval = override or getattr(s, "train_eval_interval", 0)
    if s.stall_window > 0 or s.stop_loss is not None or not interval:
        return s.eval_interval
    return max(s.eval_interval, math.ceil(interval / s.eval_interval) * s.eval_interval)


# ---- report -------------------------------------------------------------------------------------
def device_name(device: torch.device, timer: Any = None) -> str:
    if isinstance(timer, AssumedTimer):
        return timer.name
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} thread{'s' * (torch.get_num_threads() > 1)})"


def dataset_memory(preset: dict[str, Any], only: str | None = None) -> list[dict[str, Any]]:
    """Per dataset of the preset: input shape (its ``image_size``), split sizes and the bytes the
    training device holds (uint8 images since issue 25; float32 before), which the workflow's
    mem_mb / gpu_mem_mb requests follow (largelr.workflow.plan.Plan.data_mb); ``only``: as ``--only``."""
    rows = []
    grid = training_grid(preset)
    for name in sorted(set(grid["dataset"])):
        if only and only not in name and not grid[grid["dataset"] == name]["model"].str.contains(only).any():
            continue
        dataset = preset["datasets"][name]
        rows.append({"dataset": name, "shape": list(input_shape(dataset)), "train": train_size(dataset),
                     "test": test_size(dataset), "device_bytes": dataset_bytes(dataset),
                     "float32_bytes": dataset_bytes(dataset, bytes_per_value=4)})
    return rows


def print_datasets(preset: str, rows: Sequence[dict[str, Any]]) -> None:
    print(f"\n## {preset}: datasets on the training device (uint8 images; float32 as before issue 25)\n")
    print(f"{'dataset':24s} {'shape':>14s} {'train':>9s} {'test':>7s} {'device GB':>10s} {'float32 GB':>11s}")
    for row in rows:
        shape = "x".join(map(str, row["shape"]))
        print(f"{row['dataset']:24s} {shape:>14s} {row['train']:9d} {row['test']:7d} "
              f"{row['device_bytes'] / 1e9:10.2f} {row['float32_bytes'] / 1e9:11.2f}")


def print_table(title: str, groups: Sequence[Group], costs: Sequence[GroupCost]) -> float:
    print(f"\n## {title}\n")
    print(f"{'group (dataset / model / recipe / intervention)':64s} {'cells':>5s} {'stacks':>10s} {'step ms':>9s} "
          f"{'check ms':>10s} {'iters':>8s} {'hours':>9s}")
    for group, cost in zip(groups, costs):
        name = " / ".join(group.key)[:62] + (" *" if cost.reduced else "")
        print(f"{name:64s} {cost.cells:5d} {cost.stacks[:10]:>10s} {cost.step_s * 1e3:9.2f} "
              f"{cost.check_s * 1e3:10.1f} {cost.iterations:8.0f} {cost.hours:9.3f}")
    total = sum(c.hours for c in costs)
    print(f"{'total':64s} {sum(c.cells for c in costs):5d} {'':>10s} {'':>9s} {'':>10s} {'':>8s} {total:9.2f}")
    return total


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (CUDA when available)")
    parser.add_argument("--quick", action="store_true",
                        help="1 timed step per key, 100-sample eval probes, stack sizes 1 and 2; on a CPU one "
                             "step measurement for both engines and heavy models unstacked (labelled)")
    parser.add_argument("--steps", type=int, help="timed steps per key (default 3; --quick 1)")
    parser.add_argument("--probe", type=int, help="most samples an eval forward is timed on (default: 2000 on "
                        "CUDA, 200 on a CPU; --quick 100); scaled linearly to the engine's chunk")
    parser.add_argument("--stack-sizes", type=lambda v: sorted({1, *map(int, v.split(","))}),
                        help="stack sizes measured (default: 1,4,16 on CUDA, 1,2 on a CPU)")
    parser.add_argument("--jobs-per-gpu", type=int, default=4, help="jobs sharing the device in this engine")
    parser.add_argument("--full-eval-interval", type=int, help="iterations between full-split rows (this "
                        "engine; default: the preset's training.train_eval_interval)")
    parser.add_argument("--calibrate-from", type=Path, help="refit the iteration rule from run.json files here")
    parser.add_argument("--only", help="only the groups whose dataset or model name contains this")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--assume-h200", action="store_true", help="measure nothing: the H200 step times assumed "
                        "by largelr.workflow.cost (for a machine without the GPU; labelled in the output)")
    parser.add_argument("--cache", type=Path, help="read / write the measurements here (same device: reused)")
    parser.add_argument("--json", type=Path, help="also write the tables and totals to this JSON file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    sizes = args.stack_sizes or ([1, 2] if args.quick or not cuda else [1, 4, 16])
    timer = Timer(device, steps=args.steps or (1 if args.quick else 3),
                  probe=args.probe or (100 if args.quick else 2000 if cuda else 200),
                  budget_s=0.5 if args.quick else 2.0, quick=args.quick)
    if args.assume_h200:
        timer = AssumedTimer()
        sizes = [1, 2, 45]
    calibration, calibration_name = (calibrate(args.calibrate_from) if args.calibrate_from
                                     else (CALIBRATION, CALIBRATION_NAME))
    print(f"- iterations to 100 %: max(E_min * n / b, S / lr), capped at max_iters; calibration: {calibration_name}")
    if args.assume_h200:
        print(f"- not measured: {timer.name}; a stacked torchvision model is assumed to gain nothing")
    else:
        print(f"- measured on {device_name(device)} (torch {torch.__version__}): {timer.steps} timed step(s) per key, "
              f"eval probes of <= {timer.probe} samples, stack sizes {sizes} (others interpolated / extrapolated)"
              f"{'; --quick' if args.quick else ''}")
    if not cuda and not args.assume_h200:
        print("- on a CPU every time is CPU time: the GPU-hours below are only a ratio between the engines")
        if args.quick:
            print("- --quick on a CPU: one step measurement serves both engines (a host sync costs a CPU nothing); "
                  "heavy (*) models are timed unstacked, a stack of M costing M single steps")
        print(f"- *: a convolutional model or one over {HEAVY_PARAMETERS / 1e6:.0f} M parameters, timed on the CPU at "
              f"1/{HEAVY_REDUCTION} of its batch and eval probe and scaled back linearly")
    if args.cache and isinstance(timer, Timer):
        timer.cache_path = args.cache
        if args.cache.exists():
            timer.load(args.cache)
    results = {name: report_preset(name, args, timer, sizes, calibration) for name in args.preset.split(",")}
    if args.cache and isinstance(timer, Timer):
        timer.save(args.cache)
    for result in results.values():
        result["calibration"] = calibration_name
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


def report_preset(preset: str, args: argparse.Namespace, timer: Timer, sizes: Sequence[int],
                  calibration: dict) -> dict[str, Any]:
    """Both tables and the totals of one preset (measurements shared through ``timer``'s cache)."""
    device = torch.device("cuda") if isinstance(timer, AssumedTimer) else timer.device
    resolved = load_preset(preset)
    groups = preset_groups(resolved, calibration, args.only, device)
    datasets = dataset_memory(resolved, args.only)
    print_datasets(preset, datasets)
    name = device_name(timer.device, timer)
    work = _count_weighted((g.key[1], it) for g in groups for it in g.iterations)
    print(f"\n# {preset}: {len(groups)} training groups, {sum(len(g.iterations) for g in groups)} cells; expected "
          "cell-iterations by model: " + ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in sorted(work.items())))
    engines = [Engine("baseline engine: full-split checks every eval_interval, host sync per step, "
                      "single ResNets, one job per GPU", True, False, False, 1),
               Engine(f"this engine: early-exit check, no host sync per step, stacked batch-norm models, "
                      f"{args.jobs_per_gpu} jobs per GPU", False, True, True, args.jobs_per_gpu)]
    started = time.perf_counter()
    totals, tables = [], {}
    for engine in engines:
        costs = [group_cost(g, engine, timer, sizes, full_eval_interval(g, args.full_eval_interval)) for g in groups]
        totals.append(print_table(f"{preset}, {engine.name}", groups, costs))
        tables[engine.name] = [{"group": list(g.key), **c.__dict__} for g, c in zip(groups, costs)]
    note = "" if timer.device.type == "cuda" or isinstance(timer, AssumedTimer) else "; CPU time: a ratio only"
    print(f"\n{preset}: {totals[0]:.1f} GPU-hours on {name} (baseline engine{note})")
    print(f"{preset}: {totals[1]:.1f} GPU-hours on {name} (this engine{note})")
    print(f"ratio baseline / this engine: {totals[0] / max(totals[1], 1e-12):.2f}x "
          f"(measured in {time.perf_counter() - started:.0f} s)")
    return {"preset": preset, "device": name, "stack_sizes": list(sizes), "cell_iterations": work,
            "totals_hours": {"today": totals[0], "this": totals[1]}, "tables": tables, "datasets": datasets}


def _count_weighted(pairs: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for key, weight in pairs:
        totals[key] = totals.get(key, 0) + weight
    return totals


if __name__ == "__main__":
    main()
