rule table1:
    """Table 1: min/max of LR and every metric per (dataset, model), beside the paper's values."""
    input:
        runs=SUMMARY_CSV,
        lr_filters=lr_filter_files,
    output:
        table_outputs(
            "table1", "../report/table1.rst", csv=".csv", md=".md", tex=".tex"
        ),
    log:
        log_file("tables", "table1"),
    conda:
        "../../envs/plot.yaml"
    params:
        model_archs=model_archs,
    script:
        "../../scripts/make_table1.py"


rule claims_scorecard:
    """Spearman correlation of every metric with LR, bootstrap CI, verdict on the paper's claim."""
    input:
        runs=SUMMARY_CSV,
        lr_filters=lr_filter_files,
    output:
        table_outputs("claims", "../report/claims.rst", csv=".csv", md=".md"),
    log:
        log_file("tables", "claims"),
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/make_claims_scorecard.py"


rule table2:
    """Table 2: min/max per (dataset, model, intervention) beside LR's, with the paper's values."""
    input:
        runs=SUMMARY_CSV,
        lr_filters=lr_filter_files,
    output:
        table_outputs(
            "table2", "../report/table2.rst", csv=".csv", md=".md", tex=".tex"
        ),
    log:
        log_file("tables", "table2"),
    conda:
        "../../envs/plot.yaml"
    params:
        archs=model_archs,
    script:
        "../../scripts/make_table2.py"
