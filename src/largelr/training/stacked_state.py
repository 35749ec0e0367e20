"""The stacked state of M models with batch norm: parameters and running statistics (§4.2, suppl. C).

The paper's ResNets (ResNet18/50, WRN-101-2; suppl. C) carry batch-norm buffers
(``running_mean``, ``running_var``, ``num_batches_tracked``). A stacked group keeps them as it
keeps the weights: one ``[M, ...]`` tensor per state_dict entry
(``torch.func.stack_module_state``), and the forward pass runs under ``torch.func.vmap`` over
``torch.func.functional_call``:

* in **train mode** every model normalises by its own minibatch statistics and updates its own
  running statistics in place (vmap's batch-norm rule takes batched running statistics; the
  in-place ``num_batches_tracked += 1`` of ``nn.BatchNorm2d`` runs per model too), exactly as
  ``model.train(); model(x)`` does for each model alone;
* in **eval mode** every model normalises by its own running statistics, as ``model.eval()``.

:meth:`StackedState.model_state` gives one model's ``state_dict`` back (keys and order of
``model.state_dict()``, CPU tensors), so ``model.pt``, snapshots and checkpoints are what the
single path (:func:`largelr.training.single.train`) writes; :meth:`StackedState.keep` keeps a
subset of rows (models that converged, stalled or diverged leave the stack).

Only batch-norm statistics are accepted as buffers (:func:`why_buffers_not_stackable`): another
buffer may be updated by Python code that vmap cannot batch, and a batch norm with
``momentum=None`` (a cumulative average) reads ``num_batches_tracked`` on the host.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

Tensors = dict[str, torch.Tensor]
BATCH_NORM_BUFFERS = frozenset({"running_mean", "running_var", "num_batches_tracked"})


def why_buffers_not_stackable(model: nn.Module) -> str | None:
    """None when every buffer of ``model`` is a batch-norm running statistic vmap can update, else why not."""
    for name, module in model.named_modules():
        own = {b for b, _ in module.named_buffers(recurse=False)}
        if not own:
            continue
        label = f"{type(module).__name__} {name or '(root)'!r}"
        if not isinstance(module, nn.modules.batchnorm._BatchNorm):
            return f"the model has buffers that are not batch-norm statistics ({label})"
        if own - BATCH_NORM_BUFFERS:
            return f"{label} has buffers {sorted(own - BATCH_NORM_BUFFERS)}"
        if module.momentum is None:
            return f"{label} keeps a cumulative average (momentum=None)"
    return None


@dataclass
class StackedState:
    """Parameters (``[M, ...]`` leaves requiring grad) and buffers (``[M, ...]``) of M models.

    ``keys`` is one model's ``state_dict()`` key order (parameters and buffers interleaved as
    ``nn.Module`` lists them).
    """

    params: Tensors
    buffers: Tensors
    keys: list[str]

    @classmethod
    def stack(cls, models: Sequence[nn.Module], device: torch.device) -> StackedState:
        """The state of ``models`` (one architecture), stacked along a leading model axis on ``device``."""
        params, buffers = stack_module_state(list(models))
        return cls({k: v.detach().to(device).requires_grad_(True) for k, v in params.items()},
                   {k: v.to(device) for k, v in buffers.items()}, list(models[0].state_dict()))

    def __len__(self) -> int:
        return len(next(iter(self.params.values())))

    def model_state(self, row: int) -> Tensors:
        """Model ``row``'s ``state_dict`` (CPU copies, keys in ``model.state_dict()`` order)."""
        merged = {**self.params, **self.buffers}
        return {key: merged[key][row].detach().to("cpu", copy=True) for key in self.keys}

    def keep(self, rows: torch.Tensor) -> StackedState:
        """The state of the models at ``rows`` only (fresh leaves; the others left the stack)."""
        return StackedState({k: p.detach()[rows].clone().requires_grad_(True) for k, p in self.params.items()},
                            {k: b[rows].clone() for k, b in self.buffers.items()}, self.keys)

    def subset(self, rows: torch.Tensor) -> tuple[Tensors, Tensors]:
        """``(params, buffers)`` of the models at ``rows``, for evaluation (no copy of the full stack kept)."""
        return {k: p[rows] for k, p in self.params.items()}, {k: b[rows] for k, b in self.buffers.items()}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint or a replay anchor keeps (detached copies, on the device)."""
        return {"params": {k: v.detach().clone() for k, v in self.params.items()},
                "buffers": {k: v.clone() for k, v in self.buffers.items()}}

    def load_state_dict(self, saved: dict[str, Any], device: torch.device) -> None:
        """Restore :meth:`state_dict` (a checkpoint written without buffers holds none)."""
        self.params = {k: v.to(device).detach().clone().requires_grad_(True) for k, v in saved["params"].items()}
        self.buffers = {k: v.to(device).clone() for k, v in saved.get("buffers", {}).items()}


class StackedForward:
    """``model``'s forward over a :class:`StackedState`, in train and in eval mode.

    ``train(state, x)`` takes per-model inputs ``[M, B, ...]`` and updates ``state.buffers`` in
    place (batch-norm running statistics); ``eval(state, x)`` / ``eval_shared(params, buffers, x)``
    use the running statistics, with per-model inputs or one input batch ``[B, ...]`` for every
    model. All return ``[M, B, classes]``.
    """

    def __init__(self, model: nn.Module) -> None:
        self._train = _vmapped(copy.deepcopy(model).to("meta").train(), in_dims=(0, 0, 0))
        self._eval = _vmapped(copy.deepcopy(model).to("meta").eval(), in_dims=(0, 0, 0))
        self._eval_shared = _vmapped(copy.deepcopy(model).to("meta").eval(), in_dims=(0, 0, None))

    def train(self, state: StackedState, x: torch.Tensor) -> torch.Tensor:
        return self._train(state.params, state.buffers, x)

    def eval(self, state: StackedState, x: torch.Tensor) -> torch.Tensor:
        return self._eval(state.params, state.buffers, x)

    def eval_shared(self, params: Tensors, buffers: Tensors, x: torch.Tensor) -> torch.Tensor:
        return self._eval_shared(params, buffers, x)


def _vmapped(base: nn.Module, in_dims: tuple[int | None, ...]) -> Callable[..., torch.Tensor]:
    def call(params: Tensors, buffers: Tensors, x: torch.Tensor) -> torch.Tensor:
        return functional_call(base, (params, buffers), (x,))

    return vmap(call, in_dims=in_dims)
