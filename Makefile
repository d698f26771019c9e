# stashflow — build, generate, test. `make help` lists the targets.
# Tools and real servers are built from pinned modules into ./bin by hack/build-tools.sh.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
ROOT := $(shell pwd)
BIN := $(ROOT)/bin
export PATH := $(BIN):$(PATH)
export KUBEBUILDER_ASSETS := $(BIN)
GO ?= go
GOTEST_FLAGS ?= -count=1
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONTROLLER_GEN := $(BIN)/controller-gen
GOLANGCI_LINT := $(BIN)/golangci-lint

.DEFAULT_GOAL := help

##@ General
.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Tools
.PHONY: tools
tools: ## Build every pinned tool and real test server into ./bin (skips what is current).
	hack/build-tools.sh

.PHONY: test-tools
test-tools: ## Build what `make test` needs: kube-apiserver, etcd, restic, rest-server, minio (S3), fake-gcs-server (GCS), azurite (Azure; npm), workflow-controller, zincsearch, helm, kustomize, promtool; Debian's chromium for the UI test; Debian's database servers for the database Functions.
	hack/build-tools.sh etcd kube-apiserver restic rest-server minio fake-gcs-server azurite workflow-controller zincsearch helm kustomize promtool
	hack/install-chromium.sh
	hack/install-databases.sh

$(CONTROLLER_GEN):
	hack/build-tools.sh controller-gen

$(GOLANGCI_LINT):
	hack/build-tools.sh golangci-lint

##@ Development
.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC.
	$(CONTROLLER_GEN) crd paths="./api/..." output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=stashflow-operator paths="./controllers/..." output:rbac:artifacts:config=config/rbac
	rm -f config/helm/stashflow/crds/*.yaml
	cp config/crd/bases/*.yaml config/helm/stashflow/crds/
	cp config/rbac/role.yaml config/helm/stashflow/files/operator-role.yaml

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: verify
verify: generate manifests ## Regenerate and fail if anything generated is stale; gofmt and go mod tidy too.
	@test -z "$$(gofmt -s -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -s -l $$(git ls-files '*.go'); exit 1; }
	$(GO) mod tidy
	@git diff --exit-code -- go.mod go.sum api config || { echo "generated files or go.mod are stale: run make generate manifests && go mod tidy"; exit 1; }
	@test -z "$$(git status --porcelain -- api config)" || { echo "untracked generated files:"; git status --porcelain -- api config; exit 1; }

include packaging.mk

##@ Build
.PHONY: build
build: ## Build bin/stashflow, its Function binary bin/stashflow-fn, its step guard bin/stashflow-guard, bin/kubectl-stashflow (the kubectl plugin name) and bin/kubectl_complete-stashflow (its completer).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/stashflow ./cmd/stashflow
	CGO_ENABLED=0 $(GO) build -trimpath -tags stashflow_lean -ldflags "-s -w" -o $(BIN)/stashflow-fn ./cmd/stashflow-fn
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/stashflow-guard ./cmd/stashflow-guard
	ln -sf stashflow $(BIN)/kubectl-stashflow
	ln -sf stashflow $(BIN)/kubectl_complete-stashflow

##@ Demo
.PHONY: demo
demo: build ## The main job: back up a throwaway etcd with `stashflow run`, list snapshots, restore into a new etcd, verify every key.
	hack/build-tools.sh etcd restic
	$(GO) run ./examples/demo

##@ Test
.PHONY: test
test: test-tools ## Run unit and integration tests against real servers (kube-apiserver, etcd, restic).
	$(GO) vet ./...
	$(GO) test $(GOTEST_FLAGS) -timeout 30m ./...

SOAK ?= 10m
.PHONY: soak
soak: test-tools ## Soak: random faults of e2e/faults, one session after another, for SOAK (default 10m); not in CI.
	$(GO) test -count=1 -timeout 0 -run TestSoak -v ./e2e/faults -soak=$(SOAK) 2>&1 | grep -E '^(=== RUN|--- |\s+--- |ok|FAIL|PASS)|soak:'

.PHONY: e2e
e2e: tools build ## Run the end-to-end suite against the real Argo workflow-controller.
	$(GO) test $(GOTEST_FLAGS) -tags e2e -timeout 60m ./e2e/...

.PHONY: bench
bench: test-tools ## Run the side-by-side benchmarks in bench/.
	$(GO) run ./bench/localengine
