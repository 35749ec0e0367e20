"""The workflow's planning, torch-free: where every file lies (:mod:`~largelr.workflow.paths`), how
training groups become jobs and what each job asks of a cluster (:mod:`~largelr.workflow.plan`,
:mod:`~largelr.workflow.cost`). ``workflow/rules/common.smk`` wires Snakemake's wildcards to these
functions; ``monitor.py``, ``benchmarks/paper_cost.py`` and the tests import them directly.
"""
