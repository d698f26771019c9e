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

package testenv

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/appcatalog"
)

// InstallAppCatalogCRD installs the test copy of KubeDB's
// appcatalog.appscode.com/v1alpha1 AppBinding CRD
// (internal/appcatalog/testdata) on this apiserver, for the rest of the
// process (a CRD is cluster-scoped and never removed), and waits until c can
// create AppBindings of it in namespace: it creates an AppBinding named
// crd-probe there. c is the client the test goes on with (Env.Client or one
// of its own), so that its REST mapping knows the kind when this returns.
func (e *Env) InstallAppCatalogCRD(t testing.TB, c client.Client, namespace string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.RepoRoot, "internal", "appcatalog", "testdata", "appcatalog.appscode.com_appbindings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), crd); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	probe := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"clientConfig": map[string]any{"url": "http://probe:1"}}}}
	probe.SetGroupVersionKind(appcatalog.GVK)
	probe.SetNamespace(namespace)
	probe.SetName("crd-probe")
	var last error
	const timeout = 30 * time.Second
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		last = c.Create(ctx, probe.DeepCopy())
		return last == nil || apierrors.IsAlreadyExists(last), nil
	})
	if err != nil {
		t.Fatalf("the appcatalog AppBinding CRD does not serve in namespace %s after %s: %v", namespace, timeout, last)
	}
}
