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
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/plot_lr_sweep.py"
