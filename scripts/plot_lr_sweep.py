"""Snakemake entry point of rule figure_lr_sweep: metrics vs LR (Figs 3, 4, 5, 15, 16)."""

import pandas as pd

from largelr.figures.lr_sweep import plot_lr_sweep
from largelr.jobs import start_job
from largelr.lr_filter import kept_runs
from largelr.summary import summarize_runs
from largelr.figures.dataset_examples import DISPLAY_NAMES

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
spec, preset = snakemake.params.spec, snakemake.params.preset  # noqa: F821
all_runs = summarize_runs(snakemake.input.runs, snakemake.input.metrics)  # noqa: F821
decisions = pd.concat([pd.read_csv(path) for path in snakemake.input.lr_filters])  # noqa: F821
runs = kept_runs(all_runs, decisions)
dropped = decisions[~decisions["kept"] & decisions["hp"].eq("none")]
notes = [] if preset == "paper" else [f"preset '{preset}': demo scale (reduced data, grid and iteration cap)"]
if len(dropped):
    lrs = ", ".join(f"{row.dataset} {row.lr:g}" for row in dropped.itertuples())
    notes.append(f"LRs left out by the §4.2 filter (divergence / >25 % acc. drop): {lrs}")
plot_lr_sweep(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.ranges,  # noqa: F821
              title=spec.get("title", snakemake.wildcards.figure), note="\n".join(notes),  # noqa: F821
              metrics=spec.get("metrics"),
              panel_titles=DISPLAY_NAMES)
