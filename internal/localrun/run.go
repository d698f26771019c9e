package localrun

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
	"github.com/stashflow/stashflow/translators"
)

// Options say how to run on this machine.
type Options struct {
	// WorkDir keeps each run's step logs and outputs (<WorkDir>/<session>);
	// default: a directory under the system's temp dir.
	WorkDir string
	// Stashflow is the binary that runs `stashflow fn` steps and guards
	// every step (internal/deathsig); default: this process's executable.
	Stashflow string
	// Volumes maps graph volumes (PVC targets: target-<n>) to directories.
	Volumes map[string]string
	// Parallelism bounds concurrent steps (0: no bound).
	Parallelism int
	// Progress receives every step event.
	Progress func(Progress)
	// Warn receives what the translation says the user should know (a
	// step dropped, a workload not scaled down), before the run starts;
	// the operator makes them Events.
	Warn func(session client.Object, warning string)
}

// Progress is one step event of one session.
type Progress struct {
	Session string
	// Steps is how many steps the session's graph has.
	Steps int
	local.Event
	// Outputs of a step that ended, read from its output files.
	Outputs map[string]string
}

// Result is a finished session.
type Result struct {
	// Session is the BackupSession, RestoreSession or RestoreBatch with its
	// status filled as the operator would fill it.
	Session client.Object
	Plan    *translators.Plan
	Nodes   []pipeline.NodeStatus
	// Outcome is what the operator computes from the same node statuses.
	Outcome *sessionstatus.Outcome
	// WorkDir holds the run's logs.
	WorkDir string
}

// Failed reports whether the session did not succeed.
func (r *Result) Failed() bool { return r.Outcome.Phase != sessionstatus.Succeeded }

// Sessions returns what to run: the sessions in the files, or, when there
// are none, a new BackupSession for each BackupConfiguration and
// BackupBatch, named <invoker>-<unix time> as the operator names a slot.
func (in *Inputs) Sessions(now time.Time) ([]client.Object, error) {
	var out []client.Object
	for _, o := range in.Set.Objects {
		switch o.Object.(type) {
		case *v1alpha1.BackupSession, *v1alpha1.RestoreSession, *v1alpha1.RestoreBatch:
			out = append(out, o.Object)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for _, c := range manifest.Of[*v1alpha1.BackupConfiguration](in.Set) {
		out = append(out, NewBackupSession(c.Namespace, v1alpha1.KindBackupConfiguration, c.Name, now))
	}
	for _, b := range manifest.Of[*v1alpha1.BackupBatch](in.Set) {
		out = append(out, NewBackupSession(b.Namespace, v1alpha1.KindBackupBatch, b.Name, now))
	}
	if len(out) == 0 {
		return nil, errNothingToRun
	}
	return out, nil
}

// NewBackupSession is a session of an invoker for the slot at now.
func NewBackupSession(ns, kind, name string, now time.Time) *v1alpha1.BackupSession {
	s := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("%s-%d", name, now.Unix()), Namespace: ns,
			CreationTimestamp: metav1.NewTime(now.Truncate(time.Second)),
			Labels:            map[string]string{v1alpha1.LabelInvoker: name, v1alpha1.LabelInvokerKind: kind},
		},
		Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupName, Kind: kind, Name: name}},
	}
	s.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("BackupSession"))
	return s
}

// Plan translates one session.
func (in *Inputs) Plan(session client.Object, opts translators.Options) (*translators.Plan, error) {
	opts.Local = true
	switch s := session.(type) {
	case *v1alpha1.BackupSession:
		inv := translators.BackupInvoker{}
		var repo v1alpha1.ObjectRef
		var owner client.Object
		switch s.Spec.Invoker.Kind {
		case v1alpha1.KindBackupConfiguration:
			c, ok := manifest.Named[*v1alpha1.BackupConfiguration](in.Set, s.Namespace, s.Spec.Invoker.Name)
			if !ok {
				return nil, fmt.Errorf("%s: spec.invoker: BackupConfiguration %s/%s is not in the given files", in.where(s), s.Namespace, s.Spec.Invoker.Name)
			}
			inv.Config, repo, owner = c, c.Spec.Repository, c
		case v1alpha1.KindBackupBatch:
			b, ok := manifest.Named[*v1alpha1.BackupBatch](in.Set, s.Namespace, s.Spec.Invoker.Name)
			if !ok {
				return nil, fmt.Errorf("%s: spec.invoker: BackupBatch %s/%s is not in the given files", in.where(s), s.Namespace, s.Spec.Invoker.Name)
			}
			inv.Batch, repo, owner = b, b.Spec.Repository, b
		default:
			return nil, fmt.Errorf("%s: spec.invoker.kind: %q is not BackupConfiguration or BackupBatch", in.where(s), s.Spec.Invoker.Kind)
		}
		objs, err := in.objects(owner, s.Namespace, repo)
		if err != nil {
			return nil, err
		}
		plan, err := translators.Backup(s, inv, objs, opts)
		return plan, in.wrap(owner, err)
	case *v1alpha1.RestoreSession:
		objs, err := in.objects(s, s.Namespace, s.Spec.Repository)
		if err != nil {
			return nil, err
		}
		plan, err := translators.Restore(s, objs, opts)
		return plan, in.wrap(s, err)
	case *v1alpha1.RestoreBatch:
		objs, err := in.objects(s, s.Namespace, s.Spec.Repository)
		if err != nil {
			return nil, err
		}
		plan, err := translators.RestoreBatch(s, objs, opts)
		return plan, in.wrap(s, err)
	}
	return nil, fmt.Errorf("%s is not a session", in.where(session))
}

func (in *Inputs) wrap(o client.Object, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", in.where(o), err)
}

// Run translates and runs one session on the local engine.
func (in *Inputs) Run(ctx context.Context, session client.Object, opts Options) (*Result, error) {
	plan, err := in.Plan(session, translators.Options{})
	if err != nil {
		return nil, err
	}
	if opts.Warn != nil {
		for _, w := range plan.Warnings {
			opts.Warn(session, w)
		}
	}
	work := opts.WorkDir
	if work == "" {
		work = DefaultWorkDir()
	}
	work = filepath.Join(work, session.GetName())
	if err := os.RemoveAll(work); err != nil {
		return nil, err
	}
	bin := opts.Stashflow
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	engine := local.New(local.Options{
		WorkDir:     work,
		Parallelism: opts.Parallelism,
		Commands:    map[string]string{"stashflow": bin},
		Guard:       deathsig.FindGuard(bin),
		Volumes:     opts.Volumes,
		Secrets:     secrets{in: in, ns: session.GetNamespace()},
	})
	// The verdict step only restates the session's phase: progress leaves
	// it out.
	steps := len(plan.Graph.Steps)
	if plan.Layout.Verdict != "" {
		steps--
	}
	onEvent := func(e local.Event) {
		if opts.Progress == nil || e.Step == plan.Layout.Verdict {
			return
		}
		p := Progress{Session: session.GetName(), Steps: steps, Event: e}
		if e.Phase == pipeline.PhaseSucceeded {
			p.Outputs = readOutputs(filepath.Join(work, e.Step, "outputs"))
		}
		opts.Progress(p)
	}
	start := time.Now()
	deadline := sessionstatus.NewDeadline(plan.Graph.Timeout, start, deadlineSubject(session))
	nodes, err := engine.Run(ctx, plan.Graph, onEvent)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.where(session), err)
	}
	// The engine enforced the timeOut; the run is judged against it as the
	// operator judges it (sessionstatus.Deadline).
	now := time.Now()
	out := session.DeepCopyObject().(client.Object)
	if ts := out.GetCreationTimestamp(); ts.IsZero() {
		out.SetCreationTimestamp(metav1.NewTime(start.Truncate(time.Second)))
	}
	ref := &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: session.GetName()}
	duration := now.Sub(start).Round(time.Second).String()
	var sessionDeadline *metav1.Time
	if !deadline.At.IsZero() {
		t := metav1.NewTime(deadline.At)
		sessionDeadline = &t
	}
	var o *sessionstatus.Outcome
	switch s := out.(type) {
	case *v1alpha1.BackupSession:
		o = deadline.EvaluateRun(&s.Status.Conditions, s.Generation, &plan.Layout, nodes, true, now)
		sessionstatus.SetBackup(s, o)
		s.Status.Phase, s.Status.Reason, s.Status.Message = v1alpha1.BackupSessionPhase(o.Phase), string(o.Reason), o.Message
		s.Status.Workflow, s.Status.Plan, s.Status.SessionDuration, s.Status.SessionDeadline = ref, plan.Record(), duration, sessionDeadline
	case *v1alpha1.RestoreSession:
		o = deadline.EvaluateRun(&s.Status.Conditions, s.Generation, &plan.Layout, nodes, true, now)
		sessionstatus.SetRestore(&s.Status, s.Generation, o)
		s.Status.Phase, s.Status.Reason, s.Status.Message = v1alpha1.RestorePhase(o.Phase), string(o.Reason), o.Message
		s.Status.Workflow, s.Status.Plan, s.Status.SessionDuration, s.Status.SessionDeadline = ref, plan.Record(), duration, sessionDeadline
	case *v1alpha1.RestoreBatch:
		o = deadline.EvaluateRun(&s.Status.Conditions, s.Generation, &plan.Layout, nodes, true, now)
		sessionstatus.SetRestore(&s.Status, s.Generation, o)
		s.Status.Phase, s.Status.Reason, s.Status.Message = v1alpha1.RestorePhase(o.Phase), string(o.Reason), o.Message
		s.Status.Workflow, s.Status.Plan, s.Status.SessionDuration, s.Status.SessionDeadline = ref, plan.Record(), duration, sessionDeadline
	default:
		return nil, fmt.Errorf("%s is not a session", in.where(session))
	}
	return &Result{Session: out, Plan: plan, Nodes: nodes, Outcome: o, WorkDir: work}, nil
}

// deadlineSubject names a session in its deadline's messages, as the
// session controllers do.
func deadlineSubject(session client.Object) string {
	if _, ok := session.(*v1alpha1.BackupSession); ok {
		return "session"
	}
	return "restore"
}

// readOutputs reads a step's output files (small: values, not data).
func readOutputs(dir string) map[string]string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && len(b) < 4096 {
			out[e.Name()] = strings.TrimSuffix(string(b), "\n")
		}
	}
	return out
}

// DefaultWorkDir is where runs keep their logs and outputs when no work
// directory is given: the user's cache directory ($XDG_CACHE_HOME or
// ~/.cache)/stashflow/run, or a directory of this user's under the
// temporary directory, so that two users of a machine never share one.
func DefaultWorkDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "stashflow", "run")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("stashflow-run-%d", os.Getuid()))
}
