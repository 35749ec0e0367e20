import numpy as np
import pandas as pd
import pytest

from helpers import cell_rows
from largelr.figures.bc_ratio import bc_ratio_stats, correlation, plot_bc_ratio
from largelr.figures.interventions import (is_log_scale, normalised_row_table, plot_interventions,
                                           select_runs)
from largelr.reporting.tables import intervention_runs


def _cell(lr, intervention, accuracies, bc_ratio=0.5, **kwargs):
    """Summary rows of one cell (:func:`helpers.cell_rows`) with their BC loss ratio (Fig 12)."""
    return cell_rows(lr, intervention, accuracies, max_bc_loss_ratio=bc_ratio, **kwargs)


def _runs():
    rows = (_cell(0.01, "none", [0.6, 0.7]) + _cell(0.1, "none", [0.9, 0.9], status="max_iters")
            + _cell(5.0, "none", [np.nan], status="diverged")
            + _cell(0.01, "batch_size=10", [0.5, 0.55]) + _cell(0.01, "batch_size=100", [0.7, 0.7])
            + _cell(0.01, "momentum=0.5", [0.8, 0.8]) + _cell(0.01, "momentum=0.9", [0.95, 0.99])
            + _cell(0.1, "none", [0.5, 0.5], dataset="double_mnist") + _cell(0.01, "l1=0.001", [0.2, 0.2],
                                                                             dataset="double_mnist"))
    return pd.DataFrame(rows)


def test_row_normalisation_maps_the_rows_lowest_mean_to_0_and_highest_to_1():
    row = intervention_runs(_runs())
    row = row[row["dataset"] == "colored_mnist"]
    long_table, ranges = normalised_row_table(row, {"test_acc": "Test Acc.", "csi": "Avg. CSI"})
    accuracy = long_table[long_table["variable"] == "Test Acc."]
    means = accuracy.groupby(["intervention_kind", "x"])["value"].mean()
    assert means.min() == pytest.approx(0.0) and means.max() == pytest.approx(1.0)
    # lowest mean (0.525) is batch size 1/10, highest (0.97) momentum 0.9: one scale across panels
    assert means[("batch_size", 0.1)] == pytest.approx(0.0) and means[("momentum", 0.9)] == pytest.approx(1.0)
    assert means[("lr", 0.1)] == pytest.approx((0.9 - 0.525) / (0.97 - 0.525))
    test_acc = ranges.set_index("column").loc["test_acc"]
    assert (test_acc["min"], test_acc["max"]) == pytest.approx((0.525, 0.97))
    assert set(accuracy["intervention_kind"]) == {"lr", "batch_size", "momentum"}  # the diverged LR 5.0 is gone
    assert 5.0 not in set(accuracy["x"])


def test_a_constant_variable_is_drawn_at_one_half():
    row = intervention_runs(pd.DataFrame(_cell(0.01, "none", [0.4, 0.4]) + _cell(0.01, "l2=0.01", [0.4])))
    long_table, _ = normalised_row_table(row, {"test_acc": "Test Acc."})
    assert np.allclose(long_table["value"], 0.5)


def test_log_scale_only_for_positive_values_spanning_more_than_a_decade():
    assert is_log_scale([0.01, 0.1, 0.3333]) and not is_log_scale([0.1, 0.5, 0.99])
    assert not is_log_scale([0.0, 0.5, 25.0]) and not is_log_scale([])


def test_select_runs_filters_datasets_model_and_optimizer():
    runs = _runs()
    assert set(select_runs(runs, ["double_mnist"])["dataset"]) == {"double_mnist"}
    assert len(select_runs(runs, None, "cnn", "sgd")) == len(runs)
    assert select_runs(runs, None, None, "adam").empty


def test_interventions_figure_and_ranges_are_written(tmp_path):
    paths = [tmp_path / "fig06.pdf", tmp_path / "fig06.png", tmp_path / "fig06_ranges.csv"]
    plot_interventions(_runs(), *paths, title="Fig 6", note="preset 'demo': demo scale")
    assert all(path.stat().st_size > 1000 for path in paths[:2])
    ranges = pd.read_csv(paths[2])
    assert set(ranges["dataset"]) == {"colored_mnist", "double_mnist"} and len(ranges) == 6
    double = ranges[(ranges["dataset"] == "double_mnist") & (ranges["column"] == "test_acc")].iloc[0]
    assert (double["min"], double["max"]) == pytest.approx((0.2, 0.5))


def test_interventions_figure_leaves_the_lr_drop_cells_to_fig28d(tmp_path):
    """lr_drop_at cells (Fig 28 top right) are no intervention row of Fig 6 / 19."""
    drops = pd.DataFrame(_cell(0.01, "lr_drop_at=1000", [0.3, 0.3], dataset="parity", model="fcn")
                         + _cell(0.01, "none", [0.5], dataset="parity", model="fcn"))
    paths = [tmp_path / "fig06.pdf", tmp_path / "fig06.png", tmp_path / "fig06_ranges.csv"]
    plot_interventions(pd.concat([_runs(), drops], ignore_index=True), *paths, title="Fig 6")
    assert set(pd.read_csv(paths[2])["dataset"]) == {"colored_mnist", "double_mnist"}


def test_interventions_figure_without_intervention_cells_still_writes_its_files(tmp_path):
    paths = [tmp_path / "f.pdf", tmp_path / "f.png", tmp_path / "f.csv"]
    plot_interventions(pd.DataFrame(_cell(0.1, "none", [0.5])), *paths, title="empty")
    assert paths[0].stat().st_size > 0 and pd.read_csv(paths[2]).empty


def _bc_runs():
    # monotone but not linear in the BC ratio: Spearman 1, Pearson < 1
    rows = []
    for i, lr in enumerate([0.001, 0.01, 0.1, 0.3]):
        for seed in range(2):
            ratio = 0.1 * (2 * i + seed + 1)
            rows += _cell(lr, "none", [ratio ** 3], bc_ratio=ratio)
            rows[-1]["seed"] = seed
    rows += _cell(1.0, "none", [np.nan], status="diverged", bc_ratio=np.nan)
    rows += _cell(0.01, "l2=0.01", [0.0], bc_ratio=5.0)  # interventions are not part of Fig 12
    rows += _cell(0.01, "none", [0.5, 0.6], dataset="parity", model="fcn")
    return pd.DataFrame(rows)


def test_bc_ratio_stats_give_spearman_one_on_a_monotone_frame():
    stats = bc_ratio_stats(_bc_runs()).set_index("dataset")
    monotone = stats.loc["colored_mnist"]
    assert monotone["n"] == 8 and monotone["learning_rates"] == 4
    assert monotone["spearman_rho"] == pytest.approx(1.0) and 0.8 < monotone["pearson_r"] < 1.0
    assert np.isnan(stats.loc["parity", "spearman_rho"])  # constant BC ratio: no correlation


def test_correlation_of_a_line_and_of_too_few_points():
    r, rho = correlation(np.array([1.0, 2.0, 3.0]), np.array([-2.0, -4.0, -6.0]))
    assert (r, rho) == pytest.approx((-1.0, -1.0))
    assert np.isnan(correlation(np.array([1.0, 2.0]), np.array([1.0, 2.0]))).all()


def test_bc_ratio_figure_and_stats_are_written(tmp_path):
    paths = [tmp_path / "fig12.pdf", tmp_path / "fig12.png", tmp_path / "fig12_stats.csv"]
    plot_bc_ratio(_bc_runs(), *paths, title="Fig 12", note="preset 'demo': demo scale")
    assert all(path.stat().st_size > 1000 for path in paths[:2])
    stats = pd.read_csv(paths[2])
    assert list(stats.columns) == ["dataset", "model", "n", "learning_rates", "pearson_r", "spearman_rho"]
    assert stats.set_index("dataset").loc["colored_mnist", "spearman_rho"] == pytest.approx(1.0)
