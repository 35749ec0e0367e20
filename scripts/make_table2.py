"""Snakemake entry point of rule table2 (Table 2: LR vs the other interventions)."""

from pathlib import Path

import pandas as pd

from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.tables import TABLE2_KEYS, table2, write_table

start_job(snakemake)
decisions = pd.concat([pd.read_csv(path) for path in snakemake.input.lr_filters])
runs = kept_runs(pd.read_csv(snakemake.input.runs), decisions)  # §4.2 LR filter, as table1
table = table2(runs, snakemake.params.archs)
write_table(table, Path(snakemake.output.csv).with_suffix(""),
            caption="Table 2: min/max per dataset-model-intervention (ours, the paper's, difference); "
                    "batch size as 1/batch size", keys=TABLE2_KEYS)
