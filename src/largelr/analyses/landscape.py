"""2-D loss / accuracy / spurious-utilisation landscapes around trained weights (paper Fig 9, §5).

Following Li et al. (2018, "Visualizing the Loss Landscape of Neural Nets"), the weights w0 of a
trained model are perturbed in the plane spanned by two random **filter-normalised** directions
d1, d2: w(α, β) = w0 + α·d1 + β·d2, and on a grid of (α, β) the model is evaluated. Fig 9 shows
three landscapes per model: training loss, unbiased test accuracy and spurious feature
utilisation.

Definitions used here:

* **Filter normalisation** (:func:`filter_normalised_direction`): for every parameter with ≥ 2
  dims a Gaussian tensor d ~ N(0, 1) of the same shape is drawn and each *filter* — a slice
  along dim 0: a row (output neuron) of a Linear weight, an output channel (kernel) of a Conv
  weight — is rescaled to the Frobenius norm of the corresponding filter of the weights,
  d_i ← d_i/‖d_i‖ · ‖w_i‖. A filter whose weights are all zero (e.g. pruned) gets a zero
  direction. Parameters with ≤ 1 dim (biases, BatchNorm/LayerNorm scales and shifts) get a
  **zero** direction, i.e. they stay at their trained value (Li et al.'s "ignore biasbn"
  setting; their scale is not comparable to that of filters). Buffers (BN running statistics)
  are never perturbed.
* **Landscape** (:func:`loss_landscape`), on the grid ``grid[i, j]`` ↔ (α = alphas[i],
  β = betas[j]), every value computed in evaluation mode over the *whole* split, in batches:

  - ``loss``: mean cross-entropy on ``split`` (pass the training split for Fig 9);
  - ``accuracy``: fraction of argmax predictions equal to the class label y on ``split``;
  - ``spurious_utilisation``: fraction of argmax predictions equal to the **bias label b** on
    ``spurious_split`` (default: ``split``). On an unbiased split (b independent of y, e.g. the
    unbiased test split) a classifier that follows the spurious feature scores ≈ 1 and one that
    follows the core feature ≈ P(b = y) ≈ 1/K; on a biased training split it is confounded
    with accuracy, so pass the unbiased test split for Fig 9;
  - ``spurious_split_accuracy``: accuracy on y over ``spurious_split`` (the unbiased test
    accuracy of Fig 9 when ``spurious_split`` is the unbiased test split; equals ``accuracy``
    when no separate split is given). It costs nothing extra: it comes from the same forward pass.

The model is modified in place during the sweep and its original parameter values are restored
exactly (copied back from a saved clone) at the end, also on error; its train/eval mode is
restored too.

**FCN fast path** (``fast=True``, the default): for the bias-free :class:`~largelr.training.models.FCN`
the first layer is linear in its weight, so its pre-activations at (α, β) are
x·W0ᵀ + α·x·D1ᵀ + β·x·D2ᵀ; the three products are computed once per split and only the
(cheap) remaining layers run per grid point. For image inputs (d_in = 2352, width 256) the first
layer is ~90 % of the FLOPs, so a grid costs several times less. The result equals the plain
path up to float rounding (linearity of the matmul; tested). It is used only when the model is
exactly an ``FCN`` whose first layer has a plain ``weight`` parameter (no pruning
re-parametrisation / hooks) and the cached products fit in ``fast_max_bytes``; otherwise, or
with ``fast=False``, every grid point runs the full forward.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from largelr.analyses.evaluation import representation_sample_indices
from largelr.analyses.batch import runs_of
from largelr.datasets import SpuriousDataset
from largelr.io import atomic_write_npz
from largelr.progress import Progress
from largelr.training.protocol import TensorSplit
from largelr.training.models import FCN
from largelr.training.runs import open_trained_run

log = logging.getLogger(__name__)

LANDSCAPE_KEYS: tuple[str, ...] = ("loss", "accuracy", "spurious_utilisation", "spurious_split_accuracy")


def filter_normalised_direction(model: nn.Module, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """One random filter-normalised direction, aligned with ``list(model.parameters())``.

    See the module docstring: Gaussian per parameter, each dim-0 slice (filter) rescaled to the
    norm of the same slice of the weights; ≤ 1-D parameters (biases, norms) get zeros. The
    Gaussian is drawn on ``generator``'s device (CPU by default) and moved to each parameter's
    device, so a seeded CPU generator gives the same direction on any device.
    """
    directions = []
    draw_device = generator.device if generator is not None else torch.device("cpu")
    for param in model.parameters():
        w = param.detach()
        if w.dim() <= 1:
            directions.append(torch.zeros_like(w))
            continue
        d = torch.randn(w.shape, generator=generator, device=draw_device, dtype=torch.float32)
        d = d.to(device=w.device, dtype=w.dtype)
        d_norm = d.flatten(1).norm(dim=1)
        w_norm = w.flatten(1).norm(dim=1)
        scale = torch.where(d_norm > 0, w_norm / torch.where(d_norm > 0, d_norm, torch.ones_like(d_norm)),
                            torch.zeros_like(d_norm))
        directions.append(d * scale.view(-1, *([1] * (w.dim() - 1))))
    return directions


def random_directions(model: nn.Module, seed: int = 0) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Two independent filter-normalised directions (d1, d2) from one seeded CPU generator."""
    generator = torch.Generator().manual_seed(seed)
    return filter_normalised_direction(model, generator), filter_normalised_direction(model, generator)


def _check_direction(direction: Sequence[torch.Tensor], params: list[nn.Parameter], which: str) -> None:
    if len(direction) != len(params):
        raise ValueError(f"direction {which} has {len(direction)} tensors, the model has {len(params)} parameters")
    for k, (d, p) in enumerate(zip(direction, params)):
        if d.shape != p.shape:
            raise ValueError(f"direction {which}[{k}] has shape {tuple(d.shape)}, parameter has {tuple(p.shape)}")


Forward = Callable[[int, int], torch.Tensor]


@torch.no_grad()
def _split_stats(forward: Forward, split: TensorSplit, batch_size: int) -> tuple[float, float, float]:
    """(mean cross-entropy, accuracy on y, fraction of predictions equal to b) over ``split``.

    ``forward(start, stop)`` returns the logits of samples ``start:stop`` of ``split``.
    """
    loss_sum, correct, follows_bias = 0.0, 0, 0
    for start in range(0, len(split), batch_size):
        logits = forward(start, start + batch_size)
        targets = split.y[start : start + batch_size]
        predictions = logits.argmax(dim=1)
        correct += int((predictions == targets).sum())
        follows_bias += int((predictions == split.b[start : start + batch_size]).sum())
        loss_sum += float(F.cross_entropy(logits, targets, reduction="sum"))
    n = max(len(split), 1)
    return loss_sum / n, correct / n, follows_bias / n


def _plain_forward(model: nn.Module, split: TensorSplit) -> Forward:
    return lambda start, stop: model(split.x[start:stop])


def _fcn_fast_path_ok(model: nn.Module, splits: Sequence[TensorSplit], fast_max_bytes: int) -> bool:
    if type(model) is not FCN:
        return False
    first = model.hidden[0]
    if first.bias is not None or not isinstance(first._parameters.get("weight"), nn.Parameter):
        return False
    if first._forward_pre_hooks or first._forward_hooks:
        return False
    cached = 3 * sum(len(split) for split in splits) * first.out_features * first.weight.element_size()
    return cached <= fast_max_bytes


class _FCNFirstLayerCache:
    """x·W0ᵀ, x·D1ᵀ, x·D2ᵀ of the FCN's first layer on one split; logits at (α, β) from them."""

    def __init__(self, model: FCN, split: TensorSplit, w0: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                 batch_size: int) -> None:
        self.model = model
        xs = [split.x[i : i + batch_size].flatten(start_dim=1) for i in range(0, len(split), batch_size)]
        self.p0, self.p1, self.p2 = (torch.cat([F.linear(x, m) for x in xs]) if xs else None for m in (w0, u, v))
        self.alpha = self.beta = 0.0

    def __call__(self, start: int, stop: int) -> torch.Tensor:
        pre = self.p0[start:stop]
        if self.alpha != 0.0 or self.beta != 0.0:  # a fresh tensor: accumulate and ReLU in place
            pre = torch.add(pre, self.p1[start:stop], alpha=self.alpha)
            if self.beta != 0.0:
                pre.add_(self.p2[start:stop], alpha=self.beta)
            h = pre.relu_()
        else:
            h = torch.relu(pre)
        for layer in self.model.hidden[1:]:
            h = torch.relu_(layer(h))
        return self.model.head(h)


@torch.no_grad()
def loss_landscape(
    model: nn.Module,
    split: TensorSplit,
    directions: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]],
    alphas: Sequence[float],
    betas: Sequence[float],
    spurious_split: TensorSplit | None = None,
    batch_size: int = 2000,
    fast: bool = True,
    fast_max_bytes: int = 1 << 30,
) -> dict[str, np.ndarray]:
    """Evaluate the model at w0 + α·d1 + β·d2 for every (α, β); 2-D grids ``[len(alphas), len(betas)]``.

    Returns float64 arrays keyed by :data:`LANDSCAPE_KEYS` (definitions in the module
    docstring). ``directions`` are aligned with ``list(model.parameters())`` (as returned by
    :func:`filter_normalised_direction`). The parameters are restored exactly afterwards.
    ``fast`` enables the FCN first-layer cache (module docstring) when applicable, using at most
    ``fast_max_bytes`` of cached products.
    """
    params = list(model.parameters())
    d1, d2 = (_aligned_direction(d, params, which) for d, which in zip(directions, ("d1", "d2")))
    alphas, betas = [float(a) for a in alphas], [float(b) for b in betas]
    grids = {key: np.full((len(alphas), len(betas)), np.nan) for key in LANDSCAPE_KEYS}
    saved = [p.detach().clone() for p in params]
    was_training = model.training
    model.eval()
    splits = [split] if spurious_split is None else [split, spurious_split]
    try:
        caches, forwards, moving = _plane_evaluation(model, splits, saved, d1, d2, batch_size, fast, fast_max_bytes)
        progress = Progress(log, "landscape", total=len(alphas) * len(betas), unit="points")
        for i, alpha in enumerate(alphas):
            for j, beta in enumerate(betas):
                _move_in_plane(moving, alpha, beta)
                for cache in caches:
                    cache.alpha, cache.beta = alpha, beta
                loss, acc, follows_bias = _split_stats(forwards[0], split, batch_size)
                if spurious_split is not None:
                    _, spurious_acc, follows_bias = _split_stats(forwards[1], spurious_split, batch_size)
                else:
                    spurious_acc = acc
                grids["loss"][i, j] = loss
                grids["accuracy"][i, j] = acc
                grids["spurious_utilisation"][i, j] = follows_bias
                grids["spurious_split_accuracy"][i, j] = spurious_acc
                progress.step()
        progress.finish()
    finally:
        for p, w0 in zip(params, saved):
            p.copy_(w0)
        model.train(was_training)
    return grids


def _aligned_direction(direction: Sequence[torch.Tensor], params: list[nn.Parameter], which: str) -> list[torch.Tensor]:
    """``direction`` checked against the model's parameters and moved to their devices and dtypes."""
    _check_direction(direction, params, which)
    return [d.to(device=p.device, dtype=p.dtype) for d, p in zip(direction, params)]


Moving = list[tuple[nn.Parameter, torch.Tensor, torch.Tensor, torch.Tensor]]


def _plane_evaluation(
    model: nn.Module, splits: list[TensorSplit], saved: list[torch.Tensor], d1: list[torch.Tensor],
    d2: list[torch.Tensor], batch_size: int, fast: bool, fast_max_bytes: int,
) -> tuple[list[_FCNFirstLayerCache], list[Forward], Moving]:
    """How :func:`loss_landscape` evaluates the plane: the FCN first-layer caches (empty off the fast
    path), one forward per split, and the (parameter, w0, d1, d2) of every parameter that moves."""
    params = list(model.parameters())
    caches: list[_FCNFirstLayerCache] = []
    if fast and _fcn_fast_path_ok(model, splits, fast_max_bytes):
        k = next(n for n, p in enumerate(params) if p is model.hidden[0].weight)
        caches = [_FCNFirstLayerCache(model, s, saved[k], d1[k], d2[k], batch_size) for s in splits]
    forwards: list[Forward] = caches or [_plain_forward(model, s) for s in splits]
    # parameters that move in the plane (zero directions stay at w0; with the FCN cache the
    # first-layer weight is not read, so it is not updated either)
    skip = {id(model.hidden[0].weight)} if caches else set()
    moving = [
        (p, w0, u, v) for p, w0, u, v in zip(params, saved, d1, d2)
        if id(p) not in skip and (bool(u.any()) or bool(v.any()))
    ]
    return caches, forwards, moving


def _move_in_plane(moving: Moving, alpha: float, beta: float) -> None:
    """Set every moving parameter to w0 + α·d1 + β·d2 (in place, under ``torch.no_grad``)."""
    for p, w0, u, v in moving:
        p.copy_(w0)
        if alpha != 0.0:
            p.add_(u, alpha=alpha)
        if beta != 0.0:
            p.add_(v, alpha=beta)


# ---- one trained run (the `landscape` rule's work) ----------------------------------------------
# Loss / accuracy / spurious-utilisation landscape of one trained run (the ``landscape`` rule; Fig 9).
#
# Around the run's final weights w0 the model is evaluated at w0 + α·d1 + β·d2 on a
# ``points`` × ``points`` grid of α, β in [−span, span], d1 and d2 being two seeded random
# filter-normalised directions (:func:`largelr.analyses.landscape.random_directions`, Li et al. 2018).
# Settings live in ``analysis["landscape"]`` (missing keys take :data:`LANDSCAPE_DEFAULTS`):
#
# ``points``   grid points per axis (odd → the trained weights are the exact centre);
# ``span``     half-width of the grid in units of the filter-normalised directions;
# ``samples``  training samples on which the loss is evaluated (a seeded random subset, the same
#              for every run of a dataset; ``null`` → the whole training split);
# ``seed``     seed of the directions and of the training subset.
#
# Written ``.npz`` (every grid ``[len(alphas), len(betas)]``, float64):
#
# ``alphas``, ``betas``            the grid axes;
# ``loss``, ``accuracy``           cross-entropy and accuracy on the training (sub)set — Fig 9's
#                                  "training loss";
# ``spurious_utilisation``         fraction of predictions equal to the bias label on the
#                                  unbiased test split — Fig 9's "spurious feature utilization";
# ``spurious_split_accuracy``      accuracy on the unbiased test split — Fig 9's "unbiased test acc.";
# ``status``                       the run's status; a diverged run gets empty axes and 0×0 grids;
# ``train_samples``                number of training samples used.
#
# The loss is plain cross-entropy whatever objective the run was trained with (e.g. focal loss).

LANDSCAPE_DEFAULTS: dict[str, Any] = {"points": 21, "span": 1.0, "samples": 2000, "seed": 0}


def landscape_settings(analysis: dict[str, Any]) -> dict[str, Any]:
    """``analysis["landscape"]`` completed with :data:`LANDSCAPE_DEFAULTS`."""
    return {**LANDSCAPE_DEFAULTS, **(analysis.get("landscape") or {})}


def landscape_grid(points: int, span: float) -> np.ndarray:
    """``points`` values from −span to span, exactly antisymmetric (an odd grid has an exact 0 centre)."""
    if int(points) < 2 or not span > 0:
        raise ValueError(f"a landscape grid needs points >= 2 and span > 0, got points={points}, span={span}")
    grid = np.linspace(-span, span, int(points))
    return (grid - grid[::-1]) / 2.0


def training_subset(split: TensorSplit, samples: int | None, seed: int) -> TensorSplit:
    """The seeded random subset of ``samples`` training samples (all of them when ``None`` or larger)."""
    if samples is None or samples >= len(split):
        return split
    idx = representation_sample_indices(len(split), int(samples), seed).to(split.y.device)
    return TensorSplit(split.x[idx], split.y[idx], split.b[idx])


def landscape_run(dataset_path: str | Path, run_dir: str | Path, npz_path: str | Path, analysis: dict[str, Any],
                  device: str = "auto", dataset: SpuriousDataset | None = None) -> dict[str, Any]:
    """Compute and write one run's landscapes (module docstring); returns a short summary. ``dataset``:
    the file at ``dataset_path``, if already loaded (:mod:`largelr.analyses.batch`)."""
    run = open_trained_run(dataset_path, run_dir, device, dataset)
    settings = landscape_settings(analysis)
    empty = np.zeros((0, 0))
    arrays: dict[str, np.ndarray] = {"alphas": np.zeros(0), "betas": np.zeros(0),
                                     **{key: empty for key in LANDSCAPE_KEYS},
                                     "status": np.array(run.status), "train_samples": np.array(0)}
    summary: dict[str, Any] = {"status": run.status}
    if not run.diverged:
        model = run.model
        train = training_subset(run.split("train"), settings["samples"], settings["seed"])
        test = run.test
        grid = landscape_grid(settings["points"], settings["span"])
        grids = loss_landscape(model, train, random_directions(model, seed=int(settings["seed"])), grid, grid,
                               spurious_split=test)
        arrays.update({"alphas": grid, "betas": grid, **grids, "train_samples": np.array(len(train))})
        centre = (len(grid) // 2, len(grid) // 2)
        summary.update({f"{key}_at_centre": float(grids[key][centre]) for key in LANDSCAPE_KEYS})
        summary["points"] = len(grid)
    atomic_write_npz(npz_path, arrays)
    return summary


#: :func:`landscape_run` for each run of one training job, the dataset read once (rule ``landscape``)
landscape_runs = runs_of(landscape_run, "landscape")


__all__ = [
    "LANDSCAPE_DEFAULTS", "LANDSCAPE_KEYS", "filter_normalised_direction", "landscape_grid", "landscape_run",
    "landscape_runs", "landscape_settings", "loss_landscape", "random_directions", "training_subset",
]
