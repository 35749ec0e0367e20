"""Training recipes: a ``recipes:`` block of the config plus a grid cell → TrainSettings.

A recipe (``recipes.<name>`` of ``config.yaml``) names the optimizer (``kind`` and its keys, see
:mod:`largelr.training.optim`)
and, optionally, the rest of the recipe: ``schedule``, ``loss``, ``l1``, ``l2``, ``asam``,
``stop_loss``, ``validation_fraction`` and ``select_best`` (the variants of suppl. D.4: Figs 22–24, 28).

The interventions that the paper compares with the learning rate (§5, Fig 6 / 19,
Table 2) are a grid axis ``intervention`` = ``"name=value"`` (``"none"`` for plain cells); each
name sets one hyper-parameter of the cell's recipe:
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from largelr.intervention_labels import NO_INTERVENTION, parse_intervention

if TYPE_CHECKING:  # the workflow imports this module while building the DAG: keep it torch-free
    from largelr.training.protocol import TrainSettings

RECIPE_KEYS = ("schedule", "loss", "l1", "l2", "asam", "stop_loss", "validation_fraction", "select_best")


def _set_batch_size(recipe: dict, training: dict, value: float) -> None:
    training["batch_size"] = int(value)


def _set_momentum(recipe: dict, training: dict, value: float) -> None:
    recipe["momentum"] = float(value)


def _set_l1(recipe: dict, training: dict, value: float) -> None:
    recipe["l1"] = float(value)


def _set_l2(recipe: dict, training: dict, value: float) -> None:
    recipe["l2"] = float(value)


def _set_focal_gamma(recipe: dict, training: dict, value: float) -> None:
    recipe["loss"] = {"kind": "focal", "gamma": float(value)}


def _set_asam_rho(recipe: dict, training: dict, value: float) -> None:
    recipe["asam"] = {**(recipe.get("asam") or {}), "rho": float(value)}


def _set_lr_drop_at(recipe: dict, training: dict, value: float) -> None:
    """Fig 28: the LR is divided by 10 after iteration ``value`` ("effects integrated by step i")."""
    recipe["schedule"] = {"kind": "step", "at": int(value), "factor": 0.1}


INTERVENTIONS = {
    "batch_size": _set_batch_size,
    "momentum": _set_momentum,
    "l1": _set_l1,
    "l2": _set_l2,
    "focal_gamma": _set_focal_gamma,
    "asam_rho": _set_asam_rho,
    "lr_drop_at": _set_lr_drop_at,
}
__doc__ += "".join(f"\n* ``{name}`` — {fn.__doc__ or fn.__name__[5:].replace('_', ' ')}"
                   for name, fn in INTERVENTIONS.items())


def train_settings(cell: dict[str, Any], recipe: dict[str, Any], training: dict[str, Any]) -> TrainSettings:
    """The settings of one grid cell: its recipe, with its intervention applied.

    Every key of the preset's ``training`` block (``batch_size``, ``max_iters``, …,
    ``snapshot_interval`` for the dynamics figures) becomes the TrainSettings field of that name.
    """
    from largelr.training.protocol import TrainSettings

    recipe, training = copy.deepcopy(recipe), dict(training)
    for key in ("engine", "matmul_precision"):  # how a group of cells is trained, not a setting of one run
        training.pop(key, None)
    intervention = parse_intervention(cell.get("intervention", NO_INTERVENTION))
    if intervention is not None:
        name, value = intervention
        INTERVENTIONS[name](recipe, training, value)
    extras = {key: recipe.pop(key) for key in RECIPE_KEYS if key in recipe}
    return TrainSettings(lr=float(cell["lr"]), seed=int(cell["seed"]), optimizer=recipe, **extras, **training)
