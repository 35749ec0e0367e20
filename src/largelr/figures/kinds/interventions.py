"""Kind ``interventions``: metrics vs each intervention's value beside LR, normalised across each
row (§5, Figs 6, 19; Table 2)."""

from __future__ import annotations

from largelr.figures.kind import FigureJob, FigureKind, kept_figure_runs, summary_inputs

DEFAULT_METRICS = ("test_acc", "prunability", "csi")


def draw(job: FigureJob) -> None:
    """The kept plain and intervention runs; ``{figure}.csv``: raw min/max of every drawn variable."""
    from largelr.figures.interventions import plot_interventions

    plot_interventions(kept_figure_runs(job), job.pdf, job.png, job.csv, title=job.title, note=job.note,
                       metrics=job.spec.get("metrics") or DEFAULT_METRICS)


KIND = FigureKind(
    "interventions", lambda spec, grid, paths: summary_inputs(spec, paths, intervention=None), draw,
    caption="""Unbiased test accuracy, prunability and CSI against the value of each intervention (batch size
shown as 1/batch size, momentum, L1, L2, focal-loss γ, ASAM ρ) beside the same metrics against
LR, as in the paper's Figs 6 and 19. Each variable is normalised across the whole row, so panels
of one row are comparable; raw min/max in ``{figure}.csv``.
Lines are means over seeds, bands ± 1 s.d.""",
)
