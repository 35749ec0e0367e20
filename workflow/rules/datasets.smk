rule generate_dataset:
    """One spurious-correlation dataset (SPEC §2), cached as one .npz with both splits."""
    output:
        DATASET_FILE,
    params:
        spec=lambda w: preset_of(w)["datasets"][w.dataset],
        data_root=lambda w: preset_of(w)["data_root"],
        download=lambda w: preset_of(w)["download"],
    log:
        LOGS + "/data/{dataset}.log",
    conda:
        "../../envs/torch.yaml"
    script:
        "../../scripts/generate_dataset.py"
