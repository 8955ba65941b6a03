# rescue-ssl: one DAG from config to every table and figure.
#   snakemake -c all                                   # tiny profile (config/config.yaml)
#   snakemake -c all --configfile config/paper.yaml    # the paper's runs
#   snakemake -c all results/tiny/tables/fig2_linear.tex   # one artifact and what it needs
import json
import os

from ssl_core.config import run_matrix, validate_config

configfile: "config/config.yaml"


config = validate_config(config)
PROFILE = config["profile"]
OUT = f"results/{PROFILE}"
RUNS = run_matrix(config)

wildcard_constraints:
    run="[a-z0-9_.-]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.fig2_linear.output,
        rules.fig3_augmentations.output,
