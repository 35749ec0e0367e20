# Large learning rates → robustness to spurious correlations + compressibility
# (Barsbey, Prieto, Zafeiriou, Birdal). Table of contents of the pipeline; see README.md.
#
#   snakemake --cores all                                  # default preset (demo)
#   snakemake --cores all --config preset=ci               # another preset
#   snakemake --cores all results/ci/figures/fig03.pdf     # one figure and only its inputs
#   snakemake --report report.html                         # HTML report of figures/tables

import os

from snakemake.utils import min_version

min_version("8.0")


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"


rule all:
    default_target: True
    input:
        final_outputs(PRESET),
