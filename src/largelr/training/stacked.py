"""Stacked training: every seed × LR of one training group as one batched model (§4.2, suppl. C).

The protocol is exactly :func:`largelr.training.single.train` (§4.2: minibatch steps until 100 %
training accuracy, the cap, divergence or a stall); only the arithmetic is batched. The M
models of a group share the architecture and the recipe and differ in their seed and
learning rate, so their parameters are stacked along a leading model axis and every layer
runs once for all of them: ``torch.func.vmap`` over ``torch.func.functional_call`` turns
each ``Linear`` into one batched matmul and each ``Conv2d`` into one grouped convolution
(the packed form of Packed-Ensembles, Laurent et al., ICLR 2023).

What each model keeps as if it had trained alone (:mod:`largelr.training.single` is the reference):

* its initialisation (the caller builds each model from its own seed), its own seeded
  minibatch order (:class:`~largelr.training.protocol.BatchSampler`, stepped together by
  :class:`~largelr.training.protocol.StackedSampler`) and its own fixed test subset;
* its own learning rate: the optimizer update is written per model here
  (:class:`StackedOptimizer`, SGD with momentum / weight decay, Adam and AdamW, matching
  ``torch.optim``), and the schedule factor of :func:`largelr.training.optim.lr_factor` multiplies it;
* its own loss: the objective is Σ_m (mean minibatch loss of model m + its L1/L2 penalty),
  whose gradient with respect to model m's weights is model m's own gradient;
* its own end: a model that converges, stalls or diverges is taken out of the stack at that
  iteration (its weights, history and snapshots are kept) and the others go on, so one slow
  model never holds the group, and the job ends when every model has stopped;
* its own stopping check: at a log row each model leaves the check at its own first
  misclassified sample (:func:`largelr.training.protocol.check_scan`).

The protocol itself (sampler, statistics, snapshots, the divergence watch, the stopping
check, the stop rules and the driver) is :mod:`largelr.training.protocol`, shared with
:func:`largelr.training.single.train`; this module is the stacked step and log rows.

Models with batch norm (the ResNets of suppl. C) stack too: their running statistics are stacked
with the weights, each model updates its own in train mode and uses them in eval mode
(:mod:`largelr.training.stacked_state`). Recipes that cannot be stacked (ASAM, validation-set
model selection, PSGD-Kron, buffers other than batch-norm statistics, settings that differ
beyond lr / seed / snapshot interval) are trained one after another by the caller
(:func:`largelr.training.runs.train_group`); :func:`why_not_stackable` says why.

Resumption: the whole group state (stacked weights and batch-norm statistics, optimizer state, every model's sampler,
history, snapshots, and the results of models already stopped) is one checkpoint, written
atomically every ``checkpoint_interval`` iterations; a rerun continues bit-identically.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from largelr import engine_facts
from largelr.engine_facts import EVAL_BATCH, STACKABLE_OPTIMIZERS
from largelr.io import atomic_path
from largelr.progress_file import TRAINING, ProgressLog
from largelr.training.objectives import per_sample_loss
from largelr.training.optim import lr_factor, schedule_length
from largelr.training.protocol import (
    DIVERGED,
    MAX_ITERS,
    BatchSampler,
    DivergenceWatch,
    ErrorMemory,
    IntervalStats,
    Snapshots,
    StackedSampler,
    TensorSplit,
    TrainResult,
    TrainSettings,
    diverging,
    drive,
    fixed_test_indices,
    full_evaluation_due,
    read_checkpoint,
    stop_status,
    train_values,
    with_defaults,
)
from largelr.training.stacked_state import StackedForward, StackedState, why_buffers_not_stackable

log = logging.getLogger(__name__)

PER_MODEL_SETTINGS = ("lr", "seed", "snapshot_interval")  # the only settings stacked models may differ in

Params = dict[str, torch.Tensor]


@dataclass
class StackedOutcome:
    """One model's result: what :func:`largelr.training.single.train` returns, plus its final weights."""

    result: TrainResult
    state: dict[str, torch.Tensor]  # CPU state_dict, keys as the single model's


def why_not_stackable(model: nn.Module, settings: Sequence[TrainSettings]) -> str | None:
    """None when these cells can train stacked, else the reason they cannot."""
    first = asdict(settings[0])
    for other in map(asdict, settings[1:]):
        differing = sorted(k for k in first if k not in PER_MODEL_SETTINGS and first[k] != other[k])
        if differing:
            return f"settings differ in {differing}"
    if settings[0].optimizer.get("kind", "sgd") not in STACKABLE_OPTIMIZERS:
        return f"optimizer {settings[0].optimizer.get('kind')!r} has no per-model update here"
    if settings[0].asam:
        return "ASAM needs two gradient evaluations per step"
    if settings[0].validation_fraction > 0:
        return "validation-set model selection"
    return why_buffers_not_stackable(model)


def why_not_faster_stacked(model: nn.Module, device: torch.device) -> str | None:
    """None when a stack is the faster engine for ``model`` on ``device``, else why its cells train one after another.

    Batch-norm models (the suppl. C ResNets) stack on accelerators only: on the CPU a stack of M
    ResNet18s took 1.07-1.68x the time of M separate ones at M in {1, 2, 4, 8}, base width 16 and 64
    (one noisy reading of 0.78x; ``python benchmarks/stacked_resnet.py``, numbers in the README), so
    there they keep the single path. The rule picks an engine only; both engines run the same
    protocol (:func:`train_stacked`).
    """
    if device.type == "cpu" and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return "batch-norm models train faster one after another on the CPU (benchmarks/stacked_resnet.py)"
    return None


class StackedOptimizer:
    """The update of ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` with one learning rate per model.

    Parameters are ``[M, ...]`` tensors; ``lrs`` is ``[M]``. Each model's update is the one
    ``torch.optim`` would apply to it alone (same order of operations; the spec's keys and
    defaults are those of :func:`largelr.training.optim.build_optimizer`).
    """

    def __init__(self, spec: Mapping[str, Any], lrs: torch.Tensor) -> None:
        self.kind = spec.get("kind", "sgd")
        self.lrs = lrs
        self.momentum = float(spec.get("momentum", 0.0))
        self.dampening = float(spec.get("dampening", 0.0))
        self.nesterov = bool(spec.get("nesterov", False))
        default_wd = 0.01 if self.kind == "adamw" else 0.0
        self.weight_decay = float(spec.get("weight_decay", default_wd))
        self.betas = tuple(float(b) for b in spec.get("betas", (0.9, 0.999)))
        self.eps = float(spec.get("eps", 1e-8))
        if spec.get("amsgrad", False):
            raise ValueError("recipes.*.amsgrad: not supported by the stacked engine")
        self.steps = 0
        self.state: dict[str, dict[str, torch.Tensor]] = {}

    @torch.no_grad()
    def step(self, params: Params, grads: Sequence[torch.Tensor], factor: float) -> None:
        """One update of every model with learning rate ``lrs · factor`` (the schedule's factor)."""
        self.steps += 1
        for (name, p), grad in zip(params.items(), grads, strict=True):
            lr = (self.lrs * factor).view(-1, *([1] * (p.dim() - 1)))
            state = self.state.setdefault(name, {})
            if self.kind == "sgd":
                p.sub_(lr * self._sgd_direction(p, grad, state))
            else:
                self._adam(p, grad, state, lr)

    def _sgd_direction(self, p: torch.Tensor, grad: torch.Tensor, state: dict) -> torch.Tensor:
        d_p = grad.add(p, alpha=self.weight_decay) if self.weight_decay else grad
        if not self.momentum:
            return d_p
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.clone(d_p).detach()
        else:
            state["momentum_buffer"].mul_(self.momentum).add_(d_p, alpha=1 - self.dampening)
        buf = state["momentum_buffer"]
        return d_p.add(buf, alpha=self.momentum) if self.nesterov else buf

    def _adam(self, p: torch.Tensor, grad: torch.Tensor, state: dict, lr: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        if self.kind == "adamw":
            p.mul_(1 - lr * self.weight_decay)
        elif self.weight_decay:
            grad = grad.add(p, alpha=self.weight_decay)
        if "exp_avg" not in state:
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**self.steps
        bias_correction2_sqrt = (1 - beta2**self.steps) ** 0.5
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        p.sub_((lr / bias_correction1) * (exp_avg / denom))

    def keep(self, rows: torch.Tensor) -> None:
        """Keep the models ``rows`` only (the others stopped)."""
        self.lrs = self.lrs[rows]
        self.state = {name: {k: v[rows] for k, v in s.items()} for name, s in self.state.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "lrs": self.lrs, "state": self.state}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        device = self.lrs.device
        self.steps, self.lrs = int(saved["steps"]), saved["lrs"].to(device)
        self.state = {n: {k: v.to(device) for k, v in s.items()} for n, s in saved["state"].items()}


def _penalties(params: Params, l1: float, l2: float) -> torch.Tensor | float:
    """Per-model ``l1·Σ|w| + (l2/2)·Σw²`` (:func:`largelr.training.objectives.penalty_term`), shape [M]."""
    total: torch.Tensor | float = 0.0
    for p in params.values():
        flat = p.flatten(start_dim=1)
        if l1:
            total = total + float(l1) * flat.abs().sum(dim=1)
        if l2:
            total = total + (float(l2) / 2.0) * (flat**2).sum(dim=1)
    return total


def _test_indices(n_test: int, n: int, seed: int) -> torch.Tensor:
    """A model's fixed test subset (:func:`largelr.training.single.fixed_test_indices`), as explicit indices."""
    indices = fixed_test_indices(n_test, n, seed)
    return torch.arange(n_test) if indices is None else indices


class _Group:
    """The stacked state of the models still training, and what the stopped ones left."""

    def __init__(self, models: Sequence[nn.Module], settings: Sequence[TrainSettings],
                 train_split: TensorSplit, test_split: TensorSplit) -> None:
        self.settings = list(settings)
        self.common = settings[0]
        device = train_split.x.device
        self.device = device
        self.forward = StackedForward(models[0])  # train mode in the step, eval mode in the checks
        self.state = StackedState.stack(models, device)
        self.active = list(range(len(models)))
        self.optimizer = StackedOptimizer(self.common.optimizer, torch.tensor(
            [s.lr for s in settings], dtype=next(iter(self.params.values())).dtype, device=device))
        self.samplers = [BatchSampler(len(train_split), s.batch_size, s.seed) for s in settings]
        self.sampler = StackedSampler(self.samplers, device)
        test_subsets = [_test_indices(len(test_split), s.test_eval_samples, s.seed) for s in settings]
        self.test_indices = torch.stack(test_subsets).to(device)
        self.histories: list[list[dict[str, float | None]]] = [[] for _ in settings]
        self.snapshots = [Snapshots(s.snapshot_interval) for s in settings]
        self.finished: dict[int, dict[str, Any]] = {}
        self.iteration, self.elapsed_before = 0, 0.0
        self.watch = DivergenceWatch(len(models), device, self.common.divergence_loss)
        self.memory = ErrorMemory(len(models), len(train_split), device)

    @property
    def params(self) -> Params:
        """The stacked parameters ``{name: [M, ...]}`` (leaves the optimizer updates in place)."""
        return self.state.params

    def model_state(self, row: int) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of the model at stack ``row`` (weights and batch-norm statistics, CPU)."""
        return self.state.model_state(row)

    # ---- removing models from the stack -------------------------------------------------
    def stop(self, rows: Sequence[int], statuses: Sequence[str], elapsed: float) -> None:
        """Record the models at stack ``rows`` as stopped with ``statuses``; drop them from the stack."""
        for row, status in zip(rows, statuses, strict=True):
            index = self.active[row]
            state = self.model_state(row)
            if status != DIVERGED:  # the final weights, as the single path keeps them
                self.snapshots[index].take_state(self.iteration, lambda: state)
            self.finished[index] = {"status": status, "iterations": self.iteration, "wall_time_s": elapsed,
                                    "state": state}
        keep = [row for row in range(len(self.active)) if row not in set(rows)]
        if not keep:
            self.active = []
            return
        kept = torch.tensor(keep, device=self.device)
        self.state = self.state.keep(kept)
        self.optimizer.keep(kept)
        self.memory.keep(kept)
        self.watch.reset(len(keep))
        self.active = [self.active[row] for row in keep]

    # ---- checkpoint ---------------------------------------------------------------------
    def state_dict(self, elapsed: float) -> dict[str, Any]:
        return {
            "settings": [asdict(s) for s in self.settings],
            "iteration": self.iteration,
            "elapsed_s": elapsed,
            "active": self.active,
            **self.state.state_dict(),  # params and buffers
            "optimizer": self.optimizer.state_dict(),
            "samplers": [s.state_dict() for s in self.samplers],
            "histories": self.histories,
            "snapshots": [s.state_dict() for s in self.snapshots],
            "finished": self.finished,
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        if [with_defaults(s) for s in state["settings"]] != [asdict(s) for s in self.settings]:
            raise ValueError(f"checkpoint {path} was written for other settings; delete it to restart this group")
        self.iteration, self.elapsed_before = int(state["iteration"]), float(state["elapsed_s"])
        self.load_training_state(state)
        self.histories = [list(h) for h in state["histories"]]
        for snapshots, saved in zip(self.snapshots, state["snapshots"], strict=True):
            snapshots.load_state_dict(saved)
        self.finished = {int(k): v for k, v in state["finished"].items()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        """Weights, optimizer and samplers of the models in ``state["active"]`` (a checkpoint or an anchor)."""
        self.active = list(state["active"])
        self.state.load_state_dict(state, self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        for sampler, saved in zip(self.samplers, state["samplers"], strict=True):
            sampler.load_state_dict(saved)
        self.sampler.invalidate()
        self.watch.reset(len(self.active))
        self.memory = ErrorMemory(len(self.active), self.memory.wrong.shape[1], self.device)


@torch.no_grad()
def _evaluate_subsets(group: _Group, split: TensorSplit, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Per-model accuracy on each model's own fixed test subset."""
    indices = group.test_indices[group.active]  # [M, n]
    n_models, n = indices.shape
    chunk = max(100, batch_size // n_models)
    correct = torch.zeros(n_models, device=group.device, dtype=torch.float64)
    for start in range(0, n, chunk):
        rows = indices[:, start : start + chunk]
        logits = group.forward.eval(group.state, split.x[rows])
        correct += (logits.argmax(dim=-1) == split.y[rows]).sum(dim=-1)
    return correct / max(n, 1)


def train_stacked(
    models: Sequence[nn.Module],
    train_split: TensorSplit,
    test_split: TensorSplit,
    settings: Sequence[TrainSettings],
    checkpoint_path: str | Path | None = None,
    stop_after: int | None = None,
    on_stop: Callable[[int, StackedOutcome], None] | None = None,
    reference: bool = False,
    progress: ProgressLog | None = None,
) -> list[StackedOutcome]:
    """Train ``models`` (model m with ``settings[m]``) stacked; resume from ``checkpoint_path``.

    Returns one :class:`StackedOutcome` per model, in order. ``stop_after`` (tests only)
    returns right after the checkpoint written at that iteration, as a killed job would stop.
    ``on_stop`` is called once per model as it stops (progress reporting). ``reference``: the
    protocol with a per-step host divergence test and a full-split evaluation at every row
    (:func:`largelr.training.protocol.drive`), for tests to compare against. ``progress``: the
    job's progress file (:mod:`largelr.progress_file`; its cells in the order of ``models``), one
    line per stack row at each log row, continued from a resumed checkpoint.
    """
    reason = why_not_stackable(models[0], settings)
    if reason:
        raise ValueError(f"these cells cannot be trained stacked: {reason}")
    run = _StackedRun(models, train_split, test_split, settings, checkpoint_path, on_stop, reference)
    run.progress = progress
    if progress is not None:
        progress.resume([run.iteration] * len(models))
    if drive(run, settings[0], run.checkpoint_path is not None, stop_after, reference):
        return []
    group = run.group
    if group.active:
        group.stop(list(range(len(group.active))), [MAX_ITERS] * len(group.active), run.elapsed())
        run.report()
    return [_outcome(group, index) for index in range(len(models))]


def new_stacked_run(models: Sequence[nn.Module], train_split: TensorSplit, test_split: TensorSplit,
                    settings: Sequence[TrainSettings]) -> _StackedRun:
    """A fresh stacked run of :func:`train_stacked` (no checkpoint, the fast protocol): the models' stacked
    state, forward and :class:`StackedOptimizer` built as :func:`train_stacked` builds them (without its
    :func:`why_not_stackable` check). Benchmarks time its ``step_on``."""
    return _StackedRun(models, train_split, test_split, settings, None, None, False)


class _StackedRun:
    """The stacked engine of :func:`train_stacked`: its step and its log rows."""

    def __init__(self, models: Sequence[nn.Module], train_split: TensorSplit, test_split: TensorSplit,
                 settings: Sequence[TrainSettings], checkpoint_path: str | Path | None,
                 on_stop: Callable[[int, StackedOutcome], None] | None, reference: bool) -> None:
        self.group = group = _Group(models, settings, train_split, test_split)
        self.train_split, self.test_split, self.common = train_split, test_split, settings[0]
        self.on_stop, self.reference, self.saved = on_stop, reference, None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        path = self.checkpoint_path
        saved = read_checkpoint(path) if path is not None and path.exists() else None
        if saved is not None:
            group.load_state_dict(saved, self.checkpoint_path)
            log.info("resumed %d stacked models from %s at iteration %d (%d still training)",
                     len(models), self.checkpoint_path, group.iteration, len(group.active))
        if group.iteration == 0:
            for row, index in enumerate(group.active):
                group.snapshots[index].take_state(0, lambda row=row: group.model_state(row))
        self.schedule = dict(self.common.schedule or {})
        self.reported: set[int] = set(group.finished)
        self.stats = IntervalStats()
        self.progress: ProgressLog | None = None
        self.started = time.perf_counter()

    @property
    def iteration(self) -> int:
        return self.group.iteration

    @property
    def watch(self) -> DivergenceWatch:
        return self.group.watch

    def elapsed(self) -> float:
        return self.group.elapsed_before + time.perf_counter() - self.started

    def factor(self, iteration: int) -> float:
        kind = self.schedule.get("kind", "constant")
        return lr_factor(kind, self.schedule, iteration, schedule_length(self.schedule, self.common.max_iters))

    def running(self) -> bool:
        return bool(self.group.active)

    def report(self) -> None:
        for index in sorted(set(self.group.finished) - self.reported):
            self.reported.add(index)
            if self.on_stop is not None:
                self.on_stop(index, _outcome(self.group, index))

    def step(self, sync: bool) -> None:
        """One minibatch step of every active model: the samplers' next batches, :meth:`step_on` them,
        the interval statistics."""
        group, split = self.group, self.train_split
        rows = group.sampler.next_rows(group.active)
        x, y, b = split.x[rows], split.y[rows], split.b[rows]
        stepped = self.step_on(x, y, sync)
        if stepped is None:
            return
        logits, losses, kept = stepped
        if kept is not None:
            y, b = y[kept], b[kept]
        group.iteration += 1
        self.stats.add(losses.detach(), logits.detach(), b != y)

    def step_on(self, x: torch.Tensor, y: torch.Tensor,
                sync: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None:
        """One optimisation step of every active model on its batch (``x`` ``[M, B, ...]``, ``y`` ``[M, B]``):
        forward (batch-norm statistics updated), per-sample loss (+ penalty), the divergence test, gradient,
        per-model update. Returns the logits, per-sample losses and the stack rows kept (None: all), or None
        when every model diverged. ``sync``: read the losses on the host and take diverged models out of the
        stack before the update; else the test stays on the device. ``benchmarks/paper_cost.py`` times it."""
        group, kept = self.group, None
        logits = group.forward.train(group.state, x)  # updates each model's batch-norm statistics
        losses = per_sample_loss(logits.flatten(0, 1), y.flatten(), self.common.loss).view(y.shape)
        loss = losses.mean(dim=1) + _penalties(group.params, self.common.l1, self.common.l2)
        if not sync:
            group.watch.observe(loss, group.iteration)
            grads = torch.autograd.grad(loss.sum(), list(group.params.values()))
        else:
            values = loss.detach().tolist()
            bad = [r for r, v in enumerate(values) if diverging(v, self.common)]
            good = [r for r in range(len(values)) if r not in bad]
            grads = torch.autograd.grad(loss[good].sum(), list(group.params.values())) if good else []
            if bad:
                kept = self._stop_diverged(bad, good, values)
                if kept is None:
                    return None
                grads = [g[kept] for g in grads]
                losses, logits = losses[kept], logits[kept]
        group.optimizer.step(group.params, grads, self.factor(group.iteration))
        return logits, losses, kept

    def _stop_diverged(self, bad: list[int], good: list[int], values: list[float]) -> torch.Tensor | None:
        """Take the stack rows ``bad`` out as diverged; the kept rows (None when none is left)."""
        group = self.group
        for r in bad:
            index = group.active[r]
            log.warning("model %d (lr %g, seed %d): iteration %d loss %s, run diverged", index,
                        group.settings[index].lr, group.settings[index].seed, group.iteration, values[r])
            if self.progress is not None:
                self.progress.diverged(index, group.iteration + 1, self.elapsed())
        kept = torch.tensor(good, device=group.device, dtype=torch.long)
        group.stop(bad, [DIVERGED] * len(bad), self.elapsed())
        self.report()
        if not group.active:
            return None
        self.stats.keep(kept)
        return kept

    def evaluate_chunk(self, rows: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The protocol's chunk evaluator for the stack rows ``rows`` (one shared input chunk)."""
        group = self.group
        whole = len(rows) == len(group.active)
        params, buffers = (group.state.params, group.state.buffers) if whole else group.state.subset(rows)
        x, y = self.train_split.x[start:stop], self.train_split.y[start:stop]
        logits = group.forward.eval_shared(params, buffers, x)  # [M', n, C], eval-mode batch norm
        losses = F.cross_entropy(logits.flatten(0, 1), y.repeat(len(rows)), reduction="none")
        return losses.view(len(rows), -1).sum(-1), logits.argmax(dim=-1) != y

    @torch.no_grad()
    def log_rows(self) -> list[dict[str, float | None]]:
        """One log row per active model, with the columns of :meth:`largelr.training.single._SingleRun.log_row`."""
        group = self.group
        full = self.reference or any(
            full_evaluation_due(group.settings[index], group.iteration, group.snapshots[index].due(group.iteration))
            for index in group.active)
        chunk = max(100, engine_facts.EVAL_BATCH // len(group.active))
        train_ce, train_acc = train_values(self.evaluate_chunk, len(self.train_split), chunk, group.memory, full)
        test_acc = _evaluate_subsets(group, self.test_split).tolist()
        norms = torch.sqrt(sum((p.detach() ** 2).flatten(1).sum(1) for p in group.params.values())).tolist()
        factor = self.factor(group.iteration)
        return [
            {"iteration": group.iteration, "lr": group.settings[index].lr * factor, **self.stats.row(row),
             "train_ce": train_ce[row], "train_acc": train_acc[row], "test_acc": test_acc[row],
             "param_norm": norms[row]}
            for row, index in enumerate(group.active)
        ]

    def log_and_check(self) -> None:
        """Log rows for every active model; stop those that converged or stalled."""
        group = self.group
        rows = self.log_rows()
        stopping, statuses = [], []
        for row, (index, entry) in enumerate(zip(group.active, rows, strict=True)):
            history, settings = group.histories[index], group.settings[index]
            history.append(entry)
            if group.snapshots[index].due(group.iteration):
                group.snapshots[index].take_state(group.iteration, lambda row=row: group.model_state(row))
            status = stop_status(history, settings)
            if status is not None:
                stopping.append(row)
                statuses.append(status)
        if self.progress is not None:
            running = MAX_ITERS if group.iteration >= self.common.max_iters else TRAINING
            final = dict(zip(stopping, statuses))
            self.progress.log_rows([(index, entry, final.get(row, running)) for row, (index, entry)
                                    in enumerate(zip(group.active, rows))], self.elapsed())
        accuracies = sorted(entry["train_acc"] for entry in rows if entry["train_acc"] is not None)
        log.info("iter %6d  %d models training, train acc %s", group.iteration, len(rows),
                 f"{accuracies[0]:.4f}-{accuracies[-1]:.4f}" if accuracies else "(not evaluated at this row)")
        self.stats = IntervalStats()
        if stopping:
            group.stop(stopping, statuses, self.elapsed())
            self.report()

    def anchor(self) -> None:
        """Keep (on the device) what a replay of the next interval starts from."""
        group = self.group
        optimizer = group.optimizer.state_dict()
        self.saved = {
            "iteration": group.iteration,
            "active": list(group.active),
            **group.state.state_dict(),  # params and buffers
            "optimizer": {**optimizer, "state": {n: {k: v.clone() for k, v in s.items()}
                                                 for n, s in optimizer["state"].items()}},
            "samplers": [s.state_dict() for s in group.samplers],
        }

    def rewind(self) -> None:
        self.group.iteration = self.saved["iteration"]
        self.group.load_training_state(self.saved)
        self.stats = IntervalStats()

    def save_checkpoint(self) -> None:
        with atomic_path(self.checkpoint_path) as tmp:
            torch.save(self.group.state_dict(self.elapsed()), tmp)


def _outcome(group: _Group, index: int) -> StackedOutcome:
    done = group.finished[index]
    result = TrainResult(done["status"], done["iterations"], group.histories[index], done["wall_time_s"],
                         None, dict(group.snapshots[index].states))
    return StackedOutcome(result, done["state"])
