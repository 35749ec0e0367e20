"""Column names shared by run records, metric files and ``summary/runs.csv`` (torch-free)."""

# the metric columns are declared in largelr.metric_registry; re-exported here for the run files' readers
from largelr.metric_registry import (  # noqa: F401
    ATTRIBUTION_COLUMNS, BACKGROUND_COLUMNS, METRIC_NAMES, PARAMETER_COLUMNS, columns_of,
)

# One training cell of the grid (dataset, model, recipe, LR, intervention, seed; ranges of Tables 1–2).
GRID_COLUMNS = ["dataset", "model", "recipe", "lr", "intervention", "seed"]
# Run statuses (runs.csv ``status``): largelr.engine_facts.RunStatus.
# Facts of a finished run, from run.json, then the metrics run.json holds (``max_bc_loss_ratio``).
RUN_COLUMNS = ["status", "iterations", "wall_time_s", "device", *columns_of("run")]
# Readings of "prune κ of the nodes" (§3.2; largelr.analyses.pruning.PRUNE_RANKINGS, analysis.prune_rankings):
# metrics.json has ``prunability`` (the first listed ranking) and ``prunability_<name>`` per listed one.
PRUNE_RANKING_NAMES = ("weight_norm", "activation", "global_weight_norm")
DEFAULT_PRUNE_RANKINGS = ("weight_norm",)


def prunability_column(ranking: str) -> str:
    """The metrics.json / runs.csv column of κ-prunability (§3.2) under one unit ranking."""
    return f"prunability_{ranking}"


PRUNABILITY_COLUMNS = tuple(prunability_column(name) for name in PRUNE_RANKING_NAMES)
# Normalisations of the same pruning curve (§3.2; analysis.prune_normalisations): ``retention`` =
# mean of Acc(f^(κ))/Acc(f) (columns ``prunability``, ``prunability_<ranking>``), ``accuracy`` = mean
# of Acc(f^(κ)) (columns ``pruned_accuracy``, ``pruned_accuracy_<ranking>``).
PRUNE_NORMALISATIONS = {"retention": "prunability", "accuracy": "pruned_accuracy"}
DEFAULT_PRUNE_NORMALISATIONS = ("retention", "accuracy")


def pruned_accuracy_column(ranking: str) -> str:
    """The metrics.json / runs.csv column of the ``accuracy`` reading of prunability under one ranking."""
    return f"pruned_accuracy_{ranking}"


PRUNED_ACCURACY_COLUMNS = tuple(pruned_accuracy_column(name) for name in PRUNE_RANKING_NAMES)
# The note runs.csv gives when a value is undefined (e.g. region shares without a spurious region).
NOTES_COLUMN = "notes"
