"""Column names shared by run records, metric files and ``summary/runs.csv`` (torch-free)."""

# One training cell of the grid (SPEC §4: dataset, model, optimizer, LR, intervention, seed).
GRID_COLUMNS = ["dataset", "model", "optimizer", "lr", "hp", "seed"]
# Run statuses (runs.csv ``status``): ``converged`` = 100 % training accuracy (or the recipe's
# stop_loss); ``max_iters`` = stopped at the iteration cap; ``stalled`` = frozen because training
# accuracy stopped improving; ``diverged``. Capped runs (cap or stall) are under-trained: the
# paper trains "until 100 % accuracy" (§4.2), so tables and figures mark them and verdicts skip them.
CONVERGED_STATUS = "converged"
CAPPED_STATUSES = ("max_iters", "stalled")
# Facts of a finished run, from run.json.
RUN_COLUMNS = ["status", "iterations", "wall_time_s", "device", "max_bc_loss_ratio"]
# Per-run metrics of SPEC §5, from metrics.json.
# ``pruned_accuracy`` is the ``accuracy`` reading of κ-prunability (PRUNE_NORMALISATIONS);
# ``csi_live`` / ``bsi_live`` average CSI / BSI over live neurons only (§3.3, dead ones left out).
METRIC_NAMES = (
    "test_acc", "worst_group_acc", "prunability", "pruned_accuracy", "act_compressibility", "act_sparsity",
    "act_pq_index", "class_sep", "csi", "csi_live", "bsi", "bsi_live",
)
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
# Per-run attribution statistics (§3.3, suppl. E), from attribution.json.
ATTRIBUTION_COLUMNS = ("core_attribution", "spurious_attribution", "noise_attribution", "attribution_entropy")
# Parameter compressibility (Fig 25), from pruning.json's "parameters" block.
PARAMETER_COLUMNS = ("param_qk_compressibility", "param_pq_index")
# Background attribution % (§5, Fig 10), from background.json.
BACKGROUND_COLUMNS = ("background_attribution",)

# The ``hp`` column: ``none`` or one intervention value ``name=value`` (see largelr.training.recipes).
NO_INTERVENTION = "none"
# Intervention names of the ``hp`` column (largelr.training.recipes.INTERVENTIONS applies them).
INTERVENTION_NAMES = ("batch_size", "momentum", "l1", "l2", "focal_gamma", "asam_rho", "lr_drop_at")


def format_hp(name: str, value: float) -> str:
    """Grid/path label of one intervention value, e.g. ``l2=0.0001``."""
    if name not in INTERVENTION_NAMES:
        raise ValueError(f"experiments[*].vary: unknown intervention {name!r}; known: {sorted(INTERVENTION_NAMES)}")
    return f"{name}={value:g}"


def parse_hp(label: str) -> tuple[str, float] | None:
    """``"l2=0.001"`` → ``("l2", 0.001)``; ``"none"`` → ``None``."""
    if label == NO_INTERVENTION:
        return None
    name, _, value = label.partition("=")
    return name, float(value)
