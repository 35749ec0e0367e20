"""Snakemake entry point of rule claims_scorecard: one row per (dataset, model, recipe, metric)."""

from pathlib import Path

import pandas as pd

from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.tables import claims_scorecard, write_table

log = start_job(snakemake)
decisions = pd.concat([pd.read_csv(path) for path in snakemake.input.lr_filters])
card = claims_scorecard(kept_runs(pd.read_csv(snakemake.input.runs), decisions))
write_table(card, Path(snakemake.output.csv).with_suffix(""),
            caption="Claims scorecard: does each metric rise with the learning rate? (per recipe; ρ and verdict"
                    " over converged runs only; 'inconclusive (under-trained)' = fewer than 3 LRs with a"
                    " converged run; prunability_<ranking> = κ-prunability with the units ranked by <ranking>,"
                    " prunability = the first of analysis.prune_rankings; normalisation: retention ="
                    " mean Acc(f^k)/Acc(f), accuracy = mean Acc(f^k) (pruned_accuracy*), the two readings of §3.2;"
                    " csi_live / bsi_live = over live neurons; BSI has no claimed direction)", formats=("csv", "md"))
log.info("verdicts: %s", card["verdict"].value_counts().to_dict() if len(card) else {})
