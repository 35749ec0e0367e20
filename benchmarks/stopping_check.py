"""The §4.2 stopping check ("every training sample classified correctly") at a log row:
the plain full-split evaluation vs the protocol's check (largelr.training.protocol), on model
states of a real training run, timed in the same process on the same device.

* **full split**: the whole training split in chunks of 2000 (``evaluate_loss_and_accuracy``;
  for a stack, :func:`~largelr.training.protocol.full_scan` over every model) — what every
  log row ran before;
* **check**: :func:`~largelr.training.protocol.train_values` as a log row without a due
  full-split evaluation runs it: the chunks that held an error at the previous row first,
  stop at the first chunk with an error (each model of a stack at its own); a model that
  passes gets the full-split evaluation as well (its final row), which is counted here.

States: a parity FCN (Fig 3's 3×200 network, ci bit counts, ``--n-train`` samples) trained
with the protocol, snapshots at every log row; for each chosen row the previous row's weights
prime the check's memory of errors, as in a run. The stack: ``--lrs`` trained together, each
chosen row's weights of every model. Wall-clock numbers are printed, never asserted.

    python benchmarks/stopping_check.py                       # CPU, 60 000 samples
    python benchmarks/stopping_check.py --device cuda --repeats 20
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from largelr.engine_facts import RunStatus
from largelr.datasets.synthetic import generate_parity
from largelr.training.protocol import TrainSettings
from largelr.training.single import evaluate_loss_and_accuracy, train
from largelr.engine_facts import EVAL_BATCH
from largelr.training.protocol import ErrorMemory, check_scan, full_scan, train_values
from largelr.training.runs import init_model, resolve_device, to_tensor_split
from largelr.training.stacked import train_stacked

SPEC = {"arch": "fcn", "width": 200, "depth": 3}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, repeats: int, device: torch.device) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _model(state: dict, device: torch.device) -> torch.nn.Module:
    model = init_model(DATA, SPEC, 0)
    model.load_state_dict(state)
    return model.to(device).eval()


def single_evaluator(state: dict, split, device: torch.device):
    """The single engine's chunk evaluator (``loop._SingleRun.evaluate_chunk``) for one model."""
    model, counter = _model(state, device), {"chunks": 0}

    def evaluate(rows, start, stop):
        counter["chunks"] += 1
        logits, y = model(split.x[start:stop]), split.y[start:stop]
        return F.cross_entropy(logits, y, reduction="sum").unsqueeze(0), (logits.argmax(dim=1) != y).unsqueeze(0)

    return evaluate, counter


def stack_evaluator(states: list[dict], split, device: torch.device):
    """The stacked engine's chunk evaluator over models with ``states`` (one shared input chunk)."""
    if len(states) == 1:
        return single_evaluator(states[0], split, device)
    models = [_model(state, device) for state in states]
    params, _ = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    forward = vmap(lambda p, x: functional_call(base, p, (x,)), in_dims=(0, None))
    counter = {"chunks": 0}

    def evaluate(rows, start, stop):
        counter["chunks"] += len(rows)
        subset = params if len(rows) == len(states) else {k: v[rows] for k, v in params.items()}
        logits = forward(subset, split.x[start:stop])
        y = split.y[start:stop]
        losses = F.cross_entropy(logits.flatten(0, 1), y.repeat(len(rows)), reduction="none")
        return losses.view(len(rows), -1).sum(-1), logits.argmax(dim=-1) != y

    return evaluate, counter


def measure(states_now: list[dict], states_before: list[dict], split, device, repeats: int) -> dict:
    """Full split vs check for the stack of ``states_now``; the memory primed by ``states_before``."""
    n, chunk = len(split), (EVAL_BATCH if len(states_now) == 1 else max(100, EVAL_BATCH // len(states_now)))
    evaluate, counter = stack_evaluator(states_now, split, device)
    before, _ = stack_evaluator(states_before, split, device)
    primed = ErrorMemory(len(states_now), n, device)
    check_scan(before, n, chunk, primed)  # the previous row's check
    with torch.no_grad():
        if len(states_now) == 1:  # the single engine's plain evaluation
            model = _model(states_now[0], device)
            baseline = _timed(lambda: evaluate_loss_and_accuracy(model, split), repeats, device)
        else:
            baseline = _timed(lambda: full_scan(evaluate, n, chunk, ErrorMemory(len(states_now), n, device)),
                              repeats, device)
        counter["chunks"] = 0
        values = train_values(evaluate, n, chunk, copy.deepcopy(primed), full=False)
        model_chunks = counter["chunks"]
        ours = _timed(lambda: train_values(evaluate, n, chunk, copy.deepcopy(primed), full=False), repeats, device)
        _, accuracies = full_scan(evaluate, n, chunk, ErrorMemory(len(states_now), n, device))
    total_chunks = len(states_now) * -(-n // chunk)
    return {"baseline": baseline, "check": ours, "accuracies": accuracies, "passed": values[1][0] is not None,
            "model_chunks": model_chunks, "total_chunks": total_chunks}


def _report(label: str, result: dict) -> None:
    accuracy = " ".join(f"{a:.4f}" for a in result["accuracies"])
    print(f"  {label:<26} acc {accuracy:<42} full {1e3 * result['baseline']:8.2f} ms   check "
          f"{1e3 * result['check']:8.2f} ms   ratio {result['baseline'] / result['check']:6.1f}x   "
          f"model-chunks {result['model_chunks']}/{result['total_chunks']}"
          f"{'  (passed: + full split)' if result['passed'] else ''}")


def chosen_rows(history: list[dict], targets=(0.9, 0.99, 0.999)) -> list[int]:
    """Log-row iterations: the first row, the first at or above each target accuracy, the last."""
    accuracies = [(row["iteration"], row["train_acc"]) for row in history]
    rows = [accuracies[0][0]]
    for target in targets:
        rows += [next((i for i, a in accuracies if a >= target), None)]
    rows.append(accuracies[-1][0])
    return sorted({r for r in rows if r is not None})


def main() -> None:
    global DATA
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.1, 0.3, 0.5, 1.0, 2.0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    DATA = generate_parity(seed=0, n_train=args.n_train, n_test=2000, core_bits=6, spurious_bits=2, noise_bits=12)
    train_split, test_split = to_tensor_split(DATA, "train", device), to_tensor_split(DATA, "test", device)
    settings = [TrainSettings(lr=lr, seed=seed, max_iters=5000, eval_interval=100, snapshot_interval=100,
                              train_eval_interval=0) for seed, lr in enumerate(args.lrs)]
    print(f"parity FCN 3x200, {args.n_train} training samples, device {device}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats}")
    single = train(init_model(DATA, SPEC, 0).to(device), train_split, test_split, settings[2])
    print(f"\nsingle model (lr {settings[2].lr}: {single.status} at {single.iterations}), chunks of {EVAL_BATCH}")
    for iteration in chosen_rows(single.history):
        before = single.snapshots[max(iteration - 100, 0)]
        _report(f"iteration {iteration}", measure([single.snapshots[iteration]], [before], train_split, device,
                                                  args.repeats))
    outcomes = train_stacked([init_model(DATA, SPEC, s.seed) for s in settings], train_split, test_split, settings)
    print(f"\nstack of {len(settings)} (lrs {args.lrs}; {[(o.result.status, o.result.iterations) for o in outcomes]})")
    outcomes = [o for o in outcomes if o.result.status != RunStatus.DIVERGED]
    last = min(o.result.iterations for o in outcomes) // 100 * 100
    for iteration in sorted({100, last // 2 // 100 * 100, last - 100, last} - {0}):
        now = [o.result.snapshots[iteration] for o in outcomes]
        before = [o.result.snapshots[max(iteration - 100, 0)] for o in outcomes]
        _report(f"iteration {iteration}", measure(now, before, train_split, device, args.repeats))


DATA = None

if __name__ == "__main__":
    main()
