"""The ``intervention`` column's vocabulary (§5, suppl. D.4): ``none`` or one value ``name=value``.

Torch-free: the grid (:mod:`largelr.config.grid`) labels cells with it, paths carry it
(``intervention~l2=0.0001``), :mod:`largelr.training.recipes` applies it, tables and figures read it.
"""

from __future__ import annotations

# The ``intervention`` column: ``none`` or one intervention value ``name=value`` (see largelr.training.recipes).
NO_INTERVENTION = "none"
# Intervention names of the ``intervention`` column (largelr.training.recipes.INTERVENTIONS applies them).
INTERVENTION_NAMES = ("batch_size", "momentum", "l1", "l2", "focal_gamma", "asam_rho", "lr_drop_at")


def format_intervention(name: str, value: float) -> str:
    """Grid/path label of one intervention value, e.g. ``l2=0.0001``."""
    if name not in INTERVENTION_NAMES:
        raise ValueError(f"experiments[*].vary: unknown intervention {name!r}; known: {sorted(INTERVENTION_NAMES)}")
    return f"{name}={value:g}"


def parse_intervention(label: str) -> tuple[str, float] | None:
    """``"l2=0.001"`` → ``("l2", 0.001)``; ``"none"`` → ``None``."""
    if label == NO_INTERVENTION:
        return None
    name, _, value = label.partition("=")
    return name, float(value)
