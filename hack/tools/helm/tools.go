//go:build tools

// Package tools pins helm and kustomize, built into ./bin by hack/build-helm.sh.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)
