"""Snakemake entry point of rule table1: Table 1 from each (dataset, model)'s main recipe (constant-LR SGD)."""

from pathlib import Path

import pandas as pd

from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.tables import MAIN_OPTIMIZER, table1, write_table1

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
decisions = pd.concat([pd.read_csv(path) for path in snakemake.input.lr_filters])  # noqa: F821
runs = kept_runs(pd.read_csv(snakemake.input.runs), decisions)  # noqa: F821
main_optimizer = snakemake.params.get("main_optimizer", MAIN_OPTIMIZER)  # noqa: F821
table = table1(runs, snakemake.params.model_archs, main_optimizer=main_optimizer)  # noqa: F821
write_table1(table, Path(snakemake.output.csv).with_suffix(""),  # noqa: F821
             caption=f"Table 1: min/max per dataset-model, recipe '{main_optimizer}' (ours, the paper's, difference);"
                     " accuracy is worst-group accuracy for CelebA and Waterbirds")
