rule train_group:
    """Every LR x seed of one (dataset, model, recipe, intervention) in one job, as one stacked
    model where the recipe allows (§4.2 protocol per model), or one part of a long group whose
    cells train one after another ({part} = .part-K, training_jobs); resumes from its checkpoint
    and skips the cells whose run folder is complete.
    """
    input:
        dataset=DATASET_FILE,
    output:
        manifest=path(TRAINING_DIR, "group{part}.json"),
    log:
        log_file("train", TRAINING_JOB),
    benchmark:
        benchmark_file("train", TRAINING_JOB)
    wildcard_constraints:
        part=r"(\.part-\d+)?",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu_jobs=gpu,
        gpu_mem_mb=rule_gpu_mem_mb("train_group"),
        mem_mb=rule_mem_mb("train_group"),
        runtime=train_job_runtime,
    params:
        cells=group_grid,
        cell_dirs=group_cell_dirs,
        model=model_spec,
        recipe=recipe_spec,
        trainings=group_trainings,
        engine=training_engine,
        device=device,
        checkpoint_dir=TRAINING_DIR,
        progress=TRAINING_PROGRESS,
    script:
        "../../scripts/train_group.py"


rule link_run:
    """One cell's run folder: its files as its group's training job wrote them (hard links, or
    copies across file systems). A shell job: a `run:` block would start a Snakemake subprocess.
    """
    input:
        manifest=group_manifest,
    output:
        run=path(RUN_DIR, "run.json"),
        model=path(RUN_DIR, "model.pt"),
        history=path(RUN_DIR, "history.csv"),
        snapshots=path(RUN_DIR, "snapshots.pt"),
    log:
        log_file("link", CELL),
    localrule: True
    conda:
        "../../envs/plot.yaml"  # (ln and cp only; any env of the workflow, for --use-conda)
    params:
        source=cell_in_group,
    shell:
        "for file in {output:q}; do"
        " name=$(basename $file);"
        " ln -f {params.source:q}/$name $file 2>/dev/null || cp -p {params.source:q}/$name $file;"
        " done;"
        " echo 'linked 4 files from {params.source}' > {log:q}"
