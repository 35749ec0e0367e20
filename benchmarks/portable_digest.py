"""Train one training group of a preset on the CPU as the workflow does and print the SHA-256 of
its final weights (issue 26 item 7; docs/reproducibility.md; tests/test_portable_numbers.py).

The group is every cell of (dataset, model, recipe ``sgd``, no intervention) in the preset's
grid, trained by ``largelr.training.runs.train_group`` with the preset's settings, the
dataset built by its generator, in a temporary folder. The CPU kernels are pinned
(``largelr.portable``) before torch is imported, unless ``--native``.

    python benchmarks/portable_digest.py                       # ci's parity group, pinned
    python benchmarks/portable_digest.py --native              # the CPU's own kernels
    python benchmarks/portable_digest.py --max-iters 300       # shorter (e.g. under qemu-x86_64)
    python benchmarks/portable_digest.py --dataset colored_mnist --model fcn_small --repeat 3

It prints one JSON object: the digest, each cell's status and iterations, the training's
wall-clock and process CPU seconds (the fastest of ``--repeat``) and the kernels torch ran.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from largelr.portable import check_pinned, pin_cpu_kernels, weights_digest  # noqa: E402 (torch-free)


def group_job(preset_name: str, dataset: str, model: str, max_iters: int | None) -> dict[str, Any]:
    """The train_group job of (dataset, model, sgd, none) in preset ``preset_name``, as common.smk builds it."""
    import yaml

    from largelr.config import cell_training, resolve_config, training_grid
    from largelr.training.recipes import train_settings

    preset = resolve_config(yaml.safe_load((REPO / "config.yaml").read_text()), REPO / "workflow" / "schemas")[
        preset_name]
    grid = training_grid(preset)
    rows = grid[(grid.dataset == dataset) & (grid.model == model) & (grid.recipe == "sgd")
                & (grid.intervention == "none")]
    if rows.empty:
        raise SystemExit(f"preset {preset_name!r} has no sgd group of ({dataset}, {model})")
    cells = [{**row, "lr": float(row["lr"]), "seed": int(row["seed"])} for row in rows.to_dict("records")]
    trainings = [cell_training(preset, cell) for cell in cells]
    if max_iters is not None:
        trainings = [{**training, "max_iters": max_iters} for training in trainings]
    return {
        "cells": cells,
        "dataset_spec": preset["datasets"][dataset],
        "data_root": preset["data_root"],
        "model_spec": preset["models"][model],
        "settings": [train_settings(cell, preset["recipes"]["sgd"], training)
                     for cell, training in zip(cells, trainings)],
        "engine": trainings[0]["engine"],
    }


def train_and_digest(job: dict[str, Any], root: Path) -> dict[str, Any]:
    """Build the dataset, train the group into ``root`` and digest every model.pt."""
    import torch

    from largelr.datasets import save_dataset
    from largelr.datasets.registry import build_dataset
    from largelr.training.runs import train_group

    save_dataset(build_dataset(job["dataset_spec"], data_root=job["data_root"], download=False), root / "data.npz")
    run_dirs = [root / f"run-{i}" for i in range(len(job["cells"]))]
    start, cpu_start = time.perf_counter(), time.process_time()
    records = train_group(root / "data.npz", run_dirs, job["cells"], job["model_spec"], job["settings"],
                          device="cpu", engine=job["engine"], checkpoint_dir=root)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    weights = {f"lr={cell['lr']},seed={cell['seed']}": torch.load(folder / "model.pt", map_location="cpu")
               for cell, folder in zip(job["cells"], run_dirs) if (folder / "model.pt").exists()}
    return {
        "digest": weights_digest(weights),
        "cells": [{"lr": c["lr"], "seed": c["seed"], "status": r["status"], "iterations": r["iterations"]}
                  for c, r in zip(job["cells"], records)],
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="ci")
    parser.add_argument("--dataset", default="parity")
    parser.add_argument("--model", default="fcn_parity")
    parser.add_argument("--max-iters", type=int, default=None, help="override training.max_iters")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (the rules' threads: 1)")
    parser.add_argument("--native", action="store_true", help="do not pin the CPU kernels")
    parser.add_argument("--repeat", type=int, default=1, help="train this many times; the fastest time")
    args = parser.parse_args(argv)
    why_not = "--native" if args.native else pin_cpu_kernels(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    job = group_job(args.preset, args.dataset, args.model, args.max_iters)
    results = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            results.append(train_and_digest(job, Path(folder)))
    if len({r["digest"] for r in results}) != 1:
        raise SystemExit(f"repeats gave different digests: {[r['digest'] for r in results]}")
    report = {"preset": args.preset, "dataset": args.dataset, "model": args.model, "max_iters": args.max_iters,
              "pinned": why_not is None, "not_pinned_because": why_not, **results[0],
              "seconds": min(r["seconds"] for r in results),
              "cpu_seconds": min(r["cpu_seconds"] for r in results),
              "kernels": check_pinned(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads()),
              "torch": torch.__version__}
    print(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
