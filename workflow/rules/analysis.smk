rule evaluate:
    """Per-run metrics of the paper's §3 (accuracy, prunability, activation compressibility, R²,
    CSI, BSI) of every run of one training job, in one process: one Python and torch start-up per
    job, not per run ({part} as in train_group)."""
    input:
        unpack(job_runs),
    output:
        manifest=path(EVALUATION_DIR, "group{part}.json"),
    log:
        log_file("evaluate", TRAINING_JOB),
    benchmark:
        benchmark_file("evaluate", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("evaluate"),
        mem_mb=rule_mem_mb("evaluate"),
        runtime=job_runtime("evaluate"),
    params:
        metrics_dirs=job_evaluation_dirs,
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/evaluate.py"


rule link_metrics:
    """One run's metrics.json, as its training job's evaluate job wrote it (a hard link, or a copy
    across file systems; a shell job, as link_run)."""
    input:
        manifest=evaluation_manifest,
    output:
        metrics=path(ANALYSIS_DIR, "metrics.json"),
    log:
        log_file("link_metrics", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=cell_evaluation,
    shell:
        "ln -f {params.source:q} {output.metrics:q} 2>/dev/null"
        " || cp -p {params.source:q} {output.metrics:q};"
        " echo 'linked {params.source}' > {log:q}"


rule summarize:
    """Tidy table of every run of a preset: one row per run, one column per metric."""
    input:
        unpack(summary_inputs),
    output:
        report(
            SUMMARY_CSV,
            caption="../report/runs.rst",
            category="Tables",
            labels={"table": "all runs"},
        ),
    log:
        log_file("summarize"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/summarize.py"


rule filter_learning_rates:
    """LRs kept for the figures: up to divergence or a > 25 % accuracy drop in any seed (§4.2)."""
    input:
        unpack(dataset_runs),
    output:
        LR_FILTER_CSV,
    log:
        log_file("lr_filter", "{dataset}"),
    conda:
        "../../envs/plot.yaml"
    params:
        max_drop=max_acc_drop,
    script:
        "../../scripts/filter_learning_rates.py"


rule attribute:
    """Integrated Gradients / DeepLift attributions: core/spurious/noise shares, entropy (§3.3)."""
    input:
        dataset=DATASET_FILE,
        run=path(RUN_DIR, "run.json"),
        model=path(RUN_DIR, "model.pt"),
    output:
        stats=path(ANALYSIS_DIR, "attribution.json"),
        maps=path(ANALYSIS_DIR, "attribution_maps.npz"),
    log:
        log_file("attribute", CELL),
    benchmark:
        benchmark_file("attribute", CELL)
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("attribute"),
        mem_mb=rule_mem_mb("attribute"),
        runtime=rule_runtime("attribute"),
    params:
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/attribute.py"


rule prune:
    """Structured / column / global-magnitude pruning curves and parameter compressibility (Figs 20, 21, 25)."""
    input:
        dataset=DATASET_FILE,
        run=path(RUN_DIR, "run.json"),
        model=path(RUN_DIR, "model.pt"),
    output:
        path(ANALYSIS_DIR, "pruning.json"),
    log:
        log_file("prune", CELL),
    benchmark:
        benchmark_file("prune", CELL)
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("prune"),
        mem_mb=rule_mem_mb("prune"),
        runtime=rule_runtime("prune"),
    params:
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/prune.py"


rule attribute_with_method:
    """Attributions with a named method, for the IG vs DeepLift comparison (Fig 14, suppl. E.1)."""
    input:
        dataset=DATASET_FILE,
        run=path(RUN_DIR, "run.json"),
        model=path(RUN_DIR, "model.pt"),
    output:
        stats=path(ANALYSIS_DIR, "attribution_{method}.json"),
        maps=path(ANALYSIS_DIR, "attribution_maps_{method}.npz"),
    log:
        log_file("attribute_{method}", CELL),
    benchmark:
        benchmark_file("attribute_{method}", CELL)
    wildcard_constraints:
        method="integrated_gradients|deeplift",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("attribute_with_method"),
        mem_mb=rule_mem_mb("attribute_with_method"),
        runtime=rule_runtime("attribute_with_method"),
    params:
        analysis=analysis_with_method,
        device=device,
    script:
        "../../scripts/attribute.py"


rule background_attribution:
    """Share of |attribution| on the DeepLabV3 background class (§5, Fig 10); needs local weights.
    DeepLabV3 runs on the CPU (largelr.analyses.background has no device): gpu_jobs=0.
    """
    input:
        dataset=DATASET_FILE,
        maps=path(ANALYSIS_DIR, "attribution_maps.npz"),
    output:
        path(ANALYSIS_DIR, "background.json"),
    log:
        log_file("background", CELL),
    benchmark:
        benchmark_file("background", CELL)
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=0,
        mem_mb=rule_mem_mb("background_attribution"),
        runtime=rule_runtime("background_attribution"),
    params:
        segmenter=segmenter,
    script:
        "../../scripts/background_attribution.py"


rule landscape:
    """Training loss / unbiased accuracy / spurious utilisation on a filter-normalised plane (Fig 9)."""
    input:
        dataset=DATASET_FILE,
        run=path(RUN_DIR, "run.json"),
        model=path(RUN_DIR, "model.pt"),
    output:
        path(ANALYSIS_DIR, "landscape.npz"),
    log:
        log_file("landscape", CELL),
    benchmark:
        benchmark_file("landscape", CELL)
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("landscape"),
        mem_mb=rule_mem_mb("landscape"),
        runtime=rule_runtime("landscape"),
    params:
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/landscape.py"


rule dynamics:
    """Attribution shares, accuracy and one neuron's spurious utilisation at each snapshot (Figs 3, 13, 28)."""
    input:
        dataset=DATASET_FILE,
        run=path(RUN_DIR, "run.json"),
        snapshots=path(RUN_DIR, "snapshots.pt"),
    output:
        csv=path(ANALYSIS_DIR, "dynamics.csv"),
        maps=path(ANALYSIS_DIR, "dynamics_maps.npz"),
    log:
        log_file("dynamics", CELL),
    benchmark:
        benchmark_file("dynamics", CELL)
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("dynamics"),
        mem_mb=rule_mem_mb("dynamics"),
        runtime=rule_runtime("dynamics"),
    params:
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/dynamics.py"


rule select_hard_samples:
    """Hard samples of a group (correct for > 75 % of high-LR, < 25 % of low-LR seeds) and their
    seed-aggregated attribution maps (suppl. E.1; Figs 1, 8, 29-34)."""
    input:
        unpack(group_inputs),
    output:
        npz=path(GROUP_DIR, "gallery.npz"),
        csv=path(GROUP_DIR, "gallery.csv"),
    log:
        log_file("groups", "{dataset}~{model}~{recipe}", "gallery"),
    conda:
        "../../envs/analysis.yaml"
    params:
        n_samples=gallery_samples,
    script:
        "../../scripts/select_hard_samples.py"
