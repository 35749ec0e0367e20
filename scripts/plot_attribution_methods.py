"""Snakemake entry point of rule figure_attribution_methods (Fig 14: IG vs DeepLift)."""

from largelr.figures.names import scale_note
from largelr.figures.attribution_methods import plot_attribution_methods
from largelr.jobs import start_job

log = start_job(snakemake)  # noqa: F821 (snakemake is injected by the script directive)
spec, preset = snakemake.params.spec, snakemake.params.preset  # noqa: F821
note = scale_note(preset)
agreement = plot_attribution_methods(
    snakemake.input.runs, snakemake.input.ig, snakemake.input.deeplift, snakemake.input.dataset,  # noqa: F821
    snakemake.output.pdf, snakemake.output.png, snakemake.output.agreement,  # noqa: F821
    title=spec.get("title", snakemake.wildcards.figure), note=note,  # noqa: F821
    **({"n_samples": int(spec["n_samples"])} if "n_samples" in spec else {}),  # default: the function's
)
log.info("IG vs DeepLift agreement:\n%s", agreement.to_string(index=False))
