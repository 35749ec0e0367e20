"""Tables of the paper (Tables 1–2, suppl. D.3) and the claims scorecard (the pipeline's own addition).

* :func:`table1` — Table 1 (paper §4.2, "main experiments"): per (dataset, model), the min and
  max of the LR and of each per-LR mean metric over the kept LRs (§4.2 filter), from the
  **main recipe only** (constant-LR SGD: the recipe ``main_recipe="sgd"``, see
  :func:`main_recipe_runs`), beside the paper's own values (``paper_values/table1.csv``, typed
  in from the paper) and the difference. For CelebA and Waterbirds the accuracy column is
  **worst-group** accuracy, as the paper reports for them (§4.1); ``acc_metric`` says which.
  ``runs`` / ``converged_runs`` / ``capped_runs`` count the runs of each row; capped runs
  (iteration cap or stalled, :data:`largelr.engine_facts.CAPPED_STATUSES`) stay in the means but
  :func:`write_table1` marks their rows with a dagger in Markdown and LaTeX.
* :func:`table2` — Table 2 (§4.3, Fig 6 / 19): the same min/max per (dataset, model,
  intervention) of the regularisation experiments, with the plain-LR row they are compared
  with, beside the paper's values (``paper_values/table2.csv``) and the difference.
* :func:`claims_scorecard` — for each (dataset, model, recipe, metric), i.e. every recipe
  on its own, Spearman's ρ between LR and the metric over the **converged** runs (every seed),
  a bootstrap 95 % CI, and whether the paper's claim (the metric rises with LR) is supported
  (CI above 0), contradicted (CI below 0) or inconclusive; ``inconclusive (under-trained)``
  when fewer than 3 LRs have a converged run. Each row counts its runs, converged and capped.
  ``prunability_<ranking>`` columns of the runs table (one per ``analysis.prune_rankings``
  entry) get rows of their own, ``prune_ranking`` naming the §3.2 unit ranking, and so do the
  ``accuracy`` readings (``pruned_accuracy``, ``pruned_accuracy_<ranking>``), ``normalisation``
  naming the reading; CSI / BSI over live neurons (``csi_live``, ``bsi_live``) have rows too.

**Two readings of prunability (§3.2).** The text defines κ-prunability as Acc(f^(κ))/Acc(f)
summed over κ = 0 … 0.9 (``retention``, today's ``prunability``). Its mean has a floor: κ = 0
gives 1 and a pruned model on the balanced unbiased test set rarely falls below chance c =
1/classes, so mean ≥ (1 + 9 c/Acc(f))/10 (:func:`retention_floor`). Parity's Table 1 row (0.56
at 55.3-85.7 %, floor 0.63 at 85.7 %) lies below it and fits only the mean of Acc(f^(κ)) itself
(``accuracy``, ``pruned_accuracy``); the FCN rows of Colored / Double MNIST and moon-star
(0.93-1.03 at 69-81 %) exceed the best accuracy and fit only the ratio. Table 1 shows both
readings beside the paper's value and says which one each paper row fits
(:func:`paper_prunability_reading`; ‡ marks rows below the floor).
Every table is written as CSV, Markdown and LaTeX. Which metrics Table 1 and the scorecard use,
and each metric's claim, are declared in :mod:`largelr.metric_registry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from largelr.columns import PRUNE_RANKING_NAMES, prunability_column, pruned_accuracy_column
from largelr.engine_facts import CAPPED_STATUSES, RunStatus
from largelr.intervention_labels import NO_INTERVENTION, parse_intervention
from largelr.io import atomic_path, atomic_write_text
from largelr.metric_registry import CLAIMS, INCREASES, SCORECARD_METRICS, TABLE1_METRICS, TABLE1_READINGS, Metric
from largelr.reporting.latex import latex_table, min_max_quantities

# Datasets whose Table 1 accuracy is worst-group accuracy (§4.1: "we examine worst-group test
# accuracy in our experiments with CelebA and Waterbirds"); the others use unbiased test accuracy.
WORST_GROUP_DATASETS = ("celeba", "waterbirds")
# Table 1's rows come from this recipe (the ``recipe`` column): §4.2, constant-LR SGD.
MAIN_RECIPE = "sgd"
# How the pipeline's dataset/model names map to the paper's table labels (config names may differ).
# ``*_fcn`` are the ρ = 0.25 variants the paper trains its FCNs on (§4.1). The paper's Table 1
# has no Waterbirds row (its results are in Fig 18 only), so that row has no paper values.
PAPER_DATASETS = {"parity": "Parity", "moon_star": "Moon-Star", "colored_mnist": "Colored MNIST",
                  "double_mnist": "Double MNIST", "mnist_cifar": "MNIST-CIFAR", "corrupted_cifar10": "Cor. CIFAR-10",
                  "mnist_cifar_fcn": "MNIST-CIFAR", "corrupted_cifar10_fcn": "Cor. CIFAR-10",
                  "celeba": "CelebA", "waterbirds": "Waterbirds"}
PAPER_ARCHS = {"fcn": "FCN", "cnn": "CNN", "resnet18": "ResNet18", "resnet50": "ResNet50",
               "wide_resnet101_2": "Wide ResNet101-2", "swin_t": "Swin Transformer"}
# Marker of Table 1 rows whose means include capped runs (Markdown / LaTeX), and its legend.
CAPPED_MARK = "†"
CAPPED_LEGEND = (f"{CAPPED_MARK} includes runs stopped before 100 % training accuracy (iteration cap or "
                 "stalled, counted as capped runs): their values are of under-trained models.")
# Classes of the paper's datasets (§4.1; the semi-synthetic ones have 10): chance = 1 / classes.
PAPER_NUM_CLASSES = {"Parity": 2, "Moon-Star": 2, "Colored MNIST": 10, "Double MNIST": 10, "MNIST-CIFAR": 10,
                     "Cor. CIFAR-10": 10, "CelebA": 2, "Waterbirds": 2}
# The paper's κ grid (§3.2: κ from 0 to 0.9 in steps of 0.1).
PAPER_KAPPAS = tuple(k / 10 for k in range(10))
# Marker of Table 1 rows whose paper prunability lies below the retention reading's floor, and its legend.
FLOOR_MARK = "‡"
FLOOR_LEGEND = (
    f"{FLOOR_MARK} the paper's prunability lies below the floor of the retention reading: the mean over κ = 0, "
    "0.1, …, 0.9 of Acc(f^(κ))/Acc(f) is at least (1 + 9 × chance / Acc(f)) / 10 (κ = 0 gives 1; a pruned model "
    "on the balanced unbiased test set does not fall below chance = 1/classes), lowest at the row's best accuracy, "
    "so the value can only be the mean pruned accuracy (the accuracy reading, pruned_accuracy).")


def paper_table(name: str) -> pd.DataFrame:
    """The paper's Table 1 or 2 as typed in (``paper_values/tableN.csv``)."""
    with resources.files("largelr.reporting.paper_values").joinpath(f"{name}.csv").open() as handle:
        return pd.read_csv(handle, comment="#")


def status_counts(group: pd.DataFrame) -> dict[str, int]:
    """``runs``, ``converged_runs`` and ``capped_runs`` (max_iters + stalled) of a group of runs."""
    return {"runs": len(group), "converged_runs": int((group["status"] == RunStatus.CONVERGED).sum()),
            "capped_runs": int(group["status"].isin(CAPPED_STATUSES).sum())}


def main_recipe_runs(runs: pd.DataFrame, main_recipe: str = MAIN_RECIPE) -> pd.DataFrame:
    """The runs of each (dataset, model)'s main recipe, the one Table 1 reports (§4.2).

    The main recipe is ``main_recipe`` (constant-LR SGD) where the (dataset, model) has it;
    a (dataset, model) without it whose runs all share one recipe keeps that recipe (e.g. an
    AdamW-only Swin-T); one with several other recipes and no ``main_recipe`` is left out.
    """
    def main(group: pd.DataFrame) -> str | None:
        recipes = set(group["recipe"])
        if main_recipe in recipes:
            return main_recipe
        return recipes.pop() if len(recipes) == 1 else None

    chosen = {key: main(group) for key, group in runs.groupby(["dataset", "model"])}
    keys = zip(runs["dataset"], runs["model"])
    is_main = [chosen[key] == recipe for key, recipe in zip(keys, runs["recipe"])]
    return runs[pd.Series(is_main, index=runs.index, dtype=bool)]


def accuracy_metric(dataset: str) -> str:
    """The accuracy Table 1 reports for ``dataset``: worst-group for CelebA / Waterbirds (§4.1)."""
    return "worst_group_acc" if dataset in WORST_GROUP_DATASETS else "test_acc"


def table1(runs: pd.DataFrame, model_arch: dict[str, str], main_recipe: str = MAIN_RECIPE) -> pd.DataFrame:
    """Table 1 (§4.2): min/max of LR and of each per-LR mean metric per (dataset, model).

    ``runs`` = kept runs (§4.2 filter); only the plain (intervention == "none"), non-diverged runs of the
    main recipe (:func:`main_recipe_runs`) count. Capped runs stay in the means and are counted
    in ``capped_runs``. ``test_acc_*`` holds worst-group accuracy for CelebA / Waterbirds
    (``acc_metric``). ``model_arch`` maps a config model name to its architecture key (``fcn``,
    ``resnet18``...) so that rows can be matched with the paper's.
    """
    plain = runs[(runs["intervention"] == NO_INTERVENTION) & (runs["status"] != RunStatus.DIVERGED)]
    rows = [_table1_row(dataset, model, group, model_arch)
            for (dataset, model), group in main_recipe_runs(plain, main_recipe).groupby(["dataset", "model"])]
    ours = pd.DataFrame(rows)
    if ours.empty:
        return ours
    paper = paper_table("table1").rename(columns={"dataset": "paper_dataset", "model": "paper_model"})
    merged = ours.merge(paper, on=["paper_dataset", "paper_model"], how="left", suffixes=("", "_paper"))
    for column in [c for c in paper.columns if c.endswith(("_min", "_max"))]:
        merged[f"{column}_diff"] = merged[column] - merged[f"{column}_paper"]
    for reading, metric in TABLE1_READINGS.items():  # e.g. the accuracy reading beside the paper's prunability
        for end in ("min", "max"):
            if f"{reading}_{end}" in merged and f"{metric}_{end}_paper" in merged:
                merged[f"{reading}_{end}_diff"] = merged[f"{reading}_{end}"] - merged[f"{metric}_{end}_paper"]
    return merged.assign(**paper_prunability_check(merged))


def retention_floor(accuracy: float, num_classes: int, kappas: Iterable[float] = PAPER_KAPPAS) -> float:
    """The least mean retention (§3.2 ratio) a model of ``accuracy`` (a fraction) can have on the κ grid:
    κ = 0 retains 1, every other κ at least chance/accuracy (a pruned model no worse than chance)."""
    kappas = list(kappas)
    unpruned = sum(1 for k in kappas if k == 0)
    return (unpruned + (len(kappas) - unpruned) * (1.0 / num_classes) / accuracy) / len(kappas)


def paper_prunability_reading(prunability_min: float, accuracy_max: float, num_classes: int | None) -> str:
    """Which §3.2 reading a paper row's prunability fits (``accuracy_max`` in %, as in Table 1).

    ``accuracy`` when its minimum lies below :func:`retention_floor` at the row's best accuracy (where
    the floor is lowest); ``retention`` when its minimum exceeds the best accuracy (a mean pruned
    accuracy above every unpruned one, or above 1, is no accuracy); ``either`` otherwise.
    """
    if num_classes is None or not np.isfinite(prunability_min) or not np.isfinite(accuracy_max):
        return ""
    if prunability_min < retention_floor(accuracy_max / 100, num_classes):
        return "accuracy"
    return "retention" if prunability_min > accuracy_max / 100 else "either"


def paper_prunability_check(table: pd.DataFrame) -> dict[str, list]:
    """Table 1's ``paper_retention_floor`` and ``paper_prunability_reading`` columns (see the module
    docstring); empty for worst-group rows (their accuracy is not the one the ratio divides by)."""
    floors, readings = [], []
    for row in table.itertuples():
        classes = PAPER_NUM_CLASSES.get(row.paper_dataset)
        acc = getattr(row, "test_acc_max_paper", np.nan)
        usable = classes is not None and getattr(row, "acc_metric", "test_acc") == "test_acc" and np.isfinite(acc)
        floors.append(retention_floor(acc / 100, classes) if usable else np.nan)
        readings.append(paper_prunability_reading(getattr(row, "prunability_min_paper", np.nan), acc, classes)
                        if usable else "")
    return {"paper_retention_floor": floors, "paper_prunability_reading": readings}


def _table1_row(dataset: str, model: str, group: pd.DataFrame, model_arch: dict[str, str]) -> dict:
    acc = accuracy_metric(dataset)
    values = group.assign(test_acc=group[acc] * 100) if acc in group else group.assign(test_acc=np.nan)
    metrics = TABLE1_METRICS + [m for m in TABLE1_READINGS if m in values]
    means = values.groupby("lr")[metrics].mean()
    row = {"dataset": dataset, "model": model, "recipe": group["recipe"].iloc[0], "acc_metric": acc,
           "lr_min": means.index.min(), "lr_max": means.index.max(), **status_counts(group)}
    for metric in metrics:
        row[f"{metric}_min"], row[f"{metric}_max"] = means[metric].min(), means[metric].max()
    row["paper_dataset"] = PAPER_DATASETS.get(dataset, dataset)
    row["paper_model"] = PAPER_ARCHS.get(model_arch.get(model, model), model)
    return row


def mark_capped(table: pd.DataFrame, column: str = "dataset") -> pd.DataFrame:
    """A copy of Table 1 with :data:`CAPPED_MARK` after ``column`` on rows with capped runs."""
    marked = table.copy()
    if len(marked):
        capped = marked["capped_runs"] > 0
        marked[column] = marked[column].astype(str).where(~capped, marked[column].astype(str) + " " + CAPPED_MARK)
    return marked


def below_floor(table: pd.DataFrame) -> pd.Series:
    """Rows whose paper prunability lies below the retention reading's floor (:func:`retention_floor`)."""
    if "paper_prunability_reading" not in table:
        return pd.Series(False, index=table.index)
    return table["paper_prunability_reading"].eq("accuracy")


def mark_below_floor(table: pd.DataFrame, column: str = "paper_dataset") -> pd.DataFrame:
    """A copy of Table 1 with :data:`FLOOR_MARK` after ``column`` on rows :func:`below_floor`."""
    marked = table.copy()
    if len(marked):
        low = below_floor(marked)
        marked[column] = marked[column].astype(str).where(~low, marked[column].astype(str) + " " + FLOOR_MARK)
    return marked


def write_table1(table: pd.DataFrame, stem: str | Path, caption: str) -> None:
    """Table 1 as CSV (plain values) and Markdown / LaTeX (capped rows daggered, rows below the
    retention floor marked ‡, each with a legend)."""
    write_table(table, stem, caption, formats=("csv",))
    legends = [CAPPED_LEGEND if len(table) and (table["capped_runs"] > 0).any() else "",
               FLOOR_LEGEND if len(table) and below_floor(table).any() else ""]
    write_table(mark_below_floor(mark_capped(table)), stem, caption, formats=("md", "tex"),
                legend=" ".join(legend for legend in legends if legend), keys=TABLE1_KEYS)


# Table 1's LaTeX rows: our dataset and model, and the paper's row they are compared with
TABLE1_KEYS = ("dataset", "model", "paper_dataset", "paper_model")
# Table 2's LaTeX rows: one per dataset, model and intervention
TABLE2_KEYS = ("dataset", "model", "intervention_kind")
# Table 2's rows, in the paper's order: the plain LR sweep, high LR + L2, then the interventions.
INTERVENTION_ORDER = ["lr", "high_lr_l2", "batch_size", "momentum", "l1", "l2", "focal_gamma", "asam_rho",
                      "lr_drop_at"]
# Axes that are drawn (Fig 28 top right: LR dropped x0.1 at iteration i, suppl. D.4) but are no row of
# the paper's Table 2, which lists the LR, high LR + L2 and the six regularisers only.
NOT_IN_TABLE2 = ("lr_drop_at",)
INTERVENTION_KEYS = ["dataset", "model", "recipe"]
TABLE2_COLUMNS = (INTERVENTION_KEYS + ["intervention_kind", "base_lr", "intervention_min", "intervention_max", "runs",
                                       "capped_runs"]
                  + [f"{m}_{end}" for m in TABLE1_METRICS for end in ("min", "max")] + ["paper_dataset", "paper_model"])


def intervention_value(name: str, value: float) -> float:
    """The x value the paper reports: 1/batch size for batch size (larger = more regularisation)."""
    return 1.0 / value if name == "batch_size" else value


def intervention_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The non-diverged runs of every (dataset, model, recipe) with intervention cells, labelled.

    Adds ``intervention_kind`` (``"lr"`` for the plain cells, intervention == "none", else the intervention name
    of :mod:`largelr.training.recipes`), ``value`` (the LR, or the intervention value; batch size as
    1/batch size, as the paper's Fig 6 and Table 2 do) and ``base_lr`` (the LR of an intervention
    cell, NaN for the LR sweep). An intervention run at more than one LR is split: the lowest LR
    keeps the name, a single higher one becomes ``high_lr_<name>`` (the paper's "High LR + L2
    Reg."), several higher ones ``<name>@lr<LR>``. Groups without intervention cells are dropped.
    """
    usable = runs[runs["status"] != RunStatus.DIVERGED].copy()
    varied = usable[usable["intervention"] != NO_INTERVENTION].copy()
    columns = list(runs.columns) + ["intervention_kind", "value", "base_lr"]
    if varied.empty:
        return pd.DataFrame(columns=columns)
    parsed = varied["intervention"].map(parse_intervention)
    varied["intervention_kind"] = parsed.str[0]
    varied["value"] = [intervention_value(name, value) for name, value in parsed]
    varied["base_lr"] = varied["lr"]
    varied["intervention_kind"] = _split_by_base_lr(varied)
    keys = varied[INTERVENTION_KEYS].drop_duplicates()
    plain = usable[usable["intervention"] == NO_INTERVENTION].merge(keys, on=INTERVENTION_KEYS, how="inner")
    plain = plain.assign(intervention_kind="lr", value=plain["lr"], base_lr=np.nan)
    return pd.concat([plain, varied], ignore_index=True)[columns]


def _split_by_base_lr(varied: pd.DataFrame) -> pd.Series:
    labels = varied["intervention_kind"].copy()
    for _, group in varied.groupby(INTERVENTION_KEYS + ["intervention_kind"]):
        base_lrs = sorted(group["base_lr"].unique())
        name = group["intervention_kind"].iloc[0]
        for lr in base_lrs[1:]:
            labels.loc[group.index[group["base_lr"] == lr]] = (
                f"high_lr_{name}" if len(base_lrs) == 2 else f"{name}@lr{lr:g}")
    return labels


def intervention_rank(label: str) -> tuple[int, str]:
    """Sort key: Table 2's order, unknown labels last (alphabetically)."""
    return (INTERVENTION_ORDER.index(label) if label in INTERVENTION_ORDER else len(INTERVENTION_ORDER), label)


def table2(runs: pd.DataFrame, model_arch: dict[str, str]) -> pd.DataFrame:
    """Table 2: per (dataset, model, recipe, intervention), min/max of the value and of each
    per-value mean metric (mean over seeds), diverged runs ignored (see :func:`intervention_runs`).

    As in the paper, ``intervention_min``/``intervention_max`` are the LR range for the ``lr`` row, the L2 strength
    for ``high_lr_l2`` (its LR is ``base_lr``) and **1/batch size** for ``batch_size``; test
    accuracy is in %. The paper's values are matched on (dataset, intervention) only: its
    Table 2 names no model (§4.3 says Fig 6 uses a ResNet18), so ``paper_model`` is ours.
    """
    axis = runs["intervention"].map(lambda label: (parse_intervention(label) or (NO_INTERVENTION,))[0])
    labelled = intervention_runs(runs[~axis.isin(NOT_IN_TABLE2)])
    rows = []
    for (dataset, model, recipe, intervention), group in labelled.groupby(
            INTERVENTION_KEYS + ["intervention_kind"], sort=False):
        means = group.groupby("value")[TABLE1_METRICS].mean()
        means["test_acc"] *= 100
        row = {"dataset": dataset, "model": model, "recipe": recipe, "intervention_kind": intervention,
               "base_lr": group["base_lr"].min(), "intervention_min": means.index.min(),
               "intervention_max": means.index.max(),
               "runs": len(group), "capped_runs": int(group["status"].isin(CAPPED_STATUSES).sum())}
        for metric in TABLE1_METRICS:
            row[f"{metric}_min"], row[f"{metric}_max"] = means[metric].min(), means[metric].max()
        row["paper_dataset"] = PAPER_DATASETS.get(dataset, dataset)
        row["paper_model"] = PAPER_ARCHS.get(model_arch.get(model, model), model)
        rows.append(row)
    ours = pd.DataFrame(rows, columns=TABLE2_COLUMNS)
    if ours.empty:
        return ours
    ours["rank"] = ours["intervention_kind"].map(lambda label: intervention_rank(label)[0])
    ours = ours.sort_values(["dataset", "model", "recipe", "rank", "intervention_kind"], ignore_index=True)
    ours = ours.drop(columns="rank")
    paper = paper_table("table2").rename(columns={"dataset": "paper_dataset"})
    merged = ours.merge(paper, on=["paper_dataset", "intervention_kind"], how="left", suffixes=("", "_paper"))
    for column in [c for c in paper.columns if c.endswith(("_min", "_max"))]:
        merged[f"{column}_diff"] = merged[column] - merged[f"{column}_paper"]
    return merged


def spearman_with_bootstrap(lr: np.ndarray, values: np.ndarray, n_boot: int = 1000, seed: int = 0
                            ) -> tuple[float, float, float]:
    """Spearman ρ of ``values`` with ``lr`` and a percentile-bootstrap 95 % CI (runs resampled)."""
    rho = float(spearmanr(lr, values).statistic)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(lr), len(lr))
        if np.unique(lr[idx]).size > 1 and np.unique(values[idx]).size > 1:
            samples.append(spearmanr(lr[idx], values[idx]).statistic)
    if not samples:
        return rho, float("nan"), float("nan")
    low, high = np.percentile(samples, [2.5, 97.5])
    return rho, float(low), float(high)


def verdict(low: float, high: float) -> str:
    """The paper claims every metric rises with LR: CI above 0 supports it, below 0 contradicts it."""
    if np.isnan(low) or np.isnan(high):
        return "inconclusive"
    if low > 0:
        return "supported"
    if high < 0:
        return "contradicted"
    return "inconclusive"


# A verdict needs converged runs at this many LRs; with fewer the row is UNDER_TRAINED.
MIN_CONVERGED_LRS = 3
UNDER_TRAINED = "inconclusive (under-trained)"
SCORECARD_KEYS = ["dataset", "model", "recipe"]


# The verdict of a metric the paper states no direction for (a registry claim of ""): ρ is shown, no verdict.
NO_CLAIM_VERDICT = "no claim"


def scorecard_metrics(dataset: str, columns: Iterable[str] = ()) -> list[str]:
    """The scorecard metrics of :data:`largelr.metric_registry.SCORECARD_METRICS`: Table 1's, worst-group
    accuracy where the paper reports it (§4.1), the others where ``columns`` has them, then every
    ``prunability_<ranking>`` / ``pruned_accuracy_<ranking>`` of ``columns`` (§3.2 under each unit
    ranking and normalisation, ``analysis.prune_rankings``)."""
    present = set(columns)

    def scored(metric: Metric) -> bool:
        if metric.scorecard == "worst_group":
            return dataset in WORST_GROUP_DATASETS
        return bool(metric.table1) or metric.name in present

    per_ranking = [column(name) for column in (prunability_column, pruned_accuracy_column)
                   for name in PRUNE_RANKING_NAMES]
    return [m.name for m in SCORECARD_METRICS if scored(m)] + [c for c in per_ranking if c in present]


def prune_ranking_of(metric: str) -> str:
    """The unit ranking a ``prunability_<ranking>`` / ``pruned_accuracy_<ranking>`` metric uses; ``""`` for
    any other metric (the plain ``prunability`` / ``pruned_accuracy`` is the first of ``analysis.prune_rankings``)."""
    names = {column(name): name for column in (prunability_column, pruned_accuracy_column)
             for name in PRUNE_RANKING_NAMES}
    return names.get(metric, "")


def normalisation_of(metric: str) -> str:
    """The §3.2 reading of a prunability metric: ``retention`` (``prunability*``), ``accuracy``
    (``pruned_accuracy*``); ``""`` for any other metric."""
    if metric.startswith("pruned_accuracy"):
        return "accuracy"
    return "retention" if metric.startswith("prunability") else ""


def claims_scorecard(runs: pd.DataFrame, metrics: list[str] | None = None, n_boot: int = 1000) -> pd.DataFrame:
    """Claims scorecard (beyond the paper; it tests the paper's claim of §4.2 that every metric rises with LR).

    One row per (dataset, model, recipe, metric): every recipe is scored on its own, over
    the kept, plain (intervention == "none"), non-diverged runs. ``runs`` / ``converged_runs`` /
    ``capped_runs`` count them; ρ, its CI and the verdict use the converged runs only, and a
    row with fewer than :data:`MIN_CONVERGED_LRS` converged LRs is :data:`UNDER_TRAINED`.
    Metrics default to :func:`scorecard_metrics` (with a row per ``prunability_<ranking>``
    column of ``runs``, ``prune_ranking`` naming the ranking, so a verdict's dependence on the
    §3.2 reading shows); metrics a run set lacks, and sweeps of a single LR, give no row.
    """
    plain = runs[(runs["intervention"] == NO_INTERVENTION) & (runs["status"] != RunStatus.DIVERGED)]
    rows = []
    for (dataset, model, recipe), group in plain.groupby(SCORECARD_KEYS, sort=True):
        for metric in metrics or scorecard_metrics(dataset, runs.columns):
            data = group[["lr", "status", metric]].dropna() if metric in group else group.iloc[:0]
            if data["lr"].nunique() >= 2:
                rows.append({"dataset": dataset, "model": model, "recipe": recipe, "metric": metric,
                             "prune_ranking": prune_ranking_of(metric), "normalisation": normalisation_of(metric),
                             **_score(data, metric, n_boot)})
    return pd.DataFrame(rows)


def _score(data: pd.DataFrame, metric: str, n_boot: int) -> dict:
    converged = data[data["status"] == RunStatus.CONVERGED]
    n_lrs = converged["lr"].nunique()
    rho = low = high = float("nan")
    if n_lrs >= 2:
        rho, low, high = spearman_with_bootstrap(converged["lr"].to_numpy(), converged[metric].to_numpy(), n_boot)
    claim = CLAIMS.get(metric, INCREASES)  # a per-ranking column claims what its plain metric does
    judged = verdict(low, high) if n_lrs >= MIN_CONVERGED_LRS else UNDER_TRAINED
    return {**status_counts(data), "learning_rates": data["lr"].nunique(), "converged_learning_rates": n_lrs,
            "spearman": rho, "ci_low": low, "ci_high": high,
            "claim": claim or "none (no direction stated)",
            "verdict": judged if claim else NO_CLAIM_VERDICT}


def write_table(frame: pd.DataFrame, stem: str | Path, caption: str = "",
                formats: tuple[str, ...] = ("csv", "md", "tex"), legend: str = "",
                keys: Sequence[str] | None = None) -> None:
    """``stem``.csv / .md / .tex (numbers rounded to 4 significant digits in md and tex).

    The CSV and Markdown keep every column; the LaTeX table is laid out as the paper's
    (:func:`largelr.reporting.latex.latex_table`: the ``keys`` columns, default every column that is no
    min–max quantity, then min–max pairs, ours beside the paper's). ``legend`` (e.g. what a marker
    means) follows the Markdown table and ends the LaTeX caption.
    """
    stem = Path(stem)
    shown = frame.map(lambda v: float(f"{v:.4g}") if isinstance(v, float) and np.isfinite(v) else v)
    if "csv" in formats:
        with atomic_path(stem.with_suffix(".csv")) as tmp:
            frame.to_csv(tmp, index=False)
    if "md" in formats:
        header = f"{caption}\n\n" if caption else ""
        footer = f"\n{legend}\n" if legend else ""
        atomic_write_text(stem.with_suffix(".md"), header + shown.to_markdown(index=False) + "\n" + footer)
    if "tex" in formats:
        full = " ".join(part for part in (caption, legend) if part)
        paired = {f"{q}_{end}" for q in min_max_quantities(frame) for end in ("min", "max")}
        keys = list(keys) if keys is not None else [c for c in frame.columns if c not in paired]
        atomic_write_text(stem.with_suffix(".tex"), latex_table(frame, keys, caption=full))
