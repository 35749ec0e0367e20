rule figure:
    """Every figure, drawn by its kind (largelr.figures.kinds: the files it reads, how it draws them)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        csv=path(FIGURES, "{figure}.csv"),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=FIGURE_NAMES,
    conda:
        "../../envs/plot.yaml"
    params:
        kind=figure_kind_name,
        spec=figure_spec,
        preset="{preset}",
        scale=preset_scale,
        kind_params=figure_kind_params,
        caption=figure_caption,
        kind_caption=figure_kind_caption,
    script:
        "../../scripts/plot_figure.py"


rule figure_inventory:
    """Which of the paper's 34 figures this preset builds, at which scale, and why the others are not."""
    output:
        csv=report(
            path(FIGURES, "inventory.csv"),
            caption="../report/inventory.rst",
            category="Tables",
            labels={"table": "figure inventory"},
        ),
        md=path(FIGURES, "inventory.md"),
    log:
        log_file("figures", "inventory"),
    conda:
        "../../envs/plot.yaml"
    params:
        presets=all_presets,
    script:
        "../../scripts/make_figure_inventory.py"


rule training_curves:
    """Training loss and unbiased test accuracy through training of every training group of one
    dataset, per LR with the seeds' band (issue 28): one job per dataset, drawn by
    largelr.figures.training_curves (the drawing of Fig 24 bottom's kind training_curves).
    """
    input:
        unpack(curve_inputs),
    output:
        pdf=f"{TRAINING_CURVES}.pdf",
        png=report(
            f"{TRAINING_CURVES}.png",
            caption="../report/training_curves.rst",
            category="Training curves",
            labels={"dataset": "{dataset}"},
        ),
        csv=f"{TRAINING_CURVES}.csv",
    log:
        log_file("figures", "curves", "{dataset}"),
    conda:
        "../../envs/plot.yaml"
    params:
        preset="{preset}",
        scale=preset_scale,
    script:
        "../../scripts/plot_training_curves.py"
