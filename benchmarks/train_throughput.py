"""Training throughput per cell: a plain PyTorch loop, largelr's single-model loop, and its
stacked engine with M cells trained as one model, on the same data, device and process.

For each workload it prints steps per second *per cell* for

  (a) the textbook loop: TensorDataset + shuffling DataLoader, one model, SGD, batch 100;
  (b) largelr.training.single.train, one model (the single-cell path);
  (c) largelr.training.stacked.train_stacked with M = 5, 15, 45 cells (M × steps / time);

and each ratio against (a). Logging is pushed past the end of the run, so only the final
evaluation adds to the stepping cost. Wall-clock numbers are printed, never asserted.

Workloads (the models of §4.2 and suppl. C, at the paper's shapes):

* ``parity``        FCN 3×200 on parity bits (Fig 3), generated here;
* ``colored_mnist`` FCN 2×1024 on Colored MNIST 3×28×28 images (the paper's image FCN);
* ``cnn``           the VGG11-like CNN on the same images (``--cnn-width`` scales it).

Colored MNIST is built from the real MNIST files under ``--data-root`` (a subset of 5000
training images); without them the images are shape-matched random bytes, and the output
says so (throughput does not depend on the pixel values).

    python benchmarks/train_throughput.py --dataset parity
    python benchmarks/train_throughput.py --dataset all --device cuda --paper-estimate
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from largelr.config import resolve_preset, training_grid
from largelr.datasets.format import Split, SpuriousDataset
from largelr.datasets.synthetic import generate_parity
from largelr.training.runs import init_model, resolve_device, to_tensor_split
from largelr.training.stacked import train_stacked
from largelr.training.protocol import TrainSettings
from largelr.training.single import train

REPO = Path(__file__).resolve().parents[1]


def parity_data(args) -> SpuriousDataset:
    return generate_parity(seed=0)


def colored_mnist_data(args) -> SpuriousDataset:
    try:
        from largelr.datasets.semisynthetic import generate_colored_mnist

        return generate_colored_mnist(seed=0, data_root=args.data_root, subset_train=5000, subset_test=1000)
    except (FileNotFoundError, OSError) as error:
        print(f"  (no MNIST under {args.data_root}: {type(error).__name__}; shape-matched random images instead)")
        rng = np.random.default_rng(0)

        def split(n: int) -> Split:
            y = rng.integers(0, 10, n)
            return Split(rng.integers(0, 256, (n, 3, 28, 28), dtype=np.uint8), y, y.copy(),
                         np.zeros((n, 3, 28, 28), dtype=np.uint8))

        return SpuriousDataset("colored_mnist", 10, split(5000), split(1000))


WORKLOADS = {
    "parity": (parity_data, lambda args: {"arch": "fcn", "width": 200, "depth": 3}),
    "colored_mnist": (colored_mnist_data, lambda args: {"arch": "fcn", "width": 1024, "depth": 2}),
    "cnn": (colored_mnist_data, lambda args: {"arch": "cnn", "width_multiplier": args.cnn_width}),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_pytorch(dataset, spec, steps: int, device: torch.device) -> float:
    """(a) TensorDataset + shuffling DataLoader, one optimizer step per batch: steps/s."""
    model = init_model(dataset, spec, seed=0).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = TensorDataset(torch.from_numpy(dataset.train.as_float()), torch.from_numpy(dataset.train.y))
    loader = DataLoader(data, batch_size=100, shuffle=True, drop_last=True)
    done, start = 0, time.perf_counter()
    while done < steps:
        for x, y in loader:
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    _sync(device)
    return steps / (time.perf_counter() - start)


def _settings(steps: int, seed: int) -> TrainSettings:
    # a small LR keeps every model training (nothing converges or diverges mid-benchmark)
    return TrainSettings(lr=0.001 * (1 + seed % 5), seed=seed, max_iters=steps, eval_interval=10 * steps,
                         checkpoint_interval=10 * steps)


def single_path(dataset, spec, steps: int, device: torch.device) -> float:
    """(b) largelr.training.single.train on one model: steps/s."""
    model = init_model(dataset, spec, seed=0).to(device)
    splits = to_tensor_split(dataset, "train", device), to_tensor_split(dataset, "test", device)
    start = time.perf_counter()
    train(model, *splits, _settings(steps, 0))
    _sync(device)
    return steps / (time.perf_counter() - start)


def stacked_path(dataset, spec, steps: int, device: torch.device, n_models: int) -> float:
    """(c) train_stacked on ``n_models`` cells: per-cell steps/s (n_models × steps / time)."""
    settings = [_settings(steps, seed) for seed in range(n_models)]
    models = [init_model(dataset, spec, s.seed) for s in settings]
    splits = to_tensor_split(dataset, "train", device), to_tensor_split(dataset, "test", device)
    start = time.perf_counter()
    train_stacked(models, *splits, settings)
    _sync(device)
    return n_models * steps / (time.perf_counter() - start)


def run_workload(name: str, args, device: torch.device) -> dict[str, float]:
    make_data, make_spec = WORKLOADS[name]
    dataset, spec = make_data(args), make_spec(args)
    print(f"\n[{name}] model={spec} device={device} threads={torch.get_num_threads()} steps={args.steps} "
          f"matmul_precision={torch.get_float32_matmul_precision()}")
    single_path(dataset, spec, min(20, args.steps), device)  # warm-up (kernels, allocator)
    baseline = plain_pytorch(dataset, spec, args.steps, device)
    rows = {"(a) plain DataLoader loop": baseline,
            "(b) largelr single-model": single_path(dataset, spec, args.steps, device)}
    for m in args.stack_sizes:
        rows[f"(c) largelr stacked, M={m}"] = stacked_path(dataset, spec, args.steps, device, m)
    for label, rate in rows.items():
        print(f"  {label:30s} {rate:10.1f} steps/s per cell   {rate / baseline:6.2f}x (a)")
    return rows


def paper_estimate(per_cell: dict[str, float], iterations: int) -> None:
    """GPU-hours of the paper preset's FCN / CNN cells at the measured stacked throughput."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    preset = resolve_preset(config, "paper")  # its delta over `defaults`, as the workflow reads it
    preset.setdefault("seeds", [0, 1, 2])
    grid = training_grid(preset)
    arch = grid["model"].map(lambda m: preset["models"][m].get("name", preset["models"][m]["arch"]))
    print(f"\n[paper preset estimate] {len(grid)} cells; {iterations} iterations per cell assumed "
          "(the protocol stops at 100 % training accuracy; pass --paper-iters to change)")
    total = 0.0
    for kind, rate in per_cell.items():
        cells = int((arch == kind).sum())
        hours = cells * iterations / rate / 3600
        total += hours
        print(f"  {kind:18s} {cells:4d} cells at {rate:9.1f} steps/s per cell: {hours:8.2f} GPU-hours")
    others = arch[~arch.isin(list(per_cell))].value_counts()
    print(f"  FCN + CNN total: {total:.2f} GPU-hours; not measured here: "
          + ", ".join(f"{k} ({v} cells)" for k, v in others.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=[*WORKLOADS, "all"], default="parity")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stack-sizes", type=lambda s: [int(v) for v in s.split(",")], default=[5, 15, 45])
    parser.add_argument("--cnn-width", type=float, default=1.0, help="CNN width multiplier (paper: 1.0)")
    parser.add_argument("--data-root", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--paper-estimate", action="store_true", help="estimate the paper preset's GPU-hours")
    parser.add_argument("--paper-iters", type=int, default=20000)
    parser.add_argument("--matmul-precision", choices=["highest", "high", "medium"], default="highest",
                        help="torch.set_float32_matmul_precision for every path: 'high' lets CUDA use TF32 "
                             "tensor cores (the preset key matmul_precision); CPU results do not change")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_float32_matmul_precision(args.matmul_precision)
    device = resolve_device(args.device)
    names = list(WORKLOADS) if args.dataset == "all" else [args.dataset]
    results = {name: run_workload(name, args, device) for name in names}
    if args.paper_estimate:
        best = {name: max(rows.values()) for name, rows in results.items()}
        per_cell = {}
        if "parity" in best or "colored_mnist" in best:
            per_cell["fcn"] = best.get("colored_mnist", best.get("parity"))
        if "cnn" in best:
            per_cell["cnn"] = best["cnn"]
        paper_estimate(per_cell, args.paper_iters)


if __name__ == "__main__":
    main()
