# calcgrid — `make help` lists the targets. Everything builds into git-ignored
# folders (.bin/, .cache/) relative to this checkout.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV  ?= dev
ROLE ?=
FROM ?= dev
TO   ?= staging
RUN  ?=
BIN  := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)
# The stack driver (tests/stack), built by the bootstrap: the one place that
# chooses the binary, the workspace and the var-files.
STACK := $(BIN)/calcgrid-stack
# What the bootstrap makes ready: `up` (the stack) or `test` (also make test's tools).
BOOTSTRAP_FOR ?= up
# make test runs every part and reports each one's result, even after a failure.
# test-swarm last: it initialises and leaves a swarm, and leaving one breaks
# Docker's DNS on the bridge networks then running (Docker 20.10).
TEST_PARTS := lint test-unit test-provider fuzz test-modules test-stack test-swarm

##@ Develop
help: ## Show this help
	@awk 'BEGIN{FS=":.*##"} /^##@/{printf "\n%s\n", substr($$0,5)} /^[a-zA-Z_-]+:.*##/{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the calcgrid binary into .bin/
	go build -o $(BIN)/calcgrid ./app/cmd/calcgrid

provider: ## Build terraform-provider-calcgrid into .bin/ (the bootstrap installs it into the local provider mirror)
	go build -C provider -trimpath -o $(BIN)/terraform-provider-calcgrid .

provider-docs: bootstrap ## Regenerate provider/docs with tfplugindocs from the schema and provider/examples
	cd provider && go run ./cmd/gendocs -tf "$$($(STACK) tf-binary)"

run-local: build ## Run redis-server, api, worker and monitor as local processes (Ctrl-C stops all)
	scripts/run-local.sh

# Its tools (shellcheck, promtool) are make test's prerequisites.
lint: BOOTSTRAP_FOR := test
lint: bootstrap ## gofmt, go vet, staticcheck, shellcheck, actionlint, promtool rules + tests, terraform fmt/validate, tflint
	scripts/lint.sh

##@ Test
test: BOOTSTRAP_FOR := test
test: bootstrap ## Everything: lint, app (unit + integration), provider (acceptance), fuzz, module tests, stack suite, swarm suite
	@passed=(); failed=(); \
	for part in $(TEST_PARTS); do \
	  printf '\n==> make %s\n' "$$part"; \
	  if $(MAKE) --no-print-directory $$part BOOTSTRAP_FOR=test; then passed+=("$$part"); else failed+=("$$part"); fi; \
	done; \
	printf '\nmake test:\n'; \
	for p in "$${passed[@]}"; do printf '  ok    %s\n' "$$p"; done; \
	for p in "$${failed[@]}"; do printf '  FAIL  %s\n' "$$p"; done; \
	printf 'make-test: %d passed, %d failed\n' "$${#passed[@]}" "$${#failed[@]}"; \
	[[ $${#failed[@]} -eq 0 ]]

test-unit: ## Go tests of app/ (each integration test starts its own redis-server), of bench/cmd/calcbench and of the stack driver
	go test -count=1 -timeout 20m ./app/... ./bench/...
	cd tests && go test -count=1 -skip '^(TestStack|TestSwarm)$$' ./...

# TF_ACC=1: the acceptance tests run (each starts a redis-server and a
# calcgrid api); the bootstrap's terraform/tofu runs them and renders the docs.
test-provider: bootstrap ## Provider tests: client, docs current, acceptance against a real API (TF_ACC=1)
	cd provider && TF_ACC=1 TF_ACC_TERRAFORM_PATH="$$($(STACK) tf-binary)" go test -count=1 -timeout 20m ./...

fuzz: ## Fuzz the submission decoder for FUZZTIME (default 10s)
	go test -run '^$$' -fuzz FuzzDecodeSubmission -fuzztime $${FUZZTIME:-10s} ./app/internal/api

test-modules: bootstrap ## terraform/tofu test of every module with mocked providers
	$(STACK) test-modules

test-stack: bootstrap ## terratest suite against a real dev stack (RUN=regex picks scenarios)
	$(STACK) test-stack '$(RUN)'

test-swarm: bootstrap ## terratest: applies the swarm environment (a single-node Docker Swarm), health, a killed worker task, a rolling update under load; then destroys it
	cd tests && go test -count=1 -v -timeout 20m -run '^TestSwarm$$' .

# Not in make test: it starts a second dockerd (a network namespace of its own)
# and leaves the engine's swarm at the end (scripts/swarm-nodes.sh).
demo-multinode: bootstrap build ## The swarm environment over two Swarm nodes (node 2: a dockerd in a netns), node 2 crashed mid-run; measures recovery, then removes it all
	scripts/swarm-nodes.sh demo

# wrk and the baseline's Debian packages are make bench's prerequisites.
bench: BOOTSTRAP_FOR := bench
bench: bootstrap build ## calcgrid beside the FastAPI + Celery design it replaces, ~12 min (bench/README.md; BENCH_ARGS=-h)
	go run ./bench/cmd/calcbench $(BENCH_ARGS)

bench-kernels: ## Kernel benchmarks, Go against C (gcc -O3)
	scripts/bench.sh

##@ Stack (ENV=dev|staging|prod)
bootstrap: ## Make the prerequisites, Terraform/OpenTofu, the docker provider and base images available
	scripts/bootstrap.sh --for $(BOOTSTRAP_FOR)

doctor: ## List every prerequisite and piece: found, missing, will install; online or air-gapped
	scripts/bootstrap.sh --doctor

up: bootstrap build ## Build the stack and the CLI (.bin/calcgrid), apply ENV, wait for health, print endpoints
	$(STACK) up $(ENV)

down: bootstrap ## Destroy ENV's containers and networks (the Redis volume stays)
	$(STACK) down $(ENV)

destroy-data: bootstrap ## Delete ENV's Redis volume (after make down)
	$(STACK) destroy-data $(ENV)

status: bootstrap ## Show ENV's containers and health
	$(STACK) status $(ENV)

logs: bootstrap ## Follow ENV's logs (ROLE=api|worker|redis|loadbalancer|monitor)
	$(STACK) logs $(ENV) $(ROLE)

promote: bootstrap ## Deploy FROM's running app image to TO, without a rebuild
	$(STACK) promote $(FROM) $(TO)

.PHONY: help build provider provider-docs run-local lint test test-unit test-provider fuzz test-modules test-stack test-swarm demo-multinode bench bench-kernels bootstrap doctor up down destroy-data status logs promote
