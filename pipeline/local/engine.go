package local

import (
	"context"
	"errors"
	"fmt"
	"github.com/stashflow/stashflow/internal/pathmap"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/stashflow/stashflow/pipeline"
)

// DefaultGracePeriod is how long a process group has between SIGTERM and
// SIGKILL when Options.GracePeriod is zero (Kubernetes waits 30s; a backup
// step that ignores SIGTERM for 5s is not going to stop cleanly).
const DefaultGracePeriod = 5 * time.Second

// Options configure an Engine. The zero value runs steps in a new temporary
// directory, all at once, with this process's environment.
type Options struct {
	// WorkDir holds a directory per step: <WorkDir>/<step>/attempt-N.log and
	// <WorkDir>/<step>/outputs. Empty means a new temporary directory for
	// every run; Event.LogPath tells where the logs went.
	WorkDir string
	// Parallelism caps how many steps run at once; zero means no cap, like an
	// Argo DAG without parallelism.
	Parallelism int
	// GracePeriod is how long a step's process group has between SIGTERM and
	// SIGKILL when a timeout or a cancellation stops it; zero means
	// DefaultGracePeriod.
	GracePeriod time.Duration
	// BaseEnv is the environment every step starts from; nil means
	// os.Environ(). The step's own env vars and outputs.DirEnv are
	// added after it and win.
	BaseEnv []string
	// Commands maps a step's Command[0] to an executable before PATH is
	// searched, e.g. "stashflow" to the running binary.
	Commands map[string]string
	// Volumes maps a Graph volume name to a host directory. hostPath volumes
	// default to their own path and emptyDir volumes to a fresh directory
	// under WorkDir; any other volume a step mounts must be listed here.
	Volumes map[string]string
	// Secrets resolves the steps' SecretKeyRef env vars; nil makes a step
	// that has one end in Error.
	Secrets SecretResolver
	// Guard, when set, is the argv prefix of a step guard
	// (internal/deathsig.Guard), e.g. {"/usr/bin/stashflow",
	// deathsig.GuardArg}: every attempt runs under it, so that no process a
	// step starts outlives the step or this engine, not even one that left
	// the step's process group. Empty: the attempt's main process dies with
	// the engine and its process group is killed when it ends.
	Guard []string
}

// Event is one change of one step, for a progress display.
type Event struct {
	Step  string
	Phase pipeline.Phase
	// Attempt is the attempt the event is about; zero if none ran.
	Attempt int
	Time    time.Time
	// Message says why (a failure summary, a retry, an omission); never a
	// secret value.
	Message string
	// LogPath is the attempt's log file; empty if no attempt ran.
	LogPath string
}

// Engine runs graphs on this machine. It is safe for concurrent use: every
// Run has its own state.
type Engine struct {
	opts Options
}

// New returns an Engine with opts, defaults filled in.
func New(opts Options) *Engine {
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	if opts.BaseEnv == nil {
		opts.BaseEnv = os.Environ()
	}
	return &Engine{opts: opts}
}

// Run validates g, runs it to the end and returns the status of every step in
// topological order, whatever the steps' outcome. onEvent, if not nil, gets
// every change of every step, one call at a time.
//
// The error is for the engine itself: an invalid graph, a volume without a
// host directory, a directory it cannot create. Step failures, the graph's
// timeout and the cancellation of ctx are reported in the statuses: steps
// stopped while running end Failed, steps not started yet end Omitted, both
// with a message saying why.
func (e *Engine) Run(ctx context.Context, g *pipeline.Graph, onEvent func(Event)) ([]pipeline.NodeStatus, error) {
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("graph %q is invalid: %w", g.Name, err)
	}
	order, err := g.TopologicalOrder()
	if err != nil {
		return nil, fmt.Errorf("graph %q is invalid: %w", g.Name, err)
	}
	workDir := e.opts.WorkDir
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "stashflow-run-"); err != nil {
			return nil, fmt.Errorf("creating the run directory: %w", err)
		}
	}
	if workDir, err = filepath.Abs(workDir); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	volumes, claims, err := resolveVolumes(g, e.opts.Volumes, workDir)
	// The claims' directories go when the run ends, however it ends.
	defer func() {
		if err := removeClaims(claims); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "Volume claim left behind", "run", g.Name)
		}
	}()
	if err != nil {
		return nil, err
	}
	r := &run{
		opts:    e.opts,
		g:       g,
		order:   order,
		log:     logr.FromContextOrDiscard(ctx).WithValues("run", g.Name),
		onEvent: onEvent,
		nodes:   make(map[string]*node, len(g.Steps)),
	}
	for i := range g.Steps {
		s := &g.Steps[i]
		n := &node{step: s, dir: filepath.Join(workDir, s.Name)}
		n.outDir = filepath.Join(n.dir, "outputs")
		if n.rewrites, err = stepRewrites(s, volumes, n.outDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(n.dir, 0o750); err != nil {
			return nil, fmt.Errorf("creating the directory of step %q: %w", s.Name, err)
		}
		r.nodes[s.Name] = n
	}
	r.log.V(1).Info("Run started", "workDir", workDir, "steps", len(order))
	return r.execute(ctx), nil
}

// run is the state of one Run. The scheduler goroutine (execute) owns nodes;
// step goroutines read only a node's immutable fields and hand their result
// back through a channel.
type run struct {
	opts  Options
	g     *pipeline.Graph
	order []string
	log   logr.Logger

	emitMu  sync.Mutex
	onEvent func(Event)

	nodes map[string]*node
}

type node struct {
	step     *pipeline.Step
	dir      string
	outDir   string
	rewrites pathmap.Rewriter

	started bool
	done    bool
	status  pipeline.NodeStatus
}

// stepResult is what a step goroutine hands back.
type stepResult struct {
	status  pipeline.NodeStatus
	logPath string
}

// runTimeoutError is the cause of a run stopped by Graph.Timeout.
type runTimeoutError struct{ timeout time.Duration }

func (e *runTimeoutError) Error() string {
	return fmt.Sprintf("run exceeded its timeout of %s", e.timeout)
}

// stopMessage says why ctx, the run's context, is done.
func stopMessage(ctx context.Context) string {
	cause := context.Cause(ctx)
	var rt *runTimeoutError
	switch {
	case errors.As(cause, &rt):
		return rt.Error()
	case errors.Is(cause, context.Canceled):
		return "run cancelled"
	default:
		return "run cancelled: " + cause.Error()
	}
}

func (r *run) execute(ctx context.Context) []pipeline.NodeStatus {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if r.g.Timeout > 0 {
		t := time.AfterFunc(r.g.Timeout, func() { cancel(&runTimeoutError{timeout: r.g.Timeout}) })
		defer t.Stop()
	}
	results := make(chan stepResult)
	running := 0
	stopped := runCtx.Done()
	for {
		running += r.schedule(runCtx, results, running)
		if running == 0 {
			break
		}
		select {
		case res := <-results:
			running--
			r.finish(r.nodes[res.status.Step], res.status, res.logPath)
		case <-stopped:
			stopped = nil // the next schedule omits every step not started
		}
	}
	statuses := make([]pipeline.NodeStatus, 0, len(r.order))
	for _, name := range r.order {
		statuses = append(statuses, r.nodes[name].status)
	}
	r.log.V(1).Info("Run ended")
	return statuses
}

// schedule makes one pass over the steps in topological order: it omits the
// steps whose conditions cannot hold and starts the ready ones while there is
// room. One pass is enough: a step comes after all its dependencies, so an
// omission earlier in the pass is seen by the steps it affects. It returns
// how many steps it started.
func (r *run) schedule(ctx context.Context, results chan<- stepResult, running int) int {
	started := 0
	for _, name := range r.order {
		n := r.nodes[name]
		if n.started || n.done {
			continue
		}
		if ctx.Err() != nil {
			r.omit(n, stopMessage(ctx)+" before the step started")
			continue
		}
		ready, blocker := r.readiness(n)
		switch {
		case !ready:
			continue
		case blocker != "":
			r.omit(n, blocker)
			continue
		case r.opts.Parallelism > 0 && running+started >= r.opts.Parallelism:
			continue
		}
		proc, err := r.resolveRefs(n)
		if err != nil {
			now := time.Now()
			r.finish(n, pipeline.NodeStatus{
				Step: name, Phase: pipeline.PhaseError, Message: err.Error(), StartedAt: now, FinishedAt: now,
			}, "")
			continue
		}
		n.started = true
		started++
		go func() { results <- r.runStep(ctx, n, proc) }()
	}
	return started
}

// readiness reports whether every dependency of n ended and, if so, the
// reason n cannot run ("" if it can). Step.Ready decides, as it does for
// every caller that needs the rule; blocker only says why it refused.
func (r *run) readiness(n *node) (ready bool, blocker string) {
	run, ok := n.step.Ready(r.phaseOf)
	switch {
	case !ok:
		return false, ""
	case run:
		return true, ""
	}
	return true, r.blocker(n.step)
}

// phaseOf is the final phase of a step, Pending until it ended.
func (r *run) phaseOf(step string) pipeline.Phase {
	if n := r.nodes[step]; n != nil && n.done {
		return n.status.Phase
	}
	return pipeline.PhasePending
}

// blocker names what keeps s from running once Step.Ready said it cannot:
// the first of its Dependencies whose condition does not hold, else the ends
// of its AnyOf, none of which holds.
func (r *run) blocker(s *pipeline.Step) string {
	for _, d := range s.Dependencies {
		if p := r.phaseOf(d.Step); !d.When.Satisfies(p) {
			return fmt.Sprintf("dependency %q ended %s, which does not satisfy %s", d.Step, p, d.When)
		}
	}
	ends := make([]string, 0, len(s.AnyOf))
	for _, d := range s.AnyOf {
		ends = append(ends, fmt.Sprintf("%q ended %s", d.Step, r.phaseOf(d.Step)))
	}
	return fmt.Sprintf("none of its alternative dependencies holds: %s", strings.Join(ends, ", "))
}

// resolveRefs returns n's process with every output reference replaced by
// the producer's value.
func (r *run) resolveRefs(n *node) (pipeline.Process, error) {
	proc := n.step.Process
	if len(n.step.Refs()) == 0 {
		return proc, nil
	}
	var errs []error
	replace := func(s string) string {
		return pipeline.ReplaceOutputRefs(s, func(ref pipeline.OutputRef) string {
			p := r.nodes[ref.Step].status
			v, ok := p.Outputs[ref.Output]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: step %q ended %s without this output", ref, ref.Step, p.Phase))
			}
			return v
		})
	}
	proc.Command = mapStrings(proc.Command, replace)
	proc.Args = mapStrings(proc.Args, replace)
	proc.Env = append([]pipeline.EnvVar(nil), proc.Env...)
	for i := range proc.Env {
		proc.Env[i].Value = replace(proc.Env[i].Value)
	}
	return proc, errors.Join(errs...)
}

func mapStrings(in []string, f func(string) string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

func (r *run) omit(n *node, reason string) {
	r.finish(n, pipeline.NodeStatus{Step: n.step.Name, Phase: pipeline.PhaseOmitted, Message: reason, FinishedAt: time.Now()}, "")
}

// finish records the final status of n and reports it.
func (r *run) finish(n *node, st pipeline.NodeStatus, logPath string) {
	n.done = true
	n.status = st
	r.log.V(1).Info("Step ended", "step", st.Step, "phase", st.Phase, "attempts", st.Attempts)
	r.emit(Event{Step: st.Step, Phase: st.Phase, Attempt: st.Attempts, Time: st.FinishedAt, Message: st.Message, LogPath: logPath})
}

// emit calls onEvent, one call at a time.
func (r *run) emit(ev Event) {
	if r.onEvent == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.onEvent(ev)
}
