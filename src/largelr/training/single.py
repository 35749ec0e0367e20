"""The training protocol of §4.2 / suppl. C and its variants (§5, suppl. D.4).

Default: minibatch SGD with a constant learning rate, ``w_{t+1} = w_t − η ∇ (1/b) Σ ℓ`` (§2),
batch 100, run **until 100 % training accuracy** (checked every ``eval_interval`` iterations;
the check stops at the first misclassified sample, :mod:`largelr.training.protocol`) or until
``max_iters``. With ``stop_loss`` set, the run goes
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
of the interval (§6, Figs 12/27), full-set train cross-entropy and accuracy (every
``train_eval_interval`` iterations, at the final row and at snapshots; at every row for runs
with a stall window or ``stop_loss``; empty otherwise), unbiased test accuracy on a fixed
subset, parameter norm and mean logit norm.

The whole dataset lives on the device as one tensor; minibatches are slices of a seeded
per-epoch permutation (copied to the device once per epoch), so the run is deterministic
given the seed, and the generator state plus the position in the permutation are
checkpointed for resumption. The protocol (sampler, statistics, snapshots, the stopping
check, the stop rules and the driver) is :mod:`largelr.training.protocol`, shared with the
stacked engine; this module is the single-model step and log row.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from largelr import engine_facts
from largelr.engine_facts import EVAL_BATCH
from largelr.io import atomic_path
from largelr.progress_file import TRAINING, ProgressLog
from largelr.training.device_data import rows
from largelr.training.objectives import ASAM, penalty_term, per_sample_loss
from largelr.training.optim import build_optimizer, build_scheduler, schedule_length
from largelr.training.protocol import (DIVERGED, MAX_ITERS, BatchSampler, DivergenceWatch, ErrorMemory, IntervalStats,
                                      Snapshots, TensorSplit, TrainResult, TrainSettings, cpu_state, diverging, drive,
                                      fixed_test_indices, full_evaluation_due, read_checkpoint, stop_status,
                                      train_values, with_defaults)


log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate_loss_and_accuracy(model: nn.Module, split: TensorSplit,
                               batch_size: int = EVAL_BATCH) -> tuple[float, float]:
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


def evaluate_accuracy(model: nn.Module, split: TensorSplit, batch_size: int = EVAL_BATCH) -> float:
    """Fraction of correctly classified samples."""
    return evaluate_loss_and_accuracy(model, split, batch_size)[1]


def parameter_norm(model: nn.Module) -> float:
    return float(torch.sqrt(sum((p.detach() ** 2).sum() for p in model.parameters())))


def train(
    model: nn.Module,
    train_split: TensorSplit,
    test_split: TensorSplit,
    settings: TrainSettings,
    checkpoint_path: str | Path | None = None,
    stop_after: int | None = None,
    reference: bool = False,
    progress: ProgressLog | None = None,
) -> TrainResult:
    """Train ``model`` in place with the §4.2 protocol; resume from ``checkpoint_path`` if it exists.

    ``stop_after`` (tests only) makes the function return right after the checkpoint written
    at that iteration, simulating a job killed there. ``reference`` (tests and benchmarks):
    the protocol with a host-side divergence test every step and a full-split evaluation at
    every log row (:func:`largelr.training.protocol.drive`); same stopping iteration, status
    and weights, every row with ``train_ce`` / ``train_acc``. ``progress``: the job's progress file
    (:mod:`largelr.progress_file`), one line per log row, continued from a resumed checkpoint.
    """
    run = _SingleRun(model, train_split, test_split, settings, checkpoint_path, reference)
    run.attach(progress)
    if drive(run, settings, run.checkpoint_path is not None, stop_after, reference):
        return TrainResult("interrupted", run.iteration, run.history, run.elapsed(),
                           snapshots=dict(run.snapshots.states))
    return run.finish()


def new_run(model: nn.Module, train_split: TensorSplit, test_split: TensorSplit,
            settings: TrainSettings) -> _SingleRun:
    """A fresh run of :func:`train` (no checkpoint, the fast protocol): ``model`` with its optimizer,
    schedule, ASAM and sampler built as :func:`train` builds them. Benchmarks time its ``step_on``."""
    return _SingleRun(model, train_split, test_split, settings, None, False)


class _SingleRun:
    """One model's training state, its step and its log row (the engine of :func:`train`)."""

    def __init__(self, model: nn.Module, train_split: TensorSplit, test_split: TensorSplit,
                 settings: TrainSettings, checkpoint_path: str | Path | None, reference: bool) -> None:
        torch.manual_seed(settings.seed)
        self.model, self.settings, self.reference = model, settings, reference
        self.train_split, self.validation = _hold_out(train_split, settings.validation_fraction, settings.seed)
        self.optimizer = build_optimizer(model.parameters(), settings.optimizer, settings.lr)
        self.scheduler = build_scheduler(self.optimizer, settings.schedule,
                                         schedule_length(settings.schedule, settings.max_iters))
        self.asam = ASAM(self.optimizer, **settings.asam) if settings.asam else None
        device = self.train_split.y.device
        self.sampler = BatchSampler(len(self.train_split), settings.batch_size, settings.seed, device)
        self.test_subset = _fixed_test_subset(test_split, settings.test_eval_samples, settings.seed)
        self.iteration, self.history, self.elapsed_before = 0, [], 0.0
        self.best = _BestWeights()
        self.snapshots = Snapshots(settings.snapshot_interval)
        self.watch = DivergenceWatch(1, device, settings.divergence_loss)
        self.memory = ErrorMemory(1, len(self.train_split), device)
        self.stats, self.status, self.saved = IntervalStats(), None, None
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        if self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.iteration, self.history, self.elapsed_before = _load_checkpoint(self.checkpoint_path, self)
            log.info("resumed from %s at iteration %d", self.checkpoint_path, self.iteration)
        if self.iteration == 0:
            self.snapshots.take(0, model)  # the initial weights, before the first step
        self.started = time.perf_counter()
        self.progress: ProgressLog | None = None
        model.train()

    def attach(self, progress: ProgressLog | None) -> None:
        """Write log rows to ``progress`` too, from this run's (resumed) iteration on."""
        self.progress = progress
        if progress is not None:
            progress.resume([self.iteration])

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def running(self) -> bool:
        return self.status is None

    def objective(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean per-sample loss plus the L1/L2 penalty; also the logits and per-sample losses."""
        logits = self.model(x)
        losses = per_sample_loss(logits, y, self.settings.loss)
        loss = losses.mean()
        if self.settings.l1 or self.settings.l2:
            loss = loss + penalty_term(self.model, self.settings.l1, self.settings.l2)
        return loss, logits, losses

    def step(self, sync: bool) -> None:
        """One minibatch step: the sampler's next batch, :meth:`step_on` it, the interval statistics."""
        indices = self.sampler.next_indices()
        x, y = self.train_split.x[indices], self.train_split.y[indices]
        stepped = self.step_on(x, y, sync)
        if stepped is None:
            return
        logits, losses = stepped
        self.iteration += 1
        self.stats.add(losses.detach(), logits.detach(), self.train_split.b[indices] != y)

    def step_on(self, x: torch.Tensor, y: torch.Tensor, sync: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        """One optimisation step on the batch ``(x, y)`` (§2: ``w ← w − η ∇ (1/b) Σ ℓ``): forward, per-sample
        loss (+ penalty), the divergence test, backward, optimizer (ASAM: two gradients), schedule; the
        logits and per-sample losses, or None when the run diverged before the update. ``sync``: test the
        loss on the host first; else the test stays on the device (:class:`DivergenceWatch`).
        ``benchmarks/paper_cost.py`` times this method."""
        loss, logits, losses = self.objective(x, y)
        if sync:
            value = float(loss.detach())
            if diverging(value, self.settings):
                self.status = DIVERGED
                log.warning("iteration %d: loss %s, run diverged", self.iteration, value)
                if self.progress is not None:
                    self.progress.diverged(0, self.iteration + 1, self.elapsed())
                return None
        else:
            self.watch.observe(loss, self.iteration)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.asam is None:
            self.optimizer.step()
        else:  # ASAM: gradient at the adaptive worst-case neighbour w + ε, then step from w
            self.asam.ascent_step()
            self.optimizer.zero_grad(set_to_none=True)
            self.objective(x, y)[0].backward()
            self.asam.descent_step()
        self.scheduler.step()
        return logits, losses

    def evaluate_chunk(self, rows: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The protocol's chunk evaluator (:data:`largelr.training.protocol.ChunkEvaluator`) for one model."""
        logits = self.model(self.train_split.x[start:stop])
        targets = self.train_split.y[start:stop]
        loss = F.cross_entropy(logits, targets, reduction="sum")
        return loss.unsqueeze(0), (logits.argmax(dim=1) != targets).unsqueeze(0)

    @torch.no_grad()
    def log_row(self) -> dict[str, float | None]:
        full = self.reference or full_evaluation_due(self.settings, self.iteration,
                                                     self.snapshots.due(self.iteration))
        self.model.eval()
        train_ce, train_acc = train_values(self.evaluate_chunk, len(self.train_split), engine_facts.EVAL_BATCH,
                                           self.memory, full)
        self.model.train()
        return {
            "iteration": self.iteration,
            "lr": self.scheduler.get_last_lr()[0],
            **self.stats.row(),
            "train_ce": train_ce[0],
            "train_acc": train_acc[0],
            "test_acc": evaluate_accuracy(self.model, self.test_subset),
            "param_norm": parameter_norm(self.model),
        }

    def log_and_check(self) -> None:
        """The log row (with ``val_acc`` under validation selection), snapshot, stop rules."""
        row = self.log_row()
        if self.validation is not None:
            row["val_acc"] = evaluate_accuracy(self.model, self.validation)
            if self.settings.select_best:
                self.best.offer(row["val_acc"], self.iteration, self.model)
        self.history.append(row)
        if self.snapshots.due(self.iteration):
            self.snapshots.take(self.iteration, self.model)
        self.stats = IntervalStats()
        log.info("iter %6d  loss %.4f  BC-ratio %.3f  train acc %s  test acc %.4f", self.iteration,
                 row["train_loss"], row["bc_loss_ratio_max"], _fmt(row["train_acc"]), row["test_acc"])
        self.status = stop_status(self.history, self.settings)
        if self.progress is not None:
            final = MAX_ITERS if self.iteration >= self.settings.max_iters else TRAINING
            self.progress.log_rows([(0, row, self.status or final)], self.elapsed())

    def anchor(self) -> None:
        """Keep (on the device) what a replay of the next interval starts from."""
        self.saved = {
            "iteration": self.iteration,
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "scheduler": copy.deepcopy(self.scheduler.state_dict()),
            "sampler": self.sampler.state_dict(),
            "rng": _rng_state(self.train_split.y.device),
        }

    def rewind(self) -> None:
        saved = self.saved
        self.iteration = saved["iteration"]
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(copy.deepcopy(saved["optimizer"]))
        self.scheduler.load_state_dict(copy.deepcopy(saved["scheduler"]))
        self.sampler.load_state_dict(saved["sampler"])
        _set_rng_state(saved["rng"])
        self.stats = IntervalStats()
        self.watch.reset(1)

    def save_checkpoint(self) -> None:
        _save_checkpoint(self.checkpoint_path, self)

    def finish(self) -> TrainResult:
        status = self.status or MAX_ITERS
        wall_time = self.elapsed()
        if status != DIVERGED:
            self.snapshots.take(self.iteration, self.model)  # the final weights (before any model selection)
        best = self.best
        if self.settings.select_best and best.state is not None and status != DIVERGED:
            self.model.load_state_dict(best.state)
            log.info("validation-set model selection: kept iteration %d (val acc %.4f)", best.iteration, best.accuracy)
        return TrainResult(status, self.iteration, self.history, wall_time, best.iteration,
                           dict(self.snapshots.states))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _rng_state(device: torch.device) -> dict[str, Any]:
    """The global generators a step may draw from (dropout, stochastic depth)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = (device, torch.cuda.get_rng_state(device))
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        device, cuda_state = state["cuda"]
        torch.cuda.set_rng_state(cuda_state, device)


class _BestWeights:
    """The weights of the log row with the highest validation accuracy so far (on the CPU)."""

    def __init__(self) -> None:
        self.accuracy, self.iteration, self.state = -1.0, None, None

    def offer(self, accuracy: float, iteration: int, model: nn.Module) -> None:
        if accuracy > self.accuracy:
            self.accuracy, self.iteration = accuracy, iteration
            self.state = cpu_state(model)

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
    return (TensorSplit(rows(split.x, fit), split.y[fit], split.b[fit]),
            TensorSplit(rows(split.x, val), split.y[val], split.b[val]))  # uint8 stays bytes (device_data)


def _fixed_test_subset(test_split: TensorSplit, n: int, seed: int) -> TensorSplit:
    """The unbiased-test subset evaluated during training; the same for every log row."""
    indices = fixed_test_indices(len(test_split), n, seed)
    if indices is None:
        return test_split
    indices = indices.to(test_split.y.device)
    return TensorSplit(rows(test_split.x, indices), test_split.y[indices], test_split.b[indices])


def _save_checkpoint(path: Path, run: _SingleRun) -> None:
    state = {
        "settings": asdict(run.settings),
        "iteration": run.iteration,
        "history": run.history,
        "elapsed_s": run.elapsed(),
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "sampler": run.sampler.state_dict(),
        "best": run.best.state_dict(),
        "snapshots": run.snapshots.state_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path, run: _SingleRun) -> tuple[int, list, float]:
    state = read_checkpoint(path)
    if state is None:
        return 0, [], 0.0
    if with_defaults(state["settings"]) != asdict(run.settings):
        raise ValueError(
            f"checkpoint {path} was written with different settings {state['settings']}; "
            f"delete it to restart this run with {asdict(run.settings)}"
        )
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.sampler.load_state_dict(state["sampler"])
    run.best.load_state_dict(state["best"])
    run.snapshots.load_state_dict(state.get("snapshots", {}))
    return int(state["iteration"]), list(state["history"]), float(state["elapsed_s"])
