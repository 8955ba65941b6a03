# Two commands for a fresh machine; each creates the environment (.venv) first if it is missing.
#   make reproduce    the default (tiny) reproduction: snakemake on every core
#   make test         the test suite (what .ci/run calls)
# Extra arguments go through ARGS, e.g.  make reproduce ARGS="--configfile config/paper.yaml -n"
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
REPORT ?= results/tiny/report.html
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: env reproduce report test clean-results

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

clean-results:
	rm -rf results/tiny .snakemake
