"""largelr: reproduce 'Large Learning Rates Simultaneously Achieve Robustness to Spurious
Correlations and Compressibility' (Barsbey, Prieto, Zafeiriou, Birdal) as a Snakemake pipeline.

Subpackages mirror the rule files (``workflow/rules/*.smk``); a lower layer never imports a
higher one (datasets < training < analyses < reporting, figures):

- ``datasets`` (``datasets.smk``): MNIST/CIFAR/CelebA/Waterbirds/ImageNet readers
  (``sources``, ``standard``, ``celeba_waterbirds``, ``imagenet``), the generators
  (``synthetic``, ``semisynthetic`` with ``corruptions``), the registry and the ``.npz`` format
  (``format``);
- ``training`` (``training.smk``): ``models``, ``optim``, ``objectives``, ``recipes``,
  ``loop`` (the §4.2 protocol), ``stacked`` (many cells as one model), ``runs`` (run folders);
- ``analyses`` (``analysis.smk``): ``metrics`` (§3 formulas), ``evaluation``,
  ``attribution`` / ``attribution_stats``, ``pruning``, ``landscape``,
  ``dynamics``, ``gallery``,
  ``segmentation``, ``background``;
- ``reporting`` (``tables.smk``): ``summary``, ``lr_filter``, ``tables``, ``inventory`` and
  ``paper_values/`` (the paper's Tables 1–2);
- ``figures`` (``figures.smk``): one module per figure kind, ``names`` for labels;
- plumbing used by every layer: ``columns`` (column names and statuses), ``io`` (atomic
  writes), ``jobs`` (a Snakemake job's logging and threads), ``portable`` (the pinned CPU
  kernels: the same numbers on any x86-64 CPU with AVX2);
- ``config``: the workflow's config resolution (schemas, presets, the grid), used by
  ``workflow/rules/common.smk`` and the tests; no module of the package imports it.
"""

__version__ = "0.1.0"
