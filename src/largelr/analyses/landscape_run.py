"""Loss / accuracy / spurious-utilisation landscape of one trained run (the ``landscape`` rule; Fig 9).

Around the run's final weights w0 the model is evaluated at w0 + α·d1 + β·d2 on a
``points`` × ``points`` grid of α, β in [−span, span], d1 and d2 being two seeded random
filter-normalised directions (:func:`largelr.analyses.landscape.random_directions`, Li et al. 2018).
Settings live in ``analysis["landscape"]`` (missing keys take :data:`LANDSCAPE_DEFAULTS`):

``points``   grid points per axis (odd → the trained weights are the exact centre);
``span``     half-width of the grid in units of the filter-normalised directions;
``samples``  training samples on which the loss is evaluated (a seeded random subset, the same
             for every run of a dataset; ``null`` → the whole training split);
``seed``     seed of the directions and of the training subset.

Written ``.npz`` (every grid ``[len(alphas), len(betas)]``, float64):

``alphas``, ``betas``            the grid axes;
``loss``, ``accuracy``           cross-entropy and accuracy on the training (sub)set — Fig 9's
                                 "training loss";
``spurious_utilisation``         fraction of predictions equal to the bias label on the
                                 unbiased test split — Fig 9's "spurious feature utilization";
``spurious_split_accuracy``      accuracy on the unbiased test split — Fig 9's "unbiased test acc.";
``status``                       the run's status; a diverged run gets empty axes and 0×0 grids;
``train_samples``                number of training samples used.

The loss is plain cross-entropy whatever objective the run was trained with (e.g. focal loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from largelr.analyses.evaluation import representation_sample_indices
from largelr.io import atomic_write_npz
from largelr.analyses.landscape import LANDSCAPE_KEYS, loss_landscape, random_directions
from largelr.training.runs import open_trained_run
from largelr.training.loop import TensorSplit

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
                  device: str = "auto") -> dict[str, Any]:
    """Compute and write one run's landscapes (module docstring); returns a short summary."""
    run = open_trained_run(dataset_path, run_dir, device)
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


__all__ = ["LANDSCAPE_DEFAULTS", "landscape_grid", "landscape_run", "landscape_settings", "training_subset"]
