"""Pruning curves by learning rate (Fig 20: column pruning, Fig 21: global magnitude pruning).

x = fraction κ of pruned weights/units, y = unbiased test accuracy retained, one line per
LR (mean over seeds, band ± 1 s.d.), one panel per model of the dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from largelr.io import read_json
from largelr.figures.save import save_figure

METHOD_LABELS = {"structured": "structured (node / kernel) pruning", "column": "column pruning",
                 "global": "global magnitude pruning"}


def pruning_table(run_jsons: Sequence[str | Path], pruning_jsons: Sequence[str | Path], method: str) -> pd.DataFrame:
    """Long table (model, lr, seed, kappa, retention) of the non-diverged runs."""
    rows = []
    for run_json, pruning_json in zip(run_jsons, pruning_jsons, strict=True):
        cell, curves = read_json(run_json)["cell"], read_json(pruning_json)
        if method not in curves:
            continue
        for kappa, retention in zip(curves["kappas"], curves[method]["retention"]):
            rows.append({"model": cell["model"], "lr": cell["lr"], "seed": cell["seed"], "kappa": kappa,
                         "retention": retention})
    return pd.DataFrame(rows, columns=["model", "lr", "seed", "kappa", "retention"])


def plot_pruning_curves(table: pd.DataFrame, method: str, pdf_path: str | Path, png_path: str | Path,
                        title: str, note: str = "") -> None:
    models = sorted(table["model"].unique())
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(models), figsize=(0.8 + 3.4 * len(models), 3.2), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        data = table[table["model"] == model].assign(LR=lambda d: d["lr"].map(lambda v: f"{v:g}"))
        order = [f"{v:g}" for v in sorted(data["lr"].unique())]
        sns.lineplot(data=data, x="kappa", y="retention", hue="LR", hue_order=order, palette="viridis",
                     errorbar="sd", err_kws={"alpha": 0.15}, marker="o", ax=ax)
        ax.set_xlabel(f"pruned fraction κ ({METHOD_LABELS[method]})")
        ax.set_title(model, fontsize=8)
        ax.legend(title="LR", fontsize=7, title_fontsize=7)
    axes[0][0].set_ylabel("accuracy retained, Acc(f^κ) / Acc(f)")
    fig.suptitle(title, fontsize=9)
    if note:
        fig.text(0.01, 0.005, note, fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.05 if note else 0, 1, 1))
    save_figure(fig, pdf_path, png_path)
