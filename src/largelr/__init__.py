"""largelr: reproduce 'Large Learning Rates Simultaneously Achieve Robustness to Spurious
Correlations and Compressibility' (Barsbey, Prieto, Zafeiriou, Birdal) as a Snakemake pipeline.

Modules, one concept each: ``datasets`` (generators and the on-disk format), ``models``
(architectures behind one interface), ``training`` (the SGD protocol of §4.2), ``metrics``
(§3 and suppl. D–E formulas), ``evaluation`` (metrics of one trained run), ``summary``
(tidy table of all runs), ``figures`` (paper figures), ``config`` (presets and the grid).
"""

__version__ = "0.1.0"
