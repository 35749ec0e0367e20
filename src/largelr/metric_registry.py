"""The per-run metrics of the paper, declared in one place (torch-free: plotting jobs import it)."""

# Per-run metrics of SPEC §5, from metrics.json.
# ``pruned_accuracy`` is the ``accuracy`` reading of κ-prunability (PRUNE_NORMALISATIONS);
# ``csi_live`` / ``bsi_live`` average CSI / BSI over live neurons only (§3.3, dead ones left out).
METRIC_NAMES = (
    "test_acc", "worst_group_acc", "prunability", "pruned_accuracy", "act_compressibility", "act_sparsity",
    "act_pq_index", "class_sep", "csi", "csi_live", "bsi", "bsi_live",
)
# Per-run attribution statistics (§3.3, suppl. E), from attribution.json.
ATTRIBUTION_COLUMNS = ("core_attribution", "spurious_attribution", "noise_attribution", "attribution_entropy")
# Parameter compressibility (Fig 25), from pruning.json's "parameters" block.
PARAMETER_COLUMNS = ("param_qk_compressibility", "param_pq_index")
# Background attribution % (§5, Fig 10), from background.json.
BACKGROUND_COLUMNS = ("background_attribution",)

# Table 1's metric columns; test accuracy is reported in % as in the paper.
TABLE1_METRICS = ["test_acc", "prunability", "act_compressibility", "csi", "class_sep"]
# Table 1's extra column: the accuracy reading of prunability (§3.2), compared with the paper's prunability.
TABLE1_READINGS = ["pruned_accuracy"]
# Scorecard rows beyond Table 1's metrics when the runs table has them: the accuracy reading of
# prunability (§3.2), CSI over live neurons, BSI over all / live neurons (§3.3).
SCORECARD_EXTRA = ["pruned_accuracy", "csi_live", "bsi", "bsi_live"]
# Metrics the paper states no direction for (§3.3 defines BSI, no claim about LR): ρ is shown, no verdict.
NO_CLAIM = ("bsi", "bsi_live")

# Table 1's columns, in the paper's order, with the paper's labels (the default variables).
TABLE1_LABELS = {
    "test_acc": "Test Acc.",
    "prunability": "Prunability",
    "act_compressibility": "Act. Comp.",
    "csi": "Avg. CSI",
    "class_sep": "Class Sep.",
}
# Every variable a metrics-vs-LR figure can draw (Figs 10, 17, 25, 26 use the extra ones).
LR_SWEEP_METRICS = {
    **TABLE1_LABELS,
    "worst_group_acc": "Worst-Group Acc.",
    # the accuracy reading of prunability (§3.2: mean Acc(f^(κ)), not divided by Acc(f))
    "pruned_accuracy": "Prunability (mean pruned acc.)",
    "csi_live": "Avg. CSI (live neurons)",
    "bsi_live": "Avg. BSI (live neurons)",
    "act_sparsity": "Act. Sparsity",
    "act_pq_index": "Act. PQ-Index",
    "bsi": "Avg. BSI",
    "param_qk_compressibility": "Param. Comp.",
    "param_pq_index": "Param. PQ-Index",
    "core_attribution": "Core Attr. %",
    "spurious_attribution": "Spurious Attr. %",
    "noise_attribution": "Noise Attr. %",
    "attribution_entropy": "Attr. Entropy",
    "background_attribution": "Background Attr. %",
    "max_bc_loss_ratio": "Max BC Loss Ratio",
}
