"""Objectives of the interventions compared with LR (paper §5, Figs 6/19, Table 2)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from largelr.training.objectives import ASAM, focal_loss, l1_penalty, l2_penalty, penalty_term, per_sample_loss

# ---------------------------------------------------------------- focal loss


def test_focal_gamma_zero_is_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(64, 10) * 5, torch.randint(0, 10, (64,))
    ce = F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(focal_loss(logits, targets, 0.0), ce, rtol=0, atol=1e-6)
    torch.testing.assert_close(focal_loss(logits, targets, 0), ce, rtol=0, atol=1e-6)
    torch.testing.assert_close(per_sample_loss(logits, targets, {"kind": "focal", "gamma": 0.0}), ce, rtol=0, atol=1e-6)
    torch.testing.assert_close(per_sample_loss(logits, targets, {"kind": "ce"}), ce)
    torch.testing.assert_close(per_sample_loss(logits, targets, None), ce)
    torch.testing.assert_close(focal_loss(logits, targets, 0.0, reduction="mean"), ce.mean(), rtol=0, atol=1e-6)
    torch.testing.assert_close(focal_loss(logits, targets, 0.0, reduction="sum"), ce.sum(), rtol=0, atol=1e-5)


def test_focal_hand_values_downweight_easy_examples():
    # logits (0, ln 3): softmax (0.25, 0.75)
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, math.log(3.0)]], dtype=torch.float64)
    targets = torch.tensor([1, 0])  # easy (p_t = 0.75), hard (p_t = 0.25)
    ce = torch.tensor([-math.log(0.75), math.log(4.0)], dtype=torch.float64)
    fl = focal_loss(logits, targets, gamma=2.0)
    expected = torch.tensor([0.25**2 * -math.log(0.75), 0.75**2 * math.log(4.0)], dtype=torch.float64)
    torch.testing.assert_close(fl, expected)
    assert fl[0].item() == pytest.approx(0.0179801, rel=1e-5) and fl[1].item() == pytest.approx(0.7797905, rel=1e-5)
    weight = fl / ce  # (1 - p_t)^gamma: the easy example is down-weighted 9x more
    torch.testing.assert_close(weight, torch.tensor([0.0625, 0.5625], dtype=torch.float64))
    assert (fl <= ce).all()


def test_focal_gradient_finite_for_saturated_predictions():
    logits = torch.tensor([[100.0, -100.0], [20.0, 0.0], [0.0, 1.0]], requires_grad=True)
    targets = torch.tensor([0, 0, 1])
    for gamma in (0.001, 0.5, 2.0, 25.0):
        logits.grad = None
        focal_loss(logits, targets, gamma, reduction="sum").backward()
        assert torch.isfinite(logits.grad).all(), gamma


def test_loss_spec_errors():
    logits, targets = torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="loss.kind"):
        per_sample_loss(logits, targets, {"kind": "hinge"})
    with pytest.raises(ValueError, match="gamma"):
        per_sample_loss(logits, targets, {"kind": "focal"})
    with pytest.raises(ValueError):
        focal_loss(logits, targets, -1.0)
    with pytest.raises(ValueError, match="reduction"):
        focal_loss(logits, targets, 1.0, reduction="max")


# ---------------------------------------------------------------- L1 / L2


def _tiny() -> nn.Module:
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.5, 0.0], [2.0, -0.25, 3.0]]))
        model.bias.copy_(torch.tensor([-0.75, 0.125]))
    return model


def test_penalty_values():
    model = _tiny()
    assert l1_penalty(model).item() == pytest.approx(0.5 + 1.5 + 0 + 2 + 0.25 + 3 + 0.75 + 0.125)
    assert l2_penalty(model).item() == pytest.approx(0.25 + 2.25 + 0 + 4 + 0.0625 + 9 + 0.5625 + 0.015625)
    assert l1_penalty(model.parameters()).item() == l1_penalty(model).item()
    assert penalty_term(model).item() == 0.0


@pytest.mark.parametrize("lam", [0.5, 1e-3, 0.07])
def test_l1_l2_gradients_are_exactly_lambda_sign_w_and_lambda_w(lam):
    model = _tiny()
    penalty_term(model, l1=lam).backward()
    for p in model.parameters():
        assert torch.equal(p.grad, lam * torch.sign(p.detach())), p.grad
    model.zero_grad()
    penalty_term(model, l2=lam).backward()
    for p in model.parameters():
        assert torch.equal(p.grad, lam * p.detach()), p.grad
    model.zero_grad()
    penalty_term(model, l1=lam, l2=2 * lam).backward()
    for p in model.parameters():
        torch.testing.assert_close(p.grad, lam * torch.sign(p.detach()) + 2 * lam * p.detach(), rtol=1e-6, atol=0)


def test_l2_term_equals_sgd_weight_decay():
    torch.manual_seed(0)
    x = torch.randn(5, 3)
    a, b = _tiny(), _tiny()
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(b.parameters(), lr=0.1, weight_decay=0.01)
    (a(x).square().mean() + penalty_term(a, l2=0.01)).backward()
    b(x).square().mean().backward()
    opt_a.step()
    opt_b.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


# ---------------------------------------------------------------- ASAM / SAM

A = torch.tensor([[3.0, 0.5, 0.0], [0.5, 2.0, -0.3], [0.0, -0.3, 1.0]], dtype=torch.float64)
B = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)


def _quadratic(w: torch.Tensor) -> torch.Tensor:
    """L(w) = ½ wᵀAw − bᵀw, ∇L = Aw − b."""
    return 0.5 * w @ A @ w - B @ w


def _grad(w: torch.Tensor) -> torch.Tensor:
    return A @ w - B


def _params():
    w = nn.Parameter(torch.tensor([0.7, -1.2, 0.05], dtype=torch.float64))
    v = nn.Parameter(torch.tensor([[0.3, -0.4]], dtype=torch.float64))
    return w, v


def _loss(w, v):
    return _quadratic(w) + (v**2).sum() * 1.5


@pytest.mark.parametrize("rho", [0.05, 0.5, 2.0])
def test_asam_perturbation_has_adaptive_radius_rho(rho):
    w, v = _params()
    w0, v0 = w.detach().clone(), v.detach().clone()
    asam = ASAM(torch.optim.SGD([w, v], lr=0.1), rho=rho, eta=0.01)
    _loss(w, v).backward()
    g_w, g_v = w.grad.clone(), v.grad.clone()
    asam.ascent_step()
    eps_w, eps_v = asam.perturbation[w], asam.perturbation[v]
    torch.testing.assert_close(w.detach(), w0 + eps_w)
    torch.testing.assert_close(v.detach(), v0 + eps_v)
    t_w, t_v = w0.abs() + 0.01, v0.abs() + 0.01
    radius = torch.sqrt(((eps_w / t_w) ** 2).sum() + ((eps_v / t_v) ** 2).sum())
    assert radius.item() == pytest.approx(rho, rel=1e-12)
    # the closed form ε = ρ T² ∇ / ‖T ∇‖
    norm = torch.sqrt(((t_w * g_w) ** 2).sum() + ((t_v * g_v) ** 2).sum())
    torch.testing.assert_close(eps_w, rho * t_w**2 * g_w / norm)
    torch.testing.assert_close(eps_v, rho * t_v**2 * g_v / norm)


def test_sam_perturbation_has_radius_rho_along_gradient():
    w, v = _params()
    asam = ASAM(torch.optim.SGD([w, v], lr=0.1), rho=0.3, adaptive=False)
    _loss(w, v).backward()
    g = torch.cat([w.grad.flatten(), v.grad.flatten()])
    asam.ascent_step()
    eps = torch.cat([asam.perturbation[w].flatten(), asam.perturbation[v].flatten()])
    assert eps.norm().item() == pytest.approx(0.3, rel=1e-12)
    torch.testing.assert_close(eps, 0.3 * g / g.norm())


@pytest.mark.parametrize("adaptive", [True, False])
@pytest.mark.parametrize(
    "make_base",
    [lambda ps: torch.optim.SGD(ps, lr=0.1), lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
     lambda ps: torch.optim.Adam(ps, lr=0.01)],
    ids=["sgd", "sgd_momentum", "adam"],
)
def test_descent_step_is_base_step_from_original_weights_with_perturbed_gradient(adaptive, make_base):
    w = nn.Parameter(torch.tensor([0.7, -1.2, 0.05], dtype=torch.float64))
    ref = nn.Parameter(w.detach().clone())
    asam = ASAM(make_base([w]), rho=0.4, eta=0.01, adaptive=adaptive)
    ref_opt = make_base([ref])
    for _ in range(3):
        w0 = ref.detach().clone()
        g0 = _grad(w0)
        t = (w0.abs() + 0.01) if adaptive else torch.ones_like(w0)
        eps = 0.4 * t**2 * g0 / (t * g0).norm()
        ref.grad = _grad(w0 + eps)  # gradient at the perturbed point, analytically
        ref_opt.step()

        asam.zero_grad()
        _quadratic(w).backward()
        asam.ascent_step()
        asam.zero_grad()
        _quadratic(w).backward()
        torch.testing.assert_close(w.grad, ref.grad)
        asam.descent_step()
        torch.testing.assert_close(w.detach(), ref.detach(), rtol=1e-12, atol=1e-14)
    assert asam.perturbation == {}


def test_asam_step_closure_matches_manual_calls():
    w1 = nn.Parameter(torch.tensor([0.7, -1.2, 0.05], dtype=torch.float64))
    w2 = nn.Parameter(w1.detach().clone())
    a1, a2 = ASAM(torch.optim.SGD([w1], lr=0.1), rho=1.0), ASAM(torch.optim.SGD([w2], lr=0.1), rho=1.0)
    _quadratic(w1).backward()
    a1.ascent_step()
    a1.zero_grad()
    _quadratic(w1).backward()
    a1.descent_step()

    def closure():
        a2.zero_grad()
        loss = _quadratic(w2)
        loss.backward()
        return loss

    _quadratic(w2).backward()
    a2.step(closure)
    assert torch.equal(w1, w2)
    assert a2.param_groups is a2.base_optimizer.param_groups
    assert a2.state_dict() == a2.base_optimizer.state_dict()


def test_asam_zero_gradient_and_call_order():
    w = nn.Parameter(torch.tensor([1.0, 2.0]))
    asam = ASAM(torch.optim.SGD([w], lr=0.1), rho=0.5)
    w.grad = torch.zeros(2)
    asam.ascent_step()
    assert torch.equal(asam.perturbation[w], torch.zeros(2))
    with pytest.raises(RuntimeError):
        asam.ascent_step()
    asam.descent_step()
    assert torch.equal(w.detach(), torch.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError):
        asam.descent_step()
    with pytest.raises(ValueError):
        ASAM(torch.optim.SGD([w], lr=0.1), rho=0.0)
