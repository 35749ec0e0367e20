"""Analyses of trained runs (rule file ``analysis.smk``), one concept per module.

- ``metrics``: the §3 and suppl. D–E formulas; ``evaluation``: the metrics of one run;
- ``attribution``: IG / DeepLift attributions and one run's attribution files;
  ``attribution_stats``: core / background shares;
- ``pruning``: node pruning (prunability, Figs 20-21 curves) and one run's curves;
- ``landscape``: loss landscapes (Fig 9) and one run's grid;
- ``dynamics``: metrics over a run's weight snapshots (Figs 3 right, 13, 28 bottom);
- ``gallery``: the hard samples shown in attribution galleries;
- ``segmentation``: DeepLabV3 foreground masks; ``background``: background attribution of a run.
"""
