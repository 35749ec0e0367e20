rule download_source:
    """MNIST / CIFAR-10 / CIFAR-100 files under data_root, downloaded if missing and allowed, on
    the submitting host (compute nodes often have no internet); lists the files it found.
    """
    output:
        SOURCE_FILE,
    log:
        log_file("download", "{source}"),
    localrule: True
    conda:
        "../../envs/torch.yaml"
    params:
        data_root=data_root,
        download=download,
    script:
        "../../scripts/download_source.py"


rule generate_dataset:
    """One spurious-correlation dataset (§4.1), cached as one .npz with both splits; reads its
    source files (download_source) without downloading."""
    input:
        dataset_sources,
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
    script:
        "../../scripts/generate_dataset.py"
