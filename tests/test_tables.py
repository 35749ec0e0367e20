import numpy as np
import pandas as pd
import pytest

from largelr.tables import claims_scorecard, paper_table, table1, write_table


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
