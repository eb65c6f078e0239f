# Kubently — `make help` lists the targets. CI runs `make test` (see .ci/run).
SHELL := /bin/bash
GO    ?= go
BIN   := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/kubently/kubently/internal/version.Version=$(VERSION)

.PHONY: help build run test check bench clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## Build kubently-api, kubently-executor and the kubently CLI into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

run: build ## Run the API on its embedded store (+ an executor when a cluster is reachable)
	./hack/run.sh

check: ## gofmt, go vet, package docs
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: ## Whole test suite: deps, checks, race-enabled tests against real apiserver/etcd/Redis/npm clients
	./hack/test.sh

bench: ## Benchmarks (ratios are measured within one run)
	@set -euo pipefail; deps=$$(./hack/test-deps.sh); export "$$(tail -n1 <<<"$$deps")"; \
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean: ## Remove build output (the test control plane cache stays in ~/.cache/kubently)
	rm -rf $(BIN)
