"""Alternative pruning schemes and parameter compressibility (paper §3.2, suppl. D.4, Figs 20, 21, 25).

The paper's κ-prunability (§3.2) uses **structured** pruning: the ⌈κ·units⌉ smallest-L2 rows
(FC neurons / conv kernels, dim 0 of ``weight``) of every hidden layer are removed, the output
layer untouched — that is :func:`prune_structured`. Which units are "the κ of the nodes" is a
choice the paper leaves implicit, so :data:`PRUNE_RANKINGS` names the readings
(``analysis.prune_rankings``; :func:`ranked_pruning_curve`, :func:`prune_units`):

* ``weight_norm`` (the default, = :func:`prune_structured`): per hidden layer, the ⌈κ·n_l⌉ units
  of smallest ‖w_i‖₂ (w_i = the unit's weight row / flattened kernel);
* ``activation``: per hidden layer, the ⌈κ·n_l⌉ units of smallest s_i = mean over training
  samples (and spatial positions / tokens) of |σ(a_i(x))|, σ = the ReLU following every
  FCN / CNN layer (identity for torchvision models), measured once on the unpruned model;
* ``global_weight_norm``: one ranking of all hidden units of all layers by ‖w_i‖₂, the
  ⌈κ·Σ_l n_l⌉ smallest removed (layers lose unequal shares).

Suppl. D.4
adds two more pruning curves (unbiased test accuracy vs. pruning ratio κ) and parameter-level
compressibility notions:

* **Column pruning** (Fig 20), :func:`prune_columns`: the ⌈κ·columns⌉ smallest-L2 *input*
  columns (dim 1 of ``weight``: input features of a Linear, input channels of a Conv2d, the
  norm taken over everything else, i.e. over the output units and the kernel window) of every
  weight layer are zeroed, layer-wise (``torch.nn.utils.prune.ln_structured(..., n=2, dim=1)``).
  **Choice:** the layers are the model's ``prunable_layers()`` *and* the head
  (``include_head=True``). The paper gives no further detail; structured row pruning must spare
  the head because its rows are the classes, but the head's columns are penultimate features,
  so column pruning has no reason to spare it (removing a head column = cutting a penultimate
  unit's outgoing connections). Note that the first layer's columns are the input
  pixels/channels. ``include_head=False`` restricts it to the hidden layers.
* **Unstructured global magnitude pruning** (Fig 21), :func:`prune_global_magnitude`: the
  round(κ·total) smallest-|w| entries among *all* weights of the prunable layers and the head
  together (one global threshold, not per layer) are zeroed
  (``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured``). Biases and
  normalisation parameters are never pruned.
* **Parameter compressibility** (Fig 25 "for parameters"), :func:`parameter_compressibility`:
  (q,κ)-compressibility (§3.2) and PQ-index (p = 1, q = 2; Diao et al. 2023) of the flattened
  weights of the model, using :mod:`largelr.analyses.metrics`.

All pruning functions return a pruned **deep copy** (the input model is never modified) whose
pruning is made permanent (``prune.remove``): the copy has plain ``weight`` parameters with
exact zeros, no ``weight_orig`` / mask re-parametrisation. Ties in magnitude are broken by
``torch.topk`` (implementation-defined).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from largelr.analyses import metrics
from largelr.analyses.metrics import retention_curve
from largelr.analyses.batch import runs_of
from largelr.datasets import SpuriousDataset
from largelr.io import atomic_write_json
from largelr.training.protocol import TensorSplit
from largelr.training.single import evaluate_accuracy
from largelr.training.models import CNN, FCN, SpuriousModel
from largelr.training.runs import open_trained_run

PruningMethod = Literal["structured", "column", "global"]


def prune_structured(model: SpuriousModel, kappa: float) -> SpuriousModel:
    """§3.2 f^(κ): a copy of ``model`` with the ⌈κ·units⌉ smallest-L2 units of each hidden layer removed.

    Units are FC neurons (rows of a Linear weight) or conv kernels (output channels); the
    output layer is never pruned (``SpuriousModel.prunable_layers``).
    """
    pruned = copy.deepcopy(model)
    for layer in pruned.prunable_layers():
        units = layer.weight.shape[0]
        prune.ln_structured(layer, name="weight", amount=metrics.structured_prune_counts(units, kappa), n=2, dim=0)
    return pruned


# ---------------------------------------------------------------------------------------------
# Unit rankings: which units "pruning κ of the nodes" (§3.2) removes
# ---------------------------------------------------------------------------------------------

# A ranking maps (model, κ, ranking inputs) to one boolean vector per prunable layer: True = removed.
UnitRanking = Callable[[SpuriousModel, float, torch.Tensor | None], list[torch.Tensor]]


def weight_norm_masks(model: SpuriousModel, kappa: float, x: torch.Tensor | None = None) -> list[torch.Tensor]:
    """§3.2 as in :func:`prune_structured`: per hidden layer, the ⌈κ·units⌉ units of smallest ‖w_i‖₂.

    ``w_i`` is the unit's row of ``weight`` (dim 0; a conv kernel flattened). The masks are
    torch's own ``LnStructured(n=2, dim=0)`` masks, so ties break exactly as in
    :func:`prune_structured`. ``x`` is unused.
    """
    masks = []
    for layer in model.prunable_layers():
        w = layer.weight.detach()
        method = prune.LnStructured(amount=metrics.structured_prune_counts(w.shape[0], kappa), n=2, dim=0)
        masks.append(method.compute_mask(w, torch.ones_like(w)).reshape(w.shape[0], -1)[:, 0] == 0)
    return masks


def _post_activation(model: SpuriousModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """The nonlinearity right after every prunable layer: ReLU for the bias-free FCN / CNN;
    identity for torchvision models (their layers feed a normalisation layer)."""
    return torch.relu if isinstance(model, (FCN, CNN)) else (lambda a: a)


@torch.no_grad()
def mean_abs_activations(model: SpuriousModel, x: torch.Tensor, batch_size: int = 1000) -> list[torch.Tensor]:
    """Per prunable layer, s_i = mean over samples (and positions) of |σ(a_i)|, a_i = unit i's output.

    σ = :func:`_post_activation`; the unit axis is dim 1 of a conv output, the last dim of a
    Linear output (token-shaped outputs are averaged over tokens).
    """
    layers, sums, counts = model.prunable_layers(), {}, {}

    def hook(layer: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
        unit_dim = 1 if isinstance(layer, nn.modules.conv._ConvNd) else out.dim() - 1
        a = post(out).abs().transpose(unit_dim, -1).reshape(-1, out.shape[unit_dim]).double()
        sums[id(layer)] = sums.get(id(layer), 0.0) + a.sum(dim=0)
        counts[id(layer)] = counts.get(id(layer), 0) + a.shape[0]

    post, was_training = _post_activation(model), model.training
    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        model.eval()
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return [(sums[id(layer)] / counts[id(layer)]).cpu() for layer in layers]


def _lowest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the ``k`` lowest ``scores`` (stable: the lower index goes first on ties)."""
    mask = torch.zeros(len(scores), dtype=torch.bool)
    mask[torch.argsort(scores, stable=True)[:k]] = True
    return mask


def activation_masks(model: SpuriousModel, kappa: float, x: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Per hidden layer, the ⌈κ·units⌉ units of lowest mean |activation| on ``x`` (training samples).

    Scores are :func:`mean_abs_activations` of the unpruned model (one pass, not re-measured per κ).
    """
    if x is None:
        raise ValueError("the 'activation' ranking needs input samples x (a subset of the training set)")
    return [_lowest(s, metrics.structured_prune_counts(len(s), kappa)) for s in mean_abs_activations(model, x)]


def global_weight_norm_masks(model: SpuriousModel, kappa: float, x: torch.Tensor | None = None) -> list[torch.Tensor]:
    """One ranking over the units of all hidden layers: the ⌈κ·U⌉ units of smallest ‖w_i‖₂
    (U = total hidden units; raw norms, so a layer may lose more or fewer than κ of its units)."""
    norms = [layer.weight.detach().reshape(layer.weight.shape[0], -1).double().norm(dim=1).cpu()
             for layer in model.prunable_layers()]
    flat = _lowest(torch.cat(norms), metrics.structured_prune_counts(sum(len(n) for n in norms), kappa))
    return list(flat.split([len(n) for n in norms]))


PRUNE_RANKINGS: dict[str, UnitRanking] = {
    "weight_norm": weight_norm_masks,
    "activation": activation_masks,
    "global_weight_norm": global_weight_norm_masks,
}


def prune_units(model: SpuriousModel, masks: Sequence[torch.Tensor]) -> SpuriousModel:
    """A copy of ``model`` whose units marked in ``masks`` (one per prunable layer) have zero weight rows."""
    pruned = copy.deepcopy(model)
    with torch.no_grad():
        for layer, removed in zip(pruned.prunable_layers(), masks, strict=True):
            layer.weight[removed.to(layer.weight.device)] = 0.0
    return pruned


def ranked_pruning_curve(model: SpuriousModel, split: TensorSplit, kappas: Sequence[float], ranking: str,
                         x: torch.Tensor | None = None) -> list[float]:
    """§3.2 Acc(f^(κ)) on ``split`` per κ, the removed units chosen by ``PRUNE_RANKINGS[ranking]``."""
    if ranking not in PRUNE_RANKINGS:
        raise ValueError(f"unknown prune ranking {ranking!r}; known: {list(PRUNE_RANKINGS)}")
    rank = PRUNE_RANKINGS[ranking]
    return [evaluate_accuracy(prune_units(model, rank(model, _check_kappa(k), x)), split) for k in kappas]


PRUNING_METHODS: tuple[str, ...] = ("structured", "column", "global")


def _check_kappa(kappa: float) -> float:
    kappa = float(kappa)
    if not 0.0 <= kappa <= 1.0:
        raise ValueError(f"pruning ratio kappa must lie in [0, 1], got {kappa}")
    return kappa


def _unique(modules: Sequence[nn.Module]) -> list[nn.Module]:
    seen: set[int] = set()
    out = []
    for module in modules:
        if id(module) not in seen:
            seen.add(id(module))
            out.append(module)
    return out


def pruned_layers(model: SpuriousModel, include_head: bool = True) -> list[nn.Module]:
    """The layers column / global pruning act on: ``prunable_layers()`` (+ ``head``), in order."""
    layers = list(model.prunable_layers())
    if include_head:
        layers.append(model.head)
    return _unique(layers)


def _make_permanent(layers: Sequence[nn.Module]) -> None:
    for layer in layers:
        if prune.is_pruned(layer) and hasattr(layer, "weight_orig"):
            prune.remove(layer, "weight")


def prune_columns(model: SpuriousModel, kappa: float, include_head: bool = True) -> SpuriousModel:
    """Column pruning (suppl. Fig 20): a copy of ``model`` with the ⌈κ·columns⌉ smallest-L2 columns removed.

    For every layer of :func:`pruned_layers` (``prunable_layers()`` and, by default, the head —
    see the module docstring for that choice) the ``weight.shape[1]`` columns (input features of
    a Linear, input channels of a Conv2d, L2 norm over all other dims) are ranked by L2 norm and
    the ⌈κ·columns⌉ smallest (:func:`largelr.analyses.metrics.structured_prune_counts`) are set to zero.
    """
    kappa = _check_kappa(kappa)
    pruned = copy.deepcopy(model)
    layers = pruned_layers(pruned, include_head)
    for layer in layers:
        columns = layer.weight.shape[1]
        prune.ln_structured(layer, name="weight", amount=metrics.structured_prune_counts(columns, kappa), n=2, dim=1)
    _make_permanent(layers)
    return pruned


def prune_global_magnitude(model: SpuriousModel, kappa: float) -> SpuriousModel:
    """Unstructured global magnitude pruning (suppl. Fig 21): a copy with round(κ·total) weights zeroed.

    ``total`` counts every entry of the ``weight`` of the prunable layers and the head; the
    round(κ·total) entries of smallest |w| across all of them (one global ranking,
    ``prune.global_unstructured(..., pruning_method=prune.L1Unstructured)``) become 0.
    """
    kappa = _check_kappa(kappa)
    pruned = copy.deepcopy(model)
    layers = pruned_layers(pruned, include_head=True)
    total = sum(layer.weight.numel() for layer in layers)
    amount = int(round(round(kappa * total, 9)))
    prune.global_unstructured(
        [(layer, "weight") for layer in layers], pruning_method=prune.L1Unstructured, amount=amount
    )
    _make_permanent(layers)
    return pruned


def prune_model(model: SpuriousModel, kappa: float, method: PruningMethod = "structured") -> SpuriousModel:
    """Dispatch: ``structured`` (§3.2, :func:`prune_structured`), ``column``, ``global``."""
    if method == "structured":
        return prune_structured(model, _check_kappa(kappa))
    if method == "column":
        return prune_columns(model, kappa)
    if method == "global":
        return prune_global_magnitude(model, kappa)
    raise ValueError(f"unknown pruning method {method!r}; known: {list(PRUNING_METHODS)}")


def pruning_curve(
    model: SpuriousModel, split: TensorSplit, kappas: Sequence[float], method: PruningMethod = "structured"
) -> list[float]:
    """Accuracy on ``split`` (the unbiased test split in the paper) of the κ-pruned model, per κ.

    ``method="structured"`` is the §3.2 curve ,
    ``"column"`` Fig 20, ``"global"`` Fig 21. Divide by the unpruned accuracy
    (:func:`largelr.analyses.metrics.retention_curve`) for retention.
    """
    if method not in PRUNING_METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {list(PRUNING_METHODS)}")
    return [evaluate_accuracy(prune_model(model, kappa, method), split) for kappa in kappas]


def weight_tensors(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """``(module name, weight)`` of every Linear / Conv layer of ``model`` (the head included).

    For the FCN, CNN and ResNets these are exactly the prunable layers plus the head; for
    transformers (Swin, ViT) also the attention / patch-embedding projections. Biases and
    normalisation parameters are excluded (they are not "weights of a layer" and, for BN/LN,
    ≈ 1 by construction).
    """
    layer_types = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    return [(name, module.weight.detach()) for name, module in model.named_modules() if isinstance(module, layer_types)]


def parameter_compressibility(model: nn.Module, kappa: float = 0.1, q: float = 2.0) -> dict[str, object]:
    """Parameter compressibility notions of Fig 25: (q,κ)-compressibility and PQ-index of the weights.

    The weights are those of :func:`weight_tensors` (every Linear/Conv layer incl. the head).
    Returned keys:

    * ``param_qk_compressibility``: (q,κ)-compressibility (§3.2, 1 − ‖w − w_⌈κd⌉‖_q/‖w‖_q) of all
      weights flattened into one vector of length d = total weight count;
    * ``param_pq_index``: PQ-index (p = 1, q = 2) of that vector (0 = flat, 1 − d^(−1/2) = 1-sparse);
    * ``param_qk_compressibility_layer_mean`` / ``param_pq_index_layer_mean``: the same computed
      per layer (each layer's flattened weight) and averaged over layers (unweighted);
    * ``layers``: list of per-layer dicts ``{name, numel, qk_compressibility, pq_index}``.
    """
    weights = weight_tensors(model)
    if not weights:
        raise ValueError(f"{type(model).__name__} has no Linear/Conv weights")
    per_layer = []
    for name, w in weights:
        per_layer.append({
            "name": name,
            "numel": int(w.numel()),
            "qk_compressibility": float(metrics.qk_compressibility(w.flatten(), kappa, q).item()),
            "pq_index": metrics.pq_index(w, p=1.0, q=2.0),
        })
    flat = torch.cat([w.flatten().to(torch.float64).cpu() for _, w in weights])
    return {
        "param_qk_compressibility": float(metrics.qk_compressibility(flat, kappa, q).item()),
        "param_pq_index": metrics.pq_index(flat, p=1.0, q=2.0),
        "param_qk_compressibility_layer_mean": float(np.mean([r["qk_compressibility"] for r in per_layer])),
        "param_pq_index_layer_mean": float(np.mean([r["pq_index"] for r in per_layer])),
        "layers": per_layer,
    }


# ---- one trained run (the `prune` rule's work) ----------------------------------------------
# Pruning curves and parameter compressibility of one trained run (the ``prune`` rule's work).
#
# For every κ of ``analysis.prune_kappas`` the unbiased test accuracy after structured
# node/kernel pruning (§3.2), column pruning (Fig 20) and unstructured global magnitude
# pruning (Fig 21), with retention = Acc(f^(κ)) / Acc(f); plus (q, κ)-compressibility and the
# PQ-index of the parameters (Fig 25). Written as one JSON file per run.

PRUNING_METHODS = ("structured", "column", "global")


def prune_run(dataset_path: str | Path, run_dir: str | Path, output_path: str | Path, analysis: dict[str, Any],
              device: str = "auto", dataset: SpuriousDataset | None = None) -> dict[str, Any]:
    """Write the pruning curves of a finished run; a diverged run gets only its status. ``dataset``: the
    file at ``dataset_path``, if already loaded (:mod:`largelr.analyses.batch`)."""
    run = open_trained_run(dataset_path, run_dir, device, dataset)
    result: dict[str, Any] = {"status": run.status, "kappas": list(analysis["prune_kappas"])}
    if not run.diverged:
        model, test = run.model, run.test
        base = evaluate_accuracy(model, test)
        result["base_accuracy"] = base
        for method in PRUNING_METHODS:
            accuracies = pruning_curve(model, test, analysis["prune_kappas"], method)
            result[method] = {"accuracy": accuracies, "retention": retention_curve(accuracies, base)}
        compressibility = parameter_compressibility(model, analysis["compress_kappa"], analysis["compress_q"])
        result["parameters"] = {k: v for k, v in compressibility.items() if k != "layers"}
        result["parameter_layers"] = compressibility["layers"]
    atomic_write_json(output_path, result)
    return result


#: :func:`prune_run` for each run of one training job, the dataset read once (rule ``prune``)
prune_runs = runs_of(prune_run, "prune", "pruning")


__all__ = [
    "PRUNE_RANKINGS", "PRUNING_METHODS", "parameter_compressibility", "prune_columns", "prune_global_magnitude",
    "prune_model", "prune_units", "pruned_layers", "pruning_curve", "ranked_pruning_curve", "weight_tensors",
]
