"""Fig 28 top right (suppl. D.4): final accuracy vs the iteration of an LR drop, one line per LR."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import assert_figure
from largelr.figures import lr_drop
from largelr.figures.lr_drop import lr_drop_points, lr_drop_runs, plot_lr_drop


def _run(lr, intervention, seed, acc, iterations=3000, status="converged", dataset="parity", model="fcn_parity"):
    return {"dataset": dataset, "model": model, "recipe": "sgd", "lr": lr, "intervention": intervention, "seed": seed,
            "status": status, "iterations": iterations, "test_acc": acc}


def _runs():
    """Two base LRs dropped at i = 0, 500, 2000 (two seeds), their plain runs, an intervention of
    another kind and a diverged run, all hand-made."""
    rows = []
    for lr, accs in ((0.05, (0.55, 0.60, 0.62)), (0.75, (0.60, 0.84, 0.86))):
        for i, acc in zip((0, 500, 2000), accs, strict=True):
            rows += [_run(lr, f"lr_drop_at={i}", seed, acc + 0.01 * seed) for seed in (0, 1)]
        rows += [_run(lr, "none", seed, accs[-1] + 0.02) for seed in (0, 1)]
    rows.append(_run(0.75, "lr_drop_at=2000", 2, 0.9, iterations=1800))   # stopped before the drop
    rows.append(_run(0.05, "l2=0.001", 0, 0.99))                            # not an LR-drop cell
    rows.append(_run(0.75, "lr_drop_at=500", 3, np.nan, status="diverged"))
    return pd.DataFrame(rows)


def test_points_are_seed_means_per_lr_and_drop_iteration_and_references_are_the_plain_runs():
    points, references = lr_drop_points(_runs())
    assert len(points) == 6 and set(points["lr"]) == {0.05, 0.75}
    at = points.set_index(["lr", "drop_at"])
    assert at.loc[(0.05, 500), "mean"] == pytest.approx(0.605) and at.loc[(0.05, 500), "runs"] == 2
    assert at.loc[(0.75, 2000), "mean"] == pytest.approx((0.86 + 0.87 + 0.9) / 3)
    assert at.loc[(0.75, 2000), "never_dropped"] == 1 and at.loc[(0.75, 0), "never_dropped"] == 0
    assert at.loc[(0.75, 500), "runs"] == 2  # the diverged run is left out
    refs = references.set_index("lr")["mean"]
    assert refs.to_dict() == pytest.approx({0.05: 0.64, 0.75: 0.88})


def test_only_lr_drop_cells_are_drawn_as_points():
    drops = lr_drop_runs(_runs())
    assert set(drops["intervention"].str.split("=").str[0]) == {"lr_drop_at"}
    assert sorted(drops["drop_at"].unique()) == [0, 500, 2000]
    assert not drops.set_index("seed").loc[2, "dropped"]  # 1800 iterations <= 2000


def test_fig28d_draws_one_line_per_lr_from_hand_made_runs(tmp_path, monkeypatch):
    drawn = []
    monkeypatch.setattr(lr_drop, "save_figure", lambda fig, *paths: drawn.append(fig))
    plot_lr_drop(_runs(), tmp_path / "f.pdf", tmp_path / "f.png", tmp_path / "f.csv", title="Fig 28 (top right)")
    (fig,) = drawn
    (ax,) = fig.axes
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(solid) == 2 and len(dashed) == 2  # one line per LR, one no-drop reference per LR
    by_label = {line.get_label(): line for line in solid}
    assert list(by_label["LR 0.05"].get_xdata()) == [0, 500, 2000]
    assert list(by_label["LR 0.75"].get_ydata()) == pytest.approx([0.605, 0.845, (0.86 + 0.87 + 0.9) / 3])
    assert ax.get_xscale() == "symlog"
    plt.close(fig)
    table = pd.read_csv(tmp_path / "f.csv")
    assert list(table.columns) == lr_drop.POINT_COLUMNS and len(table) == 6


def test_fig28d_files_are_real_images(tmp_path):
    plot_lr_drop(_runs(), tmp_path / "f.pdf", tmp_path / "f.png", tmp_path / "f.csv", title="t", note="demo")
    assert_figure(tmp_path / "f.pdf", tmp_path / "f.png")
