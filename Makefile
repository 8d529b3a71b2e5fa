# CX Workbook — every target creates the local virtual environment (.venv) on first use.
# Needs only python3 (3.11+) and network access to the package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PARAMS ?= params/demo.yaml
PYTEST_ARGS ?=

.PHONY: report test lab venv clean-venv strip

report: $(STAMP)                ## the quarterly report on the demo data -> reports/demo/index.html
	$(BIN)/cx run $(PARAMS)

test: $(STAMP)                  ## the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lab: $(STAMP)                   ## JupyterLab on the notebooks, with the project's kernel
	$(BIN)/cx lab

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

strip: $(STAMP)                 ## remove outputs from notebooks before committing
	$(BIN)/python -m cxlib.notebooks notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
