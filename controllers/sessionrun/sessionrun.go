package sessionrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/internal/shutdown"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/translators"
)

// Status points into the status fields every session kind has.
type Status struct {
	Phase           *string
	Reason          *string
	Message         *string
	SessionDuration *string
	SessionDeadline **metav1.Time
	Workflow        **v1alpha1.WorkflowRef
	Plan            **v1alpha1.RunPlan
	Conditions      *[]v1alpha1.Condition
}

// Adapter is what differs between the session kinds: a kind's part of
// the shared lifecycle.
type Adapter struct {
	// Name is the kind, e.g. "BackupSession": the engine's key.
	Name string
	// Subject names a session in messages: "session" or "restore".
	Subject string
	// ExecutorCondition is the condition that says the run was submitted.
	ExecutorCondition string
	// Invalid is the phase of input that can never run.
	Invalid sessionstatus.Phase
	// New returns an empty object of the kind (to read a fresh copy into).
	New func() client.Object
	// Status points into obj's status.
	Status func(obj client.Object) Status
	// Apply writes an outcome into obj's status (targets, hooks, conditions).
	Apply func(obj client.Object, o *sessionstatus.Outcome)
}

// Run is what one reconcile of one session read and computed.
type Run struct {
	Obj    client.Object
	Status Status
	// Plan is the run translated now, before it is submitted.
	Plan *translators.Plan
	// Record is the plan the run was submitted with: status.plan once
	// submitted, Plan.Record() before.
	Record *v1alpha1.RunPlan
	// Outcome is the run's outcome, once read from the engine.
	Outcome *sessionstatus.Outcome
	// Done stops the phases that follow: the session waits or has ended.
	Done bool
}

// Phase is the session's phase.
func (r *Run) Phase() sessionstatus.Phase { return sessionstatus.Phase(*r.Status.Phase) }

// Submitted reports whether the run was submitted to an engine.
func (r *Run) Submitted() bool { return *r.Status.Workflow != nil }

// Ended reports whether the outcome says the run ended.
func (r *Run) Ended() bool {
	return r.Outcome != nil && (r.Outcome.Phase == sessionstatus.Succeeded || r.Outcome.Phase == sessionstatus.Failed)
}

// Runner runs the shared lifecycle for one kind.
type Runner struct {
	Kind Adapter
	// Deps give the engine, the event recorder, the clock, the poll
	// interval and the reference grace.
	*Deps
	// OnEnd is called once a session ends, after its phase is set.
	OnEnd func(ctx context.Context, obj client.Object, phase sessionstatus.Phase, now time.Time)
}

// NewRun starts the Run of obj.
func (r *Runner) NewRun(obj client.Object) *Run {
	return &Run{Obj: obj, Status: r.Kind.Status(obj)}
}

// Forget drops the engine's memory of a session.
func (r *Runner) Forget(key client.ObjectKey) {
	r.Engine.Forget(engine.Key{Kind: r.Kind.Name, NamespacedName: key})
}

// TakePlan takes the run record of a submitted run; before the run is
// submitted, translate resolves and translates it. Objects that do not exist
// yet are waited for within the reference grace; a forbidden, invalid or
// untranslatable session ends with the Kind's Invalid phase.
func (r *Runner) TakePlan(ctx context.Context, run *Run, translate func(context.Context) (*translators.Plan, error)) (ctrl.Result, error) {
	if rec := *run.Status.Plan; rec != nil && run.Submitted() {
		run.Record = rec
		return ctrl.Result{}, nil
	}
	plan, err := translate(ctx)
	switch {
	case err == nil:
	case resolve.IsForbidden(err):
		return r.Fail(ctx, run, r.Kind.Invalid, conditions.ReasonNamespaceNotAllowed, err.Error(), true)
	case resolve.IsInvalid(err):
		return r.Fail(ctx, run, r.Kind.Invalid, conditions.ReasonInvalidInput, err.Error(), true)
	case resolve.IsNotFound(err):
		if wait := r.WaitForReferences(run, err.Error()); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return r.Fail(ctx, run, sessionstatus.Failed, resolve.Reason(err), err.Error(), true)
	case errors.As(err, new(*translateError)):
		return r.Fail(ctx, run, r.Kind.Invalid, conditions.ReasonInvalidInput, err.Error(), true)
	default:
		return ctrl.Result{}, err
	}
	if !run.Submitted() {
		for _, w := range plan.Warnings {
			r.Recorder.Event(run.Obj, corev1.EventTypeWarning, "TranslationWarning", w)
		}
	}
	run.Plan, run.Record = plan, plan.Record()
	if run.Submitted() {
		// Submitted by an operator that kept no record: read the run
		// against today's translation, and keep that from now on.
		*run.Status.Plan = run.Record
	}
	return ctrl.Result{}, nil
}

// translateError marks an error of the translators (the input cannot work).
type translateError struct{ err error }

func (e *translateError) Error() string { return e.err.Error() }
func (e *translateError) Unwrap() error { return e.err }

// TranslateError wraps an error the translators returned, for TakePlan.
func TranslateError(err error) error {
	if err == nil {
		return nil
	}
	return &translateError{err: err}
}

// WaitForReferences returns how long to wait before looking again if the
// session is young enough to wait for objects it refers to, or 0. While it
// waits, the session is Pending with msg.
func (r *Runner) WaitForReferences(run *Run, msg string) time.Duration {
	age := r.Now().Sub(run.Obj.GetCreationTimestamp().Time)
	if run.Submitted() || age >= r.ReferenceGrace {
		return 0
	}
	r.SetPhase(run, sessionstatus.Pending, conditions.ReasonWaitingForReferences, msg)
	run.Done = true
	return min(2*time.Second, r.ReferenceGrace-age)
}

// Submit submits the run to the engine, once: a session whose status names
// a workflow is never submitted again. The workflow and the record are
// written together.
//
// The session was read from the cache, which may not show the status patch
// of an earlier submission yet; so before it submits, Submit reads the
// session from the API server (one GET) and submits nothing if the server
// names a workflow, shows the session past Pending, or holds another object
// or none (see stale).
func (r *Runner) Submit(ctx context.Context, run *Run) (ctrl.Result, error) {
	st := run.Status
	if run.Submitted() {
		return ctrl.Result{}, nil
	}
	why, err := r.stale(ctx, run)
	if err != nil {
		return ctrl.Result{}, err
	}
	if why != "" {
		// The watch brings the fresh object; the requeue is for a watch
		// event already consumed.
		ctrl.LoggerFrom(ctx).V(1).Info("Not submitting: the cache is behind the API server", "server", why)
		run.Done = true
		return ctrl.Result{RequeueAfter: staleRequeue}, nil
	}
	if *st.Phase == "" {
		r.SetPhase(run, sessionstatus.Pending, conditions.ReasonWorkflowCreated, "submitting the workflow")
	}
	gen := run.Obj.GetGeneration()
	ref, err := r.Engine.Submit(ctx, run.Obj, run.Plan.Graph)
	if err != nil {
		conditions.False(st.Conditions, gen, r.Kind.ExecutorCondition, conditions.ReasonWorkflowCreateFailed, err.Error())
		if errors.Is(err, engine.ErrInvalidGraph) {
			return r.Fail(ctx, run, r.Kind.Invalid, conditions.ReasonEngineError, err.Error(), true)
		}
		return ctrl.Result{}, fmt.Errorf("submitting the workflow: %w", err)
	}
	*st.Workflow, *st.Plan = ref, run.Record
	if t := run.Plan.Graph.Timeout; t > 0 {
		d := metav1.NewTime(r.Now().Add(t))
		*st.SessionDeadline = &d
	}
	msg := fmt.Sprintf("workflow %s submitted to the %s engine", ref.Name, ref.Engine)
	conditions.True(st.Conditions, gen, r.Kind.ExecutorCondition, conditions.ReasonWorkflowCreated, msg)
	ctrl.LoggerFrom(ctx).Info("Workflow submitted", "engine", ref.Engine, "workflow", ref.Name)
	r.SetPhase(run, sessionstatus.Running, conditions.ReasonRunning, msg)
	return ctrl.Result{}, nil
}

// staleRequeue is how soon a reconcile that found its cached session behind
// the API server looks again.
const staleRequeue = time.Second

// stale reads run's session from the API server (Deps.APIReader) and says
// why it must not be submitted on the cached copy: "workflow" if the
// server's status names a workflow (an earlier reconcile submitted it: the
// engine would create a deleted Workflow again), "phase <phase>" if the
// server's session is past Pending (e.g. it ended before submission),
// "gone" or "replaced" if the server holds no session of that name or
// another one. It returns "" when the server agrees that the session waits
// for its submission.
func (r *Runner) stale(ctx context.Context, run *Run) (string, error) {
	fresh := r.Kind.New()
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(run.Obj), fresh); err != nil {
		if apierrors.IsNotFound(err) {
			return "gone", nil
		}
		return "", fmt.Errorf("reading %s %s/%s from the API server before submitting it: %w", r.Kind.Name, run.Obj.GetNamespace(), run.Obj.GetName(), err)
	}
	if fresh.GetUID() != run.Obj.GetUID() {
		return "replaced", nil
	}
	st := r.Kind.Status(fresh)
	if *st.Workflow != nil {
		return "workflow", nil
	}
	if p := sessionstatus.Phase(*st.Phase); p != "" && p != sessionstatus.Pending {
		return "phase " + string(p), nil
	}
	return "", nil
}

// RecordRefused is the status patch's fallback (patch.WithInvalidFallback)
// for a submitted run whose record the API server refused: the run keeps
// its workflow reference and drops the record, so that it is followed and
// its outcome written, read against today's translation as the run of an
// operator that kept no record; a RunRecorded=False condition and an event
// say why. Before submission it changes nothing.
func (r *Runner) RecordRefused(run *Run) func(error) bool {
	return func(err error) bool {
		if !run.Submitted() || *run.Status.Plan == nil {
			return false
		}
		*run.Status.Plan = nil
		msg := "the API server refused the run record (status.plan), so the run is read against today's translation: " + conditions.Truncate(err.Error(), 1024)
		if conditions.False(run.Status.Conditions, run.Obj.GetGeneration(), conditions.RunRecorded, conditions.ReasonRecordRefused, msg) {
			r.Recorder.Event(run.Obj, corev1.EventTypeWarning, string(conditions.ReasonRecordRefused), msg)
		}
		return true
	}
}

// Follow reads the run from the engine against the record and writes it
// into the status; it stops a run past its deadline. A lost run ends the
// session Failed, or Unknown when the engine cannot tell how it ended.
func (r *Runner) Follow(ctx context.Context, run *Run) (ctrl.Result, error) {
	st := run.Status
	res, err := r.Engine.Status(ctx, run.Obj, *st.Workflow, run.Record)
	if lost := engine.AsLost(err); lost != nil {
		phase := sessionstatus.Failed
		if lost.Unknown {
			phase = sessionstatus.Unknown
		}
		return r.Fail(ctx, run, phase, lost.Reason, lost.Message, false)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the run: %w", err)
	}
	if res.Failure != "" {
		return r.Fail(ctx, run, sessionstatus.Failed, conditions.ReasonEngineError, "the engine could not run the workflow: "+res.Failure, false)
	}
	now := r.Now()
	deadline := sessionstatus.Deadline{Timeout: run.Record.RunTimeout(), Subject: r.Kind.Subject}
	if d := *st.SessionDeadline; d != nil {
		deadline.At = d.Time
	}
	if deadline.Passed(now) && !res.Finished {
		if err := r.Engine.Stop(ctx, run.Obj, *st.Workflow, deadline.Message()); err != nil {
			return ctrl.Result{}, err
		}
	}
	run.Outcome = deadline.EvaluateRun(st.Conditions, run.Obj.GetGeneration(), &run.Record.Layout, res.Nodes, res.Finished, now)
	r.Kind.Apply(run.Obj, run.Outcome)
	if run.Ended() {
		return ctrl.Result{}, nil
	}
	run.Done = true
	wait := r.PollInterval
	if d := *st.SessionDeadline; d != nil {
		wait = min(wait, d.Sub(now)+10*time.Millisecond)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// Complete ends a session whose run ended, with the outcome's phase
// (Succeeded or Failed).
func (r *Runner) Complete(ctx context.Context, run *Run) {
	if !run.Ended() {
		return
	}
	r.End(ctx, run, run.Outcome.Phase, run.Outcome.Reason, run.Outcome.Message)
}

// Fail ends the session with phase, stopping its run unless the phase is
// Unknown (nothing is left to stop); terminal marks input no retry can fix.
func (r *Runner) Fail(ctx context.Context, run *Run, phase sessionstatus.Phase, reason conditions.Reason, msg string, terminal bool) (ctrl.Result, error) {
	if run.Submitted() && phase != sessionstatus.Unknown {
		if err := r.Engine.Stop(ctx, run.Obj, *run.Status.Workflow, msg); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Stopping the run failed")
		}
	}
	r.End(ctx, run, phase, reason, msg)
	run.Done = true
	if terminal {
		return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
	}
	return ctrl.Result{}, nil
}

// End sets a final phase and the duration, logs, and calls OnEnd.
func (r *Runner) End(ctx context.Context, run *Run, phase sessionstatus.Phase, reason conditions.Reason, msg string) {
	now := r.Now()
	*run.Status.SessionDuration = now.Sub(run.Obj.GetCreationTimestamp().Time).Round(time.Second).String()
	r.SetPhase(run, phase, reason, msg)
	ctrl.LoggerFrom(ctx).Info(r.Kind.Name+" ended", "phase", phase, "reason", reason, "duration", *run.Status.SessionDuration)
	if r.OnEnd != nil {
		r.OnEnd(ctx, run.Obj, phase, now)
	}
}

// SetPhase sets the phase, reason and message, with an event when the
// phase changes.
func (r *Runner) SetPhase(run *Run, phase sessionstatus.Phase, reason conditions.Reason, msg string) {
	st := run.Status
	changed := sessionstatus.Phase(*st.Phase) != phase
	*st.Phase, *st.Reason, *st.Message = string(phase), string(reason), conditions.Truncate(msg, conditions.MaxMessageLength)
	if !changed {
		return
	}
	eventType := corev1.EventTypeNormal
	if phase.Warning() {
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Event(run.Obj, eventType, string(phase), conditions.Truncate(msg, 1024))
}

// Do runs the phases of one reconcile in order until one fails or says the
// session is done (run.Done), and returns the soonest requeue any of them
// asked for.
func Do[S any](ctx context.Context, s S, run *Run, phases []func(context.Context, S) (ctrl.Result, error)) (ctrl.Result, error) {
	res := ctrl.Result{}
	for _, phase := range phases {
		r, err := phase(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		res = Soonest(res, r)
		if run.Done {
			break
		}
	}
	return res, nil
}

// Soonest is the result that requeues first; one without a requeue loses.
func Soonest(a, b ctrl.Result) ctrl.Result {
	switch {
	case a.RequeueAfter == 0:
		return b
	case b.RequeueAfter == 0:
		return a
	case b.RequeueAfter < a.RequeueAfter:
		return b
	}
	return a
}

// Defaults of a session controller's timing.
const (
	// DefaultPollInterval re-reads a running session's run even without an
	// event from the engine.
	DefaultPollInterval = time.Minute
	// DefaultReferenceGrace is how long a new session waits for the objects
	// it refers to before it fails: they may be created with it.
	DefaultReferenceGrace = 30 * time.Second
)

// Deps are what every session controller is built from.
type Deps struct {
	Client client.Client
	// APIReader reads the API server directly, for decisions a stale
	// cache must not make.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Engine    engine.Engine
	Resolver  *resolve.Resolver
	Metrics   *metrics.Metrics
	// Translate are the translators' options (image, local engine).
	Translate translators.Options
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PollInterval and ReferenceGrace: DefaultPollInterval and
	// DefaultReferenceGrace when zero.
	PollInterval   time.Duration
	ReferenceGrace time.Duration
}

// Runner sets the defaults and returns the Runner of kind.
func (d *Deps) Runner(kind Adapter, onEnd func(ctx context.Context, obj client.Object, phase sessionstatus.Phase, now time.Time)) *Runner {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.PollInterval <= 0 {
		d.PollInterval = DefaultPollInterval
	}
	if d.ReferenceGrace <= 0 {
		d.ReferenceGrace = DefaultReferenceGrace
	}
	return &Runner{Kind: kind, Deps: d, OnEnd: onEnd}
}

// Register adds the controller of kind (objects like obj) to mgr, watching
// what the engine runs for it.
func (d *Deps) Register(mgr ctrl.Manager, opts controller.Options, name string, obj client.Object, r reconcile.Reconciler) error {
	b := ctrl.NewControllerManagedBy(mgr).For(obj).Named(name).WithOptions(opts)
	b, err := d.Engine.Watch(b, obj)
	if err != nil {
		return err
	}
	return b.Complete(shutdown.Quiet(r))
}
