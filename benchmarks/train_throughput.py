"""Training-step throughput of largelr's loop against a plain PyTorch DataLoader loop.

Both train the same bias-free FCN with SGD (batch 100, cross-entropy) on the same data, on
the same device, in the same process; the ratio is what SPEC §9 asks for (target ≥ 3× on
MNIST/CIFAR-scale data). Wall-clock numbers are printed, never asserted.

    python benchmarks/train_throughput.py --steps 2000 --dataset moon_star
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from largelr.datasets.synthetic import generate_moon_star, generate_parity
from largelr.runs import init_model, resolve_device, to_tensor_split
from largelr.training import TrainSettings, train

DATASETS = {
    "parity": (lambda: generate_parity(seed=0), {"arch": "fcn", "width": 200, "depth": 3}),
    "moon_star": (lambda: generate_moon_star(seed=0), {"arch": "fcn", "width": 1024, "depth": 2}),
}


def plain_pytorch_steps_per_second(dataset, model_spec, steps: int, device: torch.device) -> float:
    """The textbook loop: TensorDataset + shuffling DataLoader, one optimizer step per batch."""
    model = init_model(dataset, model_spec, seed=0).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = TensorDataset(torch.from_numpy(dataset.train.as_float()), torch.from_numpy(dataset.train.y))
    loader = DataLoader(data, batch_size=100, shuffle=True, drop_last=True)
    done, start = 0, time.perf_counter()
    while done < steps:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - start)


def largelr_steps_per_second(dataset, model_spec, steps: int, device: torch.device) -> float:
    """largelr.training.train with logging/evaluation pushed past the end (pure stepping cost)."""
    model = init_model(dataset, model_spec, seed=0).to(device)
    settings = TrainSettings(lr=0.1, seed=0, max_iters=steps, eval_interval=10 * steps, checkpoint_interval=10 * steps)
    train_split, test_split = to_tensor_split(dataset, "train", device), to_tensor_split(dataset, "test", device)
    start = time.perf_counter()
    train(model, train_split, test_split, settings)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="moon_star")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    make_dataset, model_spec = DATASETS[args.dataset]
    dataset = make_dataset()
    baseline = plain_pytorch_steps_per_second(dataset, model_spec, args.steps, device)
    ours = largelr_steps_per_second(dataset, model_spec, args.steps, device)
    print(f"dataset={args.dataset} model={model_spec} device={device} threads={args.threads} steps={args.steps}")
    print(f"plain PyTorch DataLoader loop : {baseline:8.1f} steps/s")
    print(f"largelr training loop         : {ours:8.1f} steps/s")
    print(f"ratio largelr / plain          : {ours / baseline:8.2f}x")


if __name__ == "__main__":
    main()
