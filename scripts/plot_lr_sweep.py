"""Snakemake entry point of rule figure_lr_sweep: metrics vs LR (Figs 3-5, 10, 15-17, 22-26, 28)."""

import pandas as pd

from largelr.figures.names import DISPLAY_NAMES, scale_note
from largelr.figures.lr_sweep import plot_lr_sweep
from largelr.jobs import start_job
from largelr.reporting.lr_filter import kept_runs
from largelr.reporting.summary import add_run_file_columns, summarize_runs

start_job(snakemake)
spec, preset = snakemake.params.spec, snakemake.params.preset
inputs = snakemake.input
all_runs = summarize_runs(inputs.runs, inputs.metrics)
for kind in ("attributions", "pruning", "background"):  # optional per-run analysis files
    if kind in inputs.keys():
        all_runs = add_run_file_columns(all_runs, inputs.runs, inputs[kind], kind)
decisions = pd.concat([pd.read_csv(path) for path in inputs.lr_filters])
runs = kept_runs(all_runs, decisions)
dropped = decisions[~decisions["kept"] & decisions["hp"].eq("none") & decisions["optimizer"].eq(spec["optimizer"])
                    & decisions["dataset"].isin(runs["dataset"].unique())]
notes = [scale_note(preset)] if scale_note(preset) else []
if len(dropped):
    lrs = ", ".join(f"{row.dataset} {row.lr:g}" for row in dropped.itertuples())
    notes.append(f"LRs left out by the §4.2 filter (divergence / >25 % acc. drop): {lrs}")
plot_lr_sweep(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.ranges,
              title=spec.get("title", snakemake.wildcards.figure), note="\n".join(notes),
              metrics=spec.get("metrics"),
              panel_titles=DISPLAY_NAMES)
