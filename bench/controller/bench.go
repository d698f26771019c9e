package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/testenv"
)

var (
	workflowsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
	sessionsGVR  = v1alpha1.GroupVersion.WithResource("backupsessions")
)

type result struct {
	s                               setting
	p50, p90, p99, max              time.Duration
	burstFirst, burstAll            time.Duration
	sessions, workflows             int
	hwmLatency, hwmBurst, hwmMemory int64
	maxRSS                          int64
	cpu                             time.Duration
}

// watcher records when each Workflow of the namespace first appears, keyed
// by its session label, and counts them by invoker prefix.
type watcher struct {
	mu    sync.Mutex
	seen  map[string]time.Time // session -> first seen
	burst []time.Time          // first-seen times of Workflows of "cfg-" invokers
	cond  *sync.Cond
}

func newWatcher() *watcher {
	w := &watcher{seen: map[string]time.Time{}}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *watcher) add(obj any) {
	now := time.Now()
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	session := m.Labels[v1alpha1.LabelSession]
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.seen[session]; dup {
		return
	}
	w.seen[session] = now
	if strings.HasPrefix(m.Labels[v1alpha1.LabelInvoker], "cfg-") {
		w.burst = append(w.burst, now)
	}
	w.cond.Broadcast()
}

// wait waits until done() holds (under the lock) or the deadline passes.
func (w *watcher) wait(deadline time.Time, done func() bool) bool {
	stop := time.AfterFunc(time.Until(deadline), func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
	defer stop.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		w.cond.Wait()
	}
	return true
}

func benchClient(cfg *rest.Config, env *testenv.Env) (client.Client, *rest.Config, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 2000, 4000
	cl, err := client.New(c, client.Options{Scheme: env.Scheme})
	return cl, c, err
}

func runSetting(ctx context.Context, env *testenv.Env, kubeconfig string, o options, s setting, ns string) (result, error) {
	r := result{s: s, burstFirst: -1, burstAll: -1}
	c, cfg, err := benchClient(env.Config, env)
	if err != nil {
		return r, err
	}
	if err := fixtures(ctx, c, ns); err != nil {
		return r, err
	}
	// The benchmark's informers: Workflows (metadata only) and BackupSessions.
	stop := make(chan struct{})
	defer close(stop)
	w := newWatcher()
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return r, err
	}
	mf := metadatainformer.NewFilteredSharedInformerFactory(md, 0, ns, nil)
	wi := mf.ForResource(workflowsGVR).Informer()
	if _, err := wi.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: w.add}); err != nil {
		return r, err
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return r, err
	}
	df := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dc, 0, ns, nil)
	si := df.ForResource(sessionsGVR).Informer()
	mf.Start(stop)
	df.Start(stop)
	if !cache.WaitForCacheSync(stop, wi.HasSynced, si.HasSynced) {
		return r, fmt.Errorf("informers did not sync")
	}

	op, err := startOperator(o.binary, kubeconfig, ns, filepath.Join(o.workDir, ns+"-operator.log"), s)
	if err != nil {
		return r, err
	}
	defer func() {
		if op.running() {
			op.stop()
		}
	}()
	fail := func(format string, a ...any) (result, error) {
		return r, fmt.Errorf("%s; operator log (%s) ends:\n%s", fmt.Sprintf(format, a...), op.log, op.tail(30))
	}

	// Latency: one paused configuration per session, so that none is
	// skipped as concurrent with the previous one (no Workflow ever ends).
	lat := make([]string, o.sessions+1) // [0] is the warm-up
	for i := range lat {
		lat[i] = fmt.Sprintf("lat-%04d", i)
	}
	if err := parallel(len(lat), 8, func(i int) error {
		return c.Create(ctx, config(ns, lat[i], "@yearly", true, 1))
	}); err != nil {
		return r, err
	}
	start := time.Now()
	d, ok, err := createAndWait(ctx, c, w, ns, lat[0], "warmup", 2*time.Minute)
	if err != nil {
		return r, err
	}
	if !ok {
		return fail("the warm-up session got no Workflow in 2m")
	}
	fmt.Printf("warm-up: operator start to first Workflow %.1fs (create to Workflow %s)\n", time.Since(start).Seconds(), ms(d))
	var ds []time.Duration
	for i := 1; i < len(lat); i++ {
		d, ok, err := createAndWait(ctx, c, w, ns, lat[i], fmt.Sprintf("lat-%04d", i), 30*time.Second)
		if err != nil {
			return r, err
		}
		if !ok {
			return fail("session %s got no Workflow in 30s", lat[i])
		}
		ds = append(ds, d)
		time.Sleep(o.gap)
	}
	slices.Sort(ds)
	r.p50, r.p90, r.p99, r.max = pct(ds, 0.50), pct(ds, 0.90), pct(ds, 0.99), pct(ds, 1)
	r.hwmLatency, _ = op.status()
	fmt.Printf("latency (%d sessions): p50 %s p90 %s p99 %s max %s; VmHWM %s\n", len(ds), ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), mib(r.hwmLatency))

	// Burst: every configuration's 6-field cron names the same second,
	// far enough ahead for all of them to be created and Ready.
	if o.configs > 0 {
		history := int32(2)
		if o.total > 0 {
			history = int32(min(1000, o.total/o.configs+2))
		}
		slot := time.Now().Add(15*time.Second + time.Duration(o.configs)*20*time.Millisecond).Truncate(time.Second).Add(time.Second).UTC()
		sched := fmt.Sprintf("CRON_TZ=UTC %d %d %d * * *", slot.Second(), slot.Minute(), slot.Hour())
		t0 := time.Now()
		if err := parallel(o.configs, 8, func(i int) error {
			return c.Create(ctx, config(ns, fmt.Sprintf("cfg-%04d", i), sched, false, history))
		}); err != nil {
			return r, err
		}
		fmt.Printf("burst: %d configurations (%q) created in %.1fs, %.1fs before the slot\n", o.configs, sched, time.Since(t0).Seconds(), time.Until(slot).Seconds())
		if !w.wait(slot.Add(o.timeout), func() bool { return len(w.burst) >= o.configs }) {
			w.mu.Lock()
			n := len(w.burst)
			w.mu.Unlock()
			return fail("burst: %d of %d Workflows after %s", n, o.configs, o.timeout)
		}
		w.mu.Lock()
		cmpT := func(a, b time.Time) int { return a.Compare(b) }
		r.burstFirst, r.burstAll = slices.MinFunc(w.burst, cmpT).Sub(slot), slices.MaxFunc(w.burst, cmpT).Sub(slot)
		w.mu.Unlock()
		r.hwmBurst, _ = op.status()
		fmt.Printf("burst: first Workflow %s after the slot, all %d after %s; VmHWM %s\n", sec(r.burstFirst), o.configs, sec(r.burstAll), mib(r.hwmBurst))
	}

	// Memory: sessions up to -total-sessions, spread over the scheduled
	// configurations (each has a running session, so these are Skipped).
	have := len(si.GetStore().ListKeys())
	if extra := o.total - have; extra > 0 && o.configs > 0 {
		t0 := time.Now()
		var made atomic.Int64
		if err := parallel(extra, 8, func(i int) error {
			err := c.Create(ctx, session(ns, fmt.Sprintf("mem-%05d", i), fmt.Sprintf("cfg-%04d", i%o.configs)))
			if made.Add(1)%2000 == 0 {
				fmt.Printf("memory: %d sessions created (%.0fs)\n", made.Load(), time.Since(t0).Seconds())
			}
			return err
		}); err != nil {
			return r, err
		}
		fmt.Printf("memory: %d sessions created in %.1fs; waiting until the operator has given each a phase\n", extra, time.Since(t0).Seconds())
		var total, phased int
		if err := wait.PollUntilContextTimeout(ctx, 2*time.Second, o.timeout, true, func(context.Context) (bool, error) {
			total, phased = countPhased(si.GetStore())
			return phased >= total && total >= o.total, nil
		}); err != nil {
			fmt.Printf("memory: timed out: %d of %d sessions with a phase\n", phased, total)
		} else {
			fmt.Printf("memory: %d sessions, all with a phase, %.1fs after the first create\n", total, time.Since(t0).Seconds())
		}
		time.Sleep(10 * time.Second) // let pruning and status writes settle
	}
	r.sessions = len(si.GetStore().ListKeys())
	r.workflows = len(wi.GetStore().ListKeys())
	r.hwmMemory, _ = op.status()
	_, rss := op.status()
	r.maxRSS, r.cpu = op.stop()
	fmt.Printf("memory: %d sessions, %d Workflows in the namespace: VmRSS %s, VmHWM %s, maxrss %s, operator CPU %s\n",
		r.sessions, r.workflows, mib(rss), mib(r.hwmMemory), mib(r.maxRSS), sec(r.cpu))
	return r, nil
}

func countPhased(s cache.Store) (total, phased int) {
	for _, obj := range s.List() {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		total++
		if p, _, _ := unstructured.NestedString(u.Object, "status", "phase"); p != "" {
			phased++
		}
	}
	return total, phased
}

// createAndWait creates a session of invoker and returns the time from the
// create call to its Workflow in the informer.
func createAndWait(ctx context.Context, c client.Client, w *watcher, ns, invoker, name string, timeout time.Duration) (time.Duration, bool, error) {
	t0 := time.Now()
	if err := c.Create(ctx, session(ns, name, invoker)); err != nil {
		return 0, false, err
	}
	var seen time.Time
	ok := w.wait(t0.Add(timeout), func() bool {
		var found bool
		seen, found = w.seen[name]
		return found
	})
	return seen.Sub(t0), ok, nil
}

func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func parallel(n, workers int, f func(i int) error) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		err  error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if e := f(i); e != nil {
					mu.Lock()
					if err == nil {
						err = e
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return err
}

// fixtures: the namespace, a local Repository and its Secret, and an
// AppBinding of type etcd (never reached: the Workflows do not run).
func fixtures(ctx context.Context, c client.Client, ns string) error {
	url := "http://etcd.example:2379"
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "repo-secret"},
			StringData: map[string]string{"RESTIC_PASSWORD": "not-a-secret"},
		},
		&v1alpha1.Repository{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "repo"},
			Spec: v1alpha1.RepositorySpec{Backend: v1alpha1.Backend{
				StorageSecretName: "repo-secret",
				Local: &v1alpha1.LocalSpec{
					HostPath:  &corev1.HostPathVolumeSource{Path: "/tmp/stashflow-bench-repo"},
					MountPath: "/stashflow/repository",
				},
			}},
		},
		&v1alpha1.AppBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "etcd"},
			Spec:       v1alpha1.AppBindingSpec{Type: "etcd", ClientConfig: v1alpha1.ClientConfig{URL: &url}},
		},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func config(ns, name, schedule string, paused bool, history int32) *v1alpha1.BackupConfiguration {
	return &v1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{
					APIVersion: v1alpha1.GroupVersion.String(), Kind: "AppBinding", Name: "etcd",
				}},
			},
			Repository:         v1alpha1.ObjectRef{Name: "repo"},
			Schedule:           schedule,
			Paused:             paused,
			BackupHistoryLimit: ptr.To(history),
		},
	}
}

func session(ns, name, invoker string) *v1alpha1.BackupSession {
	return &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{
			Kind: "BackupConfiguration", Name: invoker,
		}},
	}
}
