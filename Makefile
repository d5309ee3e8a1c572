# calcgrid — `make help` lists the targets. Everything builds into git-ignored
# folders (.bin/, .cache/) relative to this checkout.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV  ?= dev
ROLE ?=
FROM ?= dev
TO   ?= staging
BIN  := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

##@ Develop
help: ## Show this help
	@awk 'BEGIN{FS=":.*##"} /^##@/{printf "\n%s\n", substr($$0,5)} /^[a-zA-Z_-]+:.*##/{printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the calcgrid binary into .bin/
	go build -o $(BIN)/calcgrid ./app/cmd/calcgrid

run-local: build ## Run redis-server, api, worker and monitor as local processes (Ctrl-C stops all)
	scripts/run-local.sh

lint: ## gofmt, go vet, staticcheck, tofu fmt
	scripts/lint.sh

##@ Test
test: test-unit fuzz test-modules test-stack ## Everything: app (unit + integration), fuzz, module tests, stack suite

test-unit: ## Go unit and integration tests of app/ (each test starts its own redis-server)
	go test -count=1 -timeout 20m ./app/...

fuzz: ## Fuzz the submission decoder for FUZZTIME (default 10s)
	go test -run '^$$' -fuzz FuzzDecodeSubmission -fuzztime $${FUZZTIME:-10s} ./app/internal/api

test-modules: bootstrap ## tofu/terraform test of every module with mocked providers
	scripts/stack.sh test-modules

test-stack: bootstrap ## terratest suite against a real dev stack (RUN=regex for one scenario)
	scripts/stack.sh test-stack

bench: ## Kernel benchmarks, Go against C (gcc -O3)
	scripts/bench.sh

##@ Stack (ENV=dev|staging|prod)
bootstrap: ## Make Terraform/OpenTofu, the docker provider and base images available (air-gapped if needed)
	scripts/bootstrap.sh

doctor: ## Report which mode (online / air-gapped) each piece is in
	scripts/bootstrap.sh --doctor

up: bootstrap ## Build and apply ENV, wait for health, print endpoints
	scripts/stack.sh up $(ENV)

down: ## Destroy ENV's containers and networks (the Redis volume stays)
	scripts/stack.sh down $(ENV)

destroy-data: ## Delete ENV's Redis volume (after make down)
	scripts/stack.sh destroy-data $(ENV)

status: ## Show ENV's containers and health
	scripts/stack.sh status $(ENV)

logs: ## Follow ENV's logs (ROLE=api|worker|redis|loadbalancer|monitor)
	scripts/stack.sh logs $(ENV) $(ROLE)

promote: bootstrap ## Deploy FROM's running app image to TO, without a rebuild
	scripts/stack.sh promote $(FROM) $(TO)

.PHONY: help build run-local lint test test-unit fuzz test-modules test-stack bench bootstrap doctor up down destroy-data status logs promote
