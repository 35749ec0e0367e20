rule table1:
    """Table 1: min/max of LR and every metric per (dataset, model), beside the paper's values."""
    input:
        runs=SUMMARY_CSV,
        lr_filters=lr_filter_files,
    output:
        csv=report(
            TABLE.replace("{table}", "table1") + ".csv",
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "table1"},
        ),
        md=TABLE.replace("{table}", "table1") + ".md",
        tex=TABLE.replace("{table}", "table1") + ".tex",
    params:
        model_archs=model_archs,
    log:
        LOGS + "/tables/table1.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/make_table1.py"


rule claims_scorecard:
    """Spearman correlation of every metric with LR, bootstrap CI, verdict on the paper's claim."""
    input:
        runs=SUMMARY_CSV,
        lr_filters=lr_filter_files,
    output:
        csv=report(
            TABLE.replace("{table}", "claims") + ".csv",
            caption="../report/claims.rst",
            category="Tables",
            labels={"table": "claims"},
        ),
        md=TABLE.replace("{table}", "claims") + ".md",
    log:
        LOGS + "/tables/claims.log",
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
        csv=report(
            TABLE.replace("{table}", "table2") + ".csv",
            caption="../report/table2.rst",
            category="Tables",
            labels={"table": "table2"},
        ),
        md=TABLE.replace("{table}", "table2") + ".md",
        tex=TABLE.replace("{table}", "table2") + ".tex",
    params:
        archs=model_archs,
    log:
        LOGS + "/tables/table2.log",
    conda:
        "../../envs/plot.yaml"
    script:
        "../../scripts/make_table2.py"
