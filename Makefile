# SIPAS — the two commands:
#   make report   set up .venv if needed, generate the demo data, run the 2022, 2023 and 2025 reports (+ trends)
#   make test     set up .venv if needed, run every test
# `make help` lists the other targets.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SIPAS  := $(BIN)/sipas
YEARS  ?= 2022 2023 2025
DEMO   ?= 1
JOBS   ?=
FORMATS ?= html,pdf,xlsx,docx
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo-data validate report test test-fast lint format lock bench clean lab

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# requirements.lock pins every package (exact versions, resolved for Python 3.11); setup
# installs through it as constraints, so `make setup`, CI and conda users get the same set.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# compileall: with PYTHONDONTWRITEBYTECODE=1 (set on these machines) Python never writes the
# package's bytecode, and every sipas process (driver, workers, kernels) compiled it again
setup: $(STAMP) ## Create .venv, install the package and its test tools, and the system packages for PDF (idempotent)
	@sh scripts/setup-system.sh
	@$(BIN)/python -m compileall -q src

demo-data: setup ## Generate the seeded demo survey files into data/raw/<year>/
	$(SIPAS) demo-data $(addprefix --year ,$(YEARS))

validate: setup ## Intake: data/raw/<year>/ -> data/processed/<year>/ (+ quarantine, report)
	@for y in $(YEARS); do $(SIPAS) validate --year $$y || exit $$?; done

report: setup ## Demo data (DEMO=1), intake, tables, notebooks; HTML, PDF, Excel annexes and the official Word documents for YEARS
	@if [ "$(DEMO)" = "1" ]; then $(MAKE) --no-print-directory demo-data YEARS="$(YEARS)"; fi
	@$(MAKE) --no-print-directory validate YEARS="$(YEARS)"
	$(SIPAS) run $(addprefix --year ,$(YEARS)) --formats $(FORMATS) $(if $(JOBS),--jobs $(JOBS))
	@echo "Open outputs/index.html"

test: lint ## Lint, then run the whole test suite
	$(BIN)/python -m pytest

test-fast: lint ## The tests that start no kernel, cluster or browser (-m "not slow"), for quick checks while editing
	$(BIN)/python -m pytest -m "not slow"

lint: setup ## ruff (rules in pyproject.toml); notebooks must carry no outputs (tests/test_notebooks.py)
	$(BIN)/ruff check .

format: setup ## Apply ruff's safe fixes (import order, pyupgrade)
	$(BIN)/ruff check --fix .

bench: setup ## Time sipas run against papermill + nbconvert on the demo year (minutes; not part of make test)
	$(BIN)/python benchmarks/bench_batch.py $(if $(REPEAT),--repeat $(REPEAT))

lock: setup ## Re-resolve requirements.lock from pyproject.toml (after changing a dependency); commit the result
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --strip-extras --extra dev --extra lab --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.lock pyproject.toml

clean: ## Remove generated data and outputs (keeps .venv)
	rm -rf outputs/[0-9]* outputs/index.html data/raw/[0-9]* data/processed/[0-9]*

lab: setup ## Install JupyterLab into .venv and open the notebooks
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,lab]'
	cd notebooks && ../$(BIN)/jupyter lab
