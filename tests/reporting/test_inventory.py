"""The figure inventory: every paper figure is listed, built or with a reason (SPEC §6, §8)."""

from __future__ import annotations


from largelr.reporting.inventory import PAPER_FIGURES, figure_inventory, figure_number, paper_caption


def test_figure_numbers_from_names():
    assert [figure_number(n) for n in ("fig07", "fig28c", "fig3", "table1", "figXY")] == [7, 28, None, None, None]
    assert paper_caption("fig28b").startswith("optimizers") and paper_caption("other") == "other"


def test_inventory_marks_built_figures_and_explains_the_rest():
    table = figure_inventory("demo", {"fig02": {}, "fig28": {}, "fig28c": {}})
    assert list(table["figure"]) == list(range(1, 35)) == sorted(PAPER_FIGURES)
    row28 = table.set_index("figure").loc[28]
    assert row28["built"] and row28["files"] == "fig28, fig28c" and row28["scale"] == "demo scale"
    missing = table[~table["built"]].set_index("figure")
    assert "licence" in missing.loc[7, "reason"] and "not requested" in missing.loc[4, "reason"]


def test_paper_preset_requests_every_figure(shipped_config):
    table = figure_inventory("paper", shipped_config["presets"]["paper"]["figures"])
    assert set(table.loc[~table["built"], "figure"]) == set()  # Fig 11 too (ImageNet-1k, placed by hand)
