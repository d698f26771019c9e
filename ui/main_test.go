package ui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/internal/fntest"
	"github.com/stashflow/stashflow/internal/testenv"
)

// The apiserver starts with the first test that needs it (the layout tests
// do not) and stops after the last.
var (
	envOnce sync.Once
	env     *testenv.Env
	envErr  error
)

func TestMain(m *testing.M) {
	fntest.Dispatch()
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// testEnv returns the shared apiserver, starting it if needed, with Argo's
// Workflow CRD (from the module cache) besides stashflow's: the session
// page reads an Argo session's outputs from its Workflow.
func testEnv(t testing.TB) *testenv.Env {
	t.Helper()
	envOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/argoproj/argo-workflows/v3").Output()
		if err != nil {
			envErr = fmt.Errorf("locating the Argo module: %w", err)
			return
		}
		crd := filepath.Join(strings.TrimSpace(string(out)), "manifests", "base", "crds", "minimal", "argoproj.io_workflows.yaml")
		env, envErr = testenv.Start(testenv.WithCRDPaths(crd))
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return env
}

// testClient is a client of the shared apiserver that knows every kind the
// operator does.
func testClient(t testing.TB) client.Client {
	t.Helper()
	c, err := client.New(testEnv(t).Config, client.Options{Scheme: controllers.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var nsCounter atomic.Int32

// newNamespace creates a namespace for one test.
func newNamespace(t testing.TB, c client.Client, hint string) string {
	t.Helper()
	name := fmt.Sprintf("ui%d-%s", nsCounter.Add(1), hint)
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
	return name
}

// mustParse reads the YAML documents of testdata/file.
func mustParse(t testing.TB, file string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var out []*unstructured.Unstructured
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("testdata/%s, document %d: %v", file, i, err)
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// clusterScoped are the fixtures' kinds without a namespace.
var clusterScoped = map[string]bool{"Function": true, "Task": true, "Namespace": true}

// createObjects creates objs in namespace (cluster-scoped ones as they are,
// an existing one being fine), then writes each one's status.
func createObjects(t testing.TB, c client.Client, namespace string, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		o = o.DeepCopy()
		status, hasStatus := o.Object["status"]
		delete(o.Object, "status")
		if !clusterScoped[o.GetKind()] {
			o.SetNamespace(namespace)
		}
		err := c.Create(ctx, o)
		switch {
		case apierrors.IsAlreadyExists(err) && clusterScoped[o.GetKind()]:
			continue
		case err != nil:
			t.Fatalf("creating %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if hasStatus {
			o.Object["status"] = status
			if err := c.Status().Update(ctx, o); err != nil {
				t.Fatalf("writing the status of %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
	}
}

// artifactDir is where a test leaves files for people to look at (the
// browser test's screenshots): a directory under the system's temporary
// directory named after the test, kept after the run.
func artifactDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "stashflow-ui-artifacts", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
