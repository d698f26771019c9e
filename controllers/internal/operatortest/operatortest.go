// Package operatortest starts stashflow's controllers in-process against an
// envtest apiserver (internal/testenv) and builds the small objects the
// controller suites use: shell Functions and Tasks, a Repository on a
// hostPath in a temporary directory, its storage Secret. Steps run for real
// (`sh`) on the local engine.
//
// Every test gets its own namespace and its own manager, whose cache sees
// only that namespace (and cluster-scoped objects), so tests run in parallel
// and a test can stop and restart "the operator".
package operatortest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/internal/appcatalog"
	"github.com/stashflow/stashflow/internal/fntest"
	"github.com/stashflow/stashflow/internal/testenv"
	"github.com/stashflow/stashflow/internal/testproc"
	"github.com/stashflow/stashflow/outputs"
)

// Main is a controller suite's TestMain: Function steps of this binary
// (hooks, the verdict) are dispatched as `stashflow fn`; otherwise one
// kube-apiserver starts for the package (with opts), *env and *c are set,
// the tests run and the process exits with their code.
func Main(m *testing.M, env **testenv.Env, c *client.Client, opts ...testenv.Option) {
	fntest.Dispatch()
	os.Exit(testenv.Run(m, func(e *testenv.Env) error {
		*env = e
		var err error
		*c, err = Client(e)
		return err
	}, opts...))
}

// Client returns a client of env that knows Argo's kinds too.
func Client(env *testenv.Env) (client.Client, error) {
	return client.New(env.Config, client.Options{Scheme: controllers.NewScheme()})
}

var nsCounter atomic.Int32

// Namespace creates a namespace for one test.
func Namespace(t testing.TB, c client.Client, labels map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("t%d-%s", nsCounter.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

// Operator is a running manager with stashflow's controllers.
type Operator struct {
	cancel context.CancelFunc
	done   chan error
	// MetricsURL is the operator's Prometheus endpoint.
	MetricsURL string
}

// Start starts the controllers for namespace with cfg (engine local unless
// set). The operator stops at the end of the test, or with Stop.
func Start(t testing.TB, env *testenv.Env, namespace string, cfg controllers.Config) *Operator {
	t.Helper()
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:  controllers.NewScheme(),
		Metrics: metricsserver.Options{BindAddress: addr},
		Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		Logger:  zap.New(zap.UseDevMode(true), zap.WriteTo(testWriter{t})).WithValues("test", t.Name()),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.SkipNameValidation = true
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.ReferenceGrace == 0 {
		cfg.ReferenceGrace = time.Second
	}
	if err := controllers.Setup(mgr, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &Operator{cancel: cancel, done: make(chan error, 1), MetricsURL: "http://" + addr + "/metrics"}
	go func() { o.done <- mgr.Start(ctx) }()
	t.Cleanup(o.Stop)
	return o
}

// Stop stops the operator and waits for it, its local runs included.
func (o *Operator) Stop() {
	if o.cancel == nil {
		return
	}
	o.cancel()
	<-o.done
	o.cancel = nil
}

// Gauge scrapes the operator's /metrics over HTTP and returns the value of
// the gauge name whose labels include labels; found is false when no such
// series is exported.
func (o *Operator) Gauge(t testing.TB, name string, labels map[string]string) (v float64, found bool) {
	t.Helper()
	resp, err := http.Get(o.MetricsURL)
	if err != nil {
		t.Fatalf("scraping %s: %v", o.MetricsURL, err)
	}
	defer resp.Body.Close()
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", o.MetricsURL, err)
	}
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if match {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// testWriter sends the operator's log to the test's log, which go test
// prints for failed tests only.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ShellFunction is a Function that runs script with sh; declared are the
// output parameters it declares, written by the script into
// $STASHFLOW_OUTPUT_DIR/<name>.
func ShellFunction(name, script string, declared ...string) *v1alpha1.Function {
	fn := &v1alpha1.Function{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.FunctionSpec{
			Image:   "busybox",
			Command: []string{"sh", "-c", script},
		},
	}
	for _, o := range declared {
		fn.Spec.Outputs = append(fn.Spec.Outputs, v1alpha1.FunctionOutput{Name: o, Path: outputs.Dir + "/" + o})
	}
	return fn
}

// BackupScript writes a snapshot id made of the session's name and the
// time, and statistics.
const BackupScript = `set -e
id=$(echo "$SESSION-$(date +%s%N)" | sha256sum | cut -c1-64)
printf %s "$id" > "$STASHFLOW_OUTPUT_DIR/snapshotID"
printf 2048 > "$STASHFLOW_OUTPUT_DIR/size"
printf 1024 > "$STASHFLOW_OUTPUT_DIR/uploaded"
printf 3 > "$STASHFLOW_OUTPUT_DIR/files"
printf 150ms > "$STASHFLOW_OUTPUT_DIR/duration"`

// BackupFunction is a Function that pretends to back up, with BackupScript.
func BackupFunction(name string) *v1alpha1.Function {
	fn := ShellFunction(name, BackupScript, "snapshotID", "size", "uploaded", "files", "duration")
	fn.Spec.Env = []corev1.EnvVar{{Name: "SESSION", Value: "${BACKUP_SESSION:=restore}"}}
	return fn
}

// Task is a Task of the named Functions.
func Task(name string, functions ...string) *v1alpha1.Task {
	t := &v1alpha1.Task{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, f := range functions {
		t.Spec.Steps = append(t.Spec.Steps, v1alpha1.FunctionRef{Name: f})
	}
	return t
}

// Repository is a local Repository on a hostPath, and its storage Secret.
func Repository(namespace, name, dir string) (*v1alpha1.Repository, *corev1.Secret) {
	repo := &v1alpha1.Repository{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
			StorageSecretName: name + "-secret",
			Local: &v1alpha1.LocalSpec{
				HostPath:  &corev1.HostPathVolumeSource{Path: dir},
				MountPath: "/stashflow/repository",
			},
		}},
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-secret"},
		StringData: map[string]string{"RESTIC_PASSWORD": "not-a-secret"},
	}
	return repo, secret
}

// Initialized marks a created Repository as initialised, as the Repository
// controller does once its run opened the repository (condition
// Initialized, status.refreshTime now), so that its sessions go without
// waiting for a run of restic on a directory the test's fake steps use.
func Initialized(t testing.TB, c client.Client, repo *v1alpha1.Repository) {
	t.Helper()
	now := metav1.Now()
	repo.Status.RefreshTime = &now
	repo.Status.ObservedGeneration = repo.Generation
	conditions.True(&repo.Status.Conditions, repo.Generation, "Initialized", "RepositoryExists", "marked by the test")
	if err := c.Status().Update(context.Background(), repo); err != nil {
		t.Fatalf("marking Repository %s initialised: %v", repo.Name, err)
	}
}

// ExclusiveScript is a step script that fails if another step running it
// with the same dir is between its start and its end: it creates
// dir/writing with noclobber, holds it for half a second and removes it.
// Steps that must take turns show it by all succeeding.
func ExclusiveScript(dir, other string) string {
	return fmt.Sprintf(`set -eC
: > %[1]s/writing || { echo "%[2]s" >&2; exit 3; }
sleep 0.5
rm %[1]s/writing
`, dir, other)
}

// WaitEvent waits until at least n events of the namespace have reason and
// a message containing text.
func WaitEvent(t testing.TB, c client.Client, ns, reason, text string, n int) {
	t.Helper()
	Eventually(t, 10*time.Second, func() string {
		events := &corev1.EventList{}
		if err := c.List(context.Background(), events, client.InNamespace(ns)); err != nil {
			return err.Error()
		}
		found := 0
		for _, e := range events.Items {
			if e.Reason == reason && strings.Contains(e.Message, text) {
				found++
			}
		}
		if found < n {
			return fmt.Sprintf("%d events %s with %q, want %d", found, reason, text, n)
		}
		return ""
	})
}

// AppBinding is an AppBinding with a URL.
func AppBinding(namespace, name string) *v1alpha1.AppBinding {
	url := "http://" + name + ".example:80"
	return &v1alpha1.AppBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       v1alpha1.AppBindingSpec{Type: "fake", ClientConfig: v1alpha1.ClientConfig{URL: &url}},
	}
}

// Create creates objects, failing the test on error; cluster-scoped ones
// are deleted at the end of the test.
func Create(t testing.TB, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
		if o.GetNamespace() == "" {
			obj := o
			t.Cleanup(func() { _ = c.Delete(context.Background(), obj) })
		}
	}
}

// Eventually calls check until it returns "" or timeout passes, and fails
// the test with check's last answer.
func Eventually(t testing.TB, timeout time.Duration, check func() string) {
	t.Helper()
	var msg string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		msg = check()
		return msg == "", nil
	})
	if err != nil {
		t.Fatalf("after %s: %s", timeout, msg)
	}
}

// Get reads an object, or returns the error's message.
func Get(c client.Client, namespace, name string, obj client.Object) string {
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("%T %s/%s not found", obj, namespace, name)
		}
		return err.Error()
	}
	return ""
}

// AppCatalogBinding is an appcatalog.appscode.com/v1alpha1 AppBinding
// (KubeDB's kind) with spec, a YAML flow map.
func AppCatalogBinding(namespace, name, spec string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte("spec: "+spec), &u.Object); err != nil {
		panic(err)
	}
	u.SetGroupVersionKind(appcatalog.GVK)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}
