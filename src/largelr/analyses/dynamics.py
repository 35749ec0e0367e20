"""Training dynamics of one run, from its weight snapshots (the ``dynamics`` rule's work).

Paper §6 / Fig 13 (attribution maps and model statistics through training under a low vs
a high LR), Fig 3 right (core / spurious / noise attribution throughout training) and
suppl. Fig 28 bottom (spurious feature utilisation, SFU, of a single neuron, "reset" by
large updates). The snapshots are written by the ``train_group`` rule when the preset's
``training.snapshot_interval`` is > 0 (see :mod:`largelr.training.single`).

For every snapshot, on the attribution samples of the preset (the
:func:`~largelr.analyses.evaluation.representation_sample_indices` subset of the unbiased test set,
``analysis.attribution_samples`` / ``analysis.repr_seed``, as in
:mod:`largelr.analyses.attribution`):

* ``test_acc`` — accuracy on those samples;
* ``core_attribution`` / ``spurious_attribution`` / ``noise_attribution`` — mean share of
  |attribution| in each region mask (:func:`~largelr.analyses.attribution.mean_region_shares`;
  method ``analysis.attribution_method``, ``analysis.ig_steps`` steps; Figs 3, 13);
* ``attribution_entropy`` — mean entropy of the maps (§5);
* ``neuron`` / ``neuron_spurious_attribution`` — Fig 28 bottom: the spurious share of the
  input attribution of one penultimate unit (Integrated Gradients of the unit's activation,
  i.e. of the input of the model's final linear layer, zero baseline; captum
  ``NeuronIntegratedGradients``, always IG whatever ``attribution_method`` is), ``nan``
  at snapshots where the unit is inactive on every sample;
* ``neuron_weight_norm`` — L2 norm of that unit's incoming weights (its row / kernel in the
  last prunable layer whose output size is the representation size: the last hidden
  ``Linear`` of an FCN, the last conv of the CNN or of a ResNet's last block; ``nan`` when the
  model has no such layer, e.g. Swin), which shows the "reset" by large updates;
* ``history_iteration``, ``bc_loss_ratio_max``, ``logit_norm``, ``param_norm``, ``train_acc``
  — the ``history.csv`` row at the logged iteration nearest to the snapshot (snapshots fall
  on log rows, except iteration 0, which takes the first row: the statistics of the first
  logging interval; Fig 13 right).

**Which neuron** (defined once per run): at the *selection snapshot* — the first snapshot
after iteration 0 (iteration 0 itself if it is the only one), when the simple spurious
feature has been picked up (§6) — the penultimate units active on at least one sample are
ranked by their bias-selectivity index (BSI, §3.3: the CSI of
:func:`~largelr.analyses.metrics.class_selectivity` with the bias labels); of the
:data:`NEURON_CANDIDATES` units with the highest BSI (ties: lower index first), the one
whose input attribution has the largest mean spurious share is followed through training
(ties: the higher-BSI unit; when the sample holds a single bias class, BSI is undefined and
units are ranked by mean activation instead). ``-1`` (and ``nan`` values) when no unit is
active there. The BSI
pre-selection keeps the cost at :data:`NEURON_CANDIDATES` neuron attributions instead of
one per unit (512–2048 for the image models).

``dynamics_maps.npz`` keeps, for Fig 13 left, the attribution maps of :data:`MAP_SAMPLES`
fixed samples at every snapshot: the first bias-conflicting (``b ≠ y``) attribution samples
in sample order, topped up with bias-aligned ones when there are fewer. Arrays:
``iterations`` (S,), ``indices`` (n, test-set indices), ``maps`` (float16, S×n×H×W or S×n×D,
|attr| summed over channels), ``x`` (the raw test samples, n×C×H×W uint8 or n×D float32),
``y``, ``b``, ``region`` (n×H×W / n×D). A diverged run, or a run without snapshots, gets a
header-only CSV and empty arrays.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from largelr.analyses.attribution import attribution_entropy, attribution_map, attributions, mean_region_shares
from largelr.analyses.batch import runs_of
from largelr.datasets import SpuriousDataset
from largelr.analyses.evaluation import representation_sample_indices
from largelr.io import atomic_write_npz, atomic_write_text
from largelr.progress import Progress
from largelr.analyses.metrics import class_selectivity
from largelr.training.models import SpuriousModel, build_model
from largelr.training.runs import load_snapshots, open_trained_run

log = logging.getLogger(__name__)

HISTORY_MERGE_COLUMNS = ("bc_loss_ratio_max", "logit_norm", "param_norm", "train_acc")
DYNAMICS_COLUMNS = (
    "iteration", "test_acc", "core_attribution", "spurious_attribution", "noise_attribution",
    "attribution_entropy", "neuron", "neuron_spurious_attribution", "neuron_weight_norm",
    "history_iteration", *HISTORY_MERGE_COLUMNS,
)
MAP_SAMPLES = 6
NEURON_CANDIDATES = 16


# ---------------------------------------------------------------------------------------------
# single-neuron spurious feature utilisation (Fig 28 bottom)
# ---------------------------------------------------------------------------------------------


def neuron_attributions(model: SpuriousModel, x: Tensor, unit: int, n_steps: int = 32,
                        internal_batch_size: int | None = 1000) -> Tensor:
    """Integrated Gradients of penultimate unit ``unit`` (``features(x)[:, unit]``) w.r.t. ``x``.

    Zero baseline, Gauss–Legendre rule with ``n_steps`` points (captum
    ``NeuronIntegratedGradients`` on the input of ``model.head``); same shape as ``x``. By
    completeness the attributions of a sample sum to ``features(x)[unit] − features(0)[unit]``.
    The model is evaluated in eval mode; its previous mode is restored.
    """
    from captum.attr import NeuronIntegratedGradients  # heavy import

    x = x.detach().float()
    was_training = model.training
    model.eval()
    try:
        attr = NeuronIntegratedGradients(model, model.head).attribute(
            x, neuron_selector=int(unit), baselines=torch.zeros_like(x), n_steps=n_steps,
            internal_batch_size=internal_batch_size, attribute_to_neuron_input=True,
        )
    finally:
        model.train(was_training)
    return attr.detach()


def neuron_spurious_share(model: SpuriousModel, x: Tensor, region: np.ndarray, unit: int, n_steps: int) -> float:
    """Mean spurious share of the unit's input attribution (samples where it is inactive skipped)."""
    attr_map = attribution_map(neuron_attributions(model, x, unit, n_steps)).cpu()
    return mean_region_shares(attr_map, region)["spurious"]


def choose_neuron(model: SpuriousModel, x: Tensor, b: Tensor, region: np.ndarray, n_steps: int,
                  candidates: int = NEURON_CANDIDATES) -> int:
    """The unit followed in Fig 28 bottom (rule in the module docstring); ``-1`` if none is active."""
    with torch.no_grad():
        z = model.eval().features(x)
    active = (z > 0).any(dim=0).cpu().numpy()
    if not active.any():
        return -1
    if len(torch.unique(b)) >= 2:
        bsi = class_selectivity(z, b)
    else:  # one bias class in the sample: BSI undefined, rank by mean activation instead
        bsi = z.mean(dim=0).cpu().numpy()
    order = [int(u) for u in np.argsort(-bsi, kind="stable") if active[u]][:candidates]
    shares = np.array([neuron_spurious_share(model, x, region, unit, n_steps) for unit in order])
    if not np.isfinite(shares).any():
        return -1
    return order[int(np.argmax(np.where(np.isfinite(shares), shares, -np.inf)))]  # first max: higher BSI


def incoming_weight_norm(model: SpuriousModel, unit: int) -> float:
    """L2 norm of the unit's incoming weights (the layer is named in the module docstring)."""
    layers = [m for m in model.prunable_layers()
              if getattr(m, "weight", None) is not None and m.weight.shape[0] == model.representation_size]
    if unit < 0 or not layers:
        return float("nan")
    return float(layers[-1].weight.detach()[unit].norm())


# ---------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------


def map_sample_positions(y: np.ndarray, b: np.ndarray, n: int = MAP_SAMPLES) -> np.ndarray:
    """Positions of the Fig 13 samples: the first ``n`` bias-conflicting ones, then bias-aligned."""
    conflicting = np.flatnonzero(y != b)
    aligned = np.flatnonzero(y == b)
    return np.concatenate([conflicting, aligned])[:n].astype(np.int64)


def _snapshot_statistics(model: SpuriousModel, x: Tensor, y: Tensor, region: np.ndarray, neuron: int,
                         analysis: dict[str, Any]) -> tuple[dict[str, float], np.ndarray]:
    """One row of dynamics.csv (without iteration / history columns) and the attribution maps."""
    with torch.no_grad():
        accuracy = float((model.eval()(x).argmax(dim=1) == y).float().mean())
    attr = attributions(model, x, y, method=analysis["attribution_method"], n_steps=analysis["ig_steps"],
                        internal_batch_size=1000)
    maps = attribution_map(attr).cpu().numpy()
    shares = mean_region_shares(maps, region)
    entropy = attribution_entropy(maps)
    row = {
        "test_acc": accuracy,
        **{f"{name}_attribution": share for name, share in shares.items()},
        "attribution_entropy": float(np.nanmean(entropy)) if np.isfinite(entropy).any() else float("nan"),
        "neuron": neuron,
        "neuron_spurious_attribution": (neuron_spurious_share(model, x, region, neuron, analysis["ig_steps"])
                                        if neuron >= 0 else float("nan")),
        "neuron_weight_norm": incoming_weight_norm(model, neuron),
    }
    return row, maps


def merge_history(table: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Add the :data:`HISTORY_MERGE_COLUMNS` of the logged iteration nearest to each snapshot."""
    if history.empty or table.empty:
        return table.assign(history_iteration=np.nan, **dict.fromkeys(HISTORY_MERGE_COLUMNS, np.nan))
    logged = history[["iteration", *HISTORY_MERGE_COLUMNS]].rename(columns={"iteration": "history_iteration"})
    logged = logged.astype({"history_iteration": "int64"}).sort_values("history_iteration")
    merged = pd.merge_asof(table.astype({"iteration": "int64"}).sort_values("iteration"), logged,
                           left_on="iteration", right_on="history_iteration", direction="nearest")
    return merged.reset_index(drop=True)


def _write_outputs(table: pd.DataFrame, csv_path: str | Path, maps_path: str | Path,
                   arrays: dict[str, np.ndarray]) -> None:
    atomic_write_text(csv_path, table.reindex(columns=list(DYNAMICS_COLUMNS)).to_csv(index=False))
    atomic_write_npz(maps_path, arrays)


def _empty_arrays() -> dict[str, np.ndarray]:
    empty = np.zeros(0, dtype=np.int64)
    return {"iterations": empty, "indices": empty, "maps": np.zeros((0,), dtype=np.float16),
            "x": np.zeros((0,), dtype=np.float32), "y": empty, "b": empty, "region": np.zeros(0, dtype=np.uint8)}


def _rebuild(record: dict[str, Any], dataset: SpuriousDataset, device: torch.device) -> SpuriousModel:
    return build_model(record["model"], dataset.input_shape, dataset.num_classes).to(device).eval()


def dynamics_run(dataset_path: str | Path, run_dir: str | Path, csv_path: str | Path, maps_path: str | Path,
                 analysis: dict[str, Any], device: str = "auto", dataset: SpuriousDataset | None = None
                 ) -> pd.DataFrame:
    """Write ``dynamics.csv`` (one row per snapshot) and ``dynamics_maps.npz`` of one run; return the table.
    ``dataset``: the file at ``dataset_path``, if already loaded (:mod:`largelr.analyses.batch`)."""
    run = open_trained_run(dataset_path, run_dir, device, dataset)
    snapshots = load_snapshots(run.run_dir) if not run.diverged else {}
    if not snapshots:
        log.info("no snapshots to analyse (status %s)", run.status)
        table = pd.DataFrame(columns=list(DYNAMICS_COLUMNS))
        _write_outputs(table, csv_path, maps_path, _empty_arrays())
        return table

    test, dataset, torch_device = run.test, run.dataset, run.device
    indices = representation_sample_indices(len(test), analysis["attribution_samples"], analysis["repr_seed"]).numpy()
    selected = torch.from_numpy(indices).to(torch_device)
    x, y, b = test.x[selected], test.y[selected], test.b[selected]
    region = dataset.test.region[indices]
    positions = map_sample_positions(dataset.test.y[indices], dataset.test.b[indices])

    model = _rebuild(run.record, dataset, torch_device)
    iterations = sorted(snapshots)
    selection = next((i for i in iterations if i > 0), iterations[0])
    model.load_state_dict(snapshots[selection])
    neuron = choose_neuron(model, x, b, region, analysis["ig_steps"])
    log.info("single-neuron analysis: unit %d (chosen at iteration %d)", neuron, selection)

    rows, maps = [], []
    progress = Progress(log, "dynamics", total=len(iterations), unit="snapshots")
    for iteration in iterations:
        model.load_state_dict(snapshots[iteration])
        row, attr_maps = _snapshot_statistics(model, x, y, region, neuron, analysis)
        rows.append({"iteration": iteration, **row})
        maps.append(attr_maps[positions])
        log.info("iteration %d: %s", iteration, row)
        progress.step(note=f"last: iteration {iteration}")
    progress.finish()
    history = pd.read_csv(run.run_dir / "history.csv")
    table = merge_history(pd.DataFrame(rows), history).reindex(columns=list(DYNAMICS_COLUMNS))
    chosen = indices[positions]
    arrays = {
        "iterations": np.asarray(iterations, dtype=np.int64), "indices": chosen.astype(np.int64),
        "maps": np.stack(maps).astype(np.float16), "x": dataset.test.x[chosen],
        "y": dataset.test.y[chosen].astype(np.int64), "b": dataset.test.b[chosen].astype(np.int64),
        "region": dataset.test.region[chosen],
    }
    _write_outputs(table, csv_path, maps_path, arrays)
    return table


def _snapshots(table: pd.DataFrame) -> str:
    return f"{len(table)} snapshots"


#: :func:`dynamics_run` for each run of one training job, the dataset read once (rule ``dynamics``)
dynamics_runs = runs_of(dynamics_run, "dynamics", describe=_snapshots)
