import pandas as pd

from largelr.reporting.lr_filter import filter_learning_rates, kept_runs


def _runs(rows):
    return pd.DataFrame(
        [{"dataset": "d", "model": "m", "recipe": "sgd", "intervention": "none", "lr": lr, "seed": s, "status": st, "test_acc": acc}
         for lr, s, st, acc in rows]
    )


def test_divergence_in_one_seed_drops_that_lr_and_all_larger():
    runs = _runs([(0.1, 0, "converged", 0.6), (0.1, 1, "converged", 0.62),
                  (1.0, 0, "converged", 0.7), (1.0, 1, "diverged", None),
                  (5.0, 0, "converged", 0.9), (5.0, 1, "converged", 0.9)])
    decisions = filter_learning_rates(runs)
    assert decisions["kept"].tolist() == [True, False, False]
    assert decisions["reason"].iloc[1].startswith("diverged (seeds [1])")
    assert sorted(kept_runs(runs, decisions)["lr"].unique()) == [0.1]


def test_a_drop_of_more_than_25_points_in_any_seed_stops_the_sweep():
    runs = _runs([(0.01, 0, "converged", 0.80), (0.01, 1, "converged", 0.84),
                  (0.1, 0, "converged", 0.90), (0.1, 1, "converged", 0.60),   # best mean so far 0.82: 0.60 >= 0.57
                  (1.0, 0, "converged", 0.90), (1.0, 1, "converged", 0.58)])  # best still 0.82: 0.58 >= 0.57
    assert filter_learning_rates(runs)["kept"].tolist() == [True, True, True]
    runs.loc[5, "test_acc"] = 0.49  # 0.49 < 0.82 - 0.25
    decisions = filter_learning_rates(runs)
    assert decisions["kept"].tolist() == [True, True, False]
    assert "0.490" in decisions["reason"].iloc[2]
