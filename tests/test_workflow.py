"""The real Snakemake workflow on the `ci` preset, end to end, in a scratch directory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import run_snakemake, workflow_preset
from largelr.columns import GRID_COLUMNS as CELL
from largelr.config import resolve_preset, training_grid
from largelr.figures.kind import InputPaths
from largelr.figures.kinds import KINDS, figure_kind
from largelr.grid_selection import select_cells
from largelr.io import read_json


@pytest.fixture(scope="module")
def ci():
    return workflow_preset("ci")


@pytest.fixture(scope="module")
def ci_grid(ci):
    return training_grid(ci)


def figure_cells(spec, grid, name):
    """The grid rows whose file ``name`` a figure's kind asks for (``FigureKind.inputs``, given an
    InputPaths that records the selections), in grid order, each once."""
    asked = []

    def cells(file, selections):
        asked.extend(selections if file == name else [])
        return []

    paths = InputPaths(cells=cells, dataset=str, lr_filter=str, group=lambda file, *group: file)
    figure_kind(spec["kind"]).inputs(spec, grid, paths)
    rows = [select_cells(grid, selection) for selection in asked]
    return grid[grid.index.isin(pd.concat(rows).index)] if rows else grid.iloc[:0]


def cells_of(table):
    """The sorted (dataset, model, recipe, lr, intervention, seed) tuples of a table's rows."""
    return sorted(table[CELL].itertuples(index=False, name=None))


def cell_of_path(path):
    """The cell of a run or analysis file, from its ``key~value`` folders."""
    cell = dict(part.split("~", 1) for part in path.parent.parts if "~" in part)
    return cell["dataset"], cell["model"], cell["recipe"], float(cell["lr"]), cell["intervention"], int(cell["seed"])


def test_one_figure_target_requests_only_its_own_runs(tmp_path):
    result = run_snakemake(tmp_path, "-n", "results/ci/figures/fig03.pdf", "--config", "data_root=/nonexistent")
    assert result.returncode == 0, result.stderr
    dry_run = result.stdout
    assert "dataset~parity" in dry_run and "moon_star" not in dry_run
    assert "summarize" not in dry_run


@pytest.fixture(scope="module")
def ci_run(shared_data, tmp_path_factory):
    """The `ci` preset on the real MNIST / CIFAR-10 files of shared/data (nothing is downloaded)."""
    workdir = tmp_path_factory.mktemp("ci_workflow")
    result = run_snakemake(workdir, "--cores", "2", "--config", "preset=ci", f"data_root={shared_data}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


@pytest.mark.workflow
def test_ci_preset_builds_summary_with_one_row_per_cell(ci, ci_grid, ci_run):
    runs = pd.read_csv(ci_run / "results/ci/summary/runs.csv")
    assert cells_of(runs) == cells_of(ci_grid) and not runs[CELL].duplicated().any()  # each cell once
    assert set(runs["dataset"]) == {experiment["dataset"] for experiment in ci["experiments"]}
    finished = runs[runs["status"] != "diverged"]
    assert set(finished["status"]) <= {"converged", "max_iters", "stalled"}
    assert finished["test_acc"].between(0, 1).all() and finished["prunability"].notna().all()


@pytest.mark.workflow
def test_each_training_group_is_one_stacked_job_whose_files_the_run_folders_share(ci_grid, ci_run):
    runs = ci_run / "results/ci/runs/dataset~parity/model~fcn_parity/recipe~sgd"
    group = ci_run / "results/ci/training/dataset~parity/model~fcn_parity/recipe~sgd/intervention~none"
    manifest = read_json(group / "group.json")
    cells = select_cells(ci_grid, dataset="parity", model="fcn_parity", recipe="sgd", intervention="none")
    assert 50.0 in set(cells["lr"]) and cells["seed"].nunique() >= 2  # LRs x seeds and the diverging LR
    assert sorted((c["cell"]["lr"], c["cell"]["seed"]) for c in manifest["cells"]) == sorted(
        zip(cells["lr"], cells["seed"]))  # every cell of the group, in one job
    record = read_json(runs / "lr~0.5/intervention~none/seed~1/run.json")
    assert record["engine"] == {"kind": "stacked", "group_size": len(cells)}
    run_file, group_file = runs / "lr~0.5/intervention~none/seed~1/model.pt", group / "lr~0.5/seed~1/model.pt"
    assert run_file.stat().st_ino == group_file.stat().st_ino  # a hard link, not a second copy
    # the ResNet (batch norm) trains alone, through the single-model path
    resnet = read_json(ci_run / "results/ci/runs/dataset~colored_mnist/model~resnet18/recipe~sgd/lr~0.05"
                       "/intervention~none/seed~0/run.json")
    assert resnet["engine"] == {"kind": "single"}
    assert len(list((ci_run / "results/ci/logs/train").rglob("*.log"))) == len(
        list((ci_run / "results/ci/training").rglob("group.json")))


@pytest.mark.workflow
def test_diverging_learning_rate_is_recorded_and_the_dag_goes_on(ci_run):
    runs = pd.read_csv(ci_run / "results/ci/summary/runs.csv")
    diverged = runs[runs["lr"] == 50.0]
    assert list(diverged["status"]) == ["diverged"]
    assert diverged["test_acc"].isna().all()
    record = read_json(ci_run / "results/ci/runs/dataset~parity/model~fcn_parity/recipe~sgd/lr~50.0/intervention~none/seed~0/run.json")
    assert record["status"] == "diverged" and record["device"] == "cpu"
    assert record["versions"]["torch"].startswith("2.")
    decisions = pd.read_csv(ci_run / "results/ci/summary/lr_filter/parity.csv").set_index("lr")
    assert decisions.loc[50.0, "reason"].startswith("diverged") and not decisions.loc[50.0, "kept"]
    assert decisions.loc[0.05, "kept"]


@pytest.mark.workflow
def test_every_figure_of_the_ci_preset_is_a_real_pdf_and_png(shipped_config, ci_run):
    figures = resolve_preset(shipped_config, "ci")["figures"]  # catalogue entries merged in
    kinds = {spec.get("kind", "lr_sweep") for spec in figures.values()}
    # every figure kind but lr_drop (demo_full, paper) and training_curves (Fig 24 bottom: ci has no sgd_long
    # recipe; its drawing is also rule training_curves', which ci runs for every dataset) runs in CI
    assert kinds == set(KINDS) - {"lr_drop", "training_curves"}
    for figure in figures:
        pdf = (ci_run / f"results/ci/figures/{figure}.pdf").read_bytes()
        png = (ci_run / f"results/ci/figures/{figure}.png").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000
        assert png.startswith(b"\x89PNG") and len(png) > 5000
        assert (ci_run / f"results/ci/figures/{figure}.csv").exists()  # what it draws
        if figure not in ("fig03", "fig15"):
            continue
        ranges = pd.read_csv(ci_run / f"results/ci/figures/{figure}.csv")
        assert set(ranges["column"]) == set(figures[figure]["metrics"])  # one range row per drawn metric


@pytest.mark.workflow
def test_ranges_table_matches_summary(ci, ci_grid, ci_run):
    runs = pd.read_csv(ci_run / "results/ci/summary/runs.csv")
    # Fig 3 draws its kind's cells (the plain SGD cells: no intervention, no other recipe) of the kept LRs
    drawn = figure_cells(ci["figures"]["fig03"], ci_grid, "metrics.json")
    assert set(drawn["dataset"]) == {"parity"} and set(drawn["intervention"]) == {"none"} and set(drawn["recipe"]) == {"sgd"}
    assert drawn["lr"].nunique() >= 2
    parity = runs.merge(drawn[CELL], on=CELL)
    assert len(parity) == len(drawn)  # a summary row for every drawn cell
    parity = parity[parity["status"] != "diverged"]
    ranges = pd.read_csv(ci_run / "results/ci/figures/fig03.csv").set_index("column")
    means = parity.groupby("lr")["test_acc"].mean()
    assert ranges.loc["test_acc", "min"] == pytest.approx(means.min())
    assert ranges.loc["test_acc", "max"] == pytest.approx(means.max())


@pytest.mark.workflow
def test_finished_workflow_has_nothing_left_to_do(shared_data, ci_run):
    result = run_snakemake(ci_run, "-n", "--config", "preset=ci", f"data_root={shared_data}")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.workflow
def test_report_builds_with_the_figures(shared_data, ci_run):
    result = run_snakemake(ci_run, "--config", "preset=ci", f"data_root={shared_data}", "--report", "report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (ci_run / "report.html").read_text(errors="ignore")
    assert "fig03" in html and "runs.csv" in html and "Training curves" in html


@pytest.mark.workflow
def test_cnn_resnet_and_recipe_variant_cells_go_through_the_whole_pipeline(ci_run):
    runs = pd.read_csv(ci_run / "results/ci/summary/runs.csv")
    for model in ("cnn_small", "resnet18"):
        row = runs[runs["model"] == model].iloc[0]
        assert row["status"] in {"converged", "max_iters"} and 0 <= row["test_acc"] <= 1
        assert pd.notna(row["prunability"]) and pd.notna(row["csi"])
    assert runs[runs["model"] == "resnet18"]["iterations"].tolist() == [10]  # the experiment's training override
    assert "l2=0.001" in set(runs["intervention"])
    history = pd.read_csv(ci_run / "results/ci/runs/dataset~parity/model~fcn_parity/recipe~adam_wsd/lr~0.001"
                          "/intervention~none/seed~0/history.csv")
    # warmup over the first 150 of 1500 iterations: the first log row (iteration 100) is still warming up
    assert history["lr"].iloc[0] < 0.001 and history["lr"].max() == pytest.approx(0.001)


@pytest.mark.workflow
def test_table1_values_equal_min_max_recomputed_from_the_summary(ci_run):
    runs = pd.read_csv(ci_run / "results/ci/summary/runs.csv")
    table = pd.read_csv(ci_run / "results/ci/tables/table1.csv")
    row = table[(table["dataset"] == "moon_star")].iloc[0]
    moon = runs[(runs["dataset"] == "moon_star") & (runs["intervention"] == "none")]
    means = moon.groupby("lr")["prunability"].mean()
    assert row["prunability_min"] == pytest.approx(means.min()) and row["prunability_max"] == pytest.approx(means.max())
    assert row["test_acc_min_paper"] == pytest.approx(74.315)  # the paper's Moon-Star FCN row
    assert (ci_run / "results/ci/tables/table1.tex").read_text().count("\\begin{tabular}") == 1
    card = pd.read_csv(ci_run / "results/ci/tables/claims.csv")
    # "no claim": a reading the paper states nothing about (BSI per normalisation, dead-neuron choice)
    assert set(card["verdict"]) <= {"supported", "contradicted", "inconclusive", "inconclusive (under-trained)",
                                    "no claim"}
    assert {"parity", "moon_star"} <= set(card["dataset"])


@pytest.mark.workflow
def test_pruning_rule_writes_three_curves_starting_at_full_retention(ci, ci_grid, ci_run):
    paths = sorted((ci_run / "results/ci/analysis").rglob("pruning.json"))
    needed = pd.concat([figure_cells(spec, ci_grid, "pruning.json") for spec in ci["figures"].values()])
    assert set(needed["dataset"]) == {"moon_star"} and needed["lr"].nunique() >= 2  # Figs 15, 21, 25: moon-star
    assert sorted(map(cell_of_path, paths)) == cells_of(needed.drop_duplicates())  # only the runs the figures need
    curves = read_json(paths[0])
    for method in ("structured", "column", "global"):
        assert curves[method]["retention"][0] == pytest.approx(1.0)  # kappa = 0 prunes nothing
    assert 0 < curves["parameters"]["param_pq_index"] < 1


@pytest.mark.workflow
def test_table2_values_equal_min_max_recomputed_from_the_summary(ci_run):
    runs = pd.read_csv(ci_run / "results/ci/summary/runs.csv")
    l2 = runs[runs["intervention"].str.startswith("l2=")]
    table = pd.read_csv(ci_run / "results/ci/tables/table2.csv")
    row = table[(table["dataset"] == "parity") & (table["intervention_kind"] == "l2")].iloc[0]
    assert row["test_acc_min"] == pytest.approx(100 * l2["test_acc"].min())  # in %, as the paper
    assert row["test_acc_max"] == pytest.approx(100 * l2["test_acc"].max())
    assert row["intervention_min"] == pytest.approx(0.001) and row["intervention_max"] == pytest.approx(0.01)


@pytest.mark.workflow
def test_gallery_selects_samples_by_the_hard_sample_rule(ci_run):
    import numpy as np

    with np.load(ci_run / "results/ci/groups/dataset~colored_mnist/model~fcn_small/recipe~sgd/gallery.npz") as g:
        assert len(g["indices"]) == 4
        assert float(g["low_lr"]) == 0.01 and float(g["high_lr"]) == 0.1
        hard = g["is_hard"]
        assert np.all(g["frac_correct_high"][hard] > 0.75) and np.all(g["frac_correct_low"][hard] < 0.25)
        assert np.allclose(np.nansum(g["maps_high"].reshape(4, -1), axis=1), 1.0, atol=1e-3)


@pytest.mark.workflow
def test_dynamics_start_at_iteration_zero_and_follow_the_snapshots(ci_run):
    table = pd.read_csv(ci_run / "results/ci/analysis/dataset~parity/model~fcn_parity/recipe~sgd/lr~0.5/intervention~none"
                        "/seed~0/dynamics.csv")
    assert table["iteration"].iloc[0] == 0 and table["iteration"].is_monotonic_increasing
    shares = table[["core_attribution", "spurious_attribution", "noise_attribution"]].sum(axis=1)
    assert np.allclose(shares, 1.0, atol=1e-6)


@pytest.mark.workflow
def test_inventory_lists_every_paper_figure(ci_run):
    inventory = pd.read_csv(ci_run / "results/ci/figures/inventory.csv")
    assert list(inventory["figure"]) == list(range(1, 35))
    built = set(inventory.loc[inventory["built"], "figure"])
    # a figure is built when every panel is (issue 18 item 8): ci's Figs 9 (no focal-loss models),
    # 12, 21 (parity / moon-star, not the paper's datasets) and 28 (bottom only) are not
    assert {2, 3, 6, 14, 15, 25, 29} == built
    assert inventory.loc[~inventory["built"], "reason"].str.len().gt(0).all()


@pytest.mark.workflow
def test_progress_files_curves_and_tensorboard_follow_history(ci, ci_grid, ci_run):
    """Issue 28: each training job's progress file holds every log row of its cells once (as history.csv),
    the report's training curves are drawn per dataset, and `largelr tensorboard` reads back as history.csv."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from helpers import REPO
    from largelr import cli
    from largelr.monitor import preset_cells
    from largelr.progress_file import read_progress

    results = ci_run / "results/ci"
    for progress in (results / "training").rglob("*.progress.jsonl"):
        rows = read_progress(progress)
        for cell in {row["cell"] for row in rows}:
            history = pd.read_csv(progress.parent / cell / "history.csv")
            mine = [r for r in rows if r["cell"] == cell]
            logged = [r["iteration"] for r in mine if r["status"] != "diverged"]  # a diverged line has no log row
            assert logged == list(history["iteration"]) and len(mine) - len(logged) <= 1, progress
            status = read_json(progress.parent / cell / "run.json")["status"]
            assert mine[-1]["status"] == status
    for dataset in set(ci_grid["dataset"]):
        points = pd.read_csv(results / f"figures/curves/{dataset}.csv")
        assert set(points["metric"]) == {"train_loss", "test_acc"} and (points["seeds"] >= 1).all()
    assert cli.main(["tensorboard", "--preset", "ci", "--config", str(REPO / "config.yaml"),
                     "--results", str(ci_run / "results")]) == 0
    for cell in preset_cells(ci)[:3]:
        history = pd.read_csv(results / "runs" / cell.pattern / "history.csv")
        events = EventAccumulator(str(results / "tensorboard" / cell.pattern), size_guidance={"scalars": 0})
        events.Reload()
        got = [(e.step, np.float32(e.value)) for e in events.Scalars("test/unbiased_acc")]
        logged = history.dropna(subset=["test_acc"])
        assert got == [(int(i), np.float32(v)) for i, v in zip(logged["iteration"], logged["test_acc"])]
        assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
