# rescue-ssl: one DAG from config to every table and figure (docs/targets.md). Every core by
# default (profiles/default, which Snakemake loads by itself).
#   snakemake                                          # tiny profile (config/config.yaml)
#   snakemake --configfile config/paper.yaml           # the paper's runs
#   snakemake results/tiny/tables/fig2_linear.tex      # one artifact and what it needs
import json
import os
import sys

from evaluations.dense import DETECTRON2_MISSING, detectron2_available
from ssl_core.config import MAIN_GROUP, ConfigError, arch_family, linear_settings, name_sources, read_profiles, run_groups, run_matrix, sweep_figure, training_spec, typed_overrides, validate_config
from ssl_core.datasets import downloads
from ssl_core.methods import method_names

# The tiny profile is the default config only: a --configfile given on the command line replaces it
# rather than being merged over it (a merge would hand tiny values to any key a profile leaves out).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Every job runs in the project's one pinned environment: `conda:` names it on each rule (used with
# --sdm conda); otherwise the jobs' `python` is the interpreter of the environment that runs
# Snakemake, activated or not (its bin/ first on the jobs' PATH).
ENVIRONMENT = os.path.join(workflow.basedir, "environment.yml")
os.environ.update(PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))


# The config files are read again here, each with its `inherits` resolved (ssl_core.config.read_profile,
# what load_config uses: the workflow and the library see one config). --config values nested in a
# mapping arrive as strings (Snakemake's YAML BaseLoader): typed here. A config error names the files
# that set each bad key.
CONFIG_FILES = [str(f) for f in workflow.overwrite_configfiles] or ["config/config.yaml"]
try:
    config = validate_config(typed_overrides(read_profiles(CONFIG_FILES), workflow.config_settings.config))
except ConfigError as e:
    raise name_sources(e, CONFIG_FILES, workflow.config_settings.config) from None
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
        rules.forest.output,
        rules.fig2_linear.output,
        rules.fig3_augmentations.output,
        rules.cosine_study.output,
        rules.table2_dense.output,
        expand(f"{OUT}/figures/fig{{fig}}.{{ext}}", fig=[f"{n}_sensitivity_{p}_{m}" for m in SWEEPS for n, p in ((5, "s"), (6, "k"))],
               ext=("pdf", "png")),
        rules.table1_transfer.output,
        expand(f"{OUT}/figures/fig4_radar_{{method}}.{{ext}}", method=TABLE1_METHODS, ext=("pdf", "png")),
        expand(f"{OUT}/figures/training_curves_{{method}}.{{ext}}", method=CURVE_RUNS, ext=("pdf", "png", "csv")),
