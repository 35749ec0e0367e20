"""The training protocol of §4.2 / suppl. C (SPEC §4) and its variants (§5, suppl. D.4).

Default: minibatch SGD with a constant learning rate, ``w_{t+1} = w_t − η ∇ (1/b) Σ ℓ`` (§2),
batch 100, run **until 100 % training accuracy** (checked on the full training set every
``eval_interval`` iterations) or until ``max_iters``. With ``stop_loss`` set, the run goes
on until the full-training-set cross-entropy is below it (Fig 24: "until CE loss < 1e-5").
A non-finite loss, or a loss above ``divergence_loss``, ends the run as ``diverged``; the
caller records it and the DAG goes on. With ``stall_window`` = W > 0, a run that made no
progress over its last W evaluations ends as ``stalled`` (it is neither converged nor still
improving; verdicts and figures treat it like a capped run): its best training accuracy rose
by at most ``stall_min_gain`` and its lowest full-train loss fell by at most the fraction
``stall_min_loss_drop``. The loss matters: parity at a small LR sits at the spurious
features' 90 % training accuracy for some 10 000 iterations while its loss keeps falling,
and then learns the core features.

Validation-set model selection (Fig 28's AdamW/CIFAR-100 setup): with
``validation_fraction`` > 0 a seeded share of the training set is held out (it is neither
trained on nor used for the 100 % criterion), its accuracy is logged as ``val_acc``, and with
``select_best`` the weights of the log row with the best ``val_acc`` are restored at the end.

Variants are config blocks, not code: ``optimizer`` (SGD / Adam / AdamW / PSGD-Kron, see
:mod:`largelr.training.optim`), ``schedule`` (constant / step / cosine / warmup-stable-decay),
``loss`` (cross-entropy or focal), ``l1`` / ``l2`` penalties and ``asam`` (adaptive
sharpness-aware minimisation, Kwon et al. 2021; :mod:`largelr.training.objectives`). A schedule spans
``schedule.iterations`` steps when its block sets it, else ``max_iters``
(:func:`largelr.training.optim.schedule_length`; recorded as ``schedule_length`` in ``run.json``).

Snapshots (Fig 3 right, Fig 13, Fig 28 bottom: dynamics through training): with
``snapshot_interval`` > 0 a CPU copy of the model's ``state_dict`` is kept at iteration 0
(before the first step), at every log row whose iteration is a multiple of
``snapshot_interval`` (so snapshots fall on multiples of lcm(``eval_interval``,
``snapshot_interval``)) and at the final iteration of a converged / capped run (taken
*before* validation-set model selection restores the best weights; a diverged run keeps
the snapshots taken up to its divergence). Snapshots live in the checkpoint, so a resumed
run ends with exactly the snapshots of an uninterrupted one.

Logged at every evaluation (one row each): train loss, bias-aligned (BA) loss, bias-
conflicting (BC) loss, the maximum **BC loss ratio** Σ_{BC} ℓ / Σ_Ω ℓ over the minibatches
of the interval (§6, Figs 12/27), full-set train accuracy, unbiased test accuracy on a fixed
subset, parameter norm and mean logit norm.

The whole dataset lives on the device as one tensor; minibatches are slices of a seeded
per-epoch permutation, so the run is deterministic given the seed, and the generator state
plus the position in the permutation are checkpointed for resumption.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from largelr.io import atomic_path
from largelr.training.objectives import ASAM, penalty_term, per_sample_loss
from largelr.training.optim import build_optimizer, build_scheduler, schedule_length

log = logging.getLogger(__name__)

CONVERGED, MAX_ITERS, STALLED, DIVERGED = "converged", "max_iters", "stalled", "diverged"


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one training cell (config ``training.*``, the optimizer block, lr, seed)."""

    lr: float
    seed: int
    batch_size: int = 100
    max_iters: int = 10000
    eval_interval: int = 100
    checkpoint_interval: int = 1000
    test_eval_samples: int = 1000
    divergence_loss: float = 1.0e4
    stop_loss: float | None = None
    optimizer: dict[str, Any] = field(default_factory=lambda: {"kind": "sgd"})
    schedule: dict[str, Any] | None = None
    loss: dict[str, Any] = field(default_factory=lambda: {"kind": "ce"})
    l1: float = 0.0
    l2: float = 0.0
    asam: dict[str, Any] | None = None
    validation_fraction: float = 0.0
    select_best: bool = False
    snapshot_interval: int = 0  # 0 = no snapshots; see the module docstring
    stall_window: int = 0  # evaluations without a training-accuracy gain that end a run as stalled; 0 = off
    stall_min_gain: float = 0.0  # the gain (in training accuracy) that counts as progress
    stall_min_loss_drop: float = 0.0  # or the relative drop of the training loss that does


@dataclass
class TensorSplit:
    """A split held on the device: inputs, class labels y, bias labels b."""

    x: torch.Tensor
    y: torch.Tensor
    b: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class TrainResult:
    status: str
    iterations: int
    history: list[dict[str, float]]
    wall_time_s: float
    selected_iteration: int | None = None  # validation-set model selection: the iteration kept
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # iteration → CPU state_dict


class _BatchSampler:
    """Seeded per-epoch permutations; its whole state is (generator state, permutation, position)."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        self.n, self.batch_size = n, batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.randperm(n, generator=self.generator)
        self.position = 0

    def next_indices(self) -> torch.Tensor:
        if self.position + self.batch_size > self.n:  # drop the ragged tail, start a new epoch
            self.permutation = torch.randperm(self.n, generator=self.generator)
            self.position = 0
        indices = self.permutation[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return indices

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "permutation": self.permutation, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"]
        self.position = int(state["position"])


@torch.no_grad()
def evaluate_loss_and_accuracy(model: nn.Module, split: TensorSplit, batch_size: int = 2000) -> tuple[float, float]:
    """Mean cross-entropy and fraction of correctly classified samples, in evaluation batches."""
    was_training = model.training
    model.eval()
    correct, loss_sum = 0, 0.0
    for start in range(0, len(split), batch_size):
        logits = model(split.x[start : start + batch_size])
        targets = split.y[start : start + batch_size]
        correct += int((logits.argmax(dim=1) == targets).sum())
        loss_sum += float(F.cross_entropy(logits, targets, reduction="sum"))
    model.train(was_training)
    n = max(len(split), 1)
    return loss_sum / n, correct / n


def evaluate_accuracy(model: nn.Module, split: TensorSplit, batch_size: int = 2000) -> float:
    """Fraction of correctly classified samples."""
    return evaluate_loss_and_accuracy(model, split, batch_size)[1]


def parameter_norm(model: nn.Module) -> float:
    return float(torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters())))


def bias_conflicting_loss_ratio(losses: torch.Tensor, conflicting: torch.Tensor) -> torch.Tensor:
    """§6 BC loss ratio of one minibatch: Σ_{i∈BC} ℓ_i / Σ_{i∈Ω} ℓ_i (0 if the batch loss is 0).

    The samples are the last axis: ``losses`` of shape (M, B) gives one ratio per model.
    """
    total = losses.sum(dim=-1)
    bc_loss = (losses * conflicting.to(losses.dtype)).sum(dim=-1)
    return torch.where(total > 0, bc_loss / total.clamp_min(torch.finfo(losses.dtype).tiny), 0.0)


class _IntervalStats:
    """Running sums of the minibatch losses between two log rows.

    Sums stay tensors on the device (no host synchronisation per step) until :meth:`row`.
    Samples are the last axis: per-sample losses of shape (B,) for one model, or (M, B) for
    M stacked models (:mod:`largelr.training.stacked`; ``row(m)`` is model m's row).
    """

    def __init__(self) -> None:
        self.steps = 0
        self.sums: torch.Tensor | None = None  # loss, BA loss, BC loss, #BA, #BC, logit norm
        self.max_bc_ratio: torch.Tensor | None = None

    def add(self, losses: torch.Tensor, logits: torch.Tensor, conflicting: torch.Tensor) -> None:
        self.steps += 1
        bc_weight = conflicting.to(losses.dtype)
        bc_loss = (losses * bc_weight).sum(dim=-1)
        total = losses.sum(dim=-1)
        step = torch.stack([
            losses.mean(dim=-1), total - bc_loss, bc_loss, (1 - bc_weight).sum(dim=-1), bc_weight.sum(dim=-1),
            logits.detach().norm(dim=-1).mean(dim=-1),
        ], dim=-1)
        ratio = bias_conflicting_loss_ratio(losses, conflicting)
        self.sums = step if self.sums is None else self.sums + step
        self.max_bc_ratio = ratio if self.max_bc_ratio is None else torch.maximum(self.max_bc_ratio, ratio)

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only the models ``rows`` (stacked statistics; models that stopped are dropped)."""
        if self.sums is not None:
            self.sums, self.max_bc_ratio = self.sums[rows], self.max_bc_ratio[rows]

    def row(self, model: int | None = None) -> dict[str, float]:
        nan = float("nan")
        if self.sums is None:
            return dict.fromkeys(("train_loss", "ba_loss", "bc_loss", "bc_loss_ratio_max", "logit_norm"), nan)
        if model is None:
            sums, max_ratio = self.sums, self.max_bc_ratio
        else:
            sums, max_ratio = self.sums[model], self.max_bc_ratio[model]
        loss, ba_loss, bc_loss, ba_count, bc_count, logit_norm = sums.tolist()
        return {
            "train_loss": loss / self.steps,
            "ba_loss": ba_loss / ba_count if ba_count else nan,
            "bc_loss": bc_loss / bc_count if bc_count else nan,
            "bc_loss_ratio_max": float(max_ratio),
            "logit_norm": logit_norm / self.steps,
        }


def train(
    model: nn.Module,
    train_split: TensorSplit,
    test_split: TensorSplit,
    settings: TrainSettings,
    checkpoint_path: str | Path | None = None,
    stop_after: int | None = None,
) -> TrainResult:
    """Train ``model`` in place with the §4.2 protocol; resume from ``checkpoint_path`` if it exists.

    ``stop_after`` (tests only) makes the function return right after the checkpoint written
    at that iteration, simulating a job killed there.
    """
    torch.manual_seed(settings.seed)
    train_split, validation = _hold_out(train_split, settings.validation_fraction, settings.seed)
    optimizer = build_optimizer(model.parameters(), settings.optimizer, settings.lr)
    scheduler = build_scheduler(optimizer, settings.schedule, schedule_length(settings.schedule, settings.max_iters))
    asam = ASAM(optimizer, **settings.asam) if settings.asam else None
    sampler = _BatchSampler(len(train_split), settings.batch_size, settings.seed)
    test_subset = _fixed_test_subset(test_split, settings.test_eval_samples, settings.seed)
    iteration, history, elapsed_before = 0, [], 0.0
    best = _BestWeights()
    snapshots = _Snapshots(settings.snapshot_interval)
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    if checkpoint_path is not None and checkpoint_path.exists():
        iteration, history, elapsed_before = _load_checkpoint(
            checkpoint_path, settings, model, optimizer, scheduler, sampler, best, snapshots
        )
        log.info("resumed from %s at iteration %d", checkpoint_path, iteration)
    if iteration == 0:
        snapshots.take(0, model)  # the initial weights, before the first step

    def objective(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean per-sample loss plus the L1/L2 penalty; also the logits and per-sample losses."""
        logits = model(x)
        losses = per_sample_loss(logits, y, settings.loss)
        loss = losses.mean()
        if settings.l1 or settings.l2:
            loss = loss + penalty_term(model, settings.l1, settings.l2)
        return loss, logits, losses

    started = time.perf_counter()
    stats = _IntervalStats()
    status = MAX_ITERS
    model.train()
    while iteration < settings.max_iters:
        indices = sampler.next_indices()
        x, y = train_split.x[indices], train_split.y[indices]
        loss, logits, losses = objective(x, y)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value) or loss_value > settings.divergence_loss:
            status = DIVERGED
            log.warning("iteration %d: loss %s, run diverged", iteration, loss_value)
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if asam is None:
            optimizer.step()
        else:  # ASAM: gradient at the adaptive worst-case neighbour w + ε, then step from w
            asam.ascent_step()
            optimizer.zero_grad(set_to_none=True)
            objective(x, y)[0].backward()
            asam.descent_step()
        scheduler.step()
        iteration += 1
        stats.add(losses.detach(), logits.detach(), train_split.b[indices] != y)

        if iteration % settings.eval_interval == 0 or iteration == settings.max_iters:
            row = _log_row(iteration, stats, model, train_split, test_subset, scheduler.get_last_lr()[0])
            if validation is not None:
                row["val_acc"] = evaluate_accuracy(model, validation)
                if settings.select_best:
                    best.offer(row["val_acc"], iteration, model)
            history.append(row)
            if snapshots.due(iteration):
                snapshots.take(iteration, model)
            stats = _IntervalStats()
            log.info(
                "iter %6d  loss %.4f  BC-ratio %.3f  train acc %.4f  test acc %.4f",
                iteration, row["train_loss"], row["bc_loss_ratio_max"], row["train_acc"], row["test_acc"],
            )
            if _finished(row, settings):
                status = CONVERGED
                break
            if stalled(history, settings):
                status = STALLED
                log.info("iteration %d: no training-accuracy gain in %d evaluations, run stalled",
                         iteration, settings.stall_window)
                break
            if checkpoint_path is not None and iteration % settings.checkpoint_interval == 0:
                elapsed = elapsed_before + time.perf_counter() - started
                _save_checkpoint(checkpoint_path, settings, iteration, history, elapsed,
                                 model, optimizer, scheduler, sampler, best, snapshots)
                if stop_after is not None and iteration >= stop_after:
                    return TrainResult("interrupted", iteration, history, elapsed, snapshots=dict(snapshots.states))
    wall_time = elapsed_before + time.perf_counter() - started
    if status != DIVERGED:
        snapshots.take(iteration, model)  # the final weights (before any model selection)
    if settings.select_best and best.state is not None and status != DIVERGED:
        model.load_state_dict(best.state)
        log.info("validation-set model selection: kept iteration %d (val acc %.4f)", best.iteration, best.accuracy)
    return TrainResult(status, iteration, history, wall_time, best.iteration, dict(snapshots.states))


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's ``state_dict`` (independent of later updates)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class _Snapshots:
    """Model weights kept through training for the dynamics figures (module docstring)."""

    def __init__(self, interval: int) -> None:
        if interval < 0:
            raise ValueError(f"training.snapshot_interval must be >= 0 (0 = off), got {interval}")
        self.interval = interval
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def due(self, iteration: int) -> bool:
        return self.interval > 0 and iteration % self.interval == 0

    def take(self, iteration: int, model: nn.Module) -> None:
        self.take_state(iteration, lambda: _cpu_state(model))

    def take_state(self, iteration: int, cpu_state: Callable[[], dict[str, torch.Tensor]]) -> None:
        """Keep ``cpu_state()`` (called only when a snapshot is taken) as the weights at ``iteration``."""
        if self.interval > 0 and iteration not in self.states:
            self.states[iteration] = cpu_state()

    def state_dict(self) -> dict[int, dict[str, torch.Tensor]]:
        return self.states

    def load_state_dict(self, states: dict[int, dict[str, torch.Tensor]]) -> None:
        self.states = {int(k): v for k, v in states.items()}


class _BestWeights:
    """The weights of the log row with the highest validation accuracy so far (on the CPU)."""

    def __init__(self) -> None:
        self.accuracy, self.iteration, self.state = -1.0, None, None

    def offer(self, accuracy: float, iteration: int, model: nn.Module) -> None:
        if accuracy > self.accuracy:
            self.accuracy, self.iteration = accuracy, iteration
            self.state = _cpu_state(model)

    def state_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "iteration": self.iteration, "state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.accuracy, self.iteration, self.state = state["accuracy"], state["iteration"], state["state"]


def _hold_out(split: TensorSplit, fraction: float, seed: int) -> tuple[TensorSplit, TensorSplit | None]:
    """(training part, validation part) of ``split``: a seeded random ``fraction`` is held out."""
    if fraction <= 0:
        return split, None
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed + 2)).to(split.y.device)
    n_val = max(1, round(fraction * len(split)))
    val, fit = order[:n_val], order[n_val:]
    return TensorSplit(split.x[fit], split.y[fit], split.b[fit]), TensorSplit(split.x[val], split.y[val], split.b[val])


def _finished(row: dict[str, float], settings: TrainSettings) -> bool:
    """100 % training accuracy (§4.2), or full-train CE below ``stop_loss`` when set (Fig 24)."""
    if settings.stop_loss is not None:
        return row["train_ce"] < settings.stop_loss
    return row["train_acc"] >= 1.0


def stalled(history: list[dict[str, float]], settings: TrainSettings) -> bool:
    """No progress over the last ``stall_window`` evaluations (0 = never stalls).

    Progress = the best ``train_acc`` of the last W log rows exceeds the best of all rows
    before them by more than ``stall_min_gain``, or their lowest ``train_ce`` is below the
    lowest before them by more than the fraction ``stall_min_loss_drop``. Runs with a
    ``stop_loss`` (Fig 24: train past 100 % accuracy until the loss is small) never stall.
    """
    window = settings.stall_window
    if window <= 0 or len(history) <= window or settings.stop_loss is not None:
        return False
    accuracies = [row["train_acc"] for row in history]
    losses = [row["train_ce"] for row in history]
    accuracy_gain = max(accuracies[-window:]) - max(accuracies[:-window])
    loss_drop = 1.0 - min(losses[-window:]) / max(min(losses[:-window]), 1e-30)
    return accuracy_gain <= settings.stall_min_gain and not loss_drop > settings.stall_min_loss_drop


def fixed_test_indices(n_test: int, n: int, seed: int) -> torch.Tensor | None:
    """Indices of the unbiased-test subset evaluated during training (None = the whole split)."""
    if n >= n_test:
        return None
    return torch.randperm(n_test, generator=torch.Generator().manual_seed(seed + 1))[:n]


def _fixed_test_subset(test_split: TensorSplit, n: int, seed: int) -> TensorSplit:
    """The unbiased-test subset evaluated during training; the same for every log row."""
    indices = fixed_test_indices(len(test_split), n, seed)
    if indices is None:
        return test_split
    indices = indices.to(test_split.y.device)
    return TensorSplit(test_split.x[indices], test_split.y[indices], test_split.b[indices])


def _log_row(
    iteration: int, stats: _IntervalStats, model: nn.Module, train_split: TensorSplit, test_subset: TensorSplit,
    lr: float,
) -> dict[str, float]:
    train_ce, train_acc = evaluate_loss_and_accuracy(model, train_split)
    return {
        "iteration": iteration,
        "lr": lr,
        **stats.row(),
        "train_ce": train_ce,
        "train_acc": train_acc,
        "test_acc": evaluate_accuracy(model, test_subset),
        "param_norm": parameter_norm(model),
    }


def _save_checkpoint(path: Path, settings: TrainSettings, iteration: int, history: list, elapsed: float,
                     model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.LRScheduler, sampler: _BatchSampler,
                     best: _BestWeights, snapshots: _Snapshots) -> None:
    state = {
        "settings": asdict(settings),
        "iteration": iteration,
        "history": history,
        "elapsed_s": elapsed,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "sampler": sampler.state_dict(),
        "best": best.state_dict(),
        "snapshots": snapshots.state_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path, settings: TrainSettings, model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: torch.optim.lr_scheduler.LRScheduler, sampler: _BatchSampler,
                     best: _BestWeights, snapshots: _Snapshots) -> tuple[int, list, float]:
    state = read_checkpoint(path)
    if state is None:
        return 0, [], 0.0
    if _with_defaults(state["settings"]) != asdict(settings):
        raise ValueError(
            f"checkpoint {path} was written with different settings {state['settings']}; "
            f"delete it to restart this run with {asdict(settings)}"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    sampler.load_state_dict(state["sampler"])
    best.load_state_dict(state["best"])
    snapshots.load_state_dict(state.get("snapshots", {}))
    return int(state["iteration"]), list(state["history"]), float(state["elapsed_s"])


def read_checkpoint(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path``, or None (and the file removed) when it cannot be read.

    A checkpoint is written atomically, so a damaged one (a truncated copy, a full disk) is
    rare; it is never loaded: the run says so in its log and starts again from iteration 0.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or "iteration" not in state:
            raise ValueError("not a training checkpoint")
    except Exception as error:  # any unreadable file means: start again
        log.warning("checkpoint %s is unreadable (%s: %s); restarting from iteration 0",
                    path, type(error).__name__, error)
        Path(path).unlink(missing_ok=True)
        return None
    return state


def _with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """Checkpointed settings with fields added since it was written set to their defaults."""
    defaults = {f.name: f.default for f in fields(TrainSettings) if f.default is not MISSING}
    return {**defaults, **saved}
