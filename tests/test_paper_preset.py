"""The `paper` preset runs what the paper ran (issue 10, items 4-8): models, recipes, figures."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from helpers import workflow_preset
from largelr.config import cell_training, figure_datasets, resolve_config, resolve_preset, training_grid
from largelr.figures.kind import InputPaths
from largelr.figures.kinds import figure_kind
from largelr.grid_selection import select_cells
from largelr.training.models import input_stem
from largelr.training.optim import schedule_length
from largelr.reporting.tables import PAPER_DATASETS, paper_table


@pytest.fixture
def paper(shipped_config):
    return resolve_preset(shipped_config, "paper")


@pytest.fixture(scope="module")
def resolved():
    return workflow_preset("paper")


@pytest.fixture(scope="module")
def grid(resolved):
    return training_grid(resolved)


def _experiments(paper, **match):
    return [e for e in paper["experiments"] if all(e.get(k) == v for k, v in match.items())]


def _figure_selections(spec, grid, name=None):
    """The cell selections the figure's kind asks the workflow for (``FigureKind.inputs``, given an
    InputPaths that records them; only those of file ``name`` if given). A group file (galleries)
    stands for every plain run of its group, as ``group_inputs`` in common.smk reads them."""
    asked = []

    def cells(file, selections):
        asked.extend(selections if name in (None, file) else [])
        return []

    def group(file, dataset, model, recipe):
        asked.append({"dataset": dataset, "model": model, "recipe": recipe, "intervention": "none"})
        return file

    figure_kind(spec["kind"]).inputs(spec, grid, InputPaths(cells=cells, dataset=str, lr_filter=str, group=group))
    return asked


def _figure_cells(spec, grid, name=None):
    """The grid rows a figure draws (its kind's selections), in grid order, each once."""
    rows = [select_cells(grid, selection) for selection in _figure_selections(spec, grid, name)]
    return grid[grid.index.isin(pd.concat(rows).index)] if rows else grid.iloc[:0]


# ---- item 4: Fig 6 / Table 2 with ResNet18 over Table 2's LR rows -----------------------------

def test_fig06_interventions_use_resnet18_over_table2_lr_rows(resolved, grid):
    spec = resolved["figures"]["fig06"]
    assert spec["model"] == "resnet18"
    table2 = paper_table("table2").set_index(["dataset", "intervention_kind"])
    cells = _figure_cells(spec, grid)
    assert set(cells["model"]) == {"resnet18"} and set(cells["dataset"]) == set(figure_datasets(spec))
    for dataset in figure_datasets(spec):
        ours = cells[cells["dataset"] == dataset]
        lr_row = table2.loc[(PAPER_DATASETS[dataset], "lr")]
        plain = ours[ours["intervention"] == "none"]["lr"]
        assert (plain.min(), plain.max()) == (lr_row["intervention_min"], lr_row["intervention_max"])
        varied = ours[ours["intervention"] != "none"]
        assert set(varied["lr"]) == {lr_row["intervention_min"], lr_row["intervention_max"]}  # base LR, high LR + L2
        high = varied[varied["lr"] == lr_row["intervention_max"]]["intervention"].str.removeprefix("l2=").astype(float)
        l2_row = table2.loc[(PAPER_DATASETS[dataset], "high_lr_l2")]
        assert (high.min(), high.max()) == (l2_row["intervention_min"], l2_row["intervention_max"])


# ---- item 5: Swin-T on CelebA: AdamW from local ImageNet-1k weights, batch 16 -------------------

def test_swin_t_trains_with_adamw_from_local_pretrained_weights_at_batch_16(paper):
    (celeba,) = _experiments(paper, dataset="celeba")
    model, recipe = paper["models"][celeba["model"]], paper["recipes"][celeba["recipe"]]
    assert model["name"] == "swin_t" and model["pretrained"] is True and model["pretrained_path"].endswith(".pth")
    assert recipe["kind"] == "adamw" and "schedule" not in recipe  # §4.2: constant LR
    assert celeba["training"]["batch_size"] == 16
    (birds,) = _experiments(paper, dataset="waterbirds")
    assert birds["training"]["batch_size"] == 16
    for name in ("fig07", "fig07b", "fig32"):
        assert paper["figures"][name]["recipe"] == celeba["recipe"]


# ---- item 6: stock torchvision ResNets ----------------------------------------------------------

def test_paper_resnets_use_the_stock_torchvision_stem_and_ci_keeps_its_choice(paper, shipped_config):
    resnets = {n: s for n, s in paper["models"].items() if s.get("name", "").startswith(("resnet", "wide_resnet"))}
    assert set(resnets) == {"resnet18", "resnet50", "wide_resnet101_2"}
    for spec in resnets.values():
        assert spec["small_input"] is False and input_stem(spec) == "torchvision"
    ci = resolve_preset(shipped_config, "ci")
    assert ci["models"]["resnet18"]["small_input"] is False


# ---- item 7: figures that were empty or differed from the paper's -------------------------------

def test_every_paper_figure_selects_existing_cells(resolved, grid):
    for name, spec in resolved["figures"].items():
        cells = _figure_cells(spec, grid)
        if spec["kind"] == "dataset_examples":  # draws the generated datasets, no run
            assert not _figure_selections(spec, grid), name
        else:  # every dataset of the figure has runs to draw
            assert set(cells["dataset"]) == set(figure_datasets(spec)), name


@pytest.mark.parametrize("figure, lrs", [("fig03b", None), ("fig13", [0.001, 0.1])])
def test_dynamics_figures_draw_cells_that_save_snapshots(paper, resolved, grid, figure, lrs):
    spec = resolved["figures"][figure]
    assert spec.get("lrs") == lrs
    selections = _figure_selections(spec, grid, "dynamics.csv")
    assert {(s["dataset"], s["model"]) for s in selections} == {  # each (dataset, model) of the figure
        (d, m) for d, m, o in zip(grid["dataset"], grid["model"], grid["recipe"])
        if d in figure_datasets(spec) and o == spec["recipe"] and spec.get("model", m) == m}
    for selection in selections:
        plain = select_cells(grid, dataset=selection["dataset"], model=selection["model"], intervention="none",
                             recipe=spec["recipe"])
        # the spec's LRs, else the lowest and highest LR of the (dataset, model)
        assert selection["lr"] == (lrs or [plain["lr"].min(), plain["lr"].max()]), selection
        rows = select_cells(grid, selection)
        assert set(rows["lr"]) == set(selection["lr"]), selection  # every chosen LR is trained
        for row in rows.to_dict("records"):
            assert cell_training(paper, row).get("snapshot_interval", 0) > 0, row


def test_fig08_has_its_mnist_cifar_panel_with_ten_seeds_at_low_and_high_lr(resolved, grid):
    spec = resolved["figures"]["fig08"]
    assert figure_datasets(spec)[0] == "mnist_cifar"
    rows = _figure_cells(spec, grid)
    rows = rows[rows["dataset"] == "mnist_cifar"]
    for lr in (rows["lr"].min(), rows["lr"].max()):
        assert rows[rows["lr"] == lr]["seed"].nunique() == 10


def test_fig11_imagenet_resnet18_is_in_the_paper_preset(paper, resolved, grid):
    assert paper["datasets"]["imagenet"]["generator"] == "imagenet"
    kinds = {spec.get("kind", "lr_sweep") for name, spec in paper["figures"].items() if name.startswith("fig11")}
    assert kinds == {"lr_sweep", "attribution_gallery"}  # "model statistics and attributions"
    cells = _figure_cells(resolved["figures"]["fig11"], grid)
    assert set(cells["model"]) == {"resnet18"} and cells["lr"].nunique() >= 2


# ---- item 8: schedules with an explicit length --------------------------------------------------

def test_scheduled_recipes_have_an_explicit_length_below_the_cap(shipped_config, paper, repo):
    resolve_config(shipped_config, repo / "workflow" / "schemas")  # the schema knows schedule.iterations and the imagenet generator
    for name in ("psgd_wsd", "adamw_cosine"):
        schedule = paper["recipes"][name]["schedule"]
        (experiment,) = _experiments(paper, recipe=name)
        cap = {**paper["training"], **experiment.get("training", {})}["max_iters"]
        length = schedule_length(schedule, paper["training"]["max_iters"])
        assert schedule["iterations"] == length < paper["training"]["max_iters"] and cap >= length


# ---- issue 18 items 5, 6: the CIFAR-based FCN panels, 10-seed galleries --------------------------

@pytest.mark.parametrize("figure", ["fig04", "fig05", "fig16", "fig17"])
def test_figures_4_5_16_17_draw_the_fcn_panels_of_the_cifar_based_datasets(paper, resolved, grid, figure):
    """Table 1's FCN cells of MNIST-CIFAR / Corrupted CIFAR-10 train under *_fcn (rho = 0.25, §4.1)."""
    spec = resolved["figures"][figure]
    cells = _figure_cells(spec, grid)
    generators = {"mnist_cifar", "corrupted_cifar10"} if figure != "fig16" else {"corrupted_cifar10"}
    for generator in generators:
        ours = cells[cells["dataset"].map(lambda d: paper["datasets"][d]["generator"]) == generator]
        archs = {paper["models"][m]["arch"] for m in ours["model"]}
        assert "fcn" in archs and archs - {"fcn"}, (figure, generator, archs)
        fcn_datasets = {d for d, m in zip(ours["dataset"], ours["model"]) if paper["models"][m]["arch"] == "fcn"}
        assert fcn_datasets == {f"{generator}_fcn"}
        assert paper["datasets"][f"{generator}_fcn"]["params"]["rho_train"] == 0.25


@pytest.mark.parametrize("figure", ["fig01b", "fig29", "fig31"])
def test_mnist_galleries_aggregate_ten_seeds_at_low_and_high_lr(resolved, grid, figure):
    """Suppl. E: attribution maps aggregated over 10 random seeds (Figs 1 right, 29, 31)."""
    spec = resolved["figures"][figure]
    rows = _figure_cells(spec, grid)
    assert set(rows["model"]) == {"resnet18"}
    for lr in (rows["lr"].min(), rows["lr"].max()):
        assert rows[rows["lr"] == lr]["seed"].nunique() == 10, (figure, lr)


def test_paper_dag_builds_with_the_fig11_and_fig28d_rules_and_the_ten_seed_galleries(repo, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(tmp_path),
         "-n", "--config", "preset=paper"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "results/paper/figures/fig11.pdf" in result.stdout
    assert "results/paper/figures/fig11b.pdf" in result.stdout
    assert "results/paper/data/imagenet.npz" in result.stdout
    # issue 18 item 3: Fig 28 top right from lr_drop_at cells of Colored MNIST, ResNet18
    assert "rule figure:" in result.stdout and "results/paper/figures/fig28d.pdf" in result.stdout
    drop_cell = "dataset~colored_mnist/model~resnet18/recipe~sgd/lr~0.25/intervention~lr_drop_at=1000/seed~0"
    assert f"results/paper/analysis/{drop_cell}/metrics.json" in result.stdout
    # item 6: seed 9 of the low and high LR of Double MNIST's and Colored MNIST's galleries
    for dataset, lrs in (("double_mnist", ("0.001", "0.1")), ("colored_mnist", ("0.001", "0.25"))):
        for lr in lrs:
            cell = f"dataset~{dataset}/model~resnet18/recipe~sgd/lr~{lr}/intervention~none/seed~9"
            assert f"results/paper/analysis/{cell}/attribution_maps.npz" in result.stdout, cell
    # item 4: Fig 9's focal-loss landscape
    focal = "dataset~colored_mnist/model~resnet18/recipe~sgd+table2/lr~0.001/intervention~focal_gamma=25/seed~0"
    assert f"results/paper/analysis/{focal}/landscape.npz" in result.stdout
    # issue 25 item 3: at most one attribute job per training job (1046 before, one per run)
    jobs = {rule: result.stdout.count(f"\nrule {rule}:") for rule in ("train_group", "attribute", "prune")}
    assert 0 < jobs["attribute"] <= jobs["train_group"] and 0 < jobs["prune"] <= jobs["train_group"], jobs
    assert result.stdout.count("\nrule link_attribution:") == 1046
