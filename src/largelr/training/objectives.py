"""Training objectives of the interventions compared with LR (paper §5 "How does LR
behave when compared to and combined with other hyperparameters?", Figs 6/19, Table 2).

* Focal loss γ (Lin et al. 2017, "Focal Loss for Dense Object Detection").
* L1 / L2 regularization of the parameters (and "high LR + L2").
* ASAM ρ — adaptive sharpness-aware minimization (Kwon et al. 2021, "ASAM: Adaptive
  Sharpness-Aware Minimization for Scale-Invariant Learning of Deep Neural Networks"), with
  plain SAM (Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving
  Generalization") as the non-adaptive special case.

Penalty convention (used by :func:`penalty_term`): the minibatch objective is

    L(w) = mean_i ℓ_i(w) + l1 · Σ|w| + (l2 / 2) · Σ w²

so the penalty adds exactly ``l1 · sign(w)`` and ``l2 · w`` to every parameter's gradient
(the L2 part is the same as SGD's ``weight_decay = l2``). Sums run over all parameters of
the model (weights, biases and normalisation affine parameters alike).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

LOSS_KINDS = ("ce", "focal")


# --------------------------------------------------------------------------------------
# per-sample losses
# --------------------------------------------------------------------------------------


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    """Apply a PyTorch-style reduction ("none" | "mean" | "sum") to per-sample losses."""
    if reduction == "none":
        return losses
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    raise ValueError(f"unknown reduction {reduction!r}; expected 'none', 'mean' or 'sum'")


def focal_loss(logits: Tensor, targets: Tensor, gamma: float, reduction: str = "none") -> Tensor:
    """Focal loss FL(p_t) = −(1 − p_t)^γ · log p_t (Lin et al. 2017, Eq. 4, without α).

    ``p_t`` is the softmax probability of the target class; ``logits`` is (N, C), ``targets``
    (N,) class indices. γ = 0 is exactly the cross-entropy (same log-softmax path as
    ``F.cross_entropy``); γ > 0 down-weights well-classified ("easy") examples by (1 − p_t)^γ.

    Numerics: log p_t comes from ``log_softmax``, 1 − p_t = −expm1(log p_t) (accurate when
    p_t ≈ 1) and is clamped at the smallest normal float, so the gradient stays finite even
    for 0 < γ < 1 and saturated predictions (where d(1−p)^γ/dp is unbounded at p = 1).
    """
    gamma = float(gamma)
    if gamma < 0:
        raise ValueError(f"focal loss gamma must be >= 0, got {gamma}")
    log_pt = F.log_softmax(logits, dim=-1).gather(-1, targets.long().unsqueeze(-1)).squeeze(-1)
    if gamma == 0.0:
        return _reduce(-log_pt, reduction)
    one_minus_pt = (-torch.expm1(log_pt)).clamp_min(torch.finfo(log_pt.dtype).tiny)
    return _reduce(-one_minus_pt.pow(gamma) * log_pt, reduction)


def per_sample_loss(logits: Tensor, targets: Tensor, spec: Mapping[str, Any] | None = None) -> Tensor:
    """Per-sample training loss ℓ(y_i, f_w(x_i)) (shape (N,)) named by a config block.

    Source: §2 (cross-entropy ℓ of the empirical risk) and §5 / Table 2 (focal loss γ).
    ``spec`` None or ``{"kind": "ce"}`` → cross-entropy; ``{"kind": "focal", "gamma": g}``
    → :func:`focal_loss` with γ = g. Unknown kind → ``ValueError`` naming ``loss.kind``.
    """
    kind = (spec or {}).get("kind", "ce")
    if kind == "ce":
        return F.cross_entropy(logits, targets, reduction="none")
    if kind == "focal":
        if "gamma" not in spec:
            raise ValueError("loss 'focal' needs 'gamma'")
        return focal_loss(logits, targets, spec["gamma"], reduction="none")
    raise ValueError(f"loss.kind: unknown loss kind {kind!r}; expected one of {list(LOSS_KINDS)}")


# --------------------------------------------------------------------------------------
# parameter penalties
# --------------------------------------------------------------------------------------


def _parameters(model: nn.Module | Iterable[Tensor]) -> list[Tensor]:
    """All parameters of a module, or the tensors of an iterable, as a list."""
    params = list(model.parameters()) if isinstance(model, nn.Module) else list(model)
    if not params:
        raise ValueError("no parameters to penalise")
    return params


def l1_penalty(model: nn.Module | Iterable[Tensor]) -> Tensor:
    """Σ |w| over all parameters (L1 regularization of §5 / Table 2).

    Its gradient is sign(w) (0 at w = 0); the objective adds ``l1 · l1_penalty`` (module doc).
    """
    return torch.stack([p.abs().sum() for p in _parameters(model)]).sum()


def l2_penalty(model: nn.Module | Iterable[Tensor]) -> Tensor:
    """Σ w² over all parameters (L2 regularization of §5 / Table 2; no square root, no ½).

    Its gradient is 2w; the objective adds ``(l2 / 2) · l2_penalty`` so that the gradient
    contribution is exactly ``l2 · w`` (module doc).
    """
    return torch.stack([p.square().sum() for p in _parameters(model)]).sum()


def penalty_term(model: nn.Module | Iterable[Tensor], l1: float = 0.0, l2: float = 0.0) -> Tensor:
    """``l1 · Σ|w| + (l2/2) · Σ w²`` — the regularizer added to the mean minibatch loss.

    Source: L1 / L2 interventions and "high LR + L2" of §5, Fig 6/19, Table 2. Gradient:
    exactly ``l1 · sign(w) + l2 · w``. Terms with a zero coefficient are skipped (a zero
    tensor is returned when both are zero).
    """
    params = _parameters(model)
    total = torch.zeros((), dtype=params[0].dtype, device=params[0].device)
    if l1:
        total = total + float(l1) * l1_penalty(params)
    if l2:
        total = total + (float(l2) / 2.0) * l2_penalty(params)
    return total


# --------------------------------------------------------------------------------------
# (adaptive) sharpness-aware minimization
# --------------------------------------------------------------------------------------


class ASAM:
    """Adaptive sharpness-aware minimization around a base optimizer (Kwon et al. 2021).

    ASAM minimises max_{‖T_w⁻¹ ε‖₂ ≤ ρ} L(w + ε) with the element-wise normalization
    operator T_w = |w| + η (Kwon et al., §3–4; η = 0.01 by default as in their experiments).
    The first-order solution of the inner maximisation (their Algorithm 1) is

        ε = ρ · T_w² ∇L(w) / ‖T_w ∇L(w)‖₂,

    so ‖T_w⁻¹ ε‖₂ = ρ. The update is w ← base_step(w, ∇L(w + ε)). With ``adaptive=False`` it
    is SAM (Foret et al. 2021, Eq. 2): ε = ρ ∇L(w)/‖∇L(w)‖₂, ‖ε‖₂ = ρ. Norms are taken over
    all parameters jointly.

    Usage per iteration::

        loss_fn(model(x), y).backward()      # gradient at w
        asam.ascent_step()                   # w ← w + ε
        asam.zero_grad()
        loss_fn(model(x), y).backward()      # gradient at w + ε
        asam.descent_step()                  # w restored, base_optimizer.step()

    or ``asam.step(closure)`` with a closure that zeroes grads, recomputes the loss and calls
    backward. Caveat: the second forward pass also updates BatchNorm running statistics.

    The LR scheduler is built on ``base_optimizer`` (ASAM keeps no state across iterations;
    ``state_dict`` is the base optimizer's).
    """

    def __init__(self, base_optimizer: torch.optim.Optimizer, rho: float = 0.5, eta: float = 0.01,
                 adaptive: bool = True) -> None:
        """Wrap ``base_optimizer``; ``rho`` is the neighbourhood radius ρ (> 0), ``eta`` the
        η of T_w (Kwon et al. 2021), ``adaptive`` False gives SAM (Foret et al. 2021)."""
        if rho <= 0:
            raise ValueError(f"ASAM rho must be > 0, got {rho}")
        if eta < 0:
            raise ValueError(f"ASAM eta must be >= 0, got {eta}")
        self.base_optimizer = base_optimizer
        self.rho, self.eta, self.adaptive = float(rho), float(eta), bool(adaptive)
        self.perturbation: dict[Tensor, Tensor] = {}
        self._origin: dict[Tensor, Tensor] = {}
        self._perturbed = False

    @property
    def param_groups(self) -> list[dict]:
        """The base optimizer's parameter groups (so ``lr_at`` etc. work on the wrapper)."""
        return self.base_optimizer.param_groups

    def _params_with_grad(self) -> list[Tensor]:
        """Parameters of the base optimizer that currently hold a gradient."""
        return [p for g in self.base_optimizer.param_groups for p in g["params"] if p.grad is not None]

    @torch.no_grad()
    def ascent_step(self) -> None:
        """Perturb w ← w + ε with ε = ρ T_w² ∇ / ‖T_w ∇‖ (ASAM) or ρ ∇ / ‖∇‖ (SAM).

        Kwon et al. 2021, Algorithm 1 line "ε_t = ρ T²∇L/‖T∇L‖"; Foret et al. 2021, Eq. 2.
        Uses the gradients currently in ``p.grad`` (computed at the unperturbed w). A zero
        gradient gives ε = 0. Remembers ε (``self.perturbation``) and the original w.
        """
        if self._perturbed:
            raise RuntimeError("ASAM.ascent_step called twice without descent_step")
        self._perturbed = True
        params = self._params_with_grad()
        if not params:
            return
        if self.adaptive:
            scales = [p.abs().add(self.eta) for p in params]  # T_w, element-wise
            scaled = [t * p.grad for t, p in zip(scales, params)]  # T_w ∇
        else:
            scales = [None] * len(params)
            scaled = [p.grad for p in params]
        norm = torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(s.to(torch.float64)) for s in scaled])
        ).item()
        coef = self.rho / norm if 0.0 < norm < float("inf") else 0.0
        for p, t, s in zip(params, scales, scaled):
            eps = s * coef if t is None else t * s * coef  # ρ T_w (T_w ∇) / ‖T_w ∇‖
            self._origin[p] = p.detach().clone()
            self.perturbation[p] = eps
            p.add_(eps)

    @torch.no_grad()
    def descent_step(self) -> None:
        """Restore the unperturbed w and take the base optimizer's step with ∇L(w + ε).

        Kwon et al. 2021, Algorithm 1 ("w_{t+1} = w_t − α_t(∇L(w_t + ε_t) + …)"), with the
        base optimizer's update rule in place of plain SGD. The weights are restored by copy
        (bit-exact ``w``, i.e. ``w + ε − ε`` without rounding error).
        """
        if not self._perturbed:
            raise RuntimeError("ASAM.descent_step called without a preceding ascent_step")
        self._perturbed = False
        for p, w in self._origin.items():
            p.copy_(w)
        self._origin.clear()
        self.perturbation.clear()
        self.base_optimizer.step()

    def step(self, closure: Callable[[], Tensor]) -> Tensor:
        """One full (A)SAM iteration: gradients at w must already be in ``p.grad``;
        ``closure`` must zero the grads, recompute the loss at w + ε, call backward and
        return the loss (Kwon et al. 2021, Algorithm 1). Returns the closure's loss."""
        self.ascent_step()
        with torch.enable_grad():
            loss = closure()
        self.descent_step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the base optimizer's gradients."""
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        """The base optimizer's state (ASAM holds none between iterations)."""
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Load the base optimizer's state."""
        self.base_optimizer.load_state_dict(state)
