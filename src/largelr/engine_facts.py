"""Facts of the training engines that other layers read, each defined once (torch-free).

The engines (:mod:`largelr.training.single`, :mod:`largelr.training.stacked`, driven by
:func:`largelr.training.protocol.drive`) write them into run files; the workflow's runtime requests
(:mod:`largelr.workflow.cost`), ``benchmarks/paper_cost.py``, the monitor, tables and figures read
them from here:

* :class:`RunStatus`: how a run of the §4.2 protocol ended (``run.json``'s and runs.csv's ``status``);
* :data:`EVAL_BATCH`: samples per forward pass of the full-split evaluation and the stopping check;
* :data:`STACKABLE_OPTIMIZERS`: the optimizer kinds with a stacked update;
* :data:`TRAIN_SIZES`: training-set sizes of the generators that read a fixed source;
* :func:`iterations_to_fit`: the stated rule for the iterations to 100 % training accuracy.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Mapping


class RunStatus(StrEnum):
    """How a run ended (§4.2 trains "until 100 % accuracy"). str-valued: files hold the plain words.

    ``converged`` = 100 % training accuracy (or the recipe's stop_loss); ``max_iters`` = stopped at the
    iteration cap; ``stalled`` = stopped because, over the last ``stall_window`` evaluations, neither did
    the best training accuracy rise by more than ``stall_min_gain`` nor the lowest training loss fall by
    more than the fraction ``stall_min_loss_drop`` (:func:`largelr.training.protocol.stalled`; a run with
    a stop_loss never stalls); ``diverged`` = a non-finite loss or one above ``divergence_loss``.
    """

    CONVERGED = "converged"
    MAX_ITERS = "max_iters"
    STALLED = "stalled"
    DIVERGED = "diverged"


#: capped runs (cap or stall) are under-trained: tables and figures mark them and verdicts skip them
CAPPED_STATUSES = (RunStatus.MAX_ITERS, RunStatus.STALLED)
#: samples per forward pass of the full-split evaluation (and of the stopping check)
EVAL_BATCH = 2000
#: optimizer kinds with a stacked update (largelr.training.stacked.StackedOptimizer)
STACKABLE_OPTIMIZERS = ("sgd", "adam", "adamw")
#: training-set sizes of the generators that read a fixed source (params n_train / subset_train override):
#: MNIST 60 000, CIFAR-10/100 50 000, CelebA 162 770, Waterbirds 4 795, ImageNet-1k 1 281 167 (parity and
#: moon_star: the generators' default n_train)
TRAIN_SIZES: dict[str, int] = {
    "parity": 10000, "moon_star": 10000,
    "colored_mnist": 60000, "double_mnist": 60000, "mnist_cifar": 50000, "corrupted_cifar10": 50000,
    "cifar10": 50000, "cifar100": 50000, "celeba": 162770, "waterbirds": 4795, "imagenet": 1281167,
}
#: (model family, optimizer family) -> (S = eta * iterations to 100 %, E_min epochs). FCN: fitted on the
#: demo's finished runs (issue 19, 2026-12-02: Colored MNIST FCN, LR 0.01, 3000 images, 20 800
#: iterations; S = 208); CNN, ResNet and Swin-T: assumed
ITERATIONS_RULE: dict[tuple[str, str], tuple[float, float]] = {
    ("fcn", "sgd"): (208.0, 10.0),
    ("cnn", "sgd"): (208.0, 10.0),
    ("resnet", "sgd"): (50.0, 15.0),
    ("other", "sgd"): (50.0, 15.0),
    ("fcn", "adaptive"): (0.5, 10.0),
    ("cnn", "adaptive"): (0.5, 10.0),
    ("resnet", "adaptive"): (0.5, 15.0),
    ("other", "adaptive"): (0.05, 3.0),
}


def model_family(model: Mapping[str, Any]) -> str:
    """The :data:`ITERATIONS_RULE` family of a ``models:`` entry: fcn, cnn, resnet or other."""
    if model["arch"] in ("fcn", "cnn"):
        return model["arch"]
    return "resnet" if "resnet" in model.get("name", "") else "other"


def optimizer_family(kind: str) -> str:
    """The :data:`ITERATIONS_RULE` family of an optimizer kind: sgd or adaptive."""
    return "sgd" if kind == "sgd" else "adaptive"


def effective_lr(lr: float, momentum: float = 0.0, schedule: Mapping[str, Any] | None = None) -> float:
    """η of the rule: momentum β counts as η / (1 − β); a step schedule (LR × 0.1, Figs 22 and 28 top
    right) as η × its factor throughout."""
    lr = float(lr) / (1 - float(momentum))
    if (schedule or {}).get("kind") == "step":
        lr *= float(schedule.get("factor", 0.1))  # type: ignore[union-attr]
    return lr


def iterations_to_fit(lr: float, n: float, batch: int, cap: int, family: tuple[str, str],
                      rule: Mapping[tuple[str, str], tuple[float, float]] = ITERATIONS_RULE,
                      stop_loss: float | None = None) -> int:
    """Iterations to 100 % training accuracy: ``max(E_min · n / b, S / η)``, at most ``cap``
    (``cap`` for a ``stop_loss`` run); ``lr`` is :func:`effective_lr`'s η."""
    if stop_loss is not None:
        return int(cap)
    sgd_time, min_epochs = rule[family]
    return int(min(cap, max(math.ceil(min_epochs * n / batch), math.ceil(sgd_time / lr))))
