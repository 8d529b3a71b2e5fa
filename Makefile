# CX Workbook — every target creates the local virtual environment (.venv) on first use.
# Needs only python3 (3.11+) and network access to the package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PARAMS ?= params/demo.yaml
PYTEST_ARGS ?=
# two workers (CI has two cores), each test file on one worker: a file's session-wide runs (the
# Spark server and run of the parity test) are set up once
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: report test lab venv clean-venv strip browser

report: $(STAMP)                ## the quarterly report on the demo data -> reports/demo/index.html
	$(BIN)/cx run $(PARAMS)

test: $(TEST_STAMP) browser     ## the whole test suite (installs the test, spark and examples extras)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

browser:                        ## Debian's chromium for the browser test (installed once, when root with apt)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package) for the browser test ..."; \
	    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	      echo "could not install chromium: the browser test will say why it is skipped"; \
	  else \
	    echo "chromium is missing and cannot be installed here (needs root and apt-get): the browser test will be skipped"; \
	  fi; }

lab: $(STAMP)                   ## JupyterLab on the notebooks, with the project's kernel
	$(BIN)/cx lab

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,spark,examples]"
	touch $(TEST_STAMP)

strip: $(STAMP)                 ## remove outputs from notebooks before committing
	$(BIN)/python -m cxlib.run.notebooks notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
