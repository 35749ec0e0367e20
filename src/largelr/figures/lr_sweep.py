"""Metrics-versus-learning-rate figures: the left panels of Fig 3 (parity) and Fig 15 (moon-star).

As in the paper, every variable is min–max normalised on its own (so all curves share one
y-axis from 0 to 1), the x-axis is the LR on a log scale, lines are means over seeds and
bands ± one standard deviation. The raw minimum and maximum of each variable (the paper's
Table 1 numbers) are written to a companion CSV next to the figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from largelr.io import atomic_path  # noqa: E402

# Table 1's columns, in the paper's order, with the paper's labels.
LR_SWEEP_METRICS = {
    "test_acc": "Test Acc.",
    "prunability": "Prunability",
    "act_compressibility": "Act. Comp.",
    "csi": "Avg. CSI",
    "class_sep": "Class Sep.",
}


def normalised_long_table(runs: pd.DataFrame, metrics: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long table (lr, seed, variable, value in [0, 1]) and the raw ranges used to normalise.

    Each variable is scaled by the min and max of its per-LR means, so the mean curve spans
    exactly [0, 1] (a constant variable is drawn at 0.5).
    """
    usable = runs[runs["status"] != "diverged"]
    long_rows, ranges = [], []
    for column, label in metrics.items():
        values = usable[["lr", "seed", column]].dropna()
        means = values.groupby("lr")[column].mean()
        low, high = float(means.min()), float(means.max())
        span = high - low
        scaled = (values[column] - low) / span if span > 0 else values[column] * 0 + 0.5
        long_rows.append(pd.DataFrame({"lr": values["lr"], "seed": values["seed"], "variable": label, "value": scaled}))
        ranges.append({"variable": label, "column": column, "min": low, "max": high})
    return pd.concat(long_rows, ignore_index=True), pd.DataFrame(ranges)


def plot_lr_sweep(runs: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, ranges_csv: str | Path,
                  title: str, note: str = "") -> None:
    """Draw one metrics-vs-LR panel from rows of ``summary/runs.csv`` (one dataset/model).

    ``runs`` should hold only the LRs kept by :mod:`largelr.lr_filter`; diverged runs are
    ignored in any case, and runs stopped at the iteration cap are counted in the footer.
    """
    long_table, ranges = normalised_long_table(runs, LR_SWEEP_METRICS)
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    sns.lineplot(data=long_table, x="lr", y="value", hue="variable", style="variable", markers=True,
                 dashes=False, errorbar="sd", err_kws={"alpha": 0.12}, ax=ax)
    ax.set_xscale("log")
    learning_rates = sorted(long_table["lr"].unique())
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(learning_rates, [f"{lr:g}" for lr in learning_rates])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("normalised value")
    ax.set_ylim(-0.1, 1.1)
    ax.set_title(title, fontsize=9)
    capped = runs[runs["status"] == "max_iters"]
    footer = [note] if note else []
    if len(capped):
        footer.append(f"{len(capped)}/{len(runs)} runs stopped at the iteration cap before 100 % train acc.")
    if footer:
        fig.text(0.01, 0.005, "\n".join(footer), fontsize=6, va="bottom", ha="left", color="0.3")
    ax.legend(fontsize=7, title=None, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout(rect=(0, 0.035 * len(footer), 1, 1))
    for path in (pdf_path, png_path):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=200)
    plt.close(fig)
    with atomic_path(ranges_csv) as tmp:
        ranges.to_csv(tmp, index=False)
