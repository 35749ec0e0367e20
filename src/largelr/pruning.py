"""Alternative pruning schemes and parameter compressibility (paper §3.2, suppl. D.4, Figs 20, 21, 25).

The paper's κ-prunability (§3.2) uses **structured** pruning: the ⌈κ·units⌉ smallest-L2 rows
(FC neurons / conv kernels, dim 0 of ``weight``) of every hidden layer are removed, the output
layer untouched — that is :func:`prune_structured`. Suppl. D.4
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
  weights of the model, using :mod:`largelr.metrics`.

All pruning functions return a pruned **deep copy** (the input model is never modified) whose
pruning is made permanent (``prune.remove``): the copy has plain ``weight`` parameters with
exact zeros, no ``weight_orig`` / mask re-parametrisation. Ties in magnitude are broken by
``torch.topk`` (implementation-defined).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

from largelr import metrics
from largelr.models import SpuriousModel
from largelr.training import TensorSplit, evaluate_accuracy

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
    the ⌈κ·columns⌉ smallest (:func:`largelr.metrics.structured_prune_counts`) are set to zero.
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
    (:func:`largelr.metrics.retention_curve`) for retention.
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


__all__ = [
    "PRUNING_METHODS",
    "parameter_compressibility",
    "prune_columns",
    "prune_global_magnitude",
    "prune_model",
    "pruned_layers",
    "pruning_curve",
    "weight_tensors",
]
