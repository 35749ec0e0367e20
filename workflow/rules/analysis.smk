rule evaluate:
    """Per-run metrics of SPEC §5: accuracy, prunability, activation compressibility, R², CSI, BSI."""
    input:
        dataset=DATASET_FILE,
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
    output:
        metrics=ANALYSIS_DIR + "/metrics.json",
    params:
        analysis=lambda w: preset_of(w)["analysis"],
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/evaluate/" + CELL + ".log",
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/evaluate.py"


rule summarize:
    """Tidy table of every run of a preset: one row per run, one column per metric."""
    input:
        runs=lambda w: run_records(w.preset),
        metrics=lambda w: metric_records(w.preset),
        attributions=lambda w: cell_paths(w.preset, RESULTS + "/analysis/{cell}/attribution.json"),
    output:
        report(
            SUMMARY_CSV,
            caption="../report/runs.rst",
            category="Tables",
            labels={"table": "all runs"},
        ),
    log:
        LOGS + "/summarize.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/summarize.py"


rule filter_learning_rates:
    """LRs kept for the figures: up to divergence or a > 25 % accuracy drop in any seed (§4.2)."""
    input:
        runs=lambda w: run_records(w.preset, dataset=w.dataset),
        metrics=lambda w: metric_records(w.preset, dataset=w.dataset),
    output:
        LR_FILTER_CSV,
    params:
        max_drop=lambda w: preset_of(w)["analysis"]["max_acc_drop"],
    log:
        LOGS + "/lr_filter/{dataset}.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/filter_learning_rates.py"


rule attribute:
    """Integrated Gradients / DeepLift attributions: core/spurious/noise shares, entropy (§3.3)."""
    input:
        dataset=DATASET_FILE,
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
    output:
        stats=ANALYSIS_DIR + "/attribution.json",
        maps=ANALYSIS_DIR + "/attribution_maps.npz",
    params:
        analysis=lambda w: preset_of(w)["analysis"],
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/attribute/" + CELL + ".log",
    threads: 1
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/attribute.py"


rule prune:
    """Structured / column / global-magnitude pruning curves and parameter compressibility (Figs 20, 21, 25)."""
    input:
        dataset=DATASET_FILE,
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
    output:
        ANALYSIS_DIR + "/pruning.json",
    params:
        analysis=lambda w: preset_of(w)["analysis"],
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/prune/" + CELL + ".log",
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/prune.py"
