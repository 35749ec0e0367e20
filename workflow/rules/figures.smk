rule figure_lr_sweep:
    """Metrics vs LR, normalised per variable (left panels of Figs 3 and 15)."""
    input:
        unpack(figure_inputs),
    output:
        pdf=FIGURE + ".pdf",
        png=report(
            FIGURE + ".png",
            caption="../report/lr_sweep.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
        ranges=FIGURE + "_ranges.csv",
    params:
        spec=lambda w: preset_of(w)["figures"][w.figure],
        preset=lambda w: w.preset,
    log:
        LOGS + "/figures/{figure}.log",
    wildcard_constraints:
        figure=figures_of_kind("lr_sweep"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/plot_lr_sweep.py"


rule figure_dataset_examples:
    """Bias-aligned and bias-conflicting training images of each dataset (Fig 2)."""
    input:
        unpack(example_datasets),
    output:
        pdf=FIGURE + ".pdf",
        png=report(
            FIGURE + ".png",
            caption="../report/dataset_examples.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        LOGS + "/figures/{figure}.log",
    wildcard_constraints:
        figure=figures_of_kind("dataset_examples"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/plot_dataset_examples.py"


rule figure_pruning_curves:
    """Accuracy retained vs pruned fraction, one line per LR (Fig 20 column, Fig 21 global magnitude)."""
    input:
        unpack(pruning_figure_inputs),
    output:
        pdf=FIGURE + ".pdf",
        png=report(
            FIGURE + ".png",
            caption="../report/pruning_curves.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    params:
        spec=figure_spec,
        preset=lambda w: w.preset,
    log:
        LOGS + "/figures/{figure}.log",
    wildcard_constraints:
        figure=figures_of_kind("pruning_curves"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/plot_pruning_curves.py"
