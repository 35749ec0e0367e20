"""Snakemake entry point of rule table1."""

from pathlib import Path

import pandas as pd

from largelr.jobs import start_job
from largelr.lr_filter import kept_runs
from largelr.tables import table1, write_table

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
decisions = pd.concat([pd.read_csv(path) for path in snakemake.input.lr_filters])  # noqa: F821
runs = kept_runs(pd.read_csv(snakemake.input.runs), decisions)  # noqa: F821
table = table1(runs, snakemake.params.model_archs)  # noqa: F821
write_table(table, Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
            caption="Table 1: min/max per dataset-model (ours, the paper's, difference)")
