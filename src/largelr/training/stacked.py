"""Stacked training: every seed × LR of one training group as one batched model (SPEC §4).

The protocol is exactly :func:`largelr.training.loop.train` (§4.2: minibatch steps until 100 %
training accuracy, the cap, divergence or a stall); only the arithmetic is batched. The M
models of a group share the architecture and the recipe and differ in their seed and
learning rate, so their parameters are stacked along a leading model axis and every layer
runs once for all of them: ``torch.func.vmap`` over ``torch.func.functional_call`` turns
each ``Linear`` into one batched matmul and each ``Conv2d`` into one grouped convolution
(the packed form of Packed-Ensembles, Laurent et al., ICLR 2023).

What each model keeps as if it had trained alone (:mod:`largelr.training.loop` is the reference):

* its initialisation (the caller builds each model from its own seed), its own seeded
  minibatch order (:class:`~largelr.training.loop._BatchSampler`) and its own fixed test subset;
* its own learning rate: the optimizer update is written per model here
  (:class:`StackedOptimizer`, SGD with momentum / weight decay, Adam and AdamW, matching
  ``torch.optim``), and the schedule factor of :func:`largelr.training.optim.lr_factor` multiplies it;
* its own loss: the objective is Σ_m (mean minibatch loss of model m + its L1/L2 penalty),
  whose gradient with respect to model m's weights is model m's own gradient;
* its own end: a model that converges, stalls or diverges is taken out of the stack at that
  iteration (its weights, history and snapshots are kept) and the others go on, so one slow
  model never holds the group, and the job ends when every model has stopped.

Recipes that cannot be stacked (ASAM, validation-set model selection, PSGD-Kron, models with
batch-norm buffers, settings that differ beyond lr / seed / snapshot interval) are trained one
after another by the caller (:func:`largelr.training.runs.train_group`); :func:`why_not_stackable` says why.

Resumption: the whole group state (stacked weights, optimizer state, every model's sampler,
history, snapshots, and the results of models already stopped) is one checkpoint, written
atomically every ``checkpoint_interval`` iterations; a rerun continues bit-identically.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn import functional as F

from largelr.io import atomic_path
from largelr.training.objectives import per_sample_loss
from largelr.training.optim import lr_factor, schedule_length
from largelr.training.loop import (
    CONVERGED,
    DIVERGED,
    MAX_ITERS,
    STALLED,
    TensorSplit,
    TrainResult,
    TrainSettings,
    _BatchSampler,
    _finished,
    fixed_test_indices,
    _IntervalStats,
    _Snapshots,
    read_checkpoint,
    stalled,
)

log = logging.getLogger(__name__)

STACKABLE_OPTIMIZERS = ("sgd", "adam", "adamw")
PER_MODEL_SETTINGS = ("lr", "seed", "snapshot_interval")  # the only settings stacked models may differ in

Params = dict[str, torch.Tensor]


@dataclass
class StackedOutcome:
    """One model's result: what :func:`largelr.training.loop.train` returns, plus its final weights."""

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
    if any(True for _ in model.buffers()):
        return "the model has buffers (batch norm statistics)"
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
            raise ValueError("optimizers.*.amsgrad: not supported by the stacked engine")
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


def stack_parameters(models: Sequence[nn.Module], device: torch.device) -> Params:
    """``{name: [M, ...] leaf tensor}`` from M models of one architecture."""
    names = [name for name, _ in models[0].named_parameters()]
    return {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models]).to(device).requires_grad_(True)
        for name in names
    }


def _keep(params: Params, rows: torch.Tensor) -> Params:
    return {name: p.detach()[rows].clone().requires_grad_(True) for name, p in params.items()}


def _model_state(params: Params, row: int) -> dict[str, torch.Tensor]:
    return {name: p[row].detach().to("cpu", copy=True) for name, p in params.items()}


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
    """A model's fixed test subset (:func:`largelr.training.loop.fixed_test_indices`), as explicit indices."""
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
        base = copy.deepcopy(models[0]).to("meta")

        def call(p: Params, x: torch.Tensor) -> torch.Tensor:
            return functional_call(base, p, (x,))

        self.forward = vmap(call)  # per-model inputs [M, B, ...]
        self.forward_shared = vmap(call, in_dims=(0, None))  # one input batch for every model
        self.params = stack_parameters(models, device)
        self.active = list(range(len(models)))
        self.optimizer = StackedOptimizer(self.common.optimizer, torch.tensor(
            [s.lr for s in settings], dtype=next(iter(self.params.values())).dtype, device=device))
        self.samplers = [_BatchSampler(len(train_split), s.batch_size, s.seed) for s in settings]
        test_subsets = [_test_indices(len(test_split), s.test_eval_samples, s.seed) for s in settings]
        self.test_indices = torch.stack(test_subsets).to(device)
        self.histories: list[list[dict[str, float]]] = [[] for _ in settings]
        self.snapshots = [_Snapshots(s.snapshot_interval) for s in settings]
        self.finished: dict[int, dict[str, Any]] = {}
        self.iteration, self.elapsed_before = 0, 0.0

    # ---- removing models from the stack -------------------------------------------------
    def stop(self, rows: Sequence[int], statuses: Sequence[str], elapsed: float) -> None:
        """Record the models at stack ``rows`` as stopped with ``statuses``; drop them from the stack."""
        for row, status in zip(rows, statuses, strict=True):
            index = self.active[row]
            state = _model_state(self.params, row)
            if status != DIVERGED:  # the final weights, as the single path keeps them
                self.snapshots[index].take_state(self.iteration, lambda: state)
            self.finished[index] = {"status": status, "iterations": self.iteration, "wall_time_s": elapsed,
                                    "state": state}
        keep = [row for row in range(len(self.active)) if row not in set(rows)]
        if not keep:
            self.active = []
            return
        kept = torch.tensor(keep, device=self.device)
        self.params = _keep(self.params, kept)
        self.optimizer.keep(kept)
        self.active = [self.active[row] for row in keep]

    # ---- checkpoint ---------------------------------------------------------------------
    def state_dict(self, elapsed: float) -> dict[str, Any]:
        return {
            "settings": [asdict(s) for s in self.settings],
            "iteration": self.iteration,
            "elapsed_s": elapsed,
            "active": self.active,
            "params": {k: v.detach() for k, v in self.params.items()},
            "optimizer": self.optimizer.state_dict(),
            "samplers": [s.state_dict() for s in self.samplers],
            "histories": self.histories,
            "snapshots": [s.state_dict() for s in self.snapshots],
            "finished": self.finished,
        }

    def load_state_dict(self, state: dict[str, Any], path: Path) -> None:
        if state["settings"] != [asdict(s) for s in self.settings]:
            raise ValueError(f"checkpoint {path} was written for other settings; delete it to restart this group")
        self.iteration, self.elapsed_before = int(state["iteration"]), float(state["elapsed_s"])
        self.active = list(state["active"])
        self.params = {k: v.to(self.device).requires_grad_(True) for k, v in state["params"].items()}
        self.optimizer.load_state_dict(state["optimizer"])
        for sampler, saved in zip(self.samplers, state["samplers"], strict=True):
            sampler.load_state_dict(saved)
        self.histories = [list(h) for h in state["histories"]]
        for snapshots, saved in zip(self.snapshots, state["snapshots"], strict=True):
            snapshots.load_state_dict(saved)
        self.finished = {int(k): v for k, v in state["finished"].items()}


@torch.no_grad()
def _evaluate_shared(group: _Group, split: TensorSplit, batch_size: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-model mean cross-entropy and accuracy on the whole of ``split`` (every model sees it)."""
    n_models = len(group.active)
    chunk = max(100, batch_size // n_models)
    loss_sum = torch.zeros(n_models, device=group.device, dtype=torch.float64)
    correct = torch.zeros(n_models, device=group.device, dtype=torch.float64)
    for start in range(0, len(split), chunk):
        x, y = split.x[start : start + chunk], split.y[start : start + chunk]
        logits = group.forward_shared(group.params, x)  # [M, n, C]
        correct += (logits.argmax(dim=-1) == y).sum(dim=-1)
        losses = F.cross_entropy(logits.flatten(0, 1), y.repeat(n_models), reduction="none")
        loss_sum += losses.view(n_models, -1).sum(-1)
    n = max(len(split), 1)
    return loss_sum / n, correct / n


@torch.no_grad()
def _evaluate_subsets(group: _Group, split: TensorSplit, batch_size: int = 2000) -> torch.Tensor:
    """Per-model accuracy on each model's own fixed test subset."""
    indices = group.test_indices[group.active]  # [M, n]
    n_models, n = indices.shape
    chunk = max(100, batch_size // n_models)
    correct = torch.zeros(n_models, device=group.device, dtype=torch.float64)
    for start in range(0, n, chunk):
        rows = indices[:, start : start + chunk]
        logits = group.forward(group.params, split.x[rows])
        correct += (logits.argmax(dim=-1) == split.y[rows]).sum(dim=-1)
    return correct / max(n, 1)


def _log_rows(group: _Group, stats: _IntervalStats, train_split: TensorSplit, test_split: TensorSplit,
              factor: float) -> list[dict[str, float]]:
    """One log row per active model, with the columns of :func:`largelr.training.loop._log_row`."""
    train_ce, train_acc = (t.tolist() for t in _evaluate_shared(group, train_split))
    test_acc = _evaluate_subsets(group, test_split).tolist()
    with torch.no_grad():
        norms = torch.sqrt(sum((p.detach() ** 2).flatten(1).sum(1) for p in group.params.values())).tolist()
    return [
        {"iteration": group.iteration, "lr": group.settings[index].lr * factor, **stats.row(row),
         "train_ce": train_ce[row], "train_acc": train_acc[row], "test_acc": test_acc[row], "param_norm": norms[row]}
        for row, index in enumerate(group.active)
    ]


def train_stacked(
    models: Sequence[nn.Module],
    train_split: TensorSplit,
    test_split: TensorSplit,
    settings: Sequence[TrainSettings],
    checkpoint_path: str | Path | None = None,
    stop_after: int | None = None,
    on_stop: Callable[[int, StackedOutcome], None] | None = None,
) -> list[StackedOutcome]:
    """Train ``models`` (model m with ``settings[m]``) stacked; resume from ``checkpoint_path``.

    Returns one :class:`StackedOutcome` per model, in order. ``stop_after`` (tests only)
    returns right after the checkpoint written at that iteration, as a killed job would stop.
    ``on_stop`` is called once per model as it stops (progress reporting).
    """
    reason = why_not_stackable(models[0], settings)
    if reason:
        raise ValueError(f"these cells cannot be trained stacked: {reason}")
    common = settings[0]
    group = _Group(models, settings, train_split, test_split)
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    saved = read_checkpoint(checkpoint_path) if checkpoint_path is not None and checkpoint_path.exists() else None
    if saved is not None:
        group.load_state_dict(saved, checkpoint_path)
        log.info("resumed %d stacked models from %s at iteration %d (%d still training)",
                 len(models), checkpoint_path, group.iteration, len(group.active))
    if group.iteration == 0:
        for row, index in enumerate(group.active):
            group.snapshots[index].take_state(0, lambda row=row: _model_state(group.params, row))
    schedule = dict(common.schedule or {})
    kind = schedule.get("kind", "constant")

    def factor(iteration: int) -> float:
        return lr_factor(kind, schedule, iteration, schedule_length(schedule, common.max_iters))

    started = time.perf_counter()

    def elapsed() -> float:
        return group.elapsed_before + time.perf_counter() - started

    reported: set[int] = set(group.finished)

    def report() -> None:
        for index in sorted(set(group.finished) - reported):
            reported.add(index)
            if on_stop is not None:
                on_stop(index, _outcome(group, index))

    stats = _IntervalStats()
    while group.active and group.iteration < common.max_iters:
        rows = torch.stack([group.samplers[i].next_indices() for i in group.active]).to(group.device)
        x, y, b = train_split.x[rows], train_split.y[rows], train_split.b[rows]
        logits = group.forward(group.params, x)
        losses = per_sample_loss(logits.flatten(0, 1), y.flatten(), common.loss).view(y.shape)
        loss = losses.mean(dim=1) + _penalties(group.params, common.l1, common.l2)
        values = loss.detach().tolist()
        bad = [r for r, v in enumerate(values) if not math.isfinite(v) or v > common.divergence_loss]
        good = [r for r in range(len(values)) if r not in bad]
        grads = torch.autograd.grad(loss[good].sum(), list(group.params.values())) if good else []
        if bad:
            for r in bad:
                log.warning("model %d (lr %g, seed %d): iteration %d loss %s, run diverged", group.active[r],
                            settings[group.active[r]].lr, settings[group.active[r]].seed, group.iteration, values[r])
            kept = torch.tensor(good, device=group.device, dtype=torch.long)
            group.stop(bad, [DIVERGED] * len(bad), elapsed())
            report()
            if not group.active:
                break
            grads = [g[kept] for g in grads]
            stats.keep(kept)
            losses, logits, y, b = losses[kept], logits[kept], y[kept], b[kept]
        group.optimizer.step(group.params, grads, factor(group.iteration))
        group.iteration += 1
        stats.add(losses.detach(), logits.detach(), b != y)
        if group.iteration % common.eval_interval == 0 or group.iteration == common.max_iters:
            _evaluation(group, stats, train_split, test_split, factor(group.iteration), elapsed)
            report()
            stats = _IntervalStats()
            if (checkpoint_path is not None and group.active
                    and group.iteration % common.checkpoint_interval == 0):
                with atomic_path(checkpoint_path) as tmp:
                    torch.save(group.state_dict(elapsed()), tmp)
                if stop_after is not None and group.iteration >= stop_after:
                    return []
    if group.active:
        group.stop(list(range(len(group.active))), [MAX_ITERS] * len(group.active), elapsed())
        report()
    return [_outcome(group, index) for index in range(len(models))]


def _evaluation(group: _Group, stats: _IntervalStats, train_split: TensorSplit, test_split: TensorSplit,
                factor: float, elapsed: Callable[[], float]) -> None:
    """Log rows for every active model; stop those that converged or stalled."""
    rows = _log_rows(group, stats, train_split, test_split, factor)
    stopping, statuses = [], []
    for row, (index, entry) in enumerate(zip(group.active, rows, strict=True)):
        history, settings = group.histories[index], group.settings[index]
        history.append(entry)
        if group.snapshots[index].due(group.iteration):
            group.snapshots[index].take_state(group.iteration, lambda row=row: _model_state(group.params, row))
        if _finished(entry, settings):
            stopping.append(row)
            statuses.append(CONVERGED)
        elif stalled(history, settings):
            stopping.append(row)
            statuses.append(STALLED)
    n_active = len(rows)
    accuracies = sorted(entry["train_acc"] for entry in rows)
    log.info("iter %6d  %d models training, train acc %.4f-%.4f", group.iteration, n_active,
             accuracies[0], accuracies[-1])
    if stopping:
        group.stop(stopping, statuses, elapsed())


def _outcome(group: _Group, index: int) -> StackedOutcome:
    done = group.finished[index]
    result = TrainResult(done["status"], done["iterations"], group.histories[index], done["wall_time_s"],
                         None, dict(group.snapshots[index].states))
    return StackedOutcome(result, done["state"])
