"""Final accuracy after an LR drop at iteration i (paper suppl. D.4, Fig 28 top right).

"Fig. 28 (top, right) also shows the performance of the final model after LR reduction by
iteration i: the effects of LR are almost completely integrated by step 1000." The runs are
grid cells with the intervention ``lr_drop_at = i`` (:mod:`largelr.training.recipes`: the
first i optimizer steps use the base LR, every later one LR / 10; i = 0 trains at LR / 10
throughout). One panel per (dataset, model); x = i (symmetric log scale, so that i = 0 has a
place), y = final unbiased test accuracy, one line per base LR (mean over seeds, band ± one
standard deviation). The plain runs at the same base LR, which are never dropped, are drawn
as dashed horizontal lines of the same colour ("no drop", i = ∞); a dotted vertical line marks
the paper's step 1000.

A run that stopped (its stopping rule, §4.2: 100 % training accuracy) at or before iteration
i was never dropped: its marker is hollow and the footer counts such runs. Diverged runs are left
out (their accuracy is not a model's) and counted in the footer. The numbers behind the figure
go to a companion CSV.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from largelr.engine_facts import RunStatus
from largelr.intervention_labels import NO_INTERVENTION, parse_intervention
from largelr.figures.names import DISPLAY_NAMES
from largelr.figures.save import save_figure
from largelr.io import atomic_path

INTERVENTION = "lr_drop_at"
PAPER_STEP = 1000  # the step by which the paper finds the effects of LR integrated (dotted line)
POINT_COLUMNS = ["dataset", "model", "recipe", "lr", "drop_at", "mean", "std", "runs", "never_dropped"]
REFERENCE_COLUMNS = ["dataset", "model", "recipe", "lr", "mean", "runs"]


def lr_drop_runs(runs: pd.DataFrame, metric: str = "test_acc") -> pd.DataFrame:
    """The non-diverged ``lr_drop_at`` runs of ``runs`` (rows of ``summary/runs.csv``), with
    ``drop_at`` (i) and ``dropped`` (False where the run stopped at or before iteration i)."""
    labels = runs["intervention"].map(parse_intervention)
    is_drop = labels.map(lambda label: label is not None and label[0] == INTERVENTION)
    chosen = runs[is_drop & (runs["status"] != RunStatus.DIVERGED)].copy()
    chosen["drop_at"] = [int(label[1]) for label in labels[chosen.index]]
    chosen["value"] = pd.to_numeric(chosen[metric], errors="coerce")
    chosen["dropped"] = chosen["iterations"].astype(int) > chosen["drop_at"]
    return chosen.dropna(subset=["value"])


def lr_drop_points(runs: pd.DataFrame, metric: str = "test_acc") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (dataset, model, recipe, base LR, i): mean and std of ``metric`` over seeds and the
    number of runs never dropped; and the plain runs' means at the same base LRs (the references)."""
    drops = lr_drop_runs(runs, metric)
    keys = ["dataset", "model", "recipe", "lr"]
    grouped = drops.groupby(keys + ["drop_at"])
    points = pd.DataFrame({"mean": grouped["value"].mean(), "std": grouped["value"].std(ddof=0),
                           "runs": grouped.size(),
                           "never_dropped": grouped["dropped"].apply(lambda d: int((~d).sum()))})
    points = points.reset_index()[POINT_COLUMNS] if len(drops) else pd.DataFrame(columns=POINT_COLUMNS)
    plain = runs[(runs["intervention"] == NO_INTERVENTION) & (runs["status"] != RunStatus.DIVERGED)].copy()
    plain["value"] = pd.to_numeric(plain[metric], errors="coerce")
    plain = plain.dropna(subset=["value"]).merge(points[keys].drop_duplicates(), on=keys)
    grouped = plain.groupby(keys)["value"]
    references = pd.DataFrame({"mean": grouped.mean(), "runs": grouped.size()}).reset_index()
    return points, references.reindex(columns=REFERENCE_COLUMNS)


def _draw_panel(ax: plt.Axes, drops: pd.DataFrame, points: pd.DataFrame, references: pd.DataFrame) -> None:
    lrs = sorted(points["lr"].unique())
    colours = dict(zip(lrs, sns.color_palette("viridis", len(lrs)), strict=True))
    for lr in lrs:
        line, colour = points[points["lr"] == lr].sort_values("drop_at"), colours[lr]
        ax.plot(line["drop_at"], line["mean"], color=colour, label=f"LR {lr:g}")
        ax.fill_between(line["drop_at"], line["mean"] - line["std"], line["mean"] + line["std"], color=colour,
                        alpha=0.15, linewidth=0)
        runs = drops[drops["lr"] == lr]
        for dropped, face in ((True, colour), (False, "white")):
            chosen = runs[runs["dropped"] == dropped]
            ax.scatter(chosen["drop_at"], chosen["value"], s=14, facecolors=face, edgecolors=colour, zorder=3)
        for reference in references[references["lr"] == lr].itertuples():
            ax.axhline(reference.mean, color=colour, linestyle="--", linewidth=0.9, label=f"LR {lr:g}, no drop")
    xs = sorted(points["drop_at"].unique())
    if xs and xs[0] <= PAPER_STEP <= xs[-1]:  # suppl. D.4: "almost completely integrated by step 1000"
        ax.axvline(PAPER_STEP, color="0.5", linestyle=":", linewidth=0.9)
    positive = [x for x in xs if x > 0]
    ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
    ax.set_xticks(xs, [f"{x:g}" for x in xs], fontsize=6, rotation=45 if len(xs) > 5 else 0)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("iteration i of the LR drop (LR ÷ 10 after i steps)", fontsize=7)
    ax.tick_params(labelsize=6)


def plot_lr_drop(runs: pd.DataFrame, pdf_path: str | Path, png_path: str | Path, points_csv: str | Path,
                 title: str, note: str = "", metric: str = "test_acc",
                 metric_label: str = "unbiased test accuracy") -> None:
    """Fig 28 top right from rows of ``summary/runs.csv``: see the module docstring."""
    points, references = lr_drop_points(runs, metric)
    drops = lr_drop_runs(runs, metric)
    groups = list(points.groupby(["dataset", "model", "recipe"], sort=True))
    sns.set_theme(style="whitegrid", context="paper")
    n = max(len(groups), 1)
    fig, axes = plt.subplots(1, n, figsize=(1.0 + 3.4 * n, 3.4), squeeze=False)
    for ax, ((dataset, model, recipe), group) in zip(axes[0], groups):
        keep = (drops["dataset"] == dataset) & (drops["model"] == model) & (drops["recipe"] == recipe)
        refs = references[(references["dataset"] == dataset) & (references["model"] == model)
                          & (references["recipe"] == recipe)]
        _draw_panel(ax, drops[keep], group, refs)
        ax.set_title(f"{DISPLAY_NAMES.get(dataset, dataset)} · {model}", fontsize=8)
        ax.set_ylabel(f"final {metric_label}", fontsize=7)
        ax.legend(fontsize=6, frameon=False)
    if not groups:
        axes[0][0].text(0.5, 0.5, f"no {INTERVENTION} runs", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.suptitle(title, fontsize=9)
    footer = _footer(runs, drops, note)
    if footer:
        fig.text(0.01, 0.005, "\n".join(footer), fontsize=6, va="bottom", ha="left", color="0.3")
    fig.tight_layout(rect=(0, 0.035 * len(footer), 1, 1))
    save_figure(fig, pdf_path, png_path)
    with atomic_path(points_csv) as tmp:
        points.to_csv(tmp, index=False)


def _footer(runs: pd.DataFrame, drops: pd.DataFrame, note: str) -> list[str]:
    footer = [note] if note else []
    never = int((~drops["dropped"]).sum())
    if never:
        footer.append(f"hollow: {never} run(s) stopped (100 % train acc.) at or before iteration i: never dropped.")
    is_drop = runs["intervention"].astype(str).str.startswith(f"{INTERVENTION}=")
    diverged = int((is_drop & (runs["status"] == RunStatus.DIVERGED)).sum())
    if diverged:
        footer.append(f"{diverged} diverged run(s) left out.")
    return footer


__all__ = ["lr_drop_points", "lr_drop_runs", "plot_lr_drop"]
