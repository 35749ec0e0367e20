"""Snakemake entry point of rule figure_lr_sweep: one metrics-vs-LR figure (Figs 3, 15)."""

import pandas as pd

from largelr.figures.lr_sweep import plot_lr_sweep
from largelr.jobs import start_job
from largelr.lr_filter import kept_runs
from largelr.summary import summarize_runs

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
spec, preset = snakemake.params.spec, snakemake.params.preset  # noqa: F821
all_runs = summarize_runs(snakemake.input.runs, snakemake.input.metrics)  # noqa: F821
decisions = pd.read_csv(snakemake.input.lr_filter)  # noqa: F821
runs = kept_runs(all_runs, decisions)
dropped = sorted(decisions.loc[~decisions["kept"], "lr"])
title = spec.get("title", f"{spec['dataset']} ({spec.get('model', 'all models')})")
notes = [] if preset == "paper" else [f"preset '{preset}': demo scale (reduced data, grid and iteration cap)"]
if dropped:
    notes.append(f"LRs left out by the §4.2 filter (divergence / >25 % acc. drop): {', '.join(f'{lr:g}' for lr in dropped)}")
note = "\n".join(notes)
plot_lr_sweep(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.ranges,  # noqa: F821
              title=title, note=note)
