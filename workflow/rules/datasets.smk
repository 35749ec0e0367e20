rule generate_dataset:
    """One spurious-correlation dataset (SPEC §2), cached as one .npz with both splits."""
    output:
        DATASET_FILE,
    log:
        log_file("data", "{dataset}"),
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=rule_mem_mb("generate_dataset"),
        runtime=rule_runtime("generate_dataset"),
    params:
        spec=dataset_spec,
        data_root=data_root,
        download=download,
    script:
        "../../scripts/generate_dataset.py"
