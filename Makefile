# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

# No telemetry, no network calls; headless plots; the venv first on PATH (mlflow serve needs it).
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export MPLBACKEND := Agg
export PATH := $(BIN):$(PATH)
export COLUMNS ?= 150

.PHONY: help setup data run test test-fast lint mlflow-ui viz clean-runs bench-privacy

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install the pinned dependencies (seconds when already done)

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

data: setup  ## export the default data (sklearn digits) to data/01_raw if it is absent
	@test -f data/01_raw/metadata.csv || $(BIN)/python -m tai_project.datasets.default_data --out data/01_raw

run: data  ## set-up, then the whole pipeline (all six stages) on the default data
	$(BIN)/kedro run

test: setup  ## set-up, then the whole test suite
	$(BIN)/python -m pytest -n 2

test-fast: setup  ## the quick loop: tests not marked slow
	$(BIN)/python -m pytest -m "not slow"

lint: setup  ## ruff
	$(BIN)/ruff check src tests

mlflow-ui: setup  ## MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

viz: setup  ## kedro viz on http://127.0.0.1:4141
	$(BIN)/kedro viz run --host 127.0.0.1 --port 4141 --no-browser

clean-runs:  ## delete local runs (MLflow store, artifacts, data/02-08); keeps data/01_raw
	rm -rf mlflow.db mlartifacts mlruns
	find data/0[2-8]_* -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

bench-privacy: data  ## privacy-utility trade-off at eps 1, 3, 8, inf -> bench/results/privacy_tradeoff.*
	@test -f data/05_model_input/model_input.npz || $(BIN)/kedro run --pipelines data_understanding,data_engineering
	$(BIN)/python bench/privacy_tradeoff.py $(if $(SEEDS),--seeds $(SEEDS),)
