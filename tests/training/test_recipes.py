"""Optimizer blocks + interventions → the settings a cell trains with (suppl. D.4; §5, Table 2)."""

import pytest

from largelr.intervention_labels import format_intervention, parse_intervention
from largelr.training.recipes import INTERVENTIONS, train_settings

TRAINING = {"batch_size": 100, "max_iters": 50, "eval_interval": 10}
CELL = {"lr": 0.1, "seed": 3, "intervention": "none"}


def test_plain_cell_keeps_the_block_and_training_keys():
    settings = train_settings(CELL, {"kind": "sgd", "momentum": 0.5}, TRAINING)
    assert settings.optimizer == {"kind": "sgd", "momentum": 0.5}
    assert (settings.lr, settings.seed, settings.batch_size, settings.max_iters) == (0.1, 3, 100, 50)
    assert settings.loss == {"kind": "ce"} and settings.l2 == 0.0 and settings.schedule is None


def test_recipe_keys_leave_the_optimizer_spec():
    block = {"kind": "adamw", "weight_decay": 0.05, "schedule": {"kind": "cosine"}, "stop_loss": 1e-5,
             "loss": {"kind": "focal", "gamma": 2.0}, "asam": {"rho": 0.5}, "validation_fraction": 0.1,
             "select_best": True}
    settings = train_settings(CELL, block, TRAINING)
    assert settings.optimizer == {"kind": "adamw", "weight_decay": 0.05}
    assert settings.validation_fraction == 0.1 and settings.select_best
    assert settings.schedule == {"kind": "cosine"} and settings.stop_loss == 1e-5
    assert settings.loss["gamma"] == 2.0 and settings.asam == {"rho": 0.5}


@pytest.mark.parametrize(
    "label, check",
    [
        ("batch_size=32", lambda s: s.batch_size == 32),
        ("momentum=0.9", lambda s: s.optimizer["momentum"] == 0.9),
        ("l1=1e-05", lambda s: s.l1 == 1e-5),
        ("l2=0.001", lambda s: s.l2 == 1e-3),
        ("focal_gamma=2", lambda s: s.loss == {"kind": "focal", "gamma": 2.0}),
        ("asam_rho=0.5", lambda s: s.asam == {"rho": 0.5}),
        ("lr_drop_at=1000", lambda s: s.schedule == {"kind": "step", "at": 1000, "factor": 0.1}),
    ],
)
def test_each_intervention_sets_its_hyper_parameter(label, check):
    block = {"kind": "sgd"}
    settings = train_settings({**CELL, "intervention": label}, block, TRAINING)
    assert check(settings)
    assert block == {"kind": "sgd"}  # the config block itself is not modified


def test_labels_round_trip_and_unknown_names_are_rejected():
    for name in INTERVENTIONS:
        assert parse_intervention(format_intervention(name, 0.25)) == (name, 0.25)
    assert parse_intervention("none") is None
    with pytest.raises(ValueError, match="vary"):
        format_intervention("dropout", 0.1)


def test_the_column_module_names_every_intervention_the_recipes_apply():
    from largelr.intervention_labels import INTERVENTION_NAMES

    assert tuple(INTERVENTIONS) == INTERVENTION_NAMES
