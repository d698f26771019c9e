/*
Copyright 2025 The stashflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package packaging holds no code, only the tests of how stashflow is shipped: the
// container image hack/image builds, the Helm chart config/helm/stashflow and the
// kustomize overlay config/default.
//
// The tests render the chart with a real helm and the overlay with a real kustomize
// (both built into ./bin by hack/build-helm.sh from the pinned module hack/tools/helm),
// then send every object to a real kube-apiserver (internal/testenv): CRDs and
// namespaces for real, everything else as a server-side dry run, so the apiserver's own
// validation and admission judge them.
//
// The chart reuses generated files instead of copies made by hand: crds/ is
// config/crd/bases and files/operator-role.yaml is config/rbac/role.yaml (the rules
// controller-gen generates from the controllers' RBAC markers), both copied by
// `make helm-chart`. TestChartFilesInSync fails when a copy is stale; `go test
// ./packaging -run TestChartFilesInSync -update` refreshes them too.
package packaging
