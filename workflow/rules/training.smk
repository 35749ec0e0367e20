rule train_group:
    """Every LR x seed of one (dataset, model, optimizer, intervention) in one job, as one
    stacked model where the recipe allows (§4.2 protocol per model); resumes from its checkpoint.
    """
    input:
        dataset=DATASET_FILE,
    output:
        manifest=path(TRAINING_DIR, "group.json"),
    log:
        log_file("train", TRAINING_GROUP),
    benchmark:
        benchmark_file("train", TRAINING_GROUP)
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu=gpu,
        mem_mb=rule_mem_mb("train_group"),
        runtime=rule_runtime("train_group"),
    params:
        cells=group_grid,
        cell_dirs=group_cell_dirs,
        model=model_spec,
        optimizer=optimizer_spec,
        trainings=group_trainings,
        device=device,
        checkpoint_dir=TRAINING_DIR,
    script:
        "../../scripts/train_group.py"


rule train:
    """One cell's run folder: its files as its group's training job wrote them (hard links)."""
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
    params:
        source=cell_in_group,
    run:
        link_cell(params.source, output, log)
