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
    benchmark:
        BENCHMARKS + "/evaluate/" + CELL + ".tsv"
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
        attribution_runs=lambda w: run_records(w.preset, dataset=attributed_datasets(w.preset)),
        attributions=lambda w: cell_paths(w.preset, RESULTS + "/analysis/{cell}/attribution.json",
                                          dataset=attributed_datasets(w.preset)),
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
    benchmark:
        BENCHMARKS + "/attribute/" + CELL + ".tsv"
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
    benchmark:
        BENCHMARKS + "/prune/" + CELL + ".tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/prune.py"


rule attribute_with_method:
    """Attributions with a named method, for the IG vs DeepLift comparison (Fig 14, suppl. E.1)."""
    input:
        dataset=DATASET_FILE,
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
    output:
        stats=ANALYSIS_DIR + "/attribution_{method}.json",
        maps=ANALYSIS_DIR + "/attribution_maps_{method}.npz",
    params:
        analysis=lambda w: {**preset_of(w)["analysis"], "attribution_method": w.method},
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/attribute_{method}/" + CELL + ".log",
    benchmark:
        BENCHMARKS + "/attribute_{method}/" + CELL + ".tsv"
    wildcard_constraints:
        method="integrated_gradients|deeplift",
    threads: 1
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/attribute.py"


rule background_attribution:
    """Share of |attribution| on the DeepLabV3 background class (§5, Fig 10); needs local weights."""
    input:
        dataset=DATASET_FILE,
        maps=ANALYSIS_DIR + "/attribution_maps.npz",
    output:
        ANALYSIS_DIR + "/background.json",
    params:
        segmenter=lambda w: preset_of(w)["analysis"]["segmenter"],
    log:
        LOGS + "/background/" + CELL + ".log",
    benchmark:
        BENCHMARKS + "/background/" + CELL + ".tsv"
    threads: 1
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/background_attribution.py"


rule landscape:
    """Training loss / unbiased accuracy / spurious utilisation on a filter-normalised plane (Fig 9)."""
    input:
        dataset=DATASET_FILE,
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
    output:
        ANALYSIS_DIR + "/landscape.npz",
    params:
        analysis=lambda w: preset_of(w)["analysis"],
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/landscape/" + CELL + ".log",
    benchmark:
        BENCHMARKS + "/landscape/" + CELL + ".tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/landscape.py"


rule dynamics:
    """Attribution shares, accuracy and one neuron's spurious utilisation at each snapshot (Figs 3, 13, 28)."""
    input:
        dataset=DATASET_FILE,
        run=RUN_DIR + "/run.json",
        snapshots=RUN_DIR + "/snapshots.pt",
    output:
        csv=ANALYSIS_DIR + "/dynamics.csv",
        maps=ANALYSIS_DIR + "/dynamics_maps.npz",
    params:
        analysis=lambda w: preset_of(w)["analysis"],
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/dynamics/" + CELL + ".log",
    benchmark:
        BENCHMARKS + "/dynamics/" + CELL + ".tsv"
    threads: 1
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/dynamics.py"


rule select_hard_samples:
    """Hard samples of a group (correct for > 75 % of high-LR, < 25 % of low-LR seeds) and their
    seed-aggregated attribution maps (suppl. E.1; Figs 1, 8, 29-34)."""
    input:
        unpack(group_inputs),
    output:
        npz=GROUP_DIR + "/gallery.npz",
        csv=GROUP_DIR + "/gallery.csv",
    params:
        n_samples=lambda w: preset_of(w)["analysis"]["gallery_samples"],
    log:
        LOGS + "/groups/{dataset}~{model}~{optimizer}/gallery.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../../scripts/select_hard_samples.py"
