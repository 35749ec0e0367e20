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
    """Integrated Gradients / DeepLift attributions: core/spurious/noise shares, entropy (§3.3), of
    the runs of one training job the preset attributes, in one process ({part} as in train_group).
    """
    input:
        unpack(batch_inputs("attribution")),
    output:
        manifest=batch_path("attribution", "group{part}.json"),
    log:
        log_file("attribute", TRAINING_JOB),
    benchmark:
        benchmark_file("attribute", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("attribute"),
        mem_mb=rule_mem_mb("attribute"),
        runtime=job_runtime("attribute", "attribution"),
    params:
        output_dirs=batch_output_dirs("attribution"),
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/attribute.py"


rule link_attribution:
    """One run's attribution files, as its training job's attribute job wrote them (a shell job, as
    link_metrics)."""
    input:
        manifest=batch_manifest("attribution"),
    output:
        stats=path(ANALYSIS_DIR, "attribution.json"),
        maps=path(ANALYSIS_DIR, "attribution_maps.npz"),
    log:
        log_file("link_attribution", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=batch_cell_dir("attribution"),
    shell:
        LINK_FILES


rule prune:
    """Structured / column / global-magnitude pruning curves and parameter compressibility (Figs 20,
    21, 25) of the runs of one training job the figures read, in one process."""
    input:
        unpack(batch_inputs("pruning")),
    output:
        manifest=batch_path("pruning", "group{part}.json"),
    log:
        log_file("prune", TRAINING_JOB),
    benchmark:
        benchmark_file("prune", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("prune"),
        mem_mb=rule_mem_mb("prune"),
        runtime=job_runtime("prune", "pruning"),
    params:
        output_dirs=batch_output_dirs("pruning"),
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/prune.py"


rule link_pruning:
    """One run's pruning.json, as its training job's prune job wrote it."""
    input:
        manifest=batch_manifest("pruning"),
    output:
        pruning=path(ANALYSIS_DIR, "pruning.json"),
    log:
        log_file("link_pruning", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=batch_cell_dir("pruning"),
    shell:
        LINK_FILES


rule attribute_with_method:
    """Attributions with a named method, for the IG vs DeepLift comparison (Fig 14, suppl. E.1), of
    the runs of one training job that figure reads, in one process."""
    input:
        unpack(batch_inputs("attribution_{method}")),
    output:
        manifest=batch_path("attribution_{method}", "group{part}.json"),
    log:
        log_file("attribute_with_method", TRAINING_JOB, "{method}"),
    benchmark:
        benchmark_file("attribute_with_method", TRAINING_JOB, "{method}")
    wildcard_constraints:
        part=r"(\.part-\d+)?",
        method="integrated_gradients|deeplift",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("attribute_with_method"),
        mem_mb=rule_mem_mb("attribute_with_method"),
        runtime=job_runtime("attribute_with_method", "attribution_{method}"),
    params:
        output_dirs=batch_output_dirs("attribution_{method}"),
        analysis=analysis_with_method,
        device=device,
    script:
        "../../scripts/attribute.py"


rule link_attribution_with_method:
    """One run's attribution files of a named method, as attribute_with_method wrote them."""
    input:
        manifest=batch_manifest("attribution_{method}"),
    output:
        stats=path(ANALYSIS_DIR, "attribution_{method}.json"),
        maps=path(ANALYSIS_DIR, "attribution_maps_{method}.npz"),
    log:
        log_file("link_attribution_{method}", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=batch_cell_dir("attribution_{method}"),
    shell:
        LINK_FILES


rule background_attribution:
    """Share of |attribution| on the DeepLabV3 background class (§5, Fig 10) of the runs of one
    training job, in one process; needs local weights. DeepLabV3 runs on the CPU
    (largelr.analyses.background has no device): gpu_jobs=0."""
    input:
        unpack(batch_inputs("background", "attribution_maps.npz")),
    output:
        manifest=batch_path("background", "group{part}.json"),
    log:
        log_file("background_attribution", TRAINING_JOB),
    benchmark:
        benchmark_file("background_attribution", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=0,
        mem_mb=rule_mem_mb("background_attribution"),
        runtime=job_runtime("background_attribution", "background"),
    params:
        output_dirs=batch_output_dirs("background"),
        segmenter=segmenter,
    script:
        "../../scripts/background_attribution.py"


rule link_background:
    """One run's background.json, as its training job's background_attribution job wrote it."""
    input:
        manifest=batch_manifest("background"),
    output:
        background=path(ANALYSIS_DIR, "background.json"),
    log:
        log_file("link_background", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=batch_cell_dir("background"),
    shell:
        LINK_FILES


rule landscape:
    """Training loss / unbiased accuracy / spurious utilisation on a filter-normalised plane (Fig 9)
    of the runs of one training job that figure reads, in one process."""
    input:
        unpack(batch_inputs("landscape")),
    output:
        manifest=batch_path("landscape", "group{part}.json"),
    log:
        log_file("landscape", TRAINING_JOB),
    benchmark:
        benchmark_file("landscape", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("landscape"),
        mem_mb=rule_mem_mb("landscape"),
        runtime=job_runtime("landscape", "landscape"),
    params:
        output_dirs=batch_output_dirs("landscape"),
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/landscape.py"


rule link_landscape:
    """One run's landscape.npz, as its training job's landscape job wrote it."""
    input:
        manifest=batch_manifest("landscape"),
    output:
        landscape=path(ANALYSIS_DIR, "landscape.npz"),
    log:
        log_file("link_landscape", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=batch_cell_dir("landscape"),
    shell:
        LINK_FILES


rule dynamics:
    """Attribution shares, accuracy and one neuron's spurious utilisation at each snapshot (Figs 3,
    13, 28) of the runs of one training job the figures read, in one process."""
    input:
        unpack(batch_inputs("dynamics", "snapshots.pt")),
    output:
        manifest=batch_path("dynamics", "group{part}.json"),
    log:
        log_file("dynamics", TRAINING_JOB),
    benchmark:
        benchmark_file("dynamics", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("dynamics"),
        mem_mb=rule_mem_mb("dynamics"),
        runtime=job_runtime("dynamics", "dynamics"),
    params:
        output_dirs=batch_output_dirs("dynamics"),
        analysis=analysis_settings,
        device=device,
    script:
        "../../scripts/dynamics.py"


rule link_dynamics:
    """One run's dynamics files, as its training job's dynamics job wrote them."""
    input:
        manifest=batch_manifest("dynamics"),
    output:
        csv=path(ANALYSIS_DIR, "dynamics.csv"),
        maps=path(ANALYSIS_DIR, "dynamics_maps.npz"),
    log:
        log_file("link_dynamics", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=batch_cell_dir("dynamics"),
    shell:
        LINK_FILES


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
