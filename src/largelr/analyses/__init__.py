"""Analyses of trained runs (rule file ``analysis.smk``), one concept per module.

- ``metrics``: the §3 and suppl. D–E formulas; ``evaluation``: the metrics of one run;
- ``attribution``: IG / DeepLift attributions; ``attribution_stats``: core / background shares;
  ``attribution_run``: one run's attribution file;
- ``pruning``: node pruning (prunability, Fig 21 curves); ``pruning_run``: one run's curves;
- ``landscape`` / ``landscape_run``: loss landscapes (Fig 9) and one run's grid;
- ``dynamics``: metrics over a run's weight snapshots (Figs 3 right, 13, 28 bottom);
- ``gallery``: the hard samples shown in attribution galleries;
- ``segmentation``: DeepLabV3 foreground masks; ``background``: background attribution of a run.
"""
