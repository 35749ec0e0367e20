import numpy as np
import pandas as pd
import pytest

from largelr.tables import claims_scorecard, intervention_runs, paper_table, table1, table2, write_table


def _runs(values_by_lr, metric="test_acc", dataset="parity", model="fcn_parity"):
    rows = []
    for lr, values in values_by_lr.items():
        for seed, value in enumerate(values):
            row = {"dataset": dataset, "model": model, "optimizer": "sgd", "lr": lr, "hp": "none", "seed": seed,
                   "status": "converged"}
            row.update({m: value for m in ("test_acc", "prunability", "act_compressibility", "csi", "class_sep")})
            rows.append(row)
    return pd.DataFrame(rows)


def test_paper_tables_are_typed_in_completely():
    t1, t2 = paper_table("table1"), paper_table("table2")
    assert len(t1) == 23 and len(t2) == 24
    parity = t1[t1["dataset"] == "Parity"].iloc[0]
    assert (parity["test_acc_min"], parity["test_acc_max"]) == (55.31, 85.663)


def test_table1_min_max_are_those_of_the_per_lr_means_and_match_the_paper_row():
    runs = _runs({0.01: [0.5, 0.6], 0.1: [0.8, 0.9], 0.75: [0.7, 0.7]})
    table = table1(runs, {"fcn_parity": "fcn"})
    row = table.iloc[0]
    assert (row["lr_min"], row["lr_max"]) == (0.01, 0.75)
    assert row["test_acc_min"] == pytest.approx(55.0) and row["test_acc_max"] == pytest.approx(85.0)
    assert row["prunability_min"] == pytest.approx(0.55)
    assert row["test_acc_min_paper"] == 55.31
    assert row["test_acc_max_diff"] == pytest.approx(85.0 - 85.663)


def test_scorecard_supports_a_monotone_series_and_not_a_shuffled_one():
    lrs = [0.01, 0.03, 0.1, 0.3, 1.0]
    monotone = _runs({lr: [i + 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    card = claims_scorecard(monotone, n_boot=300)
    assert set(card["verdict"]) == {"supported"} and card["spearman"].min() > 0.9
    rng = np.random.default_rng(1)
    shuffled = monotone.copy()
    shuffled["test_acc"] = rng.permutation(shuffled["test_acc"].to_numpy())
    verdict = claims_scorecard(shuffled, metrics=["test_acc"], n_boot=300)["verdict"].iloc[0]
    assert verdict == "inconclusive"
    decreasing = _runs({lr: [-i - 0.01 * s for s in range(3)] for i, lr in enumerate(lrs)})
    assert set(claims_scorecard(decreasing, n_boot=300)["verdict"]) == {"contradicted"}


def test_write_table_gives_csv_markdown_and_latex(tmp_path):
    frame = pd.DataFrame({"a": [1.23456789, np.nan], "b": ["x", "y"]})
    write_table(frame, tmp_path / "t", caption="Demo table")
    assert pd.read_csv(tmp_path / "t.csv").shape == (2, 2)
    markdown = (tmp_path / "t.md").read_text()
    assert markdown.startswith("Demo table") and "1.235 |" in markdown and "1.2345" not in markdown
    assert "\\begin{tabular}" in (tmp_path / "t.tex").read_text()


def _cell(lr, hp, accuracies, status="converged", dataset="colored_mnist", model="cnn"):
    """Rows of one grid cell, one per seed; every Table 1 metric equals the test accuracy."""
    return [{"dataset": dataset, "model": model, "optimizer": "sgd", "lr": lr, "hp": hp, "seed": seed,
             "status": status, **{m: acc for m in ("test_acc", "prunability", "act_compressibility", "csi",
                                                   "class_sep")}}
            for seed, acc in enumerate(accuracies)]


def _intervention_runs():
    rows = (_cell(0.01, "none", [0.7, 0.8]) + _cell(0.1, "none", [0.9, 0.92])
            + _cell(1.0, "none", [np.nan], status="diverged")
            + _cell(0.01, "batch_size=10", [0.6, 0.7]) + _cell(0.01, "batch_size=100", [0.8, 0.8], status="max_iters")
            + _cell(0.01, "batch_size=3", [0.1], status="diverged")
            + _cell(0.01, "l2=0.001", [0.75, 0.75]) + _cell(0.01, "l2=0.01", [0.5, 0.6])
            + _cell(0.35, "l2=0.0001", [0.95, 0.97])
            + _cell(0.1, "none", [0.9], dataset="parity", model="fcn_parity"))
    return pd.DataFrame(rows)


def test_intervention_runs_label_lr_sweep_inverse_batch_size_and_high_lr_l2():
    labelled = intervention_runs(_intervention_runs())
    assert "parity" not in set(labelled["dataset"])  # no intervention cells: no Table 2 row
    assert "diverged" not in set(labelled["status"])
    batch = labelled[labelled["intervention"] == "batch_size"]
    assert sorted(batch["value"].unique()) == pytest.approx([0.01, 0.1])
    high = labelled[labelled["intervention"] == "high_lr_l2"]
    assert high["value"].tolist() == [0.0001, 0.0001] and high["base_lr"].tolist() == [0.35, 0.35]
    assert sorted(labelled[labelled["intervention"] == "l2"]["value"].unique()) == [0.001, 0.01]


def test_table2_min_max_of_per_value_means_in_the_papers_order_beside_the_paper():
    table = table2(_intervention_runs(), {"cnn": "cnn"}).set_index("intervention")
    assert list(table.index) == ["lr", "high_lr_l2", "batch_size", "l2"]
    lr = table.loc["lr"]
    assert (lr["hp_min"], lr["hp_max"]) == (0.01, 0.1)  # the diverged LR 1.0 is ignored
    assert lr["test_acc_min"] == pytest.approx(75.0) and lr["test_acc_max"] == pytest.approx(91.0)
    assert np.isnan(lr["base_lr"]) and lr["runs"] == 4
    batch = table.loc["batch_size"]
    assert (batch["hp_min"], batch["hp_max"]) == pytest.approx((0.01, 0.1))  # 1/100 and 1/10; 1/3 diverged
    assert batch["test_acc_min"] == pytest.approx(65.0) and batch["test_acc_max"] == pytest.approx(80.0)
    assert batch["csi_min"] == pytest.approx(0.65) and batch["capped_runs"] == 2
    assert table.loc["l2", "prunability_min"] == pytest.approx(0.55)
    assert table.loc["high_lr_l2", "base_lr"] == 0.35 and table.loc["high_lr_l2", "test_acc_max"] == pytest.approx(96)
    assert batch["hp_max_paper"] == 0.3333 and batch["hp_max_diff"] == pytest.approx(0.1 - 0.3333)
    assert lr["test_acc_min_paper"] == 72.297 and lr["test_acc_min_diff"] == pytest.approx(75.0 - 72.297)
    assert batch["paper_model"] == "CNN" and "act_compressibility_max" in table.columns


def test_table2_is_empty_without_intervention_cells():
    assert table2(pd.DataFrame(_cell(0.1, "none", [0.9])), {}).empty
