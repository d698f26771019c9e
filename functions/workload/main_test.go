package workload_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/functions"
	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/internal/testenv"
)

var (
	env *testenv.Env
	// watcher watches workloads for the history tests keep.
	watcher client.WithWatch
	// kubeconfig is the file the steps find through $KUBECONFIG.
	kubeconfig string
	// ns is this run's namespace (envtest never removes one).
	ns = "workload-" + utilrand.String(5)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "workload-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	code := testenv.Run(m, func(e *testenv.Env) error {
		env = e
		if err := e.WriteKubeconfig(kubeconfig); err != nil {
			return err
		}
		if watcher, err = client.NewWithWatch(e.Config, client.Options{Scheme: e.Scheme}); err != nil {
			return err
		}
		return e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// runStep runs the named Function the way `stashflow fn` does: a fresh
// instance from the built-in registry, its flags parsed, then
// functions.Execute (Validate, Run, the outputs written as files). It returns
// the output files that were written.
func runStep(t *testing.T, name string, args ...string) (map[string]string, error) {
	t.Helper()
	reg, err := functions.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	fn, err := reg.New(name)
	if err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fn.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = functions.Execute(ctx, fn, fntest.Env(t, []string{"KUBECONFIG=" + kubeconfig}), dir)
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, rerr := os.ReadFile(filepath.Join(dir, e.Name()))
		if rerr != nil {
			t.Fatal(rerr)
		}
		out[e.Name()] = string(b)
	}
	return out, err
}

// selectorOf is the label set a test workload's selector matches.
func selectorOf(name string) map[string]string { return map[string]string{"app": name} }

// newWorkload returns a workload of kind in ns whose pods are labelled
// selectorOf(name).
func newWorkload(kind, name string, replicas int32, annotations map[string]string) client.Object {
	meta := metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations}
	sel := &metav1.LabelSelector{MatchLabels: selectorOf(name)}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: selectorOf(name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl, ServiceName: name}}
	case "ReplicaSet":
		return &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Replicas: &replicas, Selector: sel, Template: tmpl}}
	case "DaemonSet":
		return &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: tmpl}}
	}
	return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: tmpl}}
}

// emptyOf returns an empty object and list of kind.
func emptyOf(kind string) (client.Object, client.ObjectList) {
	switch kind {
	case "StatefulSet":
		return &appsv1.StatefulSet{}, &appsv1.StatefulSetList{}
	case "ReplicaSet":
		return &appsv1.ReplicaSet{}, &appsv1.ReplicaSetList{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}, &appsv1.DaemonSetList{}
	}
	return &appsv1.Deployment{}, &appsv1.DeploymentList{}
}

// replicasOf is a workload's spec.replicas (1 when unset, as the API
// defaults it; 0 for a DaemonSet).
func replicasOf(obj client.Object) int32 {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return ptr.Deref(o.Spec.Replicas, 1)
	case *appsv1.StatefulSet:
		return ptr.Deref(o.Spec.Replicas, 1)
	case *appsv1.ReplicaSet:
		return ptr.Deref(o.Spec.Replicas, 1)
	}
	return 0
}

// podsOf names the pods in ns that selectorOf(name) matches, sorted, those
// being deleted too.
func podsOf(ctx context.Context, t *testing.T, name string) []string {
	t.Helper()
	var pods corev1.PodList
	if err := env.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(selectorOf(name))); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// newPod returns a pod of the workload name, with a finalizer so that a
// deletion leaves it terminating until the finalizer is removed, as a
// kubelet would until its containers stop.
func newPod(name, pod string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns, Labels: selectorOf(name), Finalizers: []string{testFinalizer}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
}

// testFinalizer stands in for a kubelet still stopping a pod's containers.
const testFinalizer = "test.stashflow.dev/containers-running"

func mustCreate(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitForPods waits until n pods of the workload name exist.
func waitForPods(t *testing.T, name string, n int) {
	t.Helper()
	var got []string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got = podsOf(ctx, t, name)
		return len(got) == n, nil
	})
	if err != nil {
		t.Fatalf("want %d pods of %s, have %q", n, name, got)
	}
}
