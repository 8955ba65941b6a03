# rescue-ssl: one DAG from config to every table and figure (docs/targets.md). Every core by
# default (profiles/default, which Snakemake loads by itself).
#   snakemake                                          # tiny profile (config/config.yaml)
#   snakemake --configfile config/paper.yaml           # the paper's runs
#   snakemake results/tiny/tables/fig2_linear.tex      # one artifact and what it needs
import json
import os
import sys

from evaluations.dense import DETECTRON2_MISSING, detectron2_available
from ssl_core.config import MAIN_GROUP, arch_family, linear_settings, run_groups, run_matrix, sweep_runs, training_spec, validate_config
from ssl_core.datasets import downloads
from ssl_core.methods import method_names

# The tiny profile is the default config only: a --configfile given on the command line replaces it
# rather than being merged over it (a merge would hand tiny values to any key a profile leaves out).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


config = validate_config(config)
PROFILE = config["profile"]
OUT = f"results/{PROFILE}"
RUNS = run_matrix(config)  # one training per distinct spec, with the groups that use it

wildcard_constraints:
    run="[a-z0-9_.-]+",
    dataset="[a-z0-9_]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/budget.smk"


rule all:
    input:
        rules.claims.output,
        rules.fig2_linear.output,
        rules.fig3_augmentations.output,
        rules.cosine_study.output,
        rules.table2_dense.output,
        expand(f"{OUT}/figures/fig{{fig}}.{{ext}}", fig=[f"{n}_sensitivity_{p}_{m}" for m in SWEEPS for n, p in ((5, "s"), (6, "k"))],
               ext=("pdf", "png")),
        rules.table1_transfer.output,
        expand(f"{OUT}/figures/fig4_radar_{{method}}.{{ext}}", method=TABLE1_METHODS, ext=("pdf", "png")),
