rule train:
    """One training cell with the §4.2 protocol; resumes from checkpoint.pt if interrupted."""
    input:
        dataset=DATASET_FILE,
    output:
        run=RUN_DIR + "/run.json",
        model=RUN_DIR + "/model.pt",
        history=RUN_DIR + "/history.csv",
        snapshots=RUN_DIR + "/snapshots.pt",
    params:
        cell=cell_of,
        model=lambda w: preset_of(w)["models"][w.model],
        optimizer=lambda w: preset_of(w)["optimizers"][w.optimizer],
        training=training_of,
        device=lambda w: preset_of(w)["device"],
    log:
        LOGS + "/train/" + CELL + ".log",
    benchmark:
        BENCHMARKS + "/train/" + CELL + ".tsv"
    threads: 1
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/train.py"
