"""Snakemake entry point of rule table1: Table 1 from each (dataset, model)'s main recipe (constant-LR SGD)."""

from pathlib import Path

import pandas as pd

from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.tables import MAIN_RECIPE, table1, write_table1

start_job(snakemake)
decisions = pd.concat([pd.read_csv(path) for path in snakemake.input.lr_filters])
runs = kept_runs(pd.read_csv(snakemake.input.runs), decisions)
main_recipe = snakemake.params.get("main_recipe", MAIN_RECIPE)
table = table1(runs, snakemake.params.model_archs, main_recipe=main_recipe)
write_table1(table, Path(snakemake.output.csv).with_suffix(""),
             caption=f"Table 1: min/max per dataset-model, recipe '{main_recipe}' (ours, the paper's, difference);"
                     " accuracy is worst-group accuracy for CelebA and Waterbirds")
