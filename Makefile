# Two commands do everything on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
DVC := $(BIN)/dvc
# DVC's default remote: a folder outside the work tree (override: make setup DVC_REMOTE=...).
DVC_REMOTE ?= $(HOME)/.cache/tai-project/dvc-remote
# Where `make starter` writes the cookiecutter template.
STARTER_OUT ?= $(CURDIR)/dist/starter

# No telemetry, no network calls; headless plots; the venv first on PATH (mlflow serve needs it).
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export MPLBACKEND := Agg
export PATH := $(BIN):$(PATH)
export COLUMNS ?= 150
export DVC_NO_ANALYTICS := 1

.PHONY: help setup data init-data run test test-fast lint mlflow-ui viz clean-runs bench-privacy dvc-remote push pull repro
.PHONY: starter viz-build notebooks monitor retrain bench bench-scale airflow-dag

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: $(STAMP) dvc-remote  ## create .venv, install the pinned dependencies, set the DVC remote

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

data: setup  ## the data conf/*/globals.yml `dataset:` names: the digits example is pulled or exported; your own is pulled, else: make init-data
	$(BIN)/python -m tai_project data

init-data: setup  ## describe your image folder as the dataset: make init-data DATA=<folder> [CONF=local|base] [GROUP=<column>]
	@test -n "$(DATA)" || { echo "make init-data: say which folder: make init-data DATA=<folder>"; exit 2; }
	$(BIN)/python -m tai_project init-data "$(DATA)" --conf $(or $(CONF),local) $(if $(GROUP),--group-column "$(GROUP)",)

run: data  ## set-up, then the whole pipeline (all six stages) on the default data
	$(BIN)/kedro run

# production batch of `make monitor` / `make retrain`: a folder under dataset.production or
# `holdout`; empty = the dataset description's default (dataset.production_batch)
BATCH ?=
comma := ,

# MLflow experiment of the production checks (training runs log into tai_project)
MONITORING_EXPERIMENT ?= tai_project_monitoring

monitor: data  ## drift, live metrics and ok/warn/retrain for a batch (default: the description's; make monitor BATCH=noise_drift)
	$(BIN)/kedro run --pipeline monitoring --params $(if $(BATCH),monitoring.batch=$(BATCH)$(comma))mlflow_experiment=$(MONITORING_EXPERIMENT)

retrain: data  ## retrain with the labelled batch $(BATCH); champion only if the gate passes
	$(BIN)/kedro run --pipeline retrain $(if $(BATCH),--params monitoring.batch=$(BATCH))

test: setup  ## set-up, then the whole test suite
	$(BIN)/python -m pytest -n 2

test-fast: setup  ## the quick loop: tests not marked slow
	$(BIN)/python -m pytest -m "not slow"

lint: setup  ## ruff
	$(BIN)/ruff check src tests bench

mlflow-ui: setup  ## MLflow UI on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

viz: setup  ## kedro viz on http://127.0.0.1:4141
	$(BIN)/kedro viz run --host 127.0.0.1 --port 4141 --no-browser

dvc-remote: $(STAMP)  ## set DVC's default remote to $(DVC_REMOTE) unless a remote is configured
	@$(DVC) remote list | grep -q . || $(DVC) remote add --local --default localremote $(DVC_REMOTE)

push: setup  ## `dvc push`: copy the tracked raw data to the DVC remote
	$(DVC) push

pull: setup  ## `dvc pull`: fetch the raw data of this commit from the DVC remote
	$(DVC) pull

repro: data  ## `dvc repro`: re-run the stages whose code, configuration or data changed
	$(DVC) repro

clean-runs:  ## delete local runs (MLflow store, artifacts, data/02-08); keeps data/01_raw
	rm -rf mlflow.db mlartifacts mlruns audit
	find data/0[2-8]_* -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

bench-privacy: data  ## privacy-utility trade-off at eps 1, 3, 8, inf -> bench/results/privacy_tradeoff.*
	@test -f data/05_model_input/model_input.npz || $(BIN)/kedro run --pipelines data_understanding,data_engineering
	$(BIN)/python bench/privacy_tradeoff.py $(if $(SEEDS),--seeds $(SEEDS),)

starter: setup  ## build a standalone Kedro starter (cookiecutter template) from this tree -> $(STARTER_OUT)
	$(BIN)/python starter/build_starter.py --out $(STARTER_OUT)

viz-build: setup  ## static kedro viz site in build/ (open build/index.html through any web server)
	$(BIN)/kedro viz build

notebooks: setup  ## the notebook tests: the walk-through executed on the tiny data, outputs stripped
	$(BIN)/python -m pytest tests/test_notebooks.py

# --- registry, human oversight and serving (issue 8)
.PHONY: serve approve rollback audit verify
PORT ?= 5001

serve: setup  ## serve the SHA-256-verified champion on http://127.0.0.1:$(PORT) (MLflow's scoring app behind the request guard)
	$(BIN)/python -m tai_project.serving --port $(PORT)

approve: setup  ## promote a waiting challenger: VERSION=<n> APPROVER='<name>' REASON='<why>'
	$(BIN)/python -m tai_project.registry approve --version "$(VERSION)" --approver "$(APPROVER)" --reason "$(REASON)"

rollback: setup  ## move champion back: VERSION=<n> ACTOR='<name>' REASON='<why>'
	$(BIN)/python -m tai_project.registry rollback --version "$(VERSION)" --actor "$(ACTOR)" --reason "$(REASON)"

audit: setup  ## the signed audit log (audit/audit.db): every registration, promotion, rejection, approval, rollback
	$(BIN)/python -m tai_project.registry audit

verify: setup  ## check the audit chain, the signed manifests, the champion's files and code, the aliases
	$(BIN)/python -m tai_project.registry verify

# Benchmarks (issue 11). `make bench` measures the default data and a small scale sweep;
# `make bench-scale SCALE_SIZES="2000 10000 50000 100000"` runs the full sweep (long).
SCALE_SIZES ?= 2000 10000
SCALE_EPOCHS ?= 3

bench: bench-privacy bench-scale  ## every benchmark -> bench/results/bench.{json,md} (+ privacy, scale)
	$(BIN)/python bench/run_all.py

bench-scale: data  ## scale sweep on synthetic 28x28 digits (SCALE_SIZES, SCALE_EPOCHS) -> bench/results/scale_sweep.json
	$(BIN)/python bench/scale_sweep.py --sizes $(SCALE_SIZES) --epochs $(SCALE_EPOCHS)

airflow-dag: setup  ## Airflow DAG (one task per stage) -> airflow_dags/; Airflow goes into .venv-airflow
	$(BIN)/python deploy/airflow/make_dag.py --out airflow_dags
