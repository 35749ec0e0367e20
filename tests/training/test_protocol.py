"""The shared protocol (largelr.training.protocol): the cheap stopping check stops where the
full-split check of every row does, the device-side divergence test stops where the per-step
host test does (same iteration, same weights), and the data order is the per-epoch
permutation, for the single and the stacked engine.

The ``reference=True`` mode of both engines is the protocol as it was before the cheap check
and the device-side test: a host read of every step's loss and a full-split evaluation at
every log row. (On a ci-like parity group, 1500 iterations, five LRs of which three diverge,
one at a log-row iteration, the new code gave bit-identical statuses, iterations, weights,
snapshots and rows to the commit before it, single and stacked.)"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch.func import functional_call, stack_module_state, vmap

from largelr.datasets.synthetic import generate_parity
from largelr import engine_facts
from largelr.training import single, stacked
from largelr.training.protocol import CONVERGED, DIVERGED, MAX_ITERS, TrainSettings
from largelr.training.single import evaluate_loss_and_accuracy, train
from largelr.training.models import build_model
from largelr.training.protocol import (
    BatchSampler,
    DivergenceWatch,
    ErrorMemory,
    StackedSampler,
    check_scan,
    diverging,
    full_scan,
)
from largelr.training.runs import _history_csv, init_model, to_tensor_split
from largelr.training.stacked import train_stacked

FCN = {"arch": "fcn", "width": 32, "depth": 2}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def parity():
    return generate_parity(seed=0, n_train=600, n_test=300, core_bits=3, spurious_bits=1, noise_bits=4)


@pytest.fixture
def small_chunks(monkeypatch):
    """Evaluation chunks of 64 samples (single) / 100 (stacked), so the 600 training samples span
    several chunks and the check really stops early."""
    monkeypatch.setattr(engine_facts, "EVAL_BATCH", 64)  # one fact, one module (issue 27)


def _splits(dataset):
    return to_tensor_split(dataset, "train", CPU), to_tensor_split(dataset, "test", CPU)


def _single(dataset, settings, **kwargs):
    model = init_model(dataset, FCN, settings.seed)
    return train(model, *_splits(dataset), settings, **kwargs), model.state_dict()


def _assert_same_rows(fast_history, reference_history):
    """Every column equal; train_ce / train_acc equal wherever the fast run evaluated them."""
    assert len(fast_history) == len(reference_history)
    for fast, ref in zip(fast_history, reference_history):
        for column, value in ref.items():
            if column in ("train_ce", "train_acc") and fast[column] is None:
                continue
            assert fast[column] == value or (value != value and fast[column] != fast[column]), (column, fast, ref)


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# lr 0.01: capped; 0.3 / 0.6 / 1.0: converge at iterations 400 / 180 / 110; 60: diverges
CELLS = [(0.01, 0), (0.3, 1), (0.6, 2), (1.0, 2), (60.0, 1)]


def test_single_run_stops_where_the_full_split_check_does(parity, small_chunks, one_torch_thread):
    statuses = set()
    for lr, seed in CELLS:
        settings = TrainSettings(lr=lr, seed=seed, batch_size=50, max_iters=400, eval_interval=10)
        (fast, fast_state), (ref, ref_state) = _single(parity, settings), _single(parity, settings, reference=True)
        assert (fast.status, fast.iterations) == (ref.status, ref.iterations), lr
        _assert_same_weights(fast_state, ref_state)
        _assert_same_rows(fast.history, ref.history)
        assert all(row["train_acc"] is not None for row in ref.history)
        if fast.status != DIVERGED:  # the final row holds the full-split values
            assert fast.history[-1]["train_acc"] == ref.history[-1]["train_acc"]
        statuses.add(fast.status)
    assert statuses == {MAX_ITERS, CONVERGED, DIVERGED}


def test_stacked_run_stops_where_the_full_split_check_does(parity, small_chunks, one_torch_thread):
    settings = [TrainSettings(lr=lr, seed=seed, batch_size=50, max_iters=400, eval_interval=10) for lr, seed in CELLS]

    def group(**kwargs):
        return train_stacked([init_model(parity, FCN, s.seed) for s in settings], *_splits(parity), settings, **kwargs)

    fast, ref = group(), group(reference=True)
    iterations = set()
    for a, b in zip(fast, ref):
        assert (a.result.status, a.result.iterations) == (b.result.status, b.result.iterations)
        _assert_same_weights(a.state, b.state)
        _assert_same_rows(a.result.history, b.result.history)
        iterations.add(a.result.iterations)
    assert {o.result.status for o in fast} == {MAX_ITERS, CONVERGED, DIVERGED} and len(iterations) >= 4
    assert any(row["train_acc"] is None for o in fast for row in o.result.history)  # the check did the work


@pytest.mark.parametrize("engine", ["single", "stacked"])
def test_device_divergence_test_stops_at_the_per_step_iteration(parity, one_torch_thread, engine):
    """The divergence iteration d of a reference run, with log rows at d, d ± 1 and every step."""
    base = TrainSettings(lr=20.0, seed=0, batch_size=50, max_iters=60, eval_interval=1000)
    first, _ = _single(parity, base, reference=True)
    assert first.status == DIVERGED and first.iterations > 2
    d = first.iterations
    for interval in (1, d - 1, d, d + 1):
        settings = dataclasses.replace(base, eval_interval=interval)
        if engine == "single":
            runs = [_single(parity, settings, reference=reference) for reference in (False, True)]
        else:  # a healthy model next to the diverging one
            cells = [settings, dataclasses.replace(settings, lr=0.1, seed=1)]
            runs = [[(o.result, o.state) for o in train_stacked([init_model(parity, FCN, s.seed) for s in cells],
                                                                *_splits(parity), cells, reference=reference)][0]
                    for reference in (False, True)]
        (fast, fast_state), (ref, ref_state) = runs
        assert (fast.status, fast.iterations) == (ref.status, ref.iterations) == (DIVERGED, d), interval
        _assert_same_weights(fast_state, ref_state)  # the weights before the diverging step
        _assert_same_rows(fast.history, ref.history)


def test_full_split_values_follow_train_eval_interval_final_and_snapshot_rows(parity, one_torch_thread):
    settings = TrainSettings(lr=0.001, seed=0, batch_size=50, max_iters=95, eval_interval=10,
                             train_eval_interval=40, snapshot_interval=30)
    result, _ = _single(parity, settings)
    evaluated = [row["iteration"] for row in result.history if row["train_acc"] is not None]
    assert evaluated == [30, 40, 60, 80, 90, 95]  # 40 / 80: the interval; 30 / 60 / 90: snapshots; 95: final
    stall = dataclasses.replace(settings, stall_window=3, stall_min_gain=0.0, stall_min_loss_drop=0.0)
    assert all(row["train_acc"] is not None for row in _single(parity, stall)[0].history)  # the stall rule reads every row
    stop_loss = dataclasses.replace(settings, stop_loss=1e-9)
    assert all(row["train_ce"] is not None for row in _single(parity, stop_loss)[0].history)
    csv = _history_csv(result.history).splitlines()
    assert csv[1].split(",")[6:8] == ["", ""]  # the iteration-10 row: train_ce, train_acc left empty


# ---- the check itself -------------------------------------------------------------------------


def _fake_evaluator(wrong: torch.Tensor, calls: list):
    """A chunk evaluator over known per-model misclassification masks ``wrong`` [M, n]."""

    def evaluate(rows, start, stop):
        calls.append((rows.tolist(), start))
        return wrong[rows, start:stop].float().sum(-1), wrong[rows, start:stop]

    return evaluate


def test_check_scan_goes_to_remembered_errors_first_and_each_model_leaves_at_its_first_error():
    n, chunk = 50, 10
    wrong = torch.zeros(3, n, dtype=torch.bool)
    wrong[0, 33] = True  # model 0: one error, in chunk 3
    wrong[1, 5] = wrong[1, 47] = True  # model 1: chunks 0 and 4
    memory, calls = ErrorMemory(3, n, CPU), []
    assert check_scan(_fake_evaluator(wrong, calls), n, chunk, memory) == [False, False, True]
    assert calls == [([0, 1, 2], 0), ([0, 2], 10), ([0, 2], 20), ([0, 2], 30), ([2], 40)]
    calls.clear()  # the second check starts with the chunks that held an error: 0 and 3
    assert check_scan(_fake_evaluator(wrong, calls), n, chunk, memory) == [False, False, True]
    assert calls[:2] == [([0, 1, 2], 0), ([0, 2], 30)]
    wrong[:] = False  # everything right now: every chunk is evaluated, every model passes
    calls.clear()
    assert check_scan(_fake_evaluator(wrong, calls), n, chunk, memory) == [True, True, True]
    assert sorted(start for _, start in calls) == [0, 10, 20, 30, 40]


@pytest.mark.parametrize("seed", range(5))
def test_check_scan_agrees_with_the_full_scan_on_random_error_patterns(seed):
    generator = torch.Generator().manual_seed(seed)
    n, chunk = 97, 8
    wrong = torch.rand(4, n, generator=generator) < torch.tensor([[0.0], [0.002], [0.02], [0.3]])
    memory = ErrorMemory(4, n, CPU)
    for _ in range(3):  # with and without remembered errors
        passed = check_scan(_fake_evaluator(wrong, []), n, chunk, memory)
        _, accuracies = full_scan(_fake_evaluator(wrong, []), n, chunk, ErrorMemory(4, n, CPU))
        assert passed == [accuracy == 1.0 for accuracy in accuracies]
        wrong = wrong[:, torch.randperm(n, generator=generator)]


def test_full_scan_equals_the_plain_evaluation_bit_for_bit(parity):
    model = init_model(parity, FCN, 0).eval()
    split = to_tensor_split(parity, "train", CPU)

    def evaluate(rows, start, stop):
        logits = model(split.x[start:stop])
        loss = torch.nn.functional.cross_entropy(logits, split.y[start:stop], reduction="sum")
        return loss.unsqueeze(0), (logits.argmax(1) != split.y[start:stop]).unsqueeze(0)

    (loss,), (accuracy,) = full_scan(evaluate, len(split), 64, ErrorMemory(1, len(split), CPU))
    assert (loss, accuracy) == evaluate_loss_and_accuracy(model, split, batch_size=64)


def test_a_models_logits_do_not_depend_on_the_other_models_in_the_stack():
    """What makes the stacked check (models leave at their own first error) exact: a model's
    logits from the vmapped forward are the same bits whichever models share the stack."""
    for spec, shape in [(FCN, (8,)), ({"arch": "cnn", "width_multiplier": 0.0625}, (1, 4, 4))]:
        models = []
        for seed in range(5):
            torch.manual_seed(seed)
            models.append(build_model(spec, shape, 2))
        params, _ = stack_module_state(models)
        base = copy.deepcopy(models[0]).to("meta")
        forward = vmap(lambda p, x: functional_call(base, p, (x,)), in_dims=(0, None))
        x = torch.randn(150, *shape)
        with torch.no_grad():
            full = forward(params, x)
            for rows in ([0], [1, 3], [0, 2, 3, 4]):
                assert torch.equal(forward({k: v[rows] for k, v in params.items()}, x), full[rows]), (spec, rows)


# ---- data order and the divergence watch ----------------------------------------------------


def _old_order(n, batch_size, seed, steps):
    """The data order before the permutation moved to the device: a CPU slice per step."""
    generator = torch.Generator().manual_seed(seed)
    permutation, position, batches = torch.randperm(n, generator=generator), 0, []
    for _ in range(steps):
        if position + batch_size > n:
            permutation, position = torch.randperm(n, generator=generator), 0
        batches.append(permutation[position : position + batch_size])
        position += batch_size
    return batches


def test_samplers_keep_the_per_epoch_permutation_order():
    expected = [_old_order(103, 10, seed, 35) for seed in (0, 1, 2)]  # 10 batches an epoch, ragged tail of 3
    single = BatchSampler(103, 10, 0, CPU)
    assert all(torch.equal(single.next_indices(), batch) for batch in expected[0])
    samplers = [BatchSampler(103, 10, seed) for seed in (0, 1, 2)]
    stack = StackedSampler(samplers, CPU)
    for step in range(35):
        active = [0, 1, 2] if step < 20 else [0, 2]  # model 1 stops after 20 steps
        rows = stack.next_rows(active)
        assert all(torch.equal(rows[r], expected[m][step]) for r, m in enumerate(active))
    resumed = BatchSampler(103, 10, 0, CPU)
    resumed.load_state_dict(samplers[0].state_dict())
    stack_again = StackedSampler([resumed], CPU)
    assert torch.equal(stack_again.next_rows([0])[0], _old_order(103, 10, 0, 36)[35])


def test_divergence_watch_keeps_the_first_failing_iteration_per_model():
    watch = DivergenceWatch(2, CPU, threshold=100.0)
    watch.observe(torch.tensor([1.0, 2.0]), 0)
    assert not watch.tripped()
    watch.observe(torch.tensor([float("nan"), 3.0]), 1)
    watch.observe(torch.tensor([1.0, float("inf")]), 2)
    watch.observe(torch.tensor([500.0, 500.0]), 3)
    assert watch.tripped() and watch.first.tolist() == [1, 2]
    # the comparison is the host test's (float64): a float32 loss of 10000 is above 9999.9999
    settings = TrainSettings(lr=0.1, seed=0, divergence_loss=9999.9999)
    watch = DivergenceWatch(1, CPU, settings.divergence_loss)
    watch.observe(torch.tensor(10000.0), 7)
    assert diverging(float(torch.tensor(10000.0)), settings) and watch.first.tolist() == [7]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host synchronisations are a CUDA matter")
def test_fast_steps_do_not_synchronise_with_the_host(parity):
    cuda = torch.device("cuda")
    train_split, test_split = (to_tensor_split(parity, name, cuda) for name in ("train", "test"))
    settings = TrainSettings(lr=0.1, seed=0, batch_size=50, max_iters=100, eval_interval=50)
    run = single._SingleRun(init_model(parity, FCN, 0).to(cuda), train_split, test_split, settings, None, False)
    group = stacked._StackedRun([init_model(parity, FCN, s) for s in (0, 1)], train_split, test_split,
                                [settings, dataclasses.replace(settings, seed=1)], None, None, False)
    for engine in (run, group):
        engine.step(sync=False)  # the first step builds the device permutation
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(5):
                engine.step(sync=False)
        finally:
            torch.cuda.set_sync_debug_mode("default")


def test_ci_parity_group_is_bit_identical_to_the_reference_protocol(one_torch_thread):
    """The ci preset's parity experiment (FCN 3×200, 2000 samples, 1500 iterations, snapshots
    every 500) plus LR 2.0, which diverges (at iteration 800 on one CPU, 1133 on another: the iteration
    depends on the machine's floating point, not on the protocol): stacked, both protocols."""
    data = generate_parity(seed=0, n_train=2000, n_test=2000, core_bits=6, spurious_bits=2, noise_bits=12)
    spec = {"arch": "fcn", "width": 200, "depth": 3}
    settings = [TrainSettings(lr=lr, seed=seed, max_iters=1500, eval_interval=100, checkpoint_interval=500,
                              test_eval_samples=500, snapshot_interval=500)
                for lr, seed in ((0.05, 0), (0.5, 1), (2.0, 0))]

    def group(reference):
        models = [init_model(data, spec, s.seed) for s in settings]
        return train_stacked(models, *_splits(data), settings, reference=reference)

    fast, ref = group(False), group(True)
    for a, b in zip(fast, ref):
        assert (a.result.status, a.result.iterations) == (b.result.status, b.result.iterations)
        _assert_same_weights(a.state, b.state)
        assert sorted(a.result.snapshots) == sorted(b.result.snapshots)
        for iteration, state in a.result.snapshots.items():
            _assert_same_weights(state, b.result.snapshots[iteration])
        _assert_same_rows(a.result.history, b.result.history)
    assert [o.result.status for o in fast] == [MAX_ITERS, CONVERGED, DIVERGED]
