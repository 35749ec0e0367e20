"""Input attributions of trained models and of one trained run (paper §3.3, §5, suppl. E).

Attributions (captum, paper suppl. E.1):

* :func:`attributions` — Integrated Gradients (the paper's default, §3.3: zero baseline,
  target = true class) or DeepLift (Fig 14), same shape as the input.
* :func:`attribution_map` — |attr| summed over the channel axis (images) / |attr| (vectors).
* :func:`deeplift_model` — the model copy DeepLift runs on (below).
* :func:`attribute_run` — one trained run's ``attribution.json`` and ``attribution_maps.npz``
  (the ``attribute`` rule).

The statistics on attribution maps (region shares, entropy, background share, hard samples,
seed aggregates) live in :mod:`largelr.analyses.attribution_stats`, torch-free so that
plotting jobs can use them; this module re-exports them for its callers.

Conventions: a sample whose total attribution is 0 has undefined shares / entropy → ``nan``
(and is ignored by the ``nanmean`` aggregates). Maps are taken in absolute value everywhere,
so raw signed attributions of vector data can be passed directly.

**DeepLift and the models of this package.** captum's DeepLift applies its rescale rule
through hooks on *non-linear modules* (``nn.ReLU``, ``nn.MaxPool2d``, … — exact type
match); a functional call (``torch.relu``, ``F.max_pool2d``) gets no hook, so autograd's
plain gradient passes through it, and a module called twice per forward pass (torchvision
ResNet blocks reuse one ``ReLU(inplace=True)``) makes captum raise ``RuntimeError``. Before
running DeepLift, :func:`deeplift_model` therefore builds an equivalent copy of the model:

* :class:`~largelr.training.models.FCN` (functional ``torch.relu``) → the same ``Linear`` layers
  with one ``nn.ReLU`` module per hidden layer;
* :class:`~largelr.training.models.HalvingMaxPool2d` (functional max-pool) → ``nn.MaxPool2d``
  modules of the same kernel/stride;
* every supported non-linear module used more than once per forward pass → one fresh
  (non-inplace) copy per call site, dispatched in call order;
* every supported non-linear module runs on a clone of its input: captum keeps a module's
  output gradient with a hook on its output tensor, so when a ReLU feeds a max-pool directly
  (the CNN's conv → ReLU → pool) the ReLU would read the gradient *before* the max-pool's
  DeepLift rule rewrites it, and the pool's rule would silently be lost.

So DeepLift's rescale rule is applied at every ReLU / max-pool of FCN, CNN and torchvision
ResNets, and its completeness (Σ attr = f(x) − f(baseline)) holds to float precision. Note
that for the bias-free ReLU FCN/CNN with the zero baseline the rescale multiplier of each
ReLU equals its gradient (the reference activations are all 0), so DeepLift there coincides
with gradient × input — which is also what captum gives on the un-converted functional FCN
(checked: completeness holds there too, by Euler's theorem for the positively homogeneous
bias-free network); the conversion matters for non-zero baselines and for networks with
biases / BatchNorm (ResNets). Non-linearities captum has no rule for (GELU, LayerNorm,
attention softmax in Swin, …) still fall back to plain gradients, and captum's max-pool rule
is not complete for overlapping windows (the 3×3/stride-2 ResNet stem pool, absent with the
default ``small_input`` stem); :func:`attributions` warns when DeepLift's completeness delta
(> 0.1 % of the largest |f(x) − f(baseline)|) shows such a case.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from largelr.analyses.attribution_stats import (  # re-exported for this module's callers (docstring)
    aggregate_over_seeds,
    attribution_entropy,
    background_share,
    hard_samples,
    mean_region_shares,
    region_attribution_record,
    region_shares,
    regions_separate_core_and_spurious,
)
from largelr.analyses.evaluation import representation_sample_indices
from largelr.analyses.batch import analyse_runs, attribution_files
from largelr.datasets import SpuriousDataset
from largelr.io import atomic_write_json, atomic_write_npz
from largelr.progress import Progress, forward_progress
from largelr.training.models import FCN, HalvingMaxPool2d
from largelr.training.runs import open_trained_run

log = logging.getLogger(__name__)

METHODS = ("integrated_gradients", "deeplift")


# ---------------------------------------------------------------------------------------------
# attributions
# ---------------------------------------------------------------------------------------------


def _as_target(target: int | Sequence[int] | Tensor, n: int, device: torch.device) -> Tensor:
    target = torch.as_tensor(target, device=device).long().reshape(-1)
    if target.numel() == 1 and n != 1:
        target = target.expand(n)
    if target.numel() != n:
        raise ValueError(f"target has {target.numel()} entries for {n} samples")
    return target


def attributions(
    model: nn.Module,
    x: Tensor,
    target: int | Sequence[int] | Tensor,
    method: str = "integrated_gradients",
    baseline: Tensor | float | None = None,
    n_steps: int = 50,
    internal_batch_size: int | None = None,
) -> Tensor:
    """Input attributions of the ``target`` logit, same shape as ``x`` (paper §3.3, suppl. E.1).

    ``method``: ``"integrated_gradients"`` — captum ``IntegratedGradients`` (Gauss–Legendre
    rule with ``n_steps`` points, the paper's attribution method) or ``"deeplift"`` — captum
    ``DeepLift`` (rescale rule, Fig 14) on the equivalent model of :func:`deeplift_model`.
    ``target``: the true class per sample (or one class for all). ``baseline``: ``None`` = zeros
    (the paper's choice), a scalar or a tensor broadcastable to ``x``.
    ``internal_batch_size``: IG evaluates ``len(x) · n_steps`` inputs; captum splits them into
    chunks of this many (``None`` = all at once). For DeepLift ``x`` is processed in chunks of
    this many samples.

    The model is put in eval mode for the computation (dropout off, BatchNorm running
    statistics) and its previous mode is restored afterwards; parameters are not modified.
    Returns a detached tensor on ``x``'s device.
    """
    from captum.attr import IntegratedGradients  # heavy import

    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; known: {list(METHODS)}")
    x, target, baseline = _attribution_inputs(x, target, baseline)
    was_training = model.training
    model.eval()
    try:
        if method == "integrated_gradients":
            attr = IntegratedGradients(model).attribute(
                x, baselines=baseline, target=target, n_steps=n_steps,
                internal_batch_size=internal_batch_size,
            )
            return attr.detach()
        return _deeplift_attributions(model, x, target, baseline, internal_batch_size or len(x))
    finally:
        model.train(was_training)


def _attribution_inputs(
    x: Tensor, target: int | Sequence[int] | Tensor, baseline: Tensor | float | None
) -> tuple[Tensor, Tensor, Tensor]:
    """``x`` detached and floating point, one target class per sample and the baseline as a tensor
    of ``x``'s shape (zeros for ``None``, the paper's choice, §3.3), for :func:`attributions`."""
    if x.dim() < 2:
        raise ValueError(f"x must be batched (N×...), got shape {tuple(x.shape)}")
    x = x.detach()
    if not x.is_floating_point():
        x = x.float()
    target = _as_target(target, len(x), x.device)
    if baseline is None:
        baseline = torch.zeros_like(x)
    else:
        baseline = torch.as_tensor(baseline, dtype=x.dtype, device=x.device).expand_as(x).contiguous()
    return x, target, baseline


def _deeplift_attributions(model: nn.Module, x: Tensor, target: Tensor, baseline: Tensor, chunk: int) -> Tensor:
    """captum ``DeepLift`` (rescale rule, Fig 14) on :func:`deeplift_model`'s copy of ``model``, ``chunk``
    samples at a time; warns when the completeness delta shows rules captum lacks (module docstring)."""
    from captum.attr import DeepLift  # heavy import

    net = deeplift_model(model, x[:1]).eval()
    outs, deltas, changes = [], [], []
    with warnings.catch_warnings():
        # captum warns on every call that it sets hooks on the non-linear modules
        warnings.filterwarnings("ignore", message=r"Setting forward, backward hooks")
        for start in range(0, len(x), chunk):
            sl = slice(start, start + chunk)
            a, d = DeepLift(net).attribute(
                x[sl].clone().requires_grad_(), baselines=baseline[sl], target=target[sl],
                return_convergence_delta=True,
            )
            outs.append(a.detach())
            deltas.append(d.detach())
            with torch.no_grad():
                change = net(x[sl]) - net(baseline[sl])
            changes.append(change.gather(1, target[sl, None]).squeeze(1))
    _check_deeplift_completeness(torch.cat(deltas), torch.cat(changes))
    return torch.cat(outs)


def _check_deeplift_completeness(delta: Tensor, change: Tensor) -> None:
    """Warn when Σ attr ≠ f(x) − f(baseline) (DeepLift's summation-to-delta property)."""
    scale = change.abs().max().item() + 1e-6
    worst = delta.abs().max().item()
    if worst > 1e-3 * scale:
        warnings.warn(
            f"DeepLift completeness violated (max |sum(attr) - (f(x) - f(baseline))| = {worst:.3g}, "
            f"max |f(x) - f(baseline)| = {scale:.3g}): the model has non-linearities captum has no "
            "DeepLift rule for (functional ops, GELU, LayerNorm, softmax attention, ...); plain "
            "gradients are used through them",
            stacklevel=4,  # the caller of attributions()
        )


# ---------------------------------------------------------------------------------------------
# DeepLift-ready model copies
# ---------------------------------------------------------------------------------------------


def _supported_nonlinear() -> tuple[type[nn.Module], ...]:
    from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR

    return tuple(SUPPORTED_NON_LINEAR)


class _ModuleReLUFCN(nn.Module):
    """:class:`~largelr.training.models.FCN` with an ``nn.ReLU`` module per hidden layer (same layers)."""

    def __init__(self, fcn: FCN) -> None:
        super().__init__()
        self.hidden = fcn.hidden
        self.relus = nn.ModuleList(nn.ReLU() for _ in fcn.hidden)
        self.head = fcn.head

    def forward(self, x: Tensor) -> Tensor:
        h = x.flatten(start_dim=1)
        for layer, relu in zip(self.hidden, self.relus):
            h = relu(layer(h))
        return self.head(h)


class _ModuleHalvingMaxPool2d(nn.Module):
    """:class:`~largelr.training.models.HalvingMaxPool2d` through ``nn.MaxPool2d`` modules."""

    def __init__(self) -> None:
        super().__init__()
        self.pools = nn.ModuleDict(
            {f"{kh}x{kw}": nn.MaxPool2d((kh, kw), stride=(kh, kw)) for kh, kw in ((2, 2), (2, 1), (1, 2))}
        )

    def forward(self, x: Tensor) -> Tensor:
        kh = 2 if x.shape[-2] >= 2 else 1
        kw = 2 if x.shape[-1] >= 2 else 1
        if kh == kw == 1:
            return x
        return self.pools[f"{kh}x{kw}"](x)


class _PerCallDispatch(nn.Module):
    """Stands in for a module called ``n`` times per forward pass: the k-th call goes to copy k."""

    def __init__(self, module: nn.Module, n_calls: int) -> None:
        super().__init__()
        self.copies = nn.ModuleList(copy.deepcopy(module) for _ in range(n_calls))
        self.calls = 0

    def forward(self, *args, **kwargs):
        if self.calls >= len(self.copies):
            raise RuntimeError(
                f"module {self.copies[0]} called more than the {len(self.copies)} times seen when the "
                "DeepLift copy was built (input of another shape?)"
            )
        module = self.copies[self.calls]
        self.calls += 1
        return module(*args, **kwargs)


class _IsolatedInput(nn.Module):
    """Runs ``module`` on a copy of its input (see :func:`deeplift_model`).

    captum records a hooked module's output gradient with a hook on its output tensor and
    rewrites its input gradient with a hook on its input tensor. When a hooked module (ReLU)
    feeds another one (max-pool) directly, both hooks sit on the same tensor and the ReLU
    records the gradient *before* the max-pool's DeepLift rule rewrites it, so the max-pool's
    multipliers are lost. The clone gives the second module its own input tensor.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        return self.module(x.clone())


def _replace_everywhere(root: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for name, module in list(root.named_modules(remove_duplicate=False)):
        for child_name, child in list(module.named_children()):
            if child is old:
                setattr(module, child_name, new)


def deeplift_model(model: nn.Module, example: Tensor) -> nn.Module:
    """An equivalent copy of ``model`` on which captum's DeepLift rules apply everywhere.

    See the module docstring: FCN's functional ReLUs and HalvingMaxPool2d's functional pool
    become modules, inplace activations become out-of-place, and every supported non-linear
    module called more than once per forward pass (found by running ``example``, one batch of
    inputs of the shape that will be attributed) gets one copy per call. The copy shares no
    tensors with ``model`` (deep copy) and is returned in eval mode.
    """
    net = copy.deepcopy(model).eval()
    if isinstance(net, FCN):
        net = _ModuleReLUFCN(net)
    for module in list(net.modules()):
        if isinstance(module, HalvingMaxPool2d):
            _replace_everywhere(net, module, _ModuleHalvingMaxPool2d())
    if isinstance(net, HalvingMaxPool2d):
        net = _ModuleHalvingMaxPool2d()

    nonlinear = _supported_nonlinear()
    for module in net.modules():
        if type(module) in nonlinear and getattr(module, "inplace", False):
            module.inplace = False

    counts: dict[int, int] = {}
    handles = [
        m.register_forward_hook(lambda mod, _i, _o: counts.__setitem__(id(mod), counts.get(id(mod), 0) + 1))
        for m in net.modules()
        if type(m) in nonlinear
    ]
    try:
        with torch.no_grad():
            net(example)
    finally:
        for handle in handles:
            handle.remove()

    dispatchers: list[_PerCallDispatch] = []
    for module in list(net.modules()):
        n_calls = counts.get(id(module), 0)
        if n_calls > 1:
            dispatcher = _PerCallDispatch(module, n_calls)
            _replace_everywhere(net, module, dispatcher)
            dispatchers.append(dispatcher)
    for module in [m for m in net.modules() if type(m) in nonlinear]:
        _replace_everywhere(net, module, _IsolatedInput(module))
    if dispatchers:
        def reset(_module, _inputs):
            for d in dispatchers:
                d.calls = 0

        net.register_forward_pre_hook(reset)
    return net.eval()


# ---------------------------------------------------------------------------------------------
# maps and statistics
# ---------------------------------------------------------------------------------------------


def attribution_map(attr: Tensor) -> Tensor:
    """|attr| summed over the channel axis: N×C×H×W → N×H×W (images); N×D → |attr| (vectors).

    This is the per-pixel map that matches the datasets' region masks (channels share a mask)
    and the map whose entropy §5 uses (channels summed).
    """
    attr = torch.as_tensor(attr).detach()
    if attr.dim() == 4:
        return attr.abs().sum(dim=1)
    if attr.dim() == 2:
        return attr.abs()
    raise ValueError(f"attributions must be N×C×H×W (images) or N×D (vectors), got shape {tuple(attr.shape)}")


# ---- one trained run (the `attribute` rule's work) ----------------------------------------------
# Input attributions of one trained run (the ``attribute`` rule's work; §3.3, suppl. E).
#
# On ``attribution_samples`` unbiased-test samples (the same ones for every run of a preset)
# this computes Integrated Gradients (zero baseline, target = true class) or DeepLift, and
# writes
#
# * ``attribution.json`` — mean share of |attribution| on the core / spurious / noise regions
#   of the dataset's masks (Figs 3, 26; NaN core / spurious shares and a ``notes`` reason where the
#   masks do not separate core from spurious pixels) and the mean attribution entropy (§5);
# * ``attribution_maps.npz`` — the per-sample maps (|attr| summed over channels, float16) with
#   the test indices, labels and predictions, for galleries and hard-sample selection.

def _forward_batches(method: str, samples: int, n_steps: int, internal_batch_size: int) -> int | None:
    """Forward calls of the model that Integrated Gradients makes (captum runs ``internal_batch_size //
    samples`` of the ``n_steps`` points per call); None for DeepLift (it runs a copy of the model)."""
    if method != "integrated_gradients" or samples == 0:
        return None
    return math.ceil(n_steps / max(1, internal_batch_size // samples))


def attribute_run(dataset_path: str | Path, run_dir: str | Path, json_path: str | Path, maps_path: str | Path,
                  analysis: dict[str, Any], device: str = "auto", dataset: SpuriousDataset | None = None
                  ) -> dict[str, Any]:
    """Attribution statistics of one run; a diverged run gets ``null`` statistics. ``dataset``: the
    file at ``dataset_path``, if already loaded (a job analysing several runs, :mod:`largelr.analyses.batch`)."""
    run = open_trained_run(dataset_path, run_dir, device, dataset)
    method = analysis["attribution_method"]
    result: dict[str, Any] = {"status": run.status, "method": method}
    indices = np.zeros(0, dtype=np.int64)
    maps = np.zeros((0,), dtype=np.float16)
    labels = predictions = np.zeros(0, dtype=np.int64)
    if not run.diverged:
        model, test, dataset, torch_device = run.model, run.test, run.dataset, run.device
        indices = representation_sample_indices(len(test), analysis["attribution_samples"],
                                                analysis["repr_seed"]).numpy()
        x, y = test.x[torch.from_numpy(indices).to(torch_device)], test.y[torch.from_numpy(indices).to(torch_device)]
        with forward_progress(model, Progress(log, f"attribution ({method}) of {len(x)} samples",
                                              _forward_batches(method, len(x), analysis["ig_steps"], 1000),
                                              unit="forward batches")):
            attr = attributions(model, x, y, method=method, n_steps=analysis["ig_steps"], internal_batch_size=1000)
        attr_maps = attribution_map(attr).detach().cpu()
        region = dataset.test.region[indices]
        separates = regions_separate_core_and_spurious(dataset.test.region)  # NaN core/spurious shares if not
        result.update(region_attribution_record(attr_maps, region, separates))
        result["attribution_entropy"] = float(np.nanmean(attribution_entropy(attr_maps)))
        with torch.no_grad():
            predictions = model(x).argmax(dim=1).cpu().numpy()
        maps, labels = attr_maps.numpy().astype(np.float16), y.cpu().numpy()
    atomic_write_npz(maps_path, {"indices": indices, "maps": maps, "y": labels, "predictions": predictions})
    result["samples"] = int(len(indices))
    atomic_write_json(json_path, result)
    return result


def attribute_runs(dataset_path: str | Path, run_dirs: Sequence[str | Path], output_dirs: Sequence[str | Path],
                   analysis: dict[str, Any], device: str = "auto", method: str | None = None,
                   log: logging.Logger | None = None) -> list[dict[str, str]]:
    """:func:`attribute_run` for each run of one training job, the dataset read once (rules ``attribute``
    and, with ``method``, ``attribute_with_method``; :mod:`largelr.analyses.batch`)."""
    return analyse_runs(f"attribution ({analysis['attribution_method']})", attribute_run, attribution_files(method),
                        dataset_path, run_dirs, output_dirs, analysis, device, log)


__all__ = [
    "METHODS", "aggregate_over_seeds", "attribution_entropy", "attribution_map", "attributions",
    "background_share", "deeplift_model", "hard_samples", "mean_region_shares", "region_attribution_record",
    "region_shares", "regions_separate_core_and_spurious",
]
