"""Scalar metrics of the paper (§3.2 compressibility, §3.3 representations).

All functions are pure and deterministic. Inputs are torch tensors; internally
everything is computed in float64 and returned as Python floats (per-row values
as a tensor, per-neuron values as a numpy array).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

# per-sample labels (predictions, y, b) in any of the forms the metrics accept
Labels = Tensor | np.ndarray | Sequence[int]


def _rows(z: Tensor) -> Tensor:
    """View ``z`` as an N×d float64 matrix (a 1-D input is a single row)."""
    z = z.detach().to(torch.float64)
    return z.unsqueeze(0) if z.dim() == 1 else z.reshape(z.shape[0], -1)


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of samples whose argmax prediction equals the label ``y``."""
    return (logits.argmax(dim=-1) == y).to(torch.float64).mean().item()


def structured_prune_counts(units: int, kappa: float) -> int:
    """Number of units removed when pruning a fraction ``kappa`` (§3.2): ⌈κ·units⌉.

    The product is rounded to 9 decimals first so that e.g. 0.3*10 = 3.0000000000000004
    gives 3, not 4.
    """
    return int(math.ceil(round(kappa * units, 9)))


def qk_compressibility(z: Tensor, kappa: float = 0.1, q: float = 2.0) -> Tensor:
    """Per-row (q,κ)-compressibility, §3.2: 1 − ‖z − z_k‖_q / ‖z‖_q.

    z_k is the best k-sparse approximation, k = ⌈κd⌉: it keeps the k largest-|.|
    entries, so ‖z − z_k‖_q is the q-norm of the remaining d − k entries.
    A row with ‖z‖_q = 0 gets the value 0.0 by definition.
    """
    z = _rows(z)
    k = structured_prune_counts(z.shape[1], kappa)
    mags = z.abs().sort(dim=1, descending=True).values
    tail = torch.linalg.vector_norm(mags[:, k:], ord=q, dim=1)
    full = torch.linalg.vector_norm(mags, ord=q, dim=1)
    safe = torch.where(full > 0, full, torch.ones_like(full))
    return torch.where(full > 0, 1.0 - tail / safe, torch.zeros_like(full))


def mean_qk_compressibility(z: Tensor, kappa: float = 0.1, q: float = 2.0) -> float:
    """(q,κ)-compressibility averaged over rows (samples), §3.2 / suppl. C."""
    return qk_compressibility(z, kappa, q).mean().item()


def sparsity(z: Tensor) -> float:
    """Sparsity(z) = 1 − ‖z‖₀/d (§3.2), averaged over rows; ‖z‖₀ counts exact non-zeros."""
    z = _rows(z)
    return (1.0 - (z != 0).to(torch.float64).mean(dim=1)).mean().item()


def pq_index(w: Tensor, p: float = 1.0, q: float = 2.0) -> float:
    """PQ-index (Diao et al. 2023; suppl. Fig 25): I(w) = 1 − d^(1/q − 1/p) ‖w‖_p/‖w‖_q.

    Computed on the flattened vector. I = 0 for a constant vector and
    1 − d^(−1/2) for a 1-sparse one (p=1, q=2); scale invariant. Zero vector → 0.0.
    """
    w = w.detach().to(torch.float64).flatten()
    d = w.numel()
    norm_q = torch.linalg.vector_norm(w, ord=q).item()
    if norm_q == 0.0:
        return 0.0
    norm_p = torch.linalg.vector_norm(w, ord=p).item()
    return 1.0 - d ** (1.0 / q - 1.0 / p) * norm_p / norm_q


def mean_pq_index(z: Tensor, p: float = 1.0, q: float = 2.0) -> float:
    """PQ-index (:func:`pq_index`) of every row (sample) of ``z``, averaged (suppl. Fig 25, activations)."""
    return float(np.mean([pq_index(row, p, q) for row in z]))


def class_separation_r2(z: Tensor, labels: Tensor) -> float:
    """Class separation R² = 1 − d̄_within/d̄_total (§3.3, Kornblith et al. 2021).

    Distance is 1 − cosine similarity; the double sums of §3.3 are evaluated exactly
    (m = n pairs included) without an N×N matrix: with unit-normalised rows and class
    means u_k, the mean pair similarity within class k is ‖u_k‖² and between classes
    j, k it is u_j·u_k. Only classes present in ``labels`` count (K = #present).
    Zero rows have cosine similarity 0 with everything (including themselves).
    If d̄_total = 0 (e.g. all samples point the same way) the result is 0.0.
    """
    x = _rows(z)
    norms = x.norm(dim=1, keepdim=True)
    x = x / torch.where(norms > 0, norms, torch.ones_like(norms))  # zero rows stay 0
    _, inv = torch.unique(labels.flatten(), return_inverse=True)
    n_classes = int(inv.max().item()) + 1
    counts = torch.bincount(inv, minlength=n_classes).to(torch.float64)
    means = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, device=x.device)
    means.index_add_(0, inv.to(x.device), x)
    means = means / counts.to(x.device).unsqueeze(1)
    sims = means @ means.T  # K×K mean pair similarities
    d_within = (1.0 - sims.diagonal()).mean().item()
    d_total = (1.0 - sims).mean().item()
    if d_total <= 1e-12:
        return 0.0
    return 1.0 - d_within / d_total


def class_selectivity(z: Tensor, labels: Tensor, eps: float = 1e-12) -> np.ndarray:
    """Per-neuron class-selectivity index (§3.3): CSI = ρ_max (μ_max − μ_−max)/(μ_max + μ_−max + ε).

    z is N×d post-ReLU activations (≥ 0). μ_c = mean activation on class c (classes
    present in ``labels``, at least two); μ_max = max_c μ_c with argmax class c* (first
    one on ties); μ_−max = mean of the other classes' μ_c; ρ_max = fraction of class-c*
    samples on which the neuron is active (> 0). Dead neurons (never active) give 0 by
    the formula; whether they enter the average is the caller's choice
    (:func:`mean_class_selectivity` counts them, :func:`mean_live_class_selectivity` does not).
    With bias labels b instead of core labels y this is the bias-selectivity index (BSI).
    """
    x = _rows(z)
    _, inv = torch.unique(labels.flatten(), return_inverse=True)
    inv = inv.to(x.device)
    n_classes = int(inv.max().item()) + 1
    if n_classes < 2:
        raise ValueError("class_selectivity needs at least two classes in labels")
    counts = torch.bincount(inv, minlength=n_classes).to(torch.float64).unsqueeze(1)
    sums = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, device=x.device)
    active = torch.zeros_like(sums)
    sums.index_add_(0, inv, x)
    active.index_add_(0, inv, (x > 0).to(torch.float64))
    mu = sums / counts  # C×d class-conditional means
    mu_max, c_star = mu.max(dim=0)
    mu_rest = (mu.sum(dim=0) - mu_max) / (n_classes - 1)
    rho_max = (active / counts).gather(0, c_star.unsqueeze(0)).squeeze(0)
    csi = rho_max * (mu_max - mu_rest) / (mu_max + mu_rest + eps)
    return csi.cpu().numpy()


def mean_class_selectivity(z: Tensor, labels: Tensor, eps: float = 1e-12) -> float:
    """Average CSI over all neurons (§3.3); BSI = mean_class_selectivity(z, bias_labels).

    §3.3 says only "we average over neurons' class sensitivities": this reading averages over
    every neuron, so a dead neuron (never active on the sample) counts as CSI 0 and sparse
    high-LR models with many dead units get a low average (runs.csv ``csi`` / ``bsi``).
    """
    return float(class_selectivity(z, labels, eps).mean())


def live_neurons(z: Tensor) -> Tensor:
    """Boolean mask of the neurons (columns of ``z``) active (> 0) on at least one sample."""
    return (_rows(z) > 0).any(dim=0).cpu()


def mean_live_class_selectivity(z: Tensor, labels: Tensor, eps: float = 1e-12) -> float:
    """Average CSI over the live neurons only (§3.3; runs.csv ``csi_live`` / ``bsi_live``).

    The other reading of §3.3's "we average over neurons' class sensitivities": a neuron that
    never fires on the sample has no class sensitivity to average, so it is left out instead of
    counting as 0 (:func:`mean_class_selectivity`). NaN when no neuron is live.
    """
    live = live_neurons(z).numpy()
    if not live.any():
        return float("nan")
    return float(class_selectivity(z, labels, eps)[live].mean())


def retention_curve(accuracies: Sequence[float], base_accuracy: float) -> list[float]:
    """Retention(κ) = Acc(f^(κ)) / Acc(f) per κ (§3.2); all NaN if Acc(f) = 0."""
    if base_accuracy == 0:
        return [float("nan")] * len(accuracies)
    return [float(a) / base_accuracy for a in accuracies]


def prunability(retentions: Sequence[float]) -> float:
    """κ-prunability summary (§3.2), the ``retention`` reading: mean of Acc(f^(κ))/Acc(f) over the
    κ grid (may exceed 1). κ = 0 contributes 1, and a pruned model rarely falls below chance, so
    the mean has a floor: (1 + 9 · chance/Acc(f))/10 on the grid 0, 0.1, …, 0.9."""
    if len(retentions) == 0:
        raise ValueError("prunability needs at least one retention value")
    return float(np.mean(np.asarray(retentions, dtype=np.float64)))


def pruned_accuracy(accuracies: Sequence[float]) -> float:
    """κ-prunability, the ``accuracy`` reading: mean of Acc(f^(κ)) itself over the κ grid (§3.2).

    The same pruning curve as :func:`prunability` without the division by Acc(f); it equals
    Acc(f) · mean retention. Parity's Table 1 row (0.56–0.78 at 55–86 % accuracy) lies below
    the retention reading's floor and fits this one.
    """
    if len(accuracies) == 0:
        raise ValueError("pruned_accuracy needs at least one accuracy value")
    return float(np.mean(np.asarray(accuracies, dtype=np.float64)))


def group_accuracies(predictions: Labels, y: Labels, b: Labels) -> dict[tuple[int, int], float]:
    """Accuracy of ``predictions`` (class indices) within each (y, b) group present."""
    predictions, y, b = (np.asarray(v).reshape(-1) for v in (predictions, y, b))
    if not len(predictions) == len(y) == len(b):
        raise ValueError(f"lengths differ: {len(predictions)} predictions, {len(y)} y, {len(b)} b")
    correct = predictions == y
    groups = sorted({(int(i), int(j)) for i, j in zip(y, b)})
    return {g: float(correct[(y == g[0]) & (b == g[1])].mean()) for g in groups}


def worst_group_accuracy(predictions: Labels, y: Labels, b: Labels) -> float:
    """Worst-group accuracy (§4.1): min over the non-empty (y, b) groups; NaN if empty."""
    accuracies = group_accuracies(predictions, y, b)
    return min(accuracies.values()) if accuracies else float("nan")
