"""Snakemake entry point of rule select_hard_samples: the gallery samples of one run group (suppl. E.1)."""

import pandas as pd

from largelr.analyses.gallery import kept_learning_rates, select_gallery, write_gallery
from largelr.io import read_json
from largelr.jobs import start_job

log = start_job(snakemake)
runs, maps = list(snakemake.input.runs), list(snakemake.input.maps)
decisions = pd.read_csv(snakemake.input.lr_filter)
kept = kept_learning_rates(decisions, read_json(runs[0])["cell"]) if runs else None
arrays = select_gallery(runs, maps, snakemake.input.dataset, n_samples=int(snakemake.params.n_samples),
                        kept_lrs=kept)
write_gallery(arrays, snakemake.output.npz, snakemake.output.csv)
log.info("gallery: low LR %s (%d seeds), high LR %s (%d seeds), %d samples, %d meet the strict criterion",
         arrays["low_lr"], arrays["n_seeds_low"], arrays["high_lr"], arrays["n_seeds_high"],
         len(arrays["indices"]), int(arrays["is_hard"].sum()))
