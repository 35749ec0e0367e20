"""Optimizers and LR schedules (paper §2, §4.2, suppl. D.4, Figs 22/23/28)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from largelr.training.optim import build_optimizer, build_scheduler, lr_at, lr_factor

try:  # PSGD-Kron comes from the optional 'heavyball' package
    import heavyball  # noqa: F401

    HAVE_HEAVYBALL = True
except ImportError:
    HAVE_HEAVYBALL = False
ALL_KINDS = ["sgd", "adam", "adamw"] + (["psgd_kron"] if HAVE_HEAVYBALL else [])


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int) -> None:
    """One optimizer step on a fixed random minibatch (seeded so runs can be compared)."""
    torch.manual_seed(seed)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    optimizer.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()


# ---------------------------------------------------------------- schedules


def test_step_schedule_multiplies_lr_after_at_optimizer_steps():
    param = nn.Parameter(torch.zeros(2))
    optimizer = build_optimizer([param], {"kind": "sgd"}, lr=0.5)
    scheduler = build_scheduler(optimizer, {"kind": "step", "at": 1000, "factor": 0.1}, max_iters=2000)
    used = []
    for _ in range(1002):
        used.append(lr_at(optimizer))
        param.grad = torch.zeros(2)
        optimizer.step()
        scheduler.step()
    assert used[:1000] == [0.5] * 1000  # steps 0..999 (the first 1000) use the initial LR
    assert used[1000] == pytest.approx(0.05) and used[1001] == pytest.approx(0.05)
    # default factor is 0.1; pure function agrees
    assert lr_factor("step", {"at": 3}, 2, 10) == 1.0
    assert lr_factor("step", {"at": 3}, 3, 10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="at"):
        lr_factor("step", {}, 0, 10)


def test_constant_schedule_and_none():
    for spec in (None, {"kind": "constant"}):
        assert [lr_factor((spec or {}).get("kind"), spec, t, 10) for t in (0, 5, 10, 99)] == [1.0] * 4
        param = nn.Parameter(torch.zeros(1))
        optimizer = build_optimizer([param], {"kind": "sgd"}, lr=0.3)
        scheduler = build_scheduler(optimizer, spec, max_iters=10)
        for _ in range(3):
            optimizer.step()
            scheduler.step()
        assert lr_at(optimizer) == 0.3


def test_cosine_endpoints_and_midpoint():
    assert lr_factor("cosine", {}, 0, 100) == pytest.approx(1.0)
    assert lr_factor("cosine", {}, 50, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", {}, 100, 100) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("cosine", {}, 150, 100) == pytest.approx(0.0, abs=1e-12)
    spec = {"min_factor": 0.1, "total": 40}
    assert lr_factor("cosine", spec, 0, 100) == pytest.approx(1.0)
    assert lr_factor("cosine", spec, 20, 100) == pytest.approx(0.55)
    assert lr_factor("cosine", spec, 40, 100) == pytest.approx(0.1)
    assert lr_factor("cosine", spec, 10, 100) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    # through the scheduler: after 50 of 100 steps the LR is half the initial one
    param = nn.Parameter(torch.zeros(1))
    optimizer = build_optimizer([param], {"kind": "sgd"}, lr=0.2)
    scheduler = build_scheduler(optimizer, {"kind": "cosine"}, max_iters=100)
    for _ in range(50):
        optimizer.step()
        scheduler.step()
    assert lr_at(optimizer) == pytest.approx(0.1)


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_wsd_has_three_phases(shape):
    spec = {"warmup": 0.1, "decay": 20, "min_factor": 0.05, "decay_shape": shape}
    f = [lr_factor("wsd", spec, t, 100) for t in range(101)]
    warm, stable, decay = f[:10], f[10:80], f[80:]
    assert all(b > a for a, b in zip(warm, warm[1:])) and warm[0] == pytest.approx(0.1) and warm[-1] == 1.0
    assert stable == [1.0] * 70
    assert decay[0] == 1.0 and all(b < a for a, b in zip(decay, decay[1:]))
    assert f[100] == pytest.approx(0.05)  # LR after all max_iters steps
    assert min(f) >= 0.05
    if shape == "linear":
        assert f[90] == pytest.approx(1 - 0.95 * 0.5)
        assert f[99] == pytest.approx(1 - 0.95 * 19 / 20)
    else:
        assert f[90] == pytest.approx(0.05 + 0.95 * 0.5)


def test_wsd_defaults_counts_and_errors():
    # defaults: no warmup, decay over the last 20 %, to 0
    f = [lr_factor("wsd", {}, t, 50) for t in range(51)]
    assert f[:40] == [1.0] * 40 and f[50] == 0.0 and f[45] == pytest.approx(0.5)
    # counts >= 1 are iterations, fractions < 1 are shares of max_iters
    assert lr_factor("wsd", {"warmup": 4, "decay": 0}, 1, 10) == pytest.approx(0.5)
    assert lr_factor("wsd", {"warmup": 0.4, "decay": 0}, 1, 10) == pytest.approx(0.5)
    assert lr_factor("wsd", {"warmup": 0, "decay": 0}, 10, 10) == 1.0
    with pytest.raises(ValueError, match="exceed"):
        lr_factor("wsd", {"warmup": 6, "decay": 5}, 0, 10)
    with pytest.raises(ValueError, match="whole number"):
        lr_factor("wsd", {"warmup": 2.5}, 0, 10)
    with pytest.raises(ValueError, match="decay_shape"):
        build_scheduler(build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "sgd"}, 0.1),
                        {"kind": "wsd", "decay_shape": "exp"}, max_iters=10)


def test_unknown_schedule_kind():
    with pytest.raises(ValueError, match="schedule.kind"):
        lr_factor("exponential", {}, 0, 10)
    with pytest.raises(ValueError, match="schedule.kind"):
        build_scheduler(build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "sgd"}, 0.1),
                        {"kind": "exponential"}, max_iters=10)


def test_scheduler_state_round_trip():
    spec = {"kind": "wsd", "warmup": 5, "decay": 5}
    opt_a = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "sgd"}, 1.0)
    sched_a = build_scheduler(opt_a, spec, max_iters=20)
    for _ in range(7):
        opt_a.step()
        sched_a.step()
    opt_b = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "sgd"}, 1.0)
    sched_b = build_scheduler(opt_b, spec, max_iters=20)
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(sched_a.state_dict())
    for _ in range(10):
        assert lr_at(opt_b) == lr_at(opt_a)
        for o, s in ((opt_a, sched_a), (opt_b, sched_b)):
            o.step()
            s.step()
    assert lr_at(opt_b) == pytest.approx(1 - 2 / 5)


# ---------------------------------------------------------------- optimizers


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_each_optimizer_builds_and_steps(kind):
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = build_optimizer(model.parameters(), {"kind": kind}, lr=0.01)
    assert isinstance(optimizer, torch.optim.Optimizer) and lr_at(optimizer) == 0.01
    _step(model, optimizer, seed=1)
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_optimizer_state_resumes_exactly(kind):
    """Checkpoint/resume (README, Interruptions): 2 + 2 steps with a state reload equal 4 straight steps."""
    straight = _model()
    opt = build_optimizer(straight.parameters(), {"kind": kind}, lr=0.01)
    for s in range(4):
        _step(straight, opt, seed=s)

    first = _model()
    opt_first = build_optimizer(first.parameters(), {"kind": kind}, lr=0.01)
    for s in range(2):
        _step(first, opt_first, seed=s)
    resumed = _model(seed=123)
    resumed.load_state_dict(first.state_dict())
    opt_resumed = build_optimizer(resumed.parameters(), {"kind": kind}, lr=0.01)
    opt_resumed.load_state_dict(opt_first.state_dict())
    for s in range(2, 4):
        _step(resumed, opt_resumed, seed=s)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_sgd_options():
    opt = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "sgd"}, 0.1)
    group = opt.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["weight_decay"]) == (0.0, False, 0.0)
    opt = build_optimizer([nn.Parameter(torch.zeros(1))],
                          {"kind": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}, 0.1)
    group = opt.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["weight_decay"]) == (0.9, True, 1e-4)
    # plain SGD is exactly the §2 update w <- w - lr * grad
    p = nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = build_optimizer([p], {"kind": "sgd"}, 0.5)
    p.grad = torch.tensor([0.2, 0.4])
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.9, -2.2]))


def test_adam_defaults_and_betas_from_yaml_list():
    opt = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "adam"}, 1e-3)
    assert isinstance(opt, torch.optim.Adam) and not isinstance(opt, torch.optim.AdamW)
    group = opt.param_groups[0]
    assert group["betas"] == (0.9, 0.999) and group["weight_decay"] == 0.0 and group["eps"] == 1e-8
    opt = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "adam", "betas": [0.5, 0.9]}, 1e-3)
    assert opt.param_groups[0]["betas"] == (0.5, 0.9)


def test_adamw_weight_decay_is_present_and_decoupled():
    p = nn.Parameter(torch.tensor([2.0, -4.0]))
    opt = build_optimizer([p], {"kind": "adamw"}, lr=0.1)
    assert isinstance(opt, torch.optim.AdamW)
    assert opt.param_groups[0]["weight_decay"] == 0.01 and opt.param_groups[0]["betas"] == (0.9, 0.999)
    p.grad = torch.zeros(2)  # zero gradient: the only change is the decoupled decay w <- w (1 - lr wd)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([2.0, -4.0]) * (1 - 0.1 * 0.01))
    opt = build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "adamw", "weight_decay": 0.05}, 0.1)
    assert opt.param_groups[0]["weight_decay"] == 0.05


def test_unknown_optimizer_kind():
    with pytest.raises(ValueError, match=r"recipes\.\*\.kind"):
        build_optimizer([nn.Parameter(torch.zeros(1))], {"kind": "lbfgs"}, 0.1)


@pytest.mark.skipif(not HAVE_HEAVYBALL, reason="heavyball (PSGD-Kron) is not installed")
@pytest.mark.filterwarnings("ignore:Learning rate changed between steps")
def test_psgd_kron_with_wsd_schedule():
    import heavyball

    model = _model()
    optimizer = build_optimizer(model.parameters(), {"kind": "psgd_kron", "beta": 0.8}, lr=0.01)
    assert isinstance(optimizer, heavyball.PSGDKron) and heavyball.utils.compile_mode is None
    scheduler = build_scheduler(optimizer, {"kind": "wsd", "warmup": 2, "decay": 2}, max_iters=6)
    seen = []
    for s in range(6):
        seen.append(lr_at(optimizer))
        before = [p.detach().clone() for p in model.parameters()]
        _step(model, optimizer, seed=s)
        scheduler.step()
        assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    assert seen == pytest.approx([0.005, 0.01, 0.01, 0.01, 0.01, 0.005])
    assert lr_at(optimizer) == 0.0

