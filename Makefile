# One target per job a person runs. `make demo` and `make test` set everything up first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REPOSITORY := model_repository
MODELS ?= efficientnet_lite0,efficientnet_lite2,text_encoder
VGG16_WEIGHTS ?= imagenet
PYTEST_ARGS ?=

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.installed  ## virtualenv with every dependency (idempotent)

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

models: setup  ## export the ONNX models into model_repository/ (MODELS=..., VGG16_WEIGHTS=...)
	$(PY) -m exporters --repository $(REPOSITORY) --models $(MODELS) --vgg16-weights $(VGG16_WEIGHTS)

demo: models  ## the main job (for now: start the embedded Triton and embed real photos and keywords)
	$(PY) -m server.smoke --repository $(REPOSITORY)

test: models  ## unit + integration tests against a real embedded Triton
	$(PY) -m pytest $(PYTEST_ARGS)

bench: models  ## Triton vs in-process ONNX Runtime throughput and latency → bench/RESULTS.md
	$(PY) -m bench.triton_overhead --repository $(REPOSITORY) --output bench/RESULTS.md

lint: setup  ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:  ## remove exported models and caches (keeps the virtualenv)
	rm -rf $(REPOSITORY)/*/[0-9]* $(REPOSITORY)/manifest.json .pytest_cache

.PHONY: help setup models demo test bench lint clean
