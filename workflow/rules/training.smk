rule train_group:
    """Every LR x seed of one (dataset, model, optimizer, intervention) in one job, as one
    stacked model where the recipe allows (§4.2 protocol per model); resumes from its checkpoint."""
    input:
        dataset=DATASET_FILE,
    output:
        manifest=TRAINING_DIR + "/group.json",
    params:
        cells=group_grid,
        cell_dirs=group_cell_dirs,
        model=lambda w: preset_of(w)["models"][w.model],
        optimizer=lambda w: preset_of(w)["optimizers"][w.optimizer],
        trainings=group_trainings,
        device=lambda w: preset_of(w)["device"],
        checkpoint_dir=TRAINING_DIR,
    log:
        LOGS + "/train/" + TRAINING_GROUP + ".log",
    benchmark:
        BENCHMARKS + "/train/" + TRAINING_GROUP + ".tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/train_group.py"


rule train:
    """One cell's run folder: its files as its group's training job wrote them (hard links)."""
    input:
        manifest=group_manifest,
    output:
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
        history=RUN_DIR + "/history.csv",
        snapshots=RUN_DIR + "/snapshots.pt",
    params:
        source=cell_in_group,
    localrule: True
    run:
        link_run_files(params.source, output)
