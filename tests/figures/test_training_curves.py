"""Training curves (issue 28 item 4, Fig 24 bottom): per group and LR, the seeds' mean and range at
each iteration of real history.csv files; a seed that stopped no longer counts; the report's
per-dataset drawing and the kind training_curves share the drawing."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import TINY_FCN, tiny_parity, torch_threads

from largelr.config import resolve_config, training_grid
from largelr.figures.kind import FigureJob, InputPaths
from largelr.figures.kinds import figure_kind
from largelr.figures.training_curves import POINT_COLUMNS, read_histories
from largelr.training import runs
from largelr.training.protocol import TrainSettings

CELLS = [{"dataset": "parity", "model": "fcn", "recipe": "sgd", "lr": lr, "intervention": "none", "seed": seed}
         for lr in (0.05, 0.5) for seed in (0, 1)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("curves")
    tiny_parity(root)
    settings = [TrainSettings(lr=c["lr"], seed=c["seed"], batch_size=50, max_iters=300, eval_interval=20)
                for c in CELLS]
    dirs = [root / f"lr{c['lr']}-seed{c['seed']}" for c in CELLS]
    with torch_threads(1):
        runs.train_group(root / "parity.npz", dirs, CELLS, TINY_FCN, settings, device="cpu")
    return root, dirs


def test_points_are_the_seeds_mean_and_range(trained):
    root, dirs = trained
    job = FigureJob("fig24b", {"title": "curves"}, "ci", {"histories": [str(d / "history.csv") for d in dirs],
                    "runs": [str(d / "run.json") for d in dirs]}, str(root / "f.pdf"), str(root / "f.png"),
                    str(root / "f.csv"))
    figure_kind("training_curves").draw(job)
    assert (root / "f.png").read_bytes().startswith(b"\x89PNG") and (root / "f.pdf").stat().st_size > 1000
    points = pd.read_csv(root / "f.csv")
    assert list(points.columns) == POINT_COLUMNS
    histories = {(c["lr"], c["seed"]): pd.read_csv(d / "history.csv") for c, d in zip(CELLS, dirs)}
    for lr in (0.05, 0.5):
        for metric in ("train_loss", "test_acc"):
            mine = points[(points["lr"] == lr) & (points["metric"] == metric)].set_index("iteration")
            both = pd.concat([histories[(lr, s)].set_index("iteration")[metric] for s in (0, 1)], axis=1)
            assert list(mine.index) == sorted(both.index)  # every iteration a seed logged, once
            assert mine["mean"].to_numpy() == pytest.approx(both.mean(axis=1).to_numpy(), rel=1e-12)
            assert mine["low"].to_numpy() == pytest.approx(both.min(axis=1).to_numpy(), rel=1e-12)
            assert mine["high"].to_numpy() == pytest.approx(both.max(axis=1).to_numpy(), rel=1e-12)
            assert list(mine["seeds"]) == list(both.notna().sum(axis=1))  # a stopped seed no longer counts
    rows = read_histories([d / "history.csv" for d in dirs], [d / "run.json" for d in dirs])
    assert set(rows["status"]) <= {"converged", "max_iters"} and len(rows) == sum(map(len, histories.values()))


def test_fig24b_draws_the_sgd_long_runs(shipped_config):
    from largelr.reporting.inventory import builds_panel, paper_panels

    paths = InputPaths(cells=lambda name, sels: [f"{name}:{sorted(s.items())}" for s in sels], dataset=str,
                       lr_filter=str, group=lambda *a: "/".join(a))
    for preset in ("demo_full", "paper", "gpu"):
        resolved = resolve_config({**shipped_config, "preset": preset}, "workflow/schemas")[preset]
        spec = resolved["figures"]["fig24b"]
        files = figure_kind(spec["kind"]).inputs(spec, training_grid(resolved), paths)
        assert all("('recipe', 'sgd_long')" in f for f in files["histories"] + files["runs"])
        assert [f.split(":")[0] for f in files["histories"]] == ["history.csv"] * len(files["histories"])
        assert builds_panel(resolved, paper_panels(24)[1])  # the inventory counts Fig 24 bottom as built


def test_the_workflow_draws_every_datasets_curves_from_its_runs(shipped_config):
    """WorkflowPlan: the default target holds figures/curves/<dataset>.{pdf,png} for every dataset of the
    preset, and the rule's inputs are the history.csv and run.json of exactly that dataset's cells."""
    from types import SimpleNamespace

    from largelr.config import figure_kinds
    from largelr.workflow.inputs import WorkflowPlan

    presets = resolve_config({**shipped_config, "preset": "ci"}, "workflow/schemas")
    plan = WorkflowPlan(presets, figure_kinds(presets))
    grid = plan.grids["ci"]
    curves = [f for f in plan.final_outputs("ci") if "/figures/curves/" in f]
    assert sorted(curves) == sorted(f"results/ci/figures/curves/{d}{ext}" for d in set(grid["dataset"])
                                    for ext in (".pdf", ".png"))
    for dataset in set(grid["dataset"]):
        files = plan.curve_inputs(SimpleNamespace(preset="ci", dataset=dataset))
        cells = [f.removesuffix("/history.csv") for f in files["histories"]]
        assert cells == [f.removesuffix("/run.json") for f in files["runs"]]
        assert len(cells) == (grid["dataset"] == dataset).sum()
        assert all(f"/runs/dataset~{dataset}/" in cell for cell in cells)
