# Two commands for a fresh machine; each creates the environment (.venv) first if it is missing.
#   make reproduce    the default (tiny) reproduction: snakemake on every core
#   make test         the test suite (what .ci/run calls)
#   make detectron2   optional: Detectron2 for Table 2's dense jobs (docs/detectron2.md)
# Extra arguments go through ARGS, e.g.  make reproduce ARGS="--configfile config/paper.yaml -n"
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
REPORT ?= results/tiny/report.html
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: env reproduce report test clean-results detectron2

env: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

reproduce: $(STAMP)
	PATH=$(BIN):$$PATH snakemake --workflow-profile workflow/profiles/local $(ARGS)

# The HTML report of a finished reproduction: every figure and table with its caption.
report: $(STAMP)
	PATH=$(BIN):$$PATH snakemake --report $(REPORT) $(ARGS)

test: $(STAMP)
	PATH=$(BIN):$$PATH python -m pytest $(ARGS)

# Detectron2 at the pinned commit (evaluations/dense/__init__.py), built by pip from GitHub; offline,
# from a local clone: make detectron2 DETECTRON2_SRC=/path/to/detectron2. Not part of reproduce or CI.
detectron2: $(STAMP)
	$(BIN)/python -m evaluations.dense.install $(if $(DETECTRON2_SRC),--source '$(DETECTRON2_SRC)')

clean-results:
	rm -rf results/tiny .snakemake
