"""Snakemake entry point of rule figure_attribution_methods (Fig 14: IG vs DeepLift)."""

from largelr.figures.names import scale_note
from largelr.figures.attribution_methods import plot_attribution_methods
from largelr.jobs import start_job

log = start_job(snakemake)
spec, preset = snakemake.params.spec, snakemake.params.preset
note = scale_note(preset)
agreement = plot_attribution_methods(
    snakemake.input.runs, snakemake.input.ig, snakemake.input.deeplift, snakemake.input.dataset,
    snakemake.output.pdf, snakemake.output.png, snakemake.output.agreement,
    title=spec.get("title", snakemake.wildcards.figure), note=note,
    **({"n_samples": int(spec["n_samples"])} if "n_samples" in spec else {}),  # default: the function's
)
log.info("IG vs DeepLift agreement:\n%s", agreement.to_string(index=False))
