"""Optimizers and learning-rate schedules of the paper's variants (§2, §4.2, suppl. D.4).

The paper trains with plain minibatch SGD at a constant LR (§2, §4.2). Its robustness
checks swap in other optimizers and schedules, each of which is one config block here:

* ``sgd`` — SGD with optional (Nesterov) momentum; momentum is one of the interventions
  compared with LR (§5 "How does LR behave when compared to…", Fig 6/19, Table 2).
* ``adam`` — Adam (Kingma & Ba 2015) with β = (0.9, 0.999) (suppl. D.4, Fig 23).
* ``adamw`` — AdamW (Loshchilov & Hutter 2019) with decoupled weight decay; CIFAR-100 +
  cosine annealing + weight decay run of suppl. D.4 "Optimizers & LR schedules" (Fig 28).
* ``psgd_kron`` — PSGD with a Kronecker-factored preconditioner (Li 2015/2018, "PSGD
  (Kron)") from the maintained ``heavyball`` package, used with a warmup-stable-decay
  schedule in Fig 28 (top left).

Schedules (``build_scheduler``) are all ``LambdaLR`` over one pure function
:func:`lr_factor`; the scheduler is stepped **once per optimizer step**, right after
``optimizer.step()``. The counting convention used throughout:

    the optimizer step with 0-based index ``t`` (i.e. after ``t`` earlier steps) uses
    ``lr · lr_factor(kind, spec, t, max_iters)``.

So after ``n`` calls of ``optimizer.step(); scheduler.step()``, ``lr_at(optimizer)`` equals
``lr · lr_factor(…, n, …)`` — the LR the next step will use.

Schedule length: runs stop at 100 % training accuracy (§4.2), usually long before the
``training.max_iters`` cap, so a schedule sized to the cap would never warm up fully or
decay. A schedule block may therefore name its own length, ``iterations: N`` (optimizer
steps); :func:`schedule_length` resolves it (``max_iters`` when absent) and both training
paths (:func:`largelr.training.single.train`, :func:`largelr.training.stacked.train_stacked`) pass
that length where ``lr_factor`` / ``build_scheduler`` take ``max_iters``. After the length the
factor stays at its final value (``min_factor`` for cosine / wsd).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Iterable, Mapping

import torch

SCHEDULE_KINDS = ("constant", "step", "cosine", "wsd")

# heavyball compiles its update kernels with torch.compile ("max-autotune") by default; on a
# CPU this costs minutes before the first step. We default to eager mode (see build_optimizer).
_HEAVYBALL_COMPILE_MODE = "max-autotune-no-cudagraphs"


# --------------------------------------------------------------------------------------
# optimizers
# --------------------------------------------------------------------------------------


def build_optimizer(parameters: Iterable, spec: Mapping[str, Any], lr: float) -> torch.optim.Optimizer:
    """Build the optimizer named by the config block ``spec`` at learning rate ``lr``.

    Source: SGD update of §2 (``w_{t+1} = w_t − η ∇ (1/b) Σ ℓ``) with momentum as the
    Fig 6/19/Table 2 intervention; Adam β=(0.9, 0.999) of suppl. D.4/Fig 23; AdamW and
    PSGD-Kron of suppl. D.4 "Optimizers & LR schedules" (Fig 28).

    ``spec["kind"]`` picks the builder, whose docstring lists the block's keys and defaults
    (others in the block are ignored: the block is validated by the config JSON schema and
    may carry e.g. schedule settings): ``"sgd"`` :func:`_sgd`, ``"adam"`` / ``"adamw"``
    :func:`_adam`, ``"psgd_kron"`` :func:`_psgd_kron`.

    Raises ``ValueError`` (naming ``recipes.*.kind``) for an unknown kind.
    """
    kind = spec.get("kind")
    builder = _OPTIMIZER_BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise ValueError(
            f"recipes.*.kind: unknown optimizer kind {kind!r}; expected one of {list(OPTIMIZER_KINDS)}"
        )
    return builder(parameters, spec, float(lr))


def _sgd(parameters: Iterable, spec: Mapping[str, Any], lr: float) -> torch.optim.Optimizer:
    """:class:`torch.optim.SGD` (the §2 update; momentum is the Fig 6/19/Table 2 intervention).

    Keys: ``momentum`` (0.0), ``nesterov`` (False), ``weight_decay`` (0.0), ``dampening`` (0.0).
    """
    return torch.optim.SGD(
        parameters,
        lr=lr,
        momentum=float(spec.get("momentum", 0.0)),
        dampening=float(spec.get("dampening", 0.0)),
        nesterov=bool(spec.get("nesterov", False)),
        weight_decay=float(spec.get("weight_decay", 0.0)),
    )


def _adam(parameters: Iterable, spec: Mapping[str, Any], lr: float) -> torch.optim.Optimizer:
    """:class:`torch.optim.Adam` (kind ``adam``, suppl. D.4/Fig 23) or :class:`torch.optim.AdamW`
    (kind ``adamw``, Fig 28).

    Keys: ``betas`` ((0.9, 0.999)), ``eps`` (1e-8), ``amsgrad`` (False) and ``weight_decay``:
    for ``adam`` 0.0, coupled (added to the gradient); for ``adamw`` 0.01, decoupled
    (``w ← w − lr·wd·w``).
    """
    kind = spec.get("kind")
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    default_wd = 0.0 if kind == "adam" else 0.01
    return cls(
        parameters,
        lr=lr,
        betas=_betas(spec.get("betas", (0.9, 0.999))),
        eps=float(spec.get("eps", 1e-8)),
        weight_decay=float(spec.get("weight_decay", default_wd)),
        amsgrad=bool(spec.get("amsgrad", False)),
    )


def _psgd_kron(parameters: Iterable, spec: Mapping[str, Any], lr: float) -> torch.optim.Optimizer:
    """``heavyball.PSGDKron`` (Li, "Preconditioned Stochastic Gradient Descent", arXiv:1512.04202;
    Kron variant after Walters & Pooladzandi's kron_torch), the PSGD-Kron run of Fig 28.

    Keys: ``beta`` (0.9, momentum EMA fed to the preconditioner), ``weight_decay`` (0.0),
    ``preconditioner_update_probability`` (heavyball's annealed schedule when absent),
    ``compile`` (False: eager kernels; True: heavyball's torch.compile
    "max-autotune-no-cudagraphs" mode — a process-wide heavyball setting), and ``options``
    (dict of further ``PSGDKron`` keyword arguments, passed through). Do not set heavyball's
    own ``warmup_steps``: warm up with the ``wsd`` schedule instead, since heavyball would
    otherwise rewrite ``group["lr"]`` under the LR scheduler. ``heavyball`` is imported only
    here, so torch-only installs never need it.
    """
    try:
        import heavyball  # lazy: optional dependency
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "recipes.*.kind 'psgd_kron' needs the 'heavyball' package (pip install heavyball)"
        ) from error
    heavyball.utils.compile_mode = _HEAVYBALL_COMPILE_MODE if spec.get("compile", False) else None
    kwargs: dict[str, Any] = {
        "lr": lr,
        "beta": float(spec.get("beta", 0.9)),
        "weight_decay": float(spec.get("weight_decay", 0.0)),
    }
    if spec.get("preconditioner_update_probability") is not None:
        kwargs["preconditioner_update_probability"] = float(spec["preconditioner_update_probability"])
    kwargs.update(dict(spec.get("options", {})))
    return heavyball.PSGDKron(parameters, **kwargs)


#: The function building each optimizer kind of a recipe's ``optimizer.kind``: the one place to add one.
_OPTIMIZER_BUILDERS = {"sgd": _sgd, "adam": _adam, "adamw": _adam, "psgd_kron": _psgd_kron}
OPTIMIZER_KINDS = tuple(_OPTIMIZER_BUILDERS)


def _betas(value: Any) -> tuple[float, float]:
    """Adam's (β1, β2) as a float pair (Kingma & Ba 2015); YAML gives a list."""
    b1, b2 = value
    return float(b1), float(b2)


def lr_at(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate the next ``optimizer.step()`` will use (first parameter group).

    Source: the LR η of the §2 SGD update; with a schedule it is η·lr_factor(t) (module doc).
    All optimizers built here have a single parameter group.
    """
    return float(optimizer.param_groups[0]["lr"])


# --------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------


def schedule_length(schedule: Mapping[str, Any] | None, max_iters: int) -> int:
    """Number of optimizer steps a schedule spans (suppl. D.4 schedules, Figs 22 / 28).

    ``schedule.iterations`` when the block sets it, else ``max_iters`` (the run's cap). The
    length is counted in iterations, the unit of every other length in this pipeline
    (``max_iters``, ``eval_interval``, the step schedule's ``at``) and of the paper itself
    (suppl. D.4: "after 1000th iteration", "integrated by step 1000"); an iteration count
    needs no training-set size, so ``run.json`` can record it as given. The cosine / WSD
    phases (``total``, ``warmup``/``decay`` fractions) are then measured against this length.
    """
    spec = schedule or {}
    if spec.get("iterations") is None:
        return int(max_iters)
    length = spec["iterations"]
    if isinstance(length, bool) or int(length) != length or int(length) < 1:
        raise ValueError(f"schedule.iterations must be a whole number >= 1, got {length!r}")
    return int(length)


def _iterations(value: float | int, max_iters: int, name: str) -> int:
    """A phase length given as a fraction of ``max_iters`` (value < 1) or a count (≥ 1).

    Used by the WSD schedule (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training
    Beyond Fixed Training Durations"): fractions are rounded to the nearest iteration.
    """
    value = float(value)
    if value < 0:
        raise ValueError(f"schedule.{name} must be >= 0, got {value}")
    if value < 1:
        return int(round(value * max_iters))
    if value != int(value):
        raise ValueError(f"schedule.{name} = {value}: a count (>= 1) must be a whole number")
    return int(value)


def _anneal(progress: float, min_factor: float, shape: str) -> float:
    """Factor going from 1 (progress 0) to ``min_factor`` (progress 1), linearly or as a
    half cosine (Loshchilov & Hutter 2017, SGDR: η_min + ½(η_max − η_min)(1 + cos πp))."""
    progress = min(max(progress, 0.0), 1.0)
    if shape == "linear":
        return 1.0 - (1.0 - min_factor) * progress
    if shape == "cosine":
        return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"schedule.decay_shape: unknown shape {shape!r}; expected 'linear' or 'cosine'")


def lr_factor(kind: str, spec: Mapping[str, Any] | None, iteration: int, max_iters: int) -> float:
    """Multiplier of the base LR for the optimizer step with 0-based index ``iteration``.

    Pure function behind :func:`build_scheduler`. ``iteration`` = number of optimizer steps
    already taken; ``max_iters`` = the schedule's length, :func:`schedule_length` (the block's
    ``iterations``, else the run's cap ``training.max_iters``); below, "max_iters" means it.

    * ``constant`` (the paper's default, §4.2): 1.
    * ``step`` (suppl. D.4, Fig 22: "the initial LR is multiplied by 0.1 after 1000th
      iteration"; also the Fig 28 "LR reduction by iteration i" curve): 1 for
      ``iteration < at``, ``factor`` (default 0.1) for ``iteration >= at``. Thus the first
      ``at`` steps use ``lr`` and, after ``at`` optimizer steps, the LR is ``factor·lr``.
      ``at`` is required.
    * ``cosine`` (AdamW + cosine annealing of Fig 28; Loshchilov & Hutter 2017 without
      restarts): ``m + (1−m)·½(1 + cos(π·min(t, T)/T))`` with ``m = min_factor`` (0) and
      ``T = total`` (default ``max_iters``); 1 at t=0, (1+m)/2 at T/2, m at and after T.
    * ``wsd`` warmup-stable-decay (PSGD-Kron run of Fig 28; Hägele et al. 2024): with
      W = ``warmup`` (default 0) and D = ``decay`` (default 0.2) iterations — each a fraction
      of ``max_iters`` if < 1, else a count — and decay start s = max_iters − D:
      warmup ``(t+1)/W`` for t < W (no step at LR 0; step W−1 is at full LR), stable 1 for
      W ≤ t < s, decay ``anneal((t − s)/D)`` for t ≥ s, linear (``decay_shape: linear``,
      default) or half-cosine (``decay_shape: cosine``) from 1 to ``min_factor`` (0). The
      first decay step is at full LR, the last one (t = max_iters−1) at
      ``m + (1−m)/D`` (linear), and the LR after all ``max_iters`` steps is ``min_factor``.
      W + D must not exceed ``max_iters``; D = 0 means no decay (the LR stays at 1·lr).

    Raises ``ValueError`` for an unknown kind or inconsistent settings.
    """
    spec = spec or {}
    t = int(iteration)
    if t < 0:
        raise ValueError(f"iteration must be >= 0, got {t}")
    if kind in (None, "constant"):
        return 1.0
    if kind == "step":
        if "at" not in spec:
            raise ValueError("schedule 'step' needs 'at' (the iteration after which LR is multiplied by factor)")
        at, factor = int(spec["at"]), float(spec.get("factor", 0.1))
        if at < 0 or factor < 0:
            raise ValueError(f"schedule 'step' needs at >= 0 and factor >= 0, got at={at}, factor={factor}")
        return 1.0 if t < at else factor
    min_factor = float(spec.get("min_factor", 0.0))
    if kind == "cosine":
        total = int(spec.get("total", max_iters))
        if total <= 0:
            raise ValueError(f"schedule.total must be > 0, got {total}")
        return _anneal(t / total, min_factor, "cosine")
    if kind == "wsd":
        warmup = _iterations(spec.get("warmup", 0), max_iters, "warmup")
        decay = _iterations(spec.get("decay", 0.2), max_iters, "decay")
        if warmup + decay > max_iters:
            raise ValueError(f"schedule wsd: warmup ({warmup}) + decay ({decay}) exceed max_iters ({max_iters})")
        if t < warmup:
            return (t + 1) / warmup
        start = max_iters - decay
        if decay == 0 or t < start:
            return 1.0
        return _anneal((t - start) / decay, min_factor, str(spec.get("decay_shape", "linear")))
    raise ValueError(f"schedule.kind: unknown LR schedule kind {kind!r}; expected one of {list(SCHEDULE_KINDS)}")


def build_scheduler(
    optimizer: torch.optim.Optimizer, spec: Mapping[str, Any] | None, max_iters: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """``LambdaLR`` applying :func:`lr_factor` to ``optimizer``; call ``.step()`` once right
    after every ``optimizer.step()``.

    Source: the LR schedules of suppl. D.4 (Fig 22 step decay; Fig 28 cosine annealing and
    warmup-stable-decay); ``spec`` None or kind ``constant`` is the paper's constant LR (§4.2).
    ``max_iters`` is the schedule's length: callers pass :func:`schedule_length`.
    Settings are validated eagerly (``lr_factor`` at iterations 0 and ``max_iters``). The
    factor function is a ``functools.partial`` of a module-level function, so the scheduler's
    ``state_dict``/``load_state_dict`` round-trip for resumption (``last_epoch`` restores
    the position).
    """
    spec = dict(spec) if spec else {}
    kind = spec.get("kind", "constant")
    lr_factor(kind, spec, 0, max_iters)
    lr_factor(kind, spec, max_iters, max_iters)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, functools.partial(lr_factor, kind, spec, max_iters=max_iters)
    )
