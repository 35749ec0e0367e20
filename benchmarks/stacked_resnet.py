"""Step time of M stacked batch-norm ResNets against M separate ones (§4.2 grid; issue 17 item 3).

For a ResNet18 (torchvision's, ``small_input`` stem, base width ``--widths``; 64 is the full
network) on 32×32 RGB inputs and M in ``--ms``, it times one SGD step (forward in train mode
with batch-norm statistics, cross-entropy, backward, update) of

  (a) M separate models trained one after another: plain PyTorch (``model(x)``,
      ``F.cross_entropy``, ``backward``, ``torch.optim.SGD.step``) per model;
  (b) the M models as one stack: :class:`largelr.training.stacked_state.StackedForward` under
      ``torch.func.vmap`` (each Conv2d becomes one grouped convolution, each BatchNorm one
      batch norm over M·C channels), ``torch.autograd.grad`` and
      :class:`largelr.training.stacked.StackedOptimizer` — the arithmetic of the stacked engine;

and prints milliseconds per step of all M models and the ratio (b)/(a): below 1 the stack is
faster. Both are measured in the same process, on the same device, same data. Wall-clock
numbers are printed, never asserted; ``--threads`` fixes the CPU thread count.

    python benchmarks/stacked_resnet.py                       # widths 16 and 64, M = 1, 2, 4, 8
    python benchmarks/stacked_resnet.py --widths 64 --batch 100 --device cuda
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from torch.nn import functional as F

from largelr.training.models import build_model
from largelr.training.stacked import StackedOptimizer
from largelr.training.stacked_state import StackedForward, StackedState

LR = 0.05


def _models(width: int, m: int, device: torch.device) -> list[torch.nn.Module]:
    spec = {"arch": "torchvision", "name": "resnet18", "width": width}
    models = []
    for seed in range(m):
        torch.manual_seed(seed)
        models.append(build_model(spec, (3, 32, 32), 10).to(device).train())
    return models


def _separate_step(models: list[torch.nn.Module], x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    optimizers = [torch.optim.SGD(model.parameters(), lr=LR) for model in models]

    def step() -> None:
        for model, optimizer, xm, ym in zip(models, optimizers, x, y, strict=True):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(xm), ym).backward()
            optimizer.step()
    return step


def _stacked_step(models: list[torch.nn.Module], x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    state = StackedState.stack(models, x.device)
    forward = StackedForward(models[0])
    optimizer = StackedOptimizer({"kind": "sgd"}, torch.full((len(models),), LR, device=x.device))

    def step() -> None:
        logits = forward.train(state, x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape).mean(1)
        grads = torch.autograd.grad(loss.sum(), list(state.params.values()))
        optimizer.step(state.params, grads, 1.0)
    return step


def _time(step: Callable[[], None], steps: int, device: torch.device) -> float:
    """Seconds per call of ``step`` (after one warm-up call)."""
    step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps


def measure(width: int, m: int, batch: int, steps: int, device: torch.device) -> tuple[float, float]:
    """(separate, stacked) seconds per step of all ``m`` models."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(m, batch, 3, 32, 32, generator=generator).to(device)
    y = torch.randint(0, 10, (m, batch), generator=generator).to(device)
    separate = _time(_separate_step(_models(width, m, device), x, y), steps, device)
    stacked = _time(_stacked_step(_models(width, m, device), x, y), steps, device)
    return separate, stacked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 64], help="ResNet18 base widths (64 = full)")
    parser.add_argument("--ms", type=int, nargs="+", default=[1, 2, 4, 8], help="stack sizes M")
    parser.add_argument("--batch", type=int, default=32, help="minibatch per model")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch.set_num_threads)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"ResNet18 (small_input stem) on 3x32x32, batch {args.batch} per model, SGD, {device}, "
          f"{args.threads} CPU thread(s), {args.steps} timed steps after one warm-up")
    print(f"{'width':>5} {'M':>3} {'separate ms':>12} {'stacked ms':>11} {'stacked/separate':>17}")
    for width in args.widths:
        for m in args.ms:
            separate, stacked = measure(width, m, args.batch, args.steps, device)
            print(f"{width:>5} {m:>3} {1e3 * separate:>12.1f} {1e3 * stacked:>11.1f} {stacked / separate:>17.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
