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

package packaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/internal/testenv"
)

var (
	env    *testenv.Env
	update = flag.Bool("update", false, "copy config/crd/bases and config/rbac/role.yaml into the Helm chart")
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(testenv.Run(m, func(e *testenv.Env) error { env = e; return nil }))
}

// Paths under the repository root.
const (
	chartDir     = "config/helm/stashflow"
	kustomizeDir = "config/default"
	buildHelm    = "hack/build-helm.sh"
	buildTools   = "hack/build-tools.sh"
)

func repoPath(parts ...string) string {
	return filepath.Join(append([]string{env.RepoRoot}, parts...)...)
}

// tool returns bin/<name> if hack/build-helm.sh or hack/build-tools.sh built the version
// it pins, and fails the test with what to run otherwise: the suite never skips silently.
func tool(t *testing.T, name string) string {
	t.Helper()
	var want string
	for _, script := range []string{buildHelm, buildTools} {
		text, err := os.ReadFile(repoPath(script))
		if err != nil {
			t.Fatal(err)
		}
		pin := strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_VERSION"
		if m := regexp.MustCompile(`(?m)^` + pin + `=(\S+)$`).FindSubmatch(text); m != nil {
			want = string(m[1])
			break
		}
	}
	if want == "" {
		t.Fatalf("neither %s nor %s pins a version of %s", buildHelm, buildTools, name)
	}
	bin := repoPath("bin", name)
	stamp, err := os.ReadFile(repoPath("bin", ".stamp-"+name))
	// build_mod stamps the version, install_tool the package@version.
	got := strings.TrimSpace(string(stamp))
	if _, statErr := os.Stat(bin); statErr != nil || err != nil || (got != want && !strings.HasSuffix(got, "@"+want)) {
		t.Fatalf("%s %s is not built in bin/: run `make test-tools`", name, want)
	}
	return bin
}

// run runs a tool from the repository root and returns its stdout; on failure the error
// carries stderr.
func run(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = env.RepoRoot
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// helmTemplate renders the chart with --include-crds and the values in valuesYAML.
func helmTemplate(t *testing.T, release, namespace, valuesYAML string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace, "--include-crds"}
	if valuesYAML != "" {
		// Not under t.TempDir(): helm splits --values at commas, and test names have them.
		f, err := os.CreateTemp("", "stashflow-values-*.yaml")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(f.Name()) })
		if _, err := f.WriteString(valuesYAML); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", f.Name())
	}
	out, err := run(t, tool(t, "helm"), args...)
	if err != nil {
		return nil, err
	}
	return decode(t, out), nil
}

func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	out, err := run(t, tool(t, "kustomize"), "build", dir)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, out)
}

// decode reads a multi-document YAML stream, skipping empty documents.
func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var raw json.RawMessage
		if err := d.Decode(&raw); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decoding rendered YAML: %v", err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		// UnmarshalJSON keeps integers as int64, as the API machinery does.
		o := &unstructured.Unstructured{}
		if err := o.UnmarshalJSON(raw); err != nil {
			t.Fatalf("decoding rendered object: %v\n%s", err, raw)
		}
		objs = append(objs, o)
	}
}

func mustReadObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, data)
}

// applyToAPIServer sends objs to the envtest apiserver (see sendToAPIServer) and fails
// the test for each object the apiserver rejects.
func applyToAPIServer(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, err := range sendToAPIServer(t, objs) {
		t.Error(err)
	}
}

// sendToAPIServer sends objs to the envtest apiserver: CRDs are applied for real (and
// awaited), every namespace an object names is created for real, everything else is
// created with a server-side dry run, so the apiserver validates and admits it without
// keeping it. It returns the dry-run rejections.
func sendToAPIServer(t *testing.T, objs []*unstructured.Unstructured) []error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := env.Client

	var crds, rest []*unstructured.Unstructured
	namespaces := map[string]bool{}
	for _, o := range objs {
		switch o.GetKind() {
		case "CustomResourceDefinition":
			crds = append(crds, o)
		case "Namespace":
			namespaces[o.GetName()] = true
		default:
			rest = append(rest, o)
		}
		if ns := o.GetNamespace(); ns != "" {
			namespaces[ns] = true
		}
	}
	for _, o := range crds {
		o := o.DeepCopy()
		if err := c.Patch(ctx, o, client.Apply, client.FieldOwner("packaging-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply CustomResourceDefinition %s: %v", o.GetName(), err)
		}
		waitEstablished(ctx, t, o.GetName())
	}
	for ns := range namespaces {
		o := &unstructured.Unstructured{}
		for _, given := range objs {
			if given.GetKind() == "Namespace" && given.GetName() == ns {
				o = given.DeepCopy()
			}
		}
		o.SetAPIVersion("v1")
		o.SetKind("Namespace")
		o.SetName(ns)
		if err := c.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create Namespace %s: %v", ns, err)
		}
	}
	var errs []error
	for _, o := range rest {
		if err := c.Create(ctx, o.DeepCopy(), client.DryRunAll); err != nil {
			errs = append(errs, fmt.Errorf("server-side dry run of %s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err))
		}
	}
	return errs
}

func waitEstablished(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CustomResourceDefinition %s not established: %v", name, err)
	}
}

// key is an object's identity in a rendering: kind, namespace and name.
type key struct{ Kind, Namespace, Name string }

func (k key) String() string { return k.Kind + " " + k.Namespace + "/" + k.Name }

func keys(objs []*unstructured.Unstructured) []key {
	var ks []key
	for _, o := range objs {
		ks = append(ks, key{o.GetKind(), o.GetNamespace(), o.GetName()})
	}
	slices.SortFunc(ks, func(a, b key) int { return strings.Compare(a.String(), b.String()) })
	return ks
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among %v", kind, name, keys(objs))
	return nil
}

func nested[T any](t *testing.T, o *unstructured.Unstructured, fields ...string) T {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(o.Object, fields...)
	if err != nil || !ok {
		t.Fatalf("%s %s: no field %s (%v)", o.GetKind(), o.GetName(), strings.Join(fields, "."), err)
	}
	typed, ok := v.(T)
	if !ok {
		t.Fatalf("%s %s: field %s is a %T", o.GetKind(), o.GetName(), strings.Join(fields, "."), v)
	}
	return typed
}

// operatorContainer is the Deployment's one container.
func operatorContainer(t *testing.T, d *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs := nested[[]any](t, d, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", d.GetName(), len(cs))
	}
	return cs[0].(map[string]any)
}

func args(t *testing.T, d *unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, a := range operatorContainer(t, d)["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}
