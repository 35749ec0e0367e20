"""Reporting (rule file ``tables.smk``): reads run files, writes tables.

- ``summary``: the tidy ``runs.csv`` of every run; ``lr_filter``: the §4.2 LR filter;
- ``tables``: Tables 1–2 and the claims scorecard beside ``paper_values/`` (the paper's numbers);
- ``inventory``: which paper figures a preset builds.
"""
