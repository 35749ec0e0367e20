"""The per-run metrics of the paper, each declared once (torch-free: plotting jobs import it).

A :class:`Metric` says where its value comes from (the per-run file, and for ``metrics.json`` the
formula of :mod:`largelr.analyses.metrics` and its arguments), its figure label and unit, its
place in Table 1 (§4.2), whether the claims scorecard scores it and with which claim, and
whether a metrics-vs-LR figure (Figs 3, 15) draws it by default. Everything else is derived:
``metrics.json`` and ``runs.csv`` columns (:data:`METRIC_NAMES`, :func:`columns_of`), Table 1's
columns (:data:`TABLE1_METRICS`, :data:`TABLE1_READINGS`), the scorecard's metrics and claims
(:data:`SCORECARD_METRICS`, :data:`CLAIMS`) and the figure labels (:data:`LR_SWEEP_METRICS`).

To add a metric: its formula in :mod:`largelr.analyses.metrics` (or the analysis that writes it),
one :class:`Metric` in :data:`METRICS`, and its name in the figure ``metrics`` enum of
``workflow/schemas/preset.schema.yaml`` (a test keeps that enum equal to :data:`LR_SWEEP_METRICS`).
"""

from __future__ import annotations

from dataclasses import dataclass

# The per-run files a metric can come from (``source``): the ``evaluate`` rule's metrics.json, the
# optional analysis files that figures join onto runs.csv (largelr.reporting.summary.ANALYSIS_FILE_COLUMNS),
# and the training run's own run.json.
SOURCES = ("metrics", "attributions", "pruning", "background", "run")
# The values largelr.analyses.evaluation computes once per run, by which a Metric's ``on`` names its
# formula's arguments: the unpruned test accuracy and arg-max predictions with the test split's class
# and bias labels (§4.1); the §3.2 pruning curve's two summaries (first unit ranking); the penultimate
# activations ``z`` of the representation sample with its labels ``y`` / bias labels ``b`` (suppl. C);
# the preset's (q, κ) of activation compressibility (``analysis.compress_q``, ``analysis.compress_kappa``).
EVALUATION_INPUTS = ("base_accuracy", "predicted", "test_y", "test_b", "prunability", "pruned_accuracy",
                     "z", "y", "b", "compress_kappa", "compress_q")
# The scorecard's claim for a metric that rises with LR (§4.2: every Table 1 metric does).
INCREASES = "increases with LR"
# ``scorecard`` values: not scored, scored, scored on the datasets whose accuracy the paper reports
# as worst-group accuracy (largelr.reporting.tables.WORST_GROUP_DATASETS; §4.1).
SCORECARD_CHOICES = ("no", "yes", "worst_group")


@dataclass(frozen=True)
class Metric:
    """One per-run metric (one column of ``summary/runs.csv``).

    ``formula``: the function of :mod:`largelr.analyses.metrics` that computes it from the
    :data:`EVALUATION_INPUTS` named by ``on`` (no formula: the value is the one input itself);
    ``metrics.json`` metrics only, the others are written by their analysis (``source``).
    ``table1``: its column's place in Table 1 (1 = first; 0 = no column). ``table1_reading_of``:
    an extra Table 1 column set beside the paper's value of that metric (another reading of it).
    ``claim``: the direction the paper claims (``""``: none stated; the scorecard gives ρ, no verdict).
    """

    name: str
    label: str
    unit: str
    source: str = "metrics"
    formula: str = ""
    on: tuple[str, ...] = ()
    table1: int = 0
    table1_reading_of: str = ""
    scorecard: str = "no"
    claim: str = INCREASES
    lr_sweep_default: bool = False


# Every metric, in the column order of metrics.json and runs.csv (then the analysis files' columns).
# Units: ``fraction`` in [0, 1] (Table 1 gives test accuracy in %), ``ratio`` of two quantities,
# ``index`` a unitless score, ``nats`` an entropy (natural log).
METRICS: tuple[Metric, ...] = (
    Metric("test_acc", "Test Acc.", "fraction", on=("base_accuracy",), table1=1, scorecard="yes",
           lr_sweep_default=True),
    Metric("worst_group_acc", "Worst-Group Acc.", "fraction", formula="worst_group_accuracy",
           on=("predicted", "test_y", "test_b"), scorecard="worst_group"),
    Metric("prunability", "Prunability", "ratio", on=("prunability",), table1=2, scorecard="yes",
           lr_sweep_default=True),
    # the accuracy reading of prunability (§3.2: mean Acc(f^(κ)), not divided by Acc(f))
    Metric("pruned_accuracy", "Prunability (mean pruned acc.)", "fraction", on=("pruned_accuracy",),
           table1_reading_of="prunability", scorecard="yes"),
    Metric("act_compressibility", "Act. Comp.", "fraction", formula="mean_qk_compressibility",
           on=("z", "compress_kappa", "compress_q"), table1=3, scorecard="yes", lr_sweep_default=True),
    Metric("act_sparsity", "Act. Sparsity", "fraction", formula="sparsity", on=("z",)),
    Metric("act_pq_index", "Act. PQ-Index", "index", formula="mean_pq_index", on=("z",)),
    Metric("class_sep", "Class Sep.", "index", formula="class_separation_r2", on=("z", "y"), table1=5,
           scorecard="yes", lr_sweep_default=True),
    # CSI / BSI averaged over all neurons (a dead one counts as 0) and over live neurons only (§3.3)
    Metric("csi", "Avg. CSI", "index", formula="mean_class_selectivity", on=("z", "y"), table1=4, scorecard="yes",
           lr_sweep_default=True),
    Metric("csi_live", "Avg. CSI (live neurons)", "index", formula="mean_live_class_selectivity", on=("z", "y"),
           scorecard="yes"),
    # §3.3 defines BSI and claims no direction for it
    Metric("bsi", "Avg. BSI", "index", formula="mean_class_selectivity", on=("z", "b"), scorecard="yes", claim=""),
    Metric("bsi_live", "Avg. BSI (live neurons)", "index", formula="mean_live_class_selectivity", on=("z", "b"),
           scorecard="yes", claim=""),
    # attribution statistics (§3.3, suppl. E), attribution.json
    Metric("core_attribution", "Core Attr. %", "fraction", source="attributions"),
    Metric("spurious_attribution", "Spurious Attr. %", "fraction", source="attributions"),
    Metric("noise_attribution", "Noise Attr. %", "fraction", source="attributions"),
    Metric("attribution_entropy", "Attr. Entropy", "nats", source="attributions"),
    # parameter compressibility (Fig 25), pruning.json's "parameters" block
    Metric("param_qk_compressibility", "Param. Comp.", "fraction", source="pruning"),
    Metric("param_pq_index", "Param. PQ-Index", "index", source="pruning"),
    # background attribution % (§5, Fig 10), background.json
    Metric("background_attribution", "Background Attr. %", "fraction", source="background"),
    # the largest BC/BA loss ratio of training (§6), run.json
    Metric("max_bc_loss_ratio", "Max BC Loss Ratio", "ratio", source="run"),
)
BY_NAME = {metric.name: metric for metric in METRICS}


def check_registry(metrics: tuple[Metric, ...]) -> None:
    """Raise ``ValueError`` where a declaration is inconsistent: a name twice, an unknown source,
    scorecard value or formula input, a formula outside metrics.json, two metrics in one Table 1
    place, or a Table 1 reading of an unknown metric."""
    names = [m.name for m in metrics]
    places = [m.table1 for m in metrics if m.table1]
    problems = [f"{n}: declared twice" for n in sorted({n for n in names if names.count(n) > 1})]
    problems += [f"Table 1 place {p} taken twice" for p in sorted({p for p in places if places.count(p) > 1})]
    for m in metrics:
        problems += [f"{m.name}: {why}" for why in (
            m.source not in SOURCES and f"unknown source {m.source!r}",
            m.scorecard not in SCORECARD_CHOICES and f"unknown scorecard value {m.scorecard!r}",
            bool(set(m.on) - set(EVALUATION_INPUTS)) and f"unknown inputs {sorted(set(m.on) - set(EVALUATION_INPUTS))}",
            m.source != "metrics" and bool(m.formula or m.on) and "only metrics.json metrics have a formula",
            m.source == "metrics" and not m.on and "a metrics.json metric names its inputs (on=...)",
            m.table1_reading_of and m.table1_reading_of not in names and f"unknown {m.table1_reading_of!r}",
        ) if why]
    if problems:
        raise ValueError("largelr.metric_registry.METRICS: " + "; ".join(problems))


check_registry(METRICS)


def columns_of(source: str) -> tuple[str, ...]:
    """The metrics one per-run file holds (:data:`SOURCES`), in registry order."""
    return tuple(metric.name for metric in METRICS if metric.source == source)


def paper_order(metrics: tuple[Metric, ...] | list[Metric]) -> list[str]:
    """Names of ``metrics``: Table 1's columns first in Table 1's order, then the rest in registry order."""
    return [m.name for m in sorted(metrics, key=lambda m: (m.table1 == 0, m.table1, METRICS.index(m)))]


# Per-run metrics of metrics.json (the ``evaluate`` rule, largelr.analyses.evaluation), and the
# columns of the optional per-run analysis files.
METRIC_NAMES = columns_of("metrics")
ATTRIBUTION_COLUMNS = columns_of("attributions")
PARAMETER_COLUMNS = columns_of("pruning")
BACKGROUND_COLUMNS = columns_of("background")
# Metrics that live in an optional per-run analysis file rather than metrics.json: metric → file kind
# (the keys of largelr.reporting.summary.ANALYSIS_FILE_COLUMNS), for the figures that join those files.
METRIC_FILE = {m.name: m.source for m in METRICS if m.source not in ("metrics", "run")}
# Table 1's metric columns (§4.2), in the paper's order; test accuracy is reported in % as in the paper.
TABLE1_METRICS = paper_order([m for m in METRICS if m.table1])
# Table 1's extra columns, each compared with the paper's value of another metric: reading → metric.
TABLE1_READINGS = {m.name: m.table1_reading_of for m in METRICS if m.table1_reading_of}
# The metrics the claims scorecard scores (Table 1's first), and the claim of each (§4.2; "" = none stated).
SCORECARD_METRICS = tuple(BY_NAME[name] for name in paper_order([m for m in METRICS if m.scorecard != "no"]))
CLAIMS = {m.name: m.claim for m in SCORECARD_METRICS}
# Figure label of every metric a metrics-vs-LR figure can draw, and the ones it draws by default.
LR_SWEEP_METRICS = {m.name: m.label for m in METRICS}
LR_SWEEP_DEFAULTS = paper_order([m for m in METRICS if m.lr_sweep_default])
