# Two commands for a fresh machine; each creates the environment (.venv) first if it is missing.
#   make reproduce    the default (tiny) reproduction: snakemake (profiles/default: every core),
#                     then the HTML report results/<profile>/report.html
#   make test         the test suite: the DAG's mechanics on a profile of a few steps (what .ci/run calls)
#   make check-learning  whether the DAG's models learn: SimCLR's baseline over its floor (.ci/run too)
#   make test-processes  the multi-process trainings: 2 processes equal 1, a signal to one of 2 (.ci/run too)
#   make test-slurm   the SLURM tests on a real two-node SLURM started on this machine, then stopped
#   make detectron2   optional: Detectron2 for Table 2's dense jobs (docs/detectron2.md)
#   make smoke        the paper DAG at smoke scale on miniature data (config/paper_smoke.yaml), through the report
#   make smoke-slurm  the same through the SLURM profile on a local two-node SLURM (scripts/slurm-local.sh)
# Extra arguments go through ARGS, e.g.  make reproduce ARGS="--configfile config/paper.yaml -n"
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# The profile of the config in ARGS (--configfile FILE), else of the default config: the report's folder.
CONFIGFILE = $(or $(shell echo ' $(ARGS) ' | sed -n 's/.* --configfile[= ]*\([^ ]*\).*/\1/p'),config/config.yaml)
PROFILE = $(shell sed -n 's/^profile: *\([A-Za-z0-9_-]*\).*/\1/p' $(CONFIGFILE))
REPORT ?= results/$(PROFILE)/report.html
DRY_RUN = $(filter -n% --dry-run --dryrun,$(ARGS))
SNAKEMAKE_REPORT = PATH=$(BIN):$$PATH snakemake --report $(REPORT) $(ARGS)
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: env reproduce report test check-learning test-processes test-slurm test-paper-scale clean-results detectron2 smoke smoke-slurm

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

# The report is rewritten after every successful run, so it shows the artifacts as they are now.
reproduce: $(STAMP)
	PATH=$(BIN):$$PATH snakemake $(ARGS)
	$(if $(DRY_RUN),,$(SNAKEMAKE_REPORT))

# The paper profile's every job kind with the real architectures on miniature data (docs/profiles.md#paper_smoke).
smoke: $(STAMP)
	$(MAKE) reproduce ARGS="--configfile config/paper_smoke.yaml $(ARGS)"

# The same DAG through the SLURM profile on the local two-node SLURM of test-slurm (config/cluster.local.yaml):
# every job an sbatch job, the pretraining launched across both nodes; the SLURM stopped afterwards, pass
# or fail; the report made here. Status polled every 5 s (the plugin's default, 60 s, suits a busy site).
smoke-slurm: $(STAMP)
	scripts/slurm-local.sh start
	eval "$$(scripts/slurm-local.sh env)"; PATH=$(BIN):$$PATH:/usr/sbin snakemake --workflow-profile workflow/profiles/slurm \
	  --configfile config/paper_smoke.yaml config/cluster.local.yaml --slurm-init-seconds-before-status-checks 5 \
	  --seconds-between-status-checks 5 $(ARGS); rc=$$?; scripts/slurm-local.sh stop; exit $$rc
	$(MAKE) report ARGS="--configfile config/paper_smoke.yaml config/cluster.local.yaml"

# The HTML report of a finished reproduction: every figure and table with its caption.
report: $(STAMP)
	$(SNAKEMAKE_REPORT)

# Two pytest-xdist workers (one per core here), a module at a time, the slowest modules first (tests/conftest.py).
test: $(STAMP)
	PATH=$(BIN):$$PATH python -m pytest -n 2 --dist loadscope --no-loadscope-reorder $(ARGS)

# The SLURM profile on a real SLURM (scripts/slurm-local.sh: installs slurm-wlm, munge, MariaDB with
# apt-get where missing, as root, and starts two nodes on this host); stopped after the tests, pass or
# fail. Where it cannot start, the tests skip with the reason (pytest -rs prints it).
test-slurm: $(STAMP)
	-scripts/slurm-local.sh start
	PATH=$(BIN):$$PATH python -m pytest -rs tests/test_slurm_cluster.py $(ARGS); \
	  rc=$$?; scripts/slurm-local.sh stop; exit $$rc

# The paper architectures' full-size steps left out of `make test` (tests/ssl_core/test_paper_archs.py).
test-paper-scale: $(STAMP)
	PATH=$(BIN):$$PATH python -m pytest -m paper_scale $(ARGS)

# The tests marked learning (left out of make test by pyproject's addopts): tests/test_learning.py.
check-learning: $(STAMP)
	PATH=$(BIN):$$PATH python -m pytest -m learning $(ARGS)

# The tests marked processes (left out of make test by pyproject's addopts, for its time): the
# two-process trainings under torchrun against one process, and a signal to one of two processes.
test-processes: $(STAMP)
	PATH=$(BIN):$$PATH python -m pytest -n 2 --dist load -m processes $(ARGS)

# Detectron2 at the pinned commit (evaluations/dense/__init__.py), built by pip from GitHub; offline,
# from a local clone: make detectron2 DETECTRON2_SRC=/path/to/detectron2. Not part of reproduce or CI.
detectron2: $(STAMP)
	$(BIN)/python -m evaluations.dense.install $(if $(DETECTRON2_SRC),--source '$(DETECTRON2_SRC)')

clean-results:
	rm -rf results/tiny .snakemake
