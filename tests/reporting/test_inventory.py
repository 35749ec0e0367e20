"""The figure inventory: every paper figure is listed panel by panel, built or with a reason."""

from __future__ import annotations

import pytest

from largelr.config import resolve_preset
from largelr.reporting.inventory import (PAPER_FIGURES, Panel, builds_panel, figure_inventory, figure_number,
                                         panel_inventory, paper_caption, paper_panels)

DATASETS = {"parity": {"generator": "parity"}, "colored_mnist": {"generator": "colored_mnist"},
            "corrupted_cifar10": {"generator": "corrupted_cifar10"},
            "corrupted_cifar10_fcn": {"generator": "corrupted_cifar10"}}


def _preset(**figures):
    return {"datasets": DATASETS, "figures": figures}


def test_figure_numbers_from_names():
    assert [figure_number(n) for n in ("fig07", "fig28c", "fig3", "table1", "figXY")] == [7, 28, None, None, None]
    assert paper_caption("fig28b").startswith("optimizers") and paper_caption("other") == "other"


def test_a_figure_with_a_missing_panel_is_not_built_and_the_panel_is_named_with_its_reason():
    presets = {"demo": _preset(fig02={"datasets": ["colored_mnist"]}, fig28={"dataset": "parity"},
                               fig28c={"dataset": "parity"}, fig16={"dataset": "corrupted_cifar10"}),
               "demo_full": _preset(fig28d={"dataset": "parity"}, fig16={"dataset": "corrupted_cifar10"})}
    table = figure_inventory("demo", presets).set_index("figure")
    assert list(table.index) == list(range(1, 35)) == sorted(PAPER_FIGURES)
    row28 = table.loc[28]
    assert not row28["built"] and row28["files"] == "fig28, fig28c" and row28["panels_built"] == "2/4"
    assert "top centre" in row28["reason"] and "drawn by no preset" in row28["reason"]
    assert "top right: LR drop at iteration i: not requested by preset 'demo' (CPU time budget); built by preset " \
           "demo_full" in row28["reason"]
    assert table.loc[16, "built"] and table.loc[16, "built_by"] == "demo, demo_full"
    assert not table.loc[2, "built"] and table.loc[2, "panels_built"] == "1/4"  # one dataset of four
    assert "licence" in table.loc[7, "reason"] and "not requested" not in table.loc[7, "reason"]


def test_panels_name_the_preset_that_builds_them_from_the_resolved_presets():
    presets = {"demo": _preset(fig04={"datasets": ["colored_mnist"]}),
               "demo_full": _preset(fig04={"datasets": ["corrupted_cifar10_fcn"]})}
    panels = panel_inventory("demo", presets).set_index(["figure", "panel"])
    assert panels.loc[(4, "Colored MNIST"), "built"] and panels.loc[(4, "Colored MNIST"), "built_by"] == "demo"
    cifar = panels.loc[(4, "Corrupted CIFAR-10")]
    assert not cifar["built"] and cifar["built_by"] == "demo_full"  # a *_fcn dataset counts by its generator
    assert cifar["reason"].endswith("built by preset demo_full")


def test_fig9_needs_its_focal_loss_models():
    lrs_only, with_fl = {"dataset": "parity"}, {"dataset": "parity", "interventions": ["focal_gamma=1"]}
    lr_panel, fl_panel = paper_panels(9)
    assert fl_panel == Panel("focal-loss models (FL)", "fig09", intervention="focal_gamma")
    assert builds_panel(_preset(fig09=lrs_only), lr_panel) and not builds_panel(_preset(fig09=lrs_only), fl_panel)
    assert builds_panel(_preset(fig09=with_fl), fl_panel)
    assert not builds_panel(_preset(fig09={"dataset": "parity", "interventions": ["l2=0.1"]}), fl_panel)


@pytest.mark.parametrize("preset", ["paper", "demo"])
def test_shipped_presets_inventories(shipped_config, preset):
    presets = {name: resolve_preset(shipped_config, name) for name in shipped_config["presets"]}
    table = figure_inventory(preset, presets).set_index("figure")
    assert table.loc[~table["built"], "reason"].str.len().gt(0).all()
    # Fig 1 bottom (issue 26): paper's CIFAR-10/100 ResNet18 runs, the ones with background attribution %
    panels = panel_inventory(preset, presets).set_index(["figure", "file"])
    assert panels.loc[(1, "fig01c"), "built_by"] == "paper"
    assert panels.loc[(28, "fig28c"), "built"]  # Fig 28 bottom on a dataset with spurious pixels
    # Fig 24 bottom: the training_curves kind (issue 28) of the sgd_long runs in demo_full, paper and gpu
    assert panels.loc[(24, "fig24b"), "built_by"] == "demo_full, paper, gpu"
    if preset == "paper":  # every figure, whole, Fig 11 too (ImageNet-1k, placed by hand)
        assert set(table.index[~table["built"]]) == set()
    else:  # Fig 9's focal-loss models are in the demo (issue 18 item 4); Fig 28 top right is in demo_full (issue 19)
        assert "built by presets demo_full, paper, gpu" in table.loc[24, "reason"]  # the demo lacks Fig 24
        panels = panel_inventory(preset, presets).set_index(["figure", "file"])
        assert table.loc[9, "built"] and not panels.loc[(28, "fig28d"), "built"]
        assert "demo_full" in panels.loc[(28, "fig28d"), "reason"]
