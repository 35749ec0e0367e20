"""Snakemake entry point of rule figure_lr_sweep: one metrics-vs-LR figure (Figs 3, 15)."""

from largelr.figures.lr_sweep import plot_lr_sweep
from largelr.jobs import start_job
from largelr.summary import summarize_runs

start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
spec, preset = snakemake.params.spec, snakemake.params.preset  # noqa: F821
runs = summarize_runs(snakemake.input.runs, snakemake.input.metrics)  # noqa: F821
title = spec.get("title", f"{spec['dataset']} ({spec.get('model', 'all models')})")
note = "" if preset == "paper" else f"preset '{preset}': demo scale (reduced data, grid and iteration cap)"
plot_lr_sweep(runs, snakemake.output.pdf, snakemake.output.png, snakemake.output.ranges,  # noqa: F821
              title=title, note=note)
