package workload_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// terminatingFor is how long the fake controller leaves a deleted pod
// terminating before it lets it go.
const terminatingFor = time.Second

// startController plays the workload's controller, as no
// kube-controller-manager runs here: every 100ms it reads spec.replicas and
// creates or deletes pods labelled selectorOf(name) until as many are
// active (not terminating, not Succeeded or Failed). A deleted pod stays
// terminating for terminatingFor before its finalizer is removed, as a pod
// does while the kubelet stops it. It stops when the test ends.
func startController(t *testing.T, kind, name string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		c := env.Client
		deleting := map[string]time.Time{}
		next := 0
		report := func(err error) {
			if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
				t.Logf("fake controller of %s %s: %v", kind, name, err)
			}
		}
		_ = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			obj, _ := emptyOf(kind)
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				report(err)
				return false, nil
			}
			want := int(replicasOf(obj))
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(selectorOf(name))); err != nil {
				report(err)
				return false, nil
			}
			var active []*corev1.Pod
			for i := range pods.Items {
				p := &pods.Items[i]
				switch {
				case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
				case p.DeletionTimestamp == nil:
					active = append(active, p)
				case deleting[p.Name].IsZero():
					deleting[p.Name] = time.Now()
				case time.Since(deleting[p.Name]) >= terminatingFor:
					p.Finalizers = slices.DeleteFunc(p.Finalizers, func(f string) bool { return f == testFinalizer })
					report(c.Update(ctx, p))
				}
			}
			for ; len(active) < want; next++ {
				p := newPod(name, fmt.Sprintf("%s-%d", name, next))
				report(c.Create(ctx, p))
				active = append(active, p)
			}
			for _, p := range active[min(want, len(active)):] {
				report(c.Delete(ctx, p))
			}
			return false, nil
		})
	}()
}

// version is one version of a workload, as a watch saw it.
type version struct {
	ResourceVersion string
	Replicas        int32
	Recorded        *string // the restore-replicas annotation; nil when absent
}

// history records every version of one workload from before it is created.
type history struct {
	mu       sync.Mutex
	versions []version
}

// watchWorkload starts recording the versions of the workload; call it
// before the workload is created. It stops when the test ends.
func watchWorkload(t *testing.T, kind, name string) *history {
	t.Helper()
	_, list := emptyOf(kind)
	w, err := watcher.Watch(context.Background(), list, client.InNamespace(ns), client.MatchingFields{"metadata.name": name})
	if err != nil {
		t.Fatal(err)
	}
	h := &history{}
	done := make(chan struct{})
	t.Cleanup(func() { w.Stop(); <-done })
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(client.Object)
			if !ok {
				continue
			}
			v := version{ResourceVersion: obj.GetResourceVersion(), Replicas: replicasOf(obj)}
			if r, ok := obj.GetAnnotations()[v1alpha1.AnnotationRestoreReplicas]; ok {
				v.Recorded = &r
			}
			h.mu.Lock()
			h.versions = append(h.versions, v)
			h.mu.Unlock()
		}
	}()
	return h
}

// upTo returns the versions up to resourceVersion rv, waiting until the
// watch has seen it.
func (h *history) upTo(t *testing.T, rv string) []version {
	t.Helper()
	var got []version
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		got = slices.Clone(h.versions)
		return slices.ContainsFunc(got, func(v version) bool { return v.ResourceVersion == rv }), nil
	})
	if err != nil {
		t.Fatalf("the watch did not see resourceVersion %s (saw %+v)", rv, got)
	}
	return got
}
