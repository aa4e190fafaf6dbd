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

.PHONY: help deps deps-browser dev dev-reset lint test bench fuzz build deploy clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: $(VENV)/.installed node_modules/.installed ## Install the test clients: Python venv (COS SDK, coscmd, moto) and npm packages

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's Chromium; installed with apt when it is missing.
CHROMIUM ?= /usr/bin/chromium

deps-browser: ## Install Debian's chromium for the browser tests, unless CHROMIUM is there
	@test -x $(CHROMIUM) || { \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing Debian's chromium for the browser tests"; \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || { \
			$$sudo apt-get update -qq && \
			$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; }

lint: deps ## cargo fmt --check, clippy with warnings denied, and cfn-lint on the deployment template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	$(VENV)/bin/cfn-lint infra/aws/template.yaml

API_PORT ?= 8080
COS_PORT ?= 9000

dev: deps ## Run the whole stack locally: table, cos-local and the API (API_PORT, COS_PORT)
	cargo build --locked -p cosigner-local -p cos-local -p cosigner-cli
	target/debug/cosigner-local dev --api-port $(API_PORT) --cos-port $(COS_PORT) --data .dev

dev-reset: ## Forget the local stack's data (objects, table, secrets)
	rm -rf .dev

test: deps deps-browser ## Run every test (needs no cloud account and no Docker)
	@# The end-to-end tests run the workspace's binaries as separate processes. Building every
	@# target in one go resolves features as `cargo test` does, so the test run below reuses
	@# these binaries instead of building the dependencies a second time.
	cargo build --workspace --all-targets --locked
	$(TEST_ENV) CHROMIUM=$(CHROMIUM) cargo test --workspace --locked

FUNCTIONS := authorizer issue-upload sign-parts complete-upload abort-upload on-object-created \
	list-files get-file delete-file me sweep

BENCH_ARGS ?=
FUZZ_SECONDS ?= 120

bench: deps ## Benchmarks: signing against the SDKs, cos-local against plain files, the server's routes
	cargo bench --locked -p cos-sign --bench signing
	$(PYTHON) bench/sign_throughput.py --write bench/RESULTS-signing.md $(BENCH_ARGS)
	cargo build --release --locked -p cos-local -p cos-local-load -p server-load -p cosigner-local \
		$(addprefix -p ,$(FUNCTIONS))
	$${CARGO_TARGET_DIR:-target}/release/cos-local-load --write bench/RESULTS-cos-local.md
	$(TEST_ENV) $${CARGO_TARGET_DIR:-target}/release/server-load issue-upload
	$(TEST_ENV) $${CARGO_TARGET_DIR:-target}/release/server-load cold-start
	$(TEST_ENV) $${CARGO_TARGET_DIR:-target}/release/server-load end-to-end --terminals 8,32 --seconds 10

fuzz: ## Fuzz every parser of cos-sign for FUZZ_SECONDS each (needs cargo install cargo-fuzz)
	shared/cos-sign/fuzz/run.sh $(FUZZ_SECONDS)

build: ## Build the Lambda functions for arm64 into target/lambda (needs: pip install cargo-lambda ziglang)
	cargo lambda build --release --arm64 --locked $(addprefix -p ,$(FUNCTIONS))

deploy: build ## Deploy the stack to AWS with SAM, asking before it changes anything (needs aws-sam-cli)
	sam deploy --guided --template-file infra/aws/template.yaml

clean: ## Remove build output and installed test clients
	cargo clean
	rm -rf $(VENV) node_modules
