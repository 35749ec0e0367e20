"""The training protocol of §4.2 / suppl. C, written once for both engines.

:func:`largelr.training.single.train` (one model) and :func:`largelr.training.stacked.train_stacked`
(every seed × LR of a training group as one vmapped model) are each a *step* plus a
*log-and-check*; what the protocol says lives here:

* the data order: :class:`BatchSampler` (a seeded permutation per epoch, the ragged tail
  dropped; the permutation is copied to the device once per epoch, never a batch of indices
  per step) and :class:`StackedSampler` (the samplers of a stack, in step);
* the interval statistics of a log row (:class:`IntervalStats`: train / BA / BC loss, the
  maximum BC loss ratio of §6, logit norm) and the weight snapshots (:class:`Snapshots`);
* the divergence test (:class:`DivergenceWatch`): a non-finite minibatch loss, or one above
  ``divergence_loss``, ends the run as ``diverged`` at the iteration of that loss;
* the stop rules: converged (100 % training accuracy, §4.2, or full-train CE below
  ``stop_loss``, Fig 24), stalled (:func:`stalled`), diverged, capped (``max_iters``);
* the stopping check (:func:`check_scan`) and the full-split evaluation (:func:`full_scan`);
* the driver (:func:`drive`) that both engines run.

**The stopping check.** "Every training sample classified correctly" needs the whole split
only when it is true. At a log row the check evaluates the training split in the chunks of
the full-split evaluation (the same slices, so the same logits bit for bit), first the
chunks that held a misclassified sample at the previous check (:class:`ErrorMemory`), then
the others in order, and stops at the first chunk with an error; in a stack each model
leaves the check at its own first error and is not evaluated further. When the check finds
no error, the full-split evaluation runs and decides, so a run stops at exactly the
iteration the full-split check of every log row would give. The full-split ``train_ce`` /
``train_acc`` are logged every ``train_eval_interval`` iterations, at the final row and at
every snapshot; other rows leave them empty (None; empty fields in ``history.csv``, NaN when
read). The stall rule (``stall_window``) and ``stop_loss`` read the full-split values of
every row: runs that use them evaluate the full split at every log row, as before, so their
results are unchanged.

**No host synchronisation per step.** The divergence test stays on the device (a flag and
the first offending iteration, :class:`DivergenceWatch`) and is read at log rows. When it has
tripped, the engine rewinds to the state it kept at the previous log row and replays that
interval with the per-step test that reads every loss on the host, which stops the run (or
the model) exactly where, and with the weights, a per-step test would have.
"""

from __future__ import annotations

import logging
import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import torch
from torch import nn

from largelr.engine_facts import RunStatus

log = logging.getLogger(__name__)

# how a run ends: the members of largelr.engine_facts.RunStatus (str-valued), named for the engines
CONVERGED, MAX_ITERS, STALLED, DIVERGED = (RunStatus.CONVERGED, RunStatus.MAX_ITERS, RunStatus.STALLED,
                                          RunStatus.DIVERGED)


@dataclass(frozen=True)
class TrainSettings:
    """Hyper-parameters of one training cell (config ``training.*``, the recipe, lr, seed)."""

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
    snapshot_interval: int = 0  # 0 = no snapshots; see largelr.training.single
    stall_window: int = 0  # evaluations without progress in training accuracy or loss that end a run; 0 = off
    stall_min_gain: float = 0.0  # the gain (in training accuracy) that counts as progress
    stall_min_loss_drop: float = 0.0  # or the relative drop of the training loss that does
    train_eval_interval: int = 5000  # iterations between full-split train_ce / train_acc rows; 0 = every row


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
    history: list[dict[str, float | None]]
    wall_time_s: float
    selected_iteration: int | None = None  # validation-set model selection: the iteration kept
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)  # iteration → CPU state_dict


# ---- data order --------------------------------------------------------------------------------


class BatchSampler:
    """Seeded per-epoch permutations; its whole state is (generator state, permutation, position).

    The permutation is drawn on the CPU (the same numbers on every device) and copied to
    ``device`` once per epoch; :meth:`next_indices` returns a slice of that copy.
    """

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device | None = None) -> None:
        self.n, self.batch_size, self.device = n, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.randperm(n, generator=self.generator)
        self.position = 0
        self._on_device: torch.Tensor | None = None

    def advance(self) -> int:
        """Start of the next batch in :attr:`permutation`; a new epoch drops the ragged tail."""
        if self.position + self.batch_size > self.n:
            self.permutation = torch.randperm(self.n, generator=self.generator)
            self.position, self._on_device = 0, None
        start = self.position
        self.position += self.batch_size
        return start

    def next_indices(self) -> torch.Tensor:
        start = self.advance()
        if self._on_device is None:
            self._on_device = self.permutation.to(self.device) if self.device is not None else self.permutation
        return self._on_device[start : start + self.batch_size]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "permutation": self.permutation, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"]
        self.position = int(state["position"])
        self._on_device = None


class StackedSampler:
    """The samplers of a stack, in step (one batch size, one split): ``[M, B]`` rows per step.

    Every model keeps its own :class:`BatchSampler` (its own seeded order); the permutations
    of all models are copied to the device as one ``[M, n]`` matrix at each epoch start.
    """

    def __init__(self, samplers: Sequence[BatchSampler], device: torch.device) -> None:
        self.samplers, self.device = list(samplers), device
        self._matrix: torch.Tensor | None = None
        self._index: tuple[tuple[int, ...], torch.Tensor] | None = None

    def next_rows(self, active: Sequence[int]) -> torch.Tensor:
        """The next batch of every model in ``active`` (indices into :attr:`samplers`)."""
        starts = {self.samplers[i].advance() for i in active}
        if len(starts) != 1:
            raise RuntimeError(f"stacked samplers out of step: positions {sorted(starts)}")
        start = starts.pop()
        if start == 0 or self._matrix is None:  # a new epoch (or a resumed one)
            self._matrix = torch.stack([s.permutation for s in self.samplers]).to(self.device)
        if self._index is None or self._index[0] != tuple(active):
            self._index = (tuple(active), torch.tensor(list(active), dtype=torch.long, device=self.device))
        return self._matrix[self._index[1], start : start + self.samplers[active[0]].batch_size]

    def invalidate(self) -> None:
        """Forget the device copy (after the samplers' states were loaded)."""
        self._matrix = None


# ---- interval statistics and snapshots ---------------------------------------------------------


def bias_conflicting_loss_ratio(losses: torch.Tensor, conflicting: torch.Tensor) -> torch.Tensor:
    """§6 BC loss ratio of one minibatch: Σ_{i∈BC} ℓ_i / Σ_{i∈Ω} ℓ_i (0 if the batch loss is 0).

    The samples are the last axis: ``losses`` of shape (M, B) gives one ratio per model.
    """
    total = losses.sum(dim=-1)
    bc_loss = (losses * conflicting.to(losses.dtype)).sum(dim=-1)
    return torch.where(total > 0, bc_loss / total.clamp_min(torch.finfo(losses.dtype).tiny), 0.0)


class IntervalStats:
    """Running sums of the minibatch losses between two log rows.

    Sums stay tensors on the device (no host synchronisation per step) until :meth:`row`.
    Samples are the last axis: per-sample losses of shape (B,) for one model, or (M, B) for
    M stacked models (``row(m)`` is model m's row).
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


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the model's ``state_dict`` (independent of later updates)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class Snapshots:
    """Model weights kept through training for the dynamics figures (Fig 3 right, 13, 28 bottom)."""

    def __init__(self, interval: int) -> None:
        if interval < 0:
            raise ValueError(f"training.snapshot_interval must be >= 0 (0 = off), got {interval}")
        self.interval = interval
        self.states: dict[int, dict[str, torch.Tensor]] = {}

    def due(self, iteration: int) -> bool:
        return self.interval > 0 and iteration % self.interval == 0

    def take(self, iteration: int, model: nn.Module) -> None:
        self.take_state(iteration, lambda: cpu_state(model))

    def take_state(self, iteration: int, state: Callable[[], dict[str, torch.Tensor]]) -> None:
        """Keep ``state()`` (called only when a snapshot is taken) as the weights at ``iteration``."""
        if self.interval > 0 and iteration not in self.states:
            self.states[iteration] = state()

    def state_dict(self) -> dict[int, dict[str, torch.Tensor]]:
        return self.states

    def load_state_dict(self, states: dict[int, dict[str, torch.Tensor]]) -> None:
        self.states = {int(k): v for k, v in states.items()}


# ---- divergence and the stop rules -------------------------------------------------------------


def diverging(loss: float, settings: TrainSettings) -> bool:
    """The per-step divergence test on the host: a non-finite loss or one above ``divergence_loss``."""
    return not math.isfinite(loss) or loss > settings.divergence_loss


class DivergenceWatch:
    """The divergence test kept on the device: the first iteration whose loss failed it, per model.

    :meth:`observe` costs a few device operations and no host synchronisation; :meth:`tripped`
    reads the flag (one synchronisation, at a log row). The comparison runs in float64, as the
    host test compares the loss's Python float.
    """

    def __init__(self, n_models: int, device: torch.device, threshold: float) -> None:
        self.threshold = threshold
        self.first = torch.full((n_models,), -1, dtype=torch.long, device=device)

    def observe(self, loss: torch.Tensor, iteration: int) -> None:
        value = loss.detach().double().reshape(-1)
        bad = ~torch.isfinite(value) | (value > self.threshold)
        self.first = torch.where((self.first < 0) & bad, iteration, self.first)

    def tripped(self) -> bool:
        return bool((self.first >= 0).any())

    def reset(self, n_models: int) -> None:
        self.first = torch.full((n_models,), -1, dtype=torch.long, device=self.first.device)


def finished(row: dict[str, float | None], settings: TrainSettings) -> bool:
    """100 % training accuracy (§4.2), or full-train CE below ``stop_loss`` when set (Fig 24)."""
    if settings.stop_loss is not None:
        return row["train_ce"] is not None and row["train_ce"] < settings.stop_loss
    return row["train_acc"] is not None and row["train_acc"] >= 1.0


def stalled(history: list[dict[str, float | None]], settings: TrainSettings) -> bool:
    """No progress over the last ``stall_window`` evaluations (0 = never stalls).

    Progress = the best ``train_acc`` of the last W log rows exceeds the best of all rows
    before them by more than ``stall_min_gain``, or their lowest ``train_ce`` is below the
    lowest before them by more than the fraction ``stall_min_loss_drop``. Runs with a
    ``stop_loss`` (Fig 24: train past 100 % accuracy until the loss is small) never stall.
    A run with a stall window evaluates the full split at every row (:func:`full_evaluation_due`).
    """
    window = settings.stall_window
    if window <= 0 or len(history) <= window or settings.stop_loss is not None:
        return False
    accuracies = [row["train_acc"] for row in history]
    losses = [row["train_ce"] for row in history]
    accuracy_gain = max(accuracies[-window:]) - max(accuracies[:-window])
    loss_drop = 1.0 - min(losses[-window:]) / max(min(losses[:-window]), 1e-30)
    return accuracy_gain <= settings.stall_min_gain and not loss_drop > settings.stall_min_loss_drop


def stop_status(history: list[dict[str, float | None]], settings: TrainSettings) -> str | None:
    """``converged`` or ``stalled`` after the newest log row of ``history``, else None."""
    if finished(history[-1], settings):
        return CONVERGED
    if stalled(history, settings):
        log.info("iteration %d: in %d evaluations training accuracy rose by at most %g and training loss fell by "
                 "at most %g of its lowest, run stalled", history[-1]["iteration"], settings.stall_window,
                 settings.stall_min_gain, settings.stall_min_loss_drop)
        return STALLED
    return None


def is_log_row(iteration: int, settings: TrainSettings) -> bool:
    return iteration % settings.eval_interval == 0 or iteration == settings.max_iters


def full_evaluation_due(settings: TrainSettings, iteration: int, snapshot_due: bool) -> bool:
    """Whether the log row at ``iteration`` evaluates the full training split whatever the check says.

    Every ``train_eval_interval`` iterations (0 = every row), at the final row (``max_iters``)
    and at snapshot rows; at every row for runs with a stall window or a ``stop_loss``, whose
    rules read the full-split values of each row (so their results are those of a full-split
    check at every row).
    """
    interval = settings.train_eval_interval
    return (interval <= 0 or iteration % interval == 0 or iteration == settings.max_iters or snapshot_due
            or settings.stall_window > 0 or settings.stop_loss is not None)


# ---- the stopping check and the full-split evaluation -----------------------------------------

# evaluate_chunk(models, start, stop) → (per-model CE summed over samples start:stop [M'],
# per-sample "misclassified" [M', stop - start]) for the models ``models`` (a long tensor of rows)
ChunkEvaluator = Callable[[torch.Tensor, int, int], tuple[torch.Tensor, torch.Tensor]]


def chunk_bounds(n: int, chunk: int) -> list[tuple[int, int]]:
    return [(start, min(start + chunk, n)) for start in range(0, n, chunk)]


class ErrorMemory:
    """Which training samples each model misclassified when they were last evaluated (``[M, n]``)."""

    def __init__(self, n_models: int, n: int, device: torch.device) -> None:
        self.wrong = torch.zeros(n_models, n, dtype=torch.bool, device=device)

    def record(self, rows: torch.Tensor, start: int, wrong: torch.Tensor) -> None:
        self.wrong[rows, start : start + wrong.shape[-1]] = wrong

    def order(self, n_chunks: int, chunk: int) -> list[int]:
        """Chunk numbers: those holding a remembered error first, then the others, each ascending."""
        n = self.wrong.shape[1]
        flags = torch.nn.functional.pad(self.wrong.any(dim=0), (0, n_chunks * chunk - n))
        flagged = flags.view(n_chunks, chunk).any(dim=1).nonzero().flatten().tolist()
        seen = set(flagged)
        return flagged + [c for c in range(n_chunks) if c not in seen]

    def keep(self, rows: torch.Tensor) -> None:
        self.wrong = self.wrong[rows]


@torch.no_grad()
def full_scan(evaluate: ChunkEvaluator, n: int, chunk: int, memory: ErrorMemory) -> tuple[list[float], list[float]]:
    """Per-model mean cross-entropy and accuracy over the whole split, in ``chunk``-sized slices.

    The chunk sums stay on the device until the end (one host transfer); the mean is the
    float64 sum of the float32 chunk sums in chunk order, as an accumulator over the chunks gives.
    """
    n_models = memory.wrong.shape[0]
    rows = torch.arange(n_models, device=memory.wrong.device)
    loss_sums, wrong_counts = [], []
    for start, stop in chunk_bounds(n, chunk):
        losses, wrong = evaluate(rows, start, stop)
        loss_sums.append(losses)
        wrong_counts.append(wrong.sum(dim=-1))
        memory.record(rows, start, wrong)
    if not loss_sums:
        return [0.0] * n_models, [0.0] * n_models
    sums, counts = torch.stack(loss_sums).tolist(), torch.stack(wrong_counts).sum(dim=0).tolist()
    means = []
    for model in range(n_models):
        total = 0.0
        for chunk_sums in sums:
            total += chunk_sums[model]
        means.append(total / max(n, 1))
    return means, [(n - count) / max(n, 1) for count in counts]


@torch.no_grad()
def check_scan(evaluate: ChunkEvaluator, n: int, chunk: int, memory: ErrorMemory) -> list[bool]:
    """For each model: is every sample of the split classified correctly? (the §4.2 stopping check)

    Chunks are those of :func:`full_scan` (same slices, same logits); remembered error chunks
    go first. Each model leaves at its first chunk with an error; the scan ends when none is
    left. One host synchronisation per chunk: the one that says which models leave.
    """
    bounds = chunk_bounds(n, chunk)
    device = memory.wrong.device
    remaining = list(range(memory.wrong.shape[0]))
    rows = torch.arange(len(remaining), device=device)
    for number in memory.order(len(bounds), chunk):
        start, stop = bounds[number]
        _, wrong = evaluate(rows, start, stop)
        memory.record(rows, start, wrong)
        errors = wrong.any(dim=-1).tolist()
        if any(errors):
            remaining = [model for model, error in zip(remaining, errors, strict=True) if not error]
            if not remaining:
                break
            rows = torch.tensor(remaining, dtype=torch.long, device=device)
    correct = set(remaining)
    return [model in correct for model in range(memory.wrong.shape[0])]


def train_values(evaluate: ChunkEvaluator, n: int, chunk: int, memory: ErrorMemory,
                 full: bool) -> tuple[list[float | None], list[float | None]]:
    """``train_ce`` / ``train_acc`` of every model at a log row (None where not evaluated).

    ``full``: evaluate the whole split. Otherwise the stopping check runs; if a model passes
    it, the full split is evaluated for every model and decides (so the decision is that of a
    full-split check), else the row keeps no full-split values.
    """
    if not full and not any(check_scan(evaluate, n, chunk, memory)):
        n_models = memory.wrong.shape[0]
        return [None] * n_models, [None] * n_models
    losses, accuracies = full_scan(evaluate, n, chunk, memory)
    return list(losses), list(accuracies)


# ---- the driver ------------------------------------------------------------------------------


class Engine(Protocol):
    """What :func:`drive` needs of an engine (:mod:`largelr.training.single`, :mod:`largelr.training.stacked`)."""

    iteration: int
    watch: DivergenceWatch

    def running(self) -> bool: ...
    def step(self, sync: bool) -> None: ...
    def log_and_check(self) -> None: ...
    def anchor(self) -> None: ...
    def rewind(self) -> None: ...
    def save_checkpoint(self) -> None: ...


def drive(engine: Engine, settings: TrainSettings, checkpointing: bool, stop_after: int | None,
          reference: bool = False) -> bool:
    """Steps and log rows until every model stopped or ``max_iters``; True when ``stop_after`` ended it.

    ``reference``: every step reads its loss on the host (a synchronisation per step) and
    every log row evaluates the full split (``train_eval_interval`` 0): the protocol before
    the device-side test and the cheap check, kept for tests to compare against.
    """
    if not reference:
        engine.anchor()
    while engine.running() and engine.iteration < settings.max_iters:
        engine.step(sync=reference)
        if not engine.running():
            break
        if not is_log_row(engine.iteration, settings):
            continue
        if not reference and engine.watch.tripped():
            _replay(engine, engine.iteration)
            if not engine.running():
                break
        engine.log_and_check()
        if not reference:
            engine.anchor()
        if checkpointing and engine.running() and engine.iteration % settings.checkpoint_interval == 0:
            engine.save_checkpoint()
            if stop_after is not None and engine.iteration >= stop_after:
                return True
    return False


def _replay(engine: Engine, until: int) -> None:
    """Rewind to the previous log row and redo the interval with the per-step host test."""
    first = engine.watch.first.tolist()
    engine.rewind()
    log.info("divergence flagged at iteration(s) %s: replaying from iteration %d with the per-step test",
             sorted({i for i in first if i >= 0}), engine.iteration)
    while engine.running() and engine.iteration < until:
        engine.step(sync=True)


# ---- checkpoints -------------------------------------------------------------------------------


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


def with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """Checkpointed settings with fields added since it was written set to their defaults."""
    defaults = {f.name: f.default for f in fields(TrainSettings) if f.default is not MISSING}
    return {**defaults, **saved}


def fixed_test_indices(n_test: int, n: int, seed: int) -> torch.Tensor | None:
    """Indices of the unbiased-test subset evaluated during training (None = the whole split)."""
    if n >= n_test:
        return None
    return torch.randperm(n_test, generator=torch.Generator().manual_seed(seed + 1))[:n]
