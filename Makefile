# Cosigner: every target is phony; `make` alone prints help and changes nothing.
# Nothing here deploys unless `make deploy` is asked for by name.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
# The AWS SDK must never look for instance metadata or a real account while we test.
TEST_ENV := COSIGNER_PYTHON=$(CURDIR)/$(PYTHON) AWS_REGION=us-east-1 \
	AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

.PHONY: help deps lint test bench fuzz build clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: $(VENV)/.installed node_modules/.installed ## Install the test clients: Python venv (COS SDK, coscmd, moto) and npm packages

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: deps ## cargo fmt --check, clippy with warnings denied, and cfn-lint on the deployment template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint infra/aws/template.yaml

test: deps ## Run every test (needs no cloud account and no Docker)
	$(TEST_ENV) cargo test --workspace --locked

BENCH_ARGS ?=
FUZZ_SECONDS ?= 120

bench: deps ## Benchmarks: criterion, then signatures/s against the official SDKs in the same run
	cargo bench -p cos-sign --bench signing
	$(PYTHON) bench/sign_throughput.py $(BENCH_ARGS)

fuzz: ## Fuzz every parser of cos-sign for FUZZ_SECONDS each (needs cargo install cargo-fuzz)
	shared/cos-sign/fuzz/run.sh $(FUZZ_SECONDS)

build: ## Build every binary in release mode
	cargo build --workspace --release --locked

clean: ## Remove build output and installed test clients
	cargo clean
	rm -rf $(VENV) node_modules
