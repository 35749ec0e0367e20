"""Kind ``bc_ratio``: unbiased accuracy vs the maximum bias-conflicting loss ratio of each run (§6, Figs 12, 27)."""

from __future__ import annotations

from largelr.figures.kind import FigureJob, FigureKind, kept_figure_runs, summary_inputs


def draw(job: FigureJob) -> None:
    """One point per kept run, coloured by LR; ``{figure}.csv``: Pearson r and Spearman ρ per panel."""
    from largelr.figures.bc_ratio import plot_bc_ratio

    plot_bc_ratio(kept_figure_runs(job), job.pdf, job.png, job.csv, title=job.title, note=job.note)


KIND = FigureKind(
    "bc_ratio", lambda spec, grid, paths: summary_inputs(spec, paths), draw,
    caption="""One point per run: the maximum bias-conflicting loss ratio (BC loss / total minibatch loss,
§6, Prop. 1) met during training against the final unbiased test accuracy, coloured by LR.
Pearson r and Spearman ρ per panel (also in ``{figure}.csv``).""",
)
