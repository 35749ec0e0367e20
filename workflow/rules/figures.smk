rule figure_lr_sweep:
    """Metrics vs LR, normalised per variable (left panels of Figs 3 and 15)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/lr_sweep.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        ranges=path(FIGURES, "{figure}_ranges.csv"),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("lr_sweep"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_lr_sweep.py"


rule figure_dataset_examples:
    """Bias-aligned and bias-conflicting training images of each dataset (Fig 2)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/dataset_examples.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("dataset_examples"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/plot_dataset_examples.py"


rule figure_pruning_curves:
    """Accuracy retained vs pruned fraction, one line per LR (Fig 20 column, Fig 21 global magnitude)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/pruning_curves.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("pruning_curves"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_pruning_curves.py"


rule figure_interventions:
    """Metrics vs intervention value beside LR, normalised across each row (Figs 6, 19; Table 2)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/interventions.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        ranges=path(FIGURES, "{figure}_ranges.csv"),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("interventions"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_interventions.py"


rule figure_lr_drop:
    """Final unbiased accuracy vs the iteration of an LR drop x 0.1, one line per LR (Fig 28 top right)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/lr_drop.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        points=path(FIGURES, "{figure}_points.csv"),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("lr_drop"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_lr_drop.py"


rule figure_bc_ratio:
    """Unbiased accuracy vs the maximum bias-conflicting loss ratio of each run (§6, Figs 12, 27)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/bc_ratio.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        stats=path(FIGURES, "{figure}_correlations.csv"),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("bc_ratio"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_bc_ratio.py"


rule figure_attribution_gallery:
    """Original images, low-LR and high-LR seed-aggregated attributions of hard samples (Figs 1, 8, 29-34)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/attribution_gallery.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("attribution_gallery"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        labels=gallery_labels,
        caption=figure_caption,
    script:
        "../../scripts/plot_attribution_gallery.py"


rule figure_attribution_methods:
    """Integrated Gradients vs DeepLift on the same runs and samples (Fig 14, suppl. E.1)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/attribution_methods.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        agreement=path(FIGURES, "{figure}_agreement.csv"),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("attribution_methods"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_attribution_methods.py"


rule figure_landscape:
    """Loss, unbiased accuracy and spurious-utilisation landscapes, one row per run (Fig 9)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/landscape.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("landscape"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_landscape.py"


rule figure_dynamics:
    """Statistics through training from weight snapshots (Figs 3 right, 13, 28 bottom)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=path(FIGURES, "{figure}.pdf"),
        png=report(
            path(FIGURES, "{figure}.png"),
            caption="../report/dynamics.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        log_file("figures", "{figure}"),
    wildcard_constraints:
        figure=figures_of_kind("dynamics"),
    conda:
        "../../envs/plot.yaml"
    params:
        spec=figure_spec,
        preset="{preset}",
        caption=figure_caption,
    script:
        "../../scripts/plot_dynamics.py"


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
