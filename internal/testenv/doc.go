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

// Package testenv starts a real kube-apiserver and etcd (controller-runtime's envtest) with
// stashflow's CRDs installed, for every envtest suite in the repository.
//
// The binaries come from <repo root>/bin, where `make tools` (hack/build-tools.sh) builds
// them from pinned modules, or from $KUBEBUILDER_ASSETS when that is set. If they are
// missing, Start fails with a message that says how to build them: a suite never skips
// silently.
//
// Use it from a TestMain, once per package:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) {
//		os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
//	}
//
// The client in Env.Client uses Scheme(): client-go's built-in kinds, apiextensions/v1 and
// stashflow.dev/v1alpha1.
//
// Env.InstallAppCatalogCRD installs the test copy of KubeDB's
// appcatalog.appscode.com AppBinding CRD for the suites that read such
// AppBindings (the hook's pod lookup, the resolver, the controllers); it lives
// here, not in controllers/internal/operatortest, so that packages outside
// controllers can use it too.
package testenv
