"""benchmarks/paper_cost.py (issue 17 item 6): the iteration rule, the stack cost model, the grid's
groups and engines, the calibration, and a real measured run; benchmarks/gpu_check.sh parses."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import pytest
import torch

from helpers import REPO, torch_threads
from largelr.config import training_grid
from largelr.training.models import build_model


@pytest.fixture(scope="module")
def cost():
    spec = importlib.util.spec_from_file_location("paper_cost", REPO / "benchmarks" / "paper_cost.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["paper_cost"] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def test_the_rule_reproduces_its_calibration_point_and_respects_the_cap(cost):
    # demo (issue 19): Colored MNIST FCN, LR 0.01, 3000 images, batch 100: 20 800 iterations
    assert cost.expected_iterations(0.01, 3000, 100, 60000, ("fcn", "sgd")) == 20800
    assert cost.expected_iterations(0.5, 3000, 100, 60000, ("fcn", "sgd")) == 416  # 208 / 0.5
    assert cost.expected_iterations(10.0, 3000, 100, 60000, ("fcn", "sgd")) == 300  # E_min = 10 epochs
    assert cost.expected_iterations(0.0001, 3000, 100, 60000, ("fcn", "sgd")) == 60000  # the cap
    assert cost.expected_iterations(0.5, 3000, 100, 7000, ("fcn", "sgd"), stop_loss=1e-5) == 7000


def test_the_rule_is_the_one_behind_the_runtime_requests(cost):
    """paper_cost.py and largelr.workflow.cost (train_group's runtime requests) expect the same iterations."""
    from largelr.workflow import cost as requests

    preset = cost.load_preset("gpu")
    groups = cost.preset_groups(preset, cost.CALIBRATION)
    grid = training_grid(preset)
    for group in groups:
        if group.settings[0].validation_fraction > 0:
            continue  # paper_cost.py counts the training part left after the hold-out; cost.py the whole split
        rows = grid[(grid["dataset"] == group.key[0]) & (grid["model"] == group.key[1])
                    & (grid["recipe"] == group.key[2]) & (grid["intervention"] == group.key[3])]
        assert group.iterations == [requests.expected_iterations(preset, row) for row in rows.to_dict("records")]


def test_a_stack_pays_for_the_models_still_training(cost):
    # two models stop at 100 and 300: 100 steps at size 2, 200 at size 1; a check every 100
    train, checks = cost.stack_seconds([300, 100], step=lambda m: float(m), check=lambda m: 10.0 * m,
                                       eval_interval=100)
    assert (train, checks) == (100 * 2 + 200 * 1, 1 * 20 + 2 * 10)


def test_curve_interpolates_and_extrapolates_the_measured_stack_sizes(cost):
    at = cost.curve({1: 1.0, 4: 2.5})
    assert at(1) == 1.0 and at(2) == pytest.approx(1.5) and at(8) == pytest.approx(4.5)
    assert cost.curve({1: 2.0})(3) == pytest.approx(6.0)  # one point: no gain assumed
    assert cost.curve({1: 1.0, 2: 0.5})(5) == 0.5  # never below the last measured size


def test_groups_cover_the_grid_and_only_this_engine_stacks_batch_norm_resnets(cost):
    preset = cost.load_preset("gpu")
    groups = cost.preset_groups(preset, cost.CALIBRATION)
    assert sum(len(g.iterations) for g in groups) == len(training_grid(preset))
    for group in groups:
        for stacks in (group.stacks_baseline, group.stacks_new):
            assert sorted(i for stack in stacks for i in stack) == list(range(len(group.iterations)))
    by_key = {g.key: g for g in groups}
    resnet = by_key[("colored_mnist", "resnet18", "sgd", "none")]
    cells = len(resnet.iterations)
    assert cells > 1 and [len(s) for s in resnet.stacks_baseline] == [1] * cells
    assert [len(s) for s in resnet.stacks_new] == [cells]
    fcn = by_key[("colored_mnist", "fcn", "sgd", "none")]
    assert [len(s) for s in fcn.stacks_baseline] == [len(s) for s in fcn.stacks_new] == [len(fcn.iterations)]
    on_cpu = {g.key: g for g in cost.preset_groups(preset, cost.CALIBRATION, "resnet18", torch.device("cpu"))}
    assert [len(s) for s in on_cpu[resnet.key].stacks_new] == [1] * cells  # stacks are slower there
    asam = by_key[("colored_mnist", "resnet18", "sgd+table2", "asam_rho=1")]
    assert [len(s) for s in asam.stacks_new] == [1, 1]  # ASAM needs two gradients per step: alone


def test_batch_norm_buffers_are_told_from_others(cost):
    assert cost.only_batch_norm_buffers(build_model({"arch": "torchvision", "name": "resnet18"}, (3, 32, 32), 10))
    assert not cost.only_batch_norm_buffers(build_model({"arch": "fcn", "width": 8, "depth": 1}, (4,), 2))


def test_calibration_refits_from_converged_runs_only(cost, tmp_path):
    def run(name, lr, iterations, status="converged"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({
            "cell": {"dataset": "colored_mnist", "lr": lr}, "status": status, "iterations": iterations,
            "model": {"arch": "torchvision", "name": "resnet18"},
            "settings": {"batch_size": 100, "optimizer": {"kind": "sgd"}}}))

    run("a", 0.1, 6000)  # S = 600, 10 epochs of 60 000
    run("b", 0.01, 30000)  # S = 300, 50 epochs
    run("c", 0.05, 12000)  # S = 600
    run("d", 0.001, 200000, status="max_iters")  # not finished: not used
    fitted, name = cost.calibrate(tmp_path)
    assert fitted[("resnet", "sgd")] == (600.0, 10.0)
    (tmp_path / "n_train.json").write_text(json.dumps({"colored_mnist": 6000}))  # runs on a subset
    assert cost.calibrate(tmp_path)[0][("resnet", "sgd")] == (600.0, 100.0)
    assert fitted[("fcn", "sgd")] == cost.CALIBRATION[("fcn", "sgd")]
    assert "resnet/sgd from 3 runs" in name


def test_a_measured_run_prints_both_engines_and_a_total_per_engine(cost, tmp_path, capsys):
    with torch_threads(1):
        results = cost.main(["--preset", "ci", "--device", "cpu", "--quick", "--only", "parity",
                             "--json", str(tmp_path / "cost.json")])
    out = capsys.readouterr().out
    assert "ci: " in out and " GPU-hours on CPU (1 thread) (baseline engine; CPU time: a ratio only)" in out
    assert "GPU-hours on CPU (1 thread) (this engine" in out and "ratio baseline / this engine" in out
    saved = json.loads((tmp_path / "cost.json").read_text())["ci"]
    assert saved["totals_hours"] == results["ci"]["totals_hours"]
    grid = training_grid(cost.load_preset("ci"))
    cells = int(grid["dataset"].str.contains("parity").sum())
    for rows in saved["tables"].values():
        assert sum(row["cells"] for row in rows) == cells
        assert all(row["hours"] > 0 and row["step_s"] > 0 for row in rows)
    assert torch.get_num_threads() >= 1


def test_gpu_check_script_parses():
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    result = subprocess.run([bash, "-n", str(REPO / "benchmarks" / "gpu_check.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dataset_sizes_on_the_device_follow_the_image_size_of_the_preset(cost):
    """Issue 26 item 2: CelebA at 224 px is 24.5 GB as uint8 (its training split), read from the
    preset's image_size; paper_cost's dataset table and the workflow's requests use these sizes."""
    from largelr.workflow.cost import data_memory_mb, dataset_bytes

    celeba = {"generator": "celeba", "params": {"image_size": 224}}
    assert dataset_bytes(celeba, "train") == 162770 * (3 * 224 * 224 + 16)
    assert round(dataset_bytes(celeba, "train") / 1e9, 1) == 24.5
    assert dataset_bytes(celeba, bytes_per_value=4) == 4 * dataset_bytes(celeba) - 3 * (162770 + 19962) * 16
    assert dataset_bytes({"generator": "celeba", "params": {"image_size": 64}}) * 224**2 // 64**2 > 0.99 * dataset_bytes(
        celeba)
    parity = {"generator": "parity", "params": {"n_train": 100, "n_test": 50, "core_bits": 3, "spurious_bits": 1,
                                                "noise_bits": 4}}
    assert dataset_bytes(parity) == 150 * (8 * 4 + 16)  # synthetic values stay float32
    assert data_memory_mb(celeba, "device", trains=True) == -(-1.25 * dataset_bytes(celeba) // 10**6)
    assert data_memory_mb(celeba, "device", trains=False) < data_memory_mb(celeba, "device", trains=True)
    paper = cost.load_preset("paper")
    paper["datasets"]["celeba"]["params"]["image_size"] = 224
    rows = {row["dataset"]: row for row in cost.dataset_memory(paper)}
    assert rows["celeba"]["shape"] == [3, 224, 224] and rows["celeba"]["device_bytes"] == dataset_bytes(
        paper["datasets"]["celeba"])
    assert rows["celeba"]["float32_bytes"] > 3.9 * rows["celeba"]["device_bytes"]


def test_the_timed_step_is_the_engines_own(cost, monkeypatch):
    """Issue 27 item 3: paper_cost times ``step_on`` of the engines' runs (no mirror copy): the callable
    it times is the engine's method, and a measurement of a ci group runs it, single and stacked."""
    from largelr.training import single, stacked

    group = cost.preset_groups(cost.load_preset("ci"), cost.CALIBRATION, "parity", torch.device("cpu"))[0]
    x, y = torch.rand(8, *group.shape), torch.randint(group.classes, (8,))
    models = [build_model(group.spec, group.shape, group.classes) for _ in range(2)]
    s = group.settings[0]
    assert cost.Timer.timed_step(models[:1], s, s.optimizer, x, y).__func__ is single._SingleRun.step_on
    assert cost.Timer.timed_step(models, s, s.optimizer, x, y).__func__ is stacked._StackedRun.step_on
    calls = {"single": 0, "stacked": 0}
    for name, engine in (("single", single._SingleRun), ("stacked", stacked._StackedRun)):
        def counted(self, *args, _real=engine.step_on, _name=name):
            calls[_name] += 1
            return _real(self, *args)

        monkeypatch.setattr(engine, "step_on", counted)
    timer = cost.Timer(torch.device("cpu"), steps=1, budget_s=0.0)
    with torch_threads(1):
        assert timer.step(group, 1, host_sync=True) > 0 and timer.step(group, 2, host_sync=False) > 0
    assert calls == {"single": 2, "stacked": 2}  # one warm-up step and one timed step each


def test_one_timed_step_moves_the_weights_as_the_engine_does(cost):
    """The timed single step is plain SGD at TIMING_LR on the batch's mean cross-entropy (§2), and the
    timed stacked step gives each model of the stack that same update."""
    spec, shape, classes = {"arch": "fcn", "width": 16, "depth": 2}, (6,), 3
    settings = cost.TrainSettings(lr=0.5, seed=0, batch_size=8, validation_fraction=0.2, select_best=True)
    generator = torch.Generator().manual_seed(1)
    x, y = torch.rand(8, *shape, generator=generator), torch.randint(classes, (8,), generator=generator)
    models = [build_model(spec, shape, classes) for _ in range(2)]
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    stack = cost.engine_run(models, settings, {"kind": "sgd"}, x, y)
    stack.step_on(x.expand(2, *x.shape), y.expand(2, 8), False)
    expected = []
    for model, state in zip(models, before):
        model.load_state_dict(state)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, list(model.parameters()))
        expected.append({name: p.detach() - cost.TIMING_LR * g
                         for (name, p), g in zip(model.named_parameters(), grads)})
    for row, model in enumerate(models):
        run = cost.engine_run([model], settings, {"kind": "sgd"}, x, y)
        logits, losses = run.step_on(x, y, True)
        assert losses.shape == (8,) and run.status is None
        stacked_state = stack.group.model_state(row)
        for name, value in model.state_dict().items():
            assert torch.allclose(value, expected[row][name], atol=1e-7, rtol=0)
            assert torch.allclose(stacked_state[name], value, atol=1e-6, rtol=1e-5)
