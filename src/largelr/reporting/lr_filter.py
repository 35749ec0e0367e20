"""Which learning rates enter the figures (paper §4.2).

"We utilize LRs up to the point of divergence or drastic performance loss (> 25 % in test
accuracy) among any one of the seeds." For each (dataset, model, recipe), LRs are scanned
in increasing order (separately per ``intervention`` value); the first LR at which any seed
diverged, or any seed's unbiased test accuracy is more than ``max_drop`` (absolute, 0.25 = 25
points) below the best per-LR mean accuracy of the LRs kept so far, is dropped together with
every larger LR.
"""

from __future__ import annotations

import pandas as pd

from largelr.engine_facts import RunStatus

GROUP = ["dataset", "model", "recipe", "intervention"]


def filter_learning_rates(runs: pd.DataFrame, max_drop: float = 0.25) -> pd.DataFrame:
    """One row per (dataset, model, recipe, lr): ``kept`` (bool) and the ``reason`` for a drop."""
    rows = []
    for key, group in runs.groupby(GROUP, sort=True):
        best_so_far, stop_reason = None, None
        for lr, cell in group.groupby("lr", sort=True):
            if stop_reason is None:
                stop_reason = _drop_reason(cell, best_so_far, max_drop)
                if stop_reason is None:
                    mean_accuracy = float(cell["test_acc"].mean())
                    best_so_far = mean_accuracy if best_so_far is None else max(best_so_far, mean_accuracy)
            reason = stop_reason if stop_reason is not None else ""
            rows.append({**dict(zip(GROUP, key)), "lr": lr, "kept": stop_reason is None, "reason": reason})
    return pd.DataFrame(rows, columns=GROUP + ["lr", "kept", "reason"])


def _drop_reason(cell: pd.DataFrame, best_so_far: float | None, max_drop: float) -> str | None:
    diverged = cell[cell["status"] == RunStatus.DIVERGED]
    if len(diverged):
        return f"diverged (seeds {sorted(diverged['seed'].tolist())})"
    if best_so_far is not None:
        worst = float(cell["test_acc"].min())
        if worst < best_so_far - max_drop:
            return f"test acc {worst:.3f} is more than {max_drop:.2f} below {best_so_far:.3f}"
    return None


def kept_runs(runs: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``runs`` whose learning rate was kept."""
    kept = decisions[decisions["kept"]][GROUP + ["lr"]]
    return runs.merge(kept, on=GROUP + ["lr"], how="inner")
