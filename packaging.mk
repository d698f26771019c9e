# packaging.mk — the image, the Helm chart and the kustomize overlay.
# Included by the Makefile (`include packaging.mk`); uses its GO, BIN, VERSION, CONTROLLER_GEN.

IMAGE ?= ghcr.io/stashflow/stashflow:$(VERSION)
HELM := $(BIN)/helm
KUSTOMIZE := $(BIN)/kustomize
CHART := config/helm/stashflow

##@ Packaging
.PHONY: image
image: ## Build the stashflow image without a container engine: dist/stashflow-image.tar, dist/oci/ (IMAGE=ref:tag).
	hack/build-tools.sh restic
	$(GO) run ./hack/image -version $(VERSION) -tag $(IMAGE) -out dist

.PHONY: helm-tools
helm-tools: ## Build helm and kustomize into ./bin (hack/build-helm.sh).
	hack/build-helm.sh

.PHONY: helm-chart
helm-chart: manifests ## Copy the generated CRDs and operator RBAC rules into the Helm chart (make manifests does it too).

.PHONY: helm-package
helm-package: helm-tools ## Package the chart into dist/stashflow-<version>.tgz.
	$(HELM) lint $(CHART)
	$(HELM) package $(CHART) --destination dist

.PHONY: kustomize-build
kustomize-build: helm-tools ## Render config/default to dist/stashflow.yaml (for kubectl apply --server-side -f).
	mkdir -p dist
	$(KUSTOMIZE) build config/default > dist/stashflow.yaml

.PHONY: test-packaging
test-packaging: helm-tools ## Test the image, the chart and the overlay against the real kube-apiserver.
	hack/build-tools.sh etcd kube-apiserver restic
	$(GO) test $(GOTEST_FLAGS) ./packaging/...
