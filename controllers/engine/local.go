package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
)

// LostOnRestart is the message of a session whose local run the operator
// does not know: it was running when the operator stopped.
const LostOnRestart = "the local run was lost when the operator restarted"

// LocalOptions configure the local engine.
type LocalOptions struct {
	// WorkDir holds one directory per run: <WorkDir>/<namespace>/<kind>-<name>-<uid>,
	// with each step's logs and outputs. Empty means <os.TempDir()>/stashflow-operator.
	WorkDir string
	// Parallelism caps the steps one run runs at once; zero means no cap.
	Parallelism int
	// GracePeriod is how long a step has between SIGTERM and SIGKILL when
	// its run is stopped; zero means local.DefaultGracePeriod.
	GracePeriod time.Duration
	// Commands maps a step's command to an executable, e.g. "stashflow" to
	// the running binary.
	Commands map[string]string
	// Guard: see pipeline/local.Options.Guard.
	Guard []string
	// Secrets resolves the steps' secret references, for a namespace.
	Secrets func(namespace string) local.SecretResolver
	// Scheme finds the kind of session objects.
	Scheme *runtime.Scheme
	// Logger logs the engine's own lifecycle (never a secret).
	Logger logr.Logger
}

// Local is the embedded engine. It is a manager.Runnable: when the manager
// stops, it stops every run and waits for the steps to end.
type Local struct {
	opts LocalOptions
	// ctx is the parent of every run; cancelled on shutdown.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	runs     map[types.UID]*localRun
	byKey    map[Key]types.UID
	channels map[string]chan event.GenericEvent
}

type localRun struct {
	key    Key
	ref    v1alpha1.WorkflowRef
	cancel context.CancelCauseFunc
	// nodes are the statuses learnt from events while the run goes on.
	nodes map[string]pipeline.NodeStatus
	// final are the statuses Run returned, outputs included.
	final    []pipeline.NodeStatus
	finished bool
	failure  string
	// lost is set when the operator stopped during the run.
	lost bool
}

var _ Engine = (*Local)(nil)

// NewLocal returns a local engine.
func NewLocal(opts LocalOptions) *Local {
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(os.TempDir(), "stashflow-operator")
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Local{
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		runs:     map[types.UID]*localRun{},
		byKey:    map[Key]types.UID{},
		channels: map[string]chan event.GenericEvent{},
	}
}

// Name implements Engine.
func (l *Local) Name() v1alpha1.Engine { return v1alpha1.EngineLocal }

// Start implements manager.Runnable: it waits for the manager to stop, then
// stops every run and waits for their steps to end.
func (l *Local) Start(ctx context.Context) error {
	<-ctx.Done()
	l.Shutdown()
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: runs only
// start on the leader, whose controllers submit them.
func (l *Local) NeedLeaderElection() bool { return true }

// Shutdown stops every run and waits for them.
func (l *Local) Shutdown() {
	l.cancel()
	l.wg.Wait()
}

// Watch implements Engine.
func (l *Local) Watch(b *builder.Builder, owner client.Object) (*builder.Builder, error) {
	kind, err := l.kindOf(owner)
	if err != nil {
		return nil, err
	}
	ch := make(chan event.GenericEvent, 1024)
	l.mu.Lock()
	l.channels[kind] = ch
	l.mu.Unlock()
	return b.WatchesRawSource(source.Channel(ch, &handler.EnqueueRequestForObject{})), nil
}

func (l *Local) kindOf(obj client.Object) (string, error) {
	if l.opts.Scheme == nil {
		return "", errors.New("local engine: no scheme")
	}
	gvk, err := apiutil.GVKForObject(obj, l.opts.Scheme)
	if err != nil {
		return "", fmt.Errorf("local engine: %w", err)
	}
	return gvk.Kind, nil
}

// Submit implements Engine.
func (l *Local) Submit(ctx context.Context, owner client.Object, g *pipeline.Graph) (*v1alpha1.WorkflowRef, error) {
	kind, err := l.kindOf(owner)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.runs[owner.GetUID()]; r != nil {
		ref := r.ref
		return &ref, nil
	}
	if l.ctx.Err() != nil {
		return nil, errors.New("local engine: the operator is stopping")
	}
	id := fmt.Sprintf("%s-%s-%s", strings.ToLower(kind), owner.GetName(), shortUID(owner.GetUID()))
	dir := filepath.Join(l.opts.WorkDir, owner.GetNamespace(), id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("local engine: creating the run directory: %w", err)
	}
	var secrets local.SecretResolver
	if l.opts.Secrets != nil {
		secrets = l.opts.Secrets(owner.GetNamespace())
	}
	eng := local.New(local.Options{
		WorkDir:     dir,
		Parallelism: l.opts.Parallelism,
		GracePeriod: l.opts.GracePeriod,
		Commands:    l.opts.Commands,
		Guard:       l.opts.Guard,
		Secrets:     secrets,
	})
	runCtx, cancel := context.WithCancelCause(l.ctx)
	key := KeyOf(kind, owner)
	r := &localRun{
		key:    key,
		ref:    v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: id},
		cancel: cancel,
		nodes:  map[string]pipeline.NodeStatus{},
	}
	uid := owner.GetUID()
	if old, ok := l.byKey[key]; ok {
		// A session of the same name was deleted and created again.
		l.drop(old)
	}
	l.runs[uid] = r
	l.byKey[key] = uid
	log := l.opts.Logger.WithValues("run", id)
	log.V(1).Info("Local run started", "dir", dir)

	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer cancel(nil)
		statuses, err := eng.Run(logr.NewContext(runCtx, log), g, func(ev local.Event) { l.onEvent(uid, ev) })
		l.mu.Lock()
		if cur := l.runs[uid]; cur == r {
			switch {
			case l.ctx.Err() != nil:
				// The operator is stopping: the run did not end by itself.
				r.lost = true
			case err != nil:
				r.finished, r.failure = true, err.Error()
			default:
				r.finished, r.final = true, statuses
			}
		}
		l.mu.Unlock()
		log.V(1).Info("Local run ended", "error", err)
		l.notify(key, true)
	}()
	ref := r.ref
	return &ref, nil
}

func shortUID(uid types.UID) string {
	s := strings.ReplaceAll(string(uid), "-", "")
	if len(s) > 8 {
		s = s[:8]
	}
	return s
}

// onEvent records one step change and asks for a reconcile.
func (l *Local) onEvent(uid types.UID, ev local.Event) {
	l.mu.Lock()
	r := l.runs[uid]
	if r == nil {
		l.mu.Unlock()
		return
	}
	st := r.nodes[ev.Step]
	st.Step = ev.Step
	st.Phase = ev.Phase
	if ev.Attempt > st.Attempts {
		st.Attempts = ev.Attempt
	}
	switch {
	case ev.Phase == pipeline.PhaseRunning:
		if st.StartedAt.IsZero() {
			st.StartedAt = ev.Time
		}
	case ev.Phase.Completed():
		st.FinishedAt = ev.Time
		st.Message = ev.Message
	}
	r.nodes[ev.Step] = st
	key := r.key
	l.mu.Unlock()
	l.notify(key, false)
}

// notify asks the controller of key's kind to reconcile it. Step changes
// are sent if there is room (the channel coalesces nothing, but the work
// queue does); the end of a run waits for room, unless the engine stops.
func (l *Local) notify(key Key, wait bool) {
	l.mu.Lock()
	ch := l.channels[key.Kind]
	l.mu.Unlock()
	if ch == nil {
		return
	}
	obj := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	ev := event.GenericEvent{Object: obj}
	if !wait {
		select {
		case ch <- ev:
		default:
		}
		return
	}
	select {
	case ch <- ev:
	case <-l.ctx.Done():
	}
}

// Status implements Engine.
func (l *Local) Status(_ context.Context, owner client.Object, ref *v1alpha1.WorkflowRef, plan *v1alpha1.RunPlan) (*Run, error) {
	if ref != nil && ref.Engine != v1alpha1.EngineLocal {
		return nil, otherEngine(ref, v1alpha1.EngineLocal)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.runs[owner.GetUID()]
	if r == nil || r.lost {
		return nil, &LostError{Reason: conditions.ReasonRunLost, Message: LostOnRestart, Unknown: true}
	}
	switch {
	case r.failure != "":
		return &Run{Nodes: nodesInOrder(plan, r.nodes), Finished: true, Failure: r.failure}, nil
	case r.finished:
		known := make(map[string]pipeline.NodeStatus, len(r.final))
		for _, st := range r.final {
			known[st.Step] = st
		}
		return &Run{Nodes: nodesInOrder(plan, known), Finished: true}, nil
	}
	return &Run{Nodes: nodesInOrder(plan, r.nodes)}, nil
}

// Stop implements Engine.
func (l *Local) Stop(_ context.Context, owner client.Object, _ *v1alpha1.WorkflowRef, reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.runs[owner.GetUID()]; r != nil {
		r.cancel(errors.New(reason))
	}
	return nil
}

// Forget implements Engine.
func (l *Local) Forget(key Key) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if uid, ok := l.byKey[key]; ok {
		l.drop(uid)
	}
}

// drop stops and forgets a run; l.mu is held.
func (l *Local) drop(uid types.UID) {
	r := l.runs[uid]
	if r == nil {
		return
	}
	r.cancel(errors.New("the session was deleted or has ended"))
	delete(l.runs, uid)
	if l.byKey[r.key] == uid {
		delete(l.byKey, r.key)
	}
}

// Runs returns how many runs the engine keeps, for tests and metrics.
func (l *Local) Runs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.runs)
}
