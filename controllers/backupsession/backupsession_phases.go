package backupsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/translators"
)

// Kind is the kind of the sessions this controller reconciles.
const Kind = "BackupSession"

// reconcileInvoker reads the BackupConfiguration or BackupBatch that invoked
// the session. A session whose invoker does not exist fails, after a short
// grace for objects created together.
func (r *Reconciler) reconcileInvoker(ctx context.Context, s *scope) (ctrl.Result, error) {
	inv := s.session.Spec.Invoker
	key := types.NamespacedName{Namespace: s.session.Namespace, Name: inv.Name}
	var obj client.Object
	switch {
	case inv.Group() != v1alpha1.GroupName:
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonInvalidInvoker,
			fmt.Sprintf("spec.invoker: API group %q is not %s", inv.Group(), v1alpha1.GroupName), true)
	case inv.Kind == v1alpha1.KindBackupConfiguration:
		s.config = &v1alpha1.BackupConfiguration{}
		obj = s.config
	case inv.Kind == v1alpha1.KindBackupBatch:
		s.batch = &v1alpha1.BackupBatch{}
		obj = s.batch
	default:
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonInvalidInvoker,
			fmt.Sprintf("spec.invoker: kind %q is neither BackupConfiguration nor BackupBatch", inv.Kind), true)
	}
	err := r.Client.Get(ctx, key, obj)
	switch {
	case err == nil:
		return ctrl.Result{}, nil
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, fmt.Errorf("reading %s %s: %w", inv.Kind, key, err)
	}
	s.config, s.batch = nil, nil
	if finished(s.session.Status.Phase) {
		return ctrl.Result{}, nil // nothing to retry for
	}
	msg := fmt.Sprintf("spec.invoker: %s %s not found", inv.Kind, key)
	if wait := r.waitForReferences(s, msg); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonInvokerNotFound, msg, true)
}

// reconcileConcurrency skips a session that has not started while an older
// session of the same invoker has not finished: two backups of one target
// into one repository would only contend for its lock.
func (r *Reconciler) reconcileConcurrency(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.session.Status.Workflow != nil {
		return ctrl.Result{}, nil
	}
	inv := s.session.Spec.Invoker
	list := &v1alpha1.BackupSessionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.session.Namespace),
		client.MatchingFields{index.SessionInvoker: index.InvokerKey(inv.Kind, inv.Name)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the sessions of %s %s: %w", inv.Kind, inv.Name, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == s.session.UID || finished(other.Status.Phase) || !olderThan(other, s.session) {
			continue
		}
		msg := fmt.Sprintf("skipped: BackupSession %s of the same %s is still %s", other.Name, inv.Kind, phaseOrNew(other.Status.Phase))
		return r.fail(ctx, s, v1alpha1.BackupSessionSkipped, conditions.ReasonAnotherSessionRunning, msg, false)
	}
	return ctrl.Result{}, nil
}

func olderThan(a, b *v1alpha1.BackupSession) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Name < b.Name
}

func phaseOrNew(p v1alpha1.BackupSessionPhase) string {
	if p == "" {
		return "new"
	}
	return string(p)
}

// reconcilePlan takes the run record of a submitted run, or resolves what
// the invoker refers to and translates the run.
func (r *Reconciler) reconcilePlan(ctx context.Context, s *scope) (ctrl.Result, error) {
	if st := &s.session.Status; st.Plan != nil && st.Workflow != nil {
		s.record = st.Plan
		return ctrl.Result{}, nil
	}
	repo, members := invokerReferences(s)
	objs, err := r.Resolver.Objects(ctx, resolve.Backup, s.session.Namespace, repo, members)
	if err != nil {
		return r.referenceError(ctx, s, err)
	}
	plan, err := translators.Backup(s.session, translators.BackupInvoker{Config: s.config, Batch: s.batch}, objs, r.Translate)
	if err != nil {
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonInvalidInput, err.Error(), true)
	}
	if s.session.Status.Workflow == nil {
		for _, w := range plan.Warnings {
			r.Recorder.Event(s.session, corev1.EventTypeWarning, "TranslationWarning", w)
		}
	}
	s.plan, s.record = plan, plan.Record()
	if st := &s.session.Status; st.Workflow != nil {
		// Submitted by an operator that kept no record: read the run
		// against today's translation, and keep that from now on.
		st.Plan = s.record
	}
	return ctrl.Result{}, nil
}

// invokerReferences returns the invoker's Repository and members.
func invokerReferences(s *scope) (v1alpha1.ObjectRef, []resolve.Member) {
	member := func(field string, t *v1alpha1.BackupConfigurationTemplateSpec) resolve.Member {
		m := resolve.Member{Field: field, Task: t.Task}
		if t.Target != nil {
			m.Target = &t.Target.Ref
		}
		return m
	}
	if s.config != nil {
		return s.config.Spec.Repository, []resolve.Member{member("spec", &s.config.Spec.BackupConfigurationTemplateSpec)}
	}
	var members []resolve.Member
	for i := range s.batch.Spec.Members {
		members = append(members, member(fmt.Sprintf("spec.members[%d]", i), &s.batch.Spec.Members[i].BackupConfigurationTemplateSpec))
	}
	return s.batch.Spec.Repository, members
}

// referenceError handles an error resolving references: a missing object
// may still come (within the grace), a forbidden Repository will not.
func (r *Reconciler) referenceError(ctx context.Context, s *scope, err error) (ctrl.Result, error) {
	switch {
	case resolve.IsForbidden(err):
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonNamespaceNotAllowed, err.Error(), true)
	case resolve.IsNotFound(err):
		if wait := r.waitForReferences(s, err.Error()); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, resolve.Reason(err), err.Error(), true)
	case resolve.IsInvalid(err):
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonInvalidInput, err.Error(), true)
	}
	return ctrl.Result{}, err
}

// waitForReferences returns how long to wait before looking again if the
// session is young enough to wait, or 0.
func (r *Reconciler) waitForReferences(s *scope, msg string) time.Duration {
	age := r.Now().Sub(s.session.CreationTimestamp.Time)
	if s.session.Status.Workflow != nil || age >= r.ReferenceGrace {
		return 0
	}
	r.setPhase(s.session, v1alpha1.BackupSessionPending, conditions.ReasonWaitingForReferences, msg)
	s.done = true
	return min(2*time.Second, r.ReferenceGrace-age)
}

// reconcileWorkflow submits the run to the engine, once: a session whose
// status names a workflow is never submitted again.
func (r *Reconciler) reconcileWorkflow(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := &s.session.Status
	if st.Workflow != nil {
		return ctrl.Result{}, nil
	}
	if st.Phase == "" {
		r.setPhase(s.session, v1alpha1.BackupSessionPending, conditions.ReasonWorkflowCreated, "submitting the workflow")
	}
	ref, err := r.Engine.Submit(ctx, s.session, s.plan.Graph)
	if err != nil {
		conditions.False(&st.Conditions, s.session.Generation, conditions.BackupExecutorEnsured, conditions.ReasonWorkflowCreateFailed, err.Error())
		if errors.Is(err, engine.ErrInvalidGraph) {
			return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonEngineError, err.Error(), true)
		}
		return ctrl.Result{}, fmt.Errorf("submitting the workflow: %w", err)
	}
	st.Workflow, st.Plan = ref, s.record
	now := r.Now()
	if s.plan.Graph.Timeout > 0 {
		d := metaTime(now.Add(s.plan.Graph.Timeout))
		st.SessionDeadline = &d
	}
	msg := fmt.Sprintf("workflow %s submitted to the %s engine", ref.Name, ref.Engine)
	conditions.True(&st.Conditions, s.session.Generation, conditions.BackupExecutorEnsured, conditions.ReasonWorkflowCreated, msg)
	ctrl.LoggerFrom(ctx).Info("Workflow submitted", "engine", ref.Engine, "workflow", ref.Name)
	r.setPhase(s.session, v1alpha1.BackupSessionRunning, conditions.ReasonRunning, msg)
	return ctrl.Result{}, nil
}

// reconcileProgress reads the run from the engine and writes it into the
// status; it stops a run past its deadline.
func (r *Reconciler) reconcileProgress(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := &s.session.Status
	res, err := r.Engine.Status(ctx, s.session, st.Workflow, s.record)
	if lost := engine.AsLost(err); lost != nil {
		phase := v1alpha1.BackupSessionFailed
		if lost.Unknown {
			phase = v1alpha1.BackupSessionUnknown
		}
		return r.fail(ctx, s, phase, lost.Reason, lost.Message, false)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the run: %w", err)
	}
	if res.Failure != "" {
		return r.fail(ctx, s, v1alpha1.BackupSessionFailed, conditions.ReasonEngineError, "the engine could not run the workflow: "+res.Failure, false)
	}
	now := r.Now()
	deadline := sessionstatus.Deadline{Timeout: s.record.RunTimeout(), Subject: "session"}
	if st.SessionDeadline != nil {
		deadline.At = st.SessionDeadline.Time
	}
	if deadline.Passed(now) && !res.Finished {
		if err := r.Engine.Stop(ctx, s.session, st.Workflow, deadline.Message()); err != nil {
			return ctrl.Result{}, err
		}
	}
	s.outcome = deadline.EvaluateRun(&st.Conditions, s.session.Generation, &s.record.Layout, res.Nodes, res.Finished, now)
	sessionstatus.SetBackup(s.session, s.outcome)
	done := s.outcome.Phase == sessionstatus.Succeeded || s.outcome.Phase == sessionstatus.Failed
	if done {
		return ctrl.Result{}, nil
	}
	s.done = true
	wait := r.PollInterval
	if st.SessionDeadline != nil {
		wait = min(wait, st.SessionDeadline.Sub(now)+10*time.Millisecond)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// reconcileCompletion records what the run produced and ends the session.
func (r *Reconciler) reconcileCompletion(ctx context.Context, s *scope) (ctrl.Result, error) {
	o := s.outcome
	if o == nil || (o.Phase != sessionstatus.Succeeded && o.Phase != sessionstatus.Failed) {
		return ctrl.Result{}, nil
	}
	// Snapshots first: the session ends only once they are recorded.
	if err := r.recordSnapshots(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	phase := v1alpha1.BackupSessionSucceeded
	if o.Phase == sessionstatus.Failed {
		phase = v1alpha1.BackupSessionFailed
	}
	r.finish(ctx, s, phase, o.Reason, o.Message)
	return ctrl.Result{}, nil
}

// fail ends the session with phase; terminal marks input no retry can fix.
func (r *Reconciler) fail(ctx context.Context, s *scope, phase v1alpha1.BackupSessionPhase, reason conditions.Reason, msg string, terminal bool) (ctrl.Result, error) {
	if st := &s.session.Status; st.Workflow != nil && phase != v1alpha1.BackupSessionUnknown {
		if err := r.Engine.Stop(ctx, s.session, st.Workflow, msg); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Stopping the run failed")
		}
	}
	r.finish(ctx, s, phase, reason, msg)
	s.done = true
	if terminal {
		return ctrl.Result{}, reconcile.TerminalError(errors.New(msg))
	}
	return ctrl.Result{}, nil
}

// finish sets a final phase, the duration and the metrics.
func (r *Reconciler) finish(ctx context.Context, s *scope, phase v1alpha1.BackupSessionPhase, reason conditions.Reason, msg string) {
	now := r.Now()
	st := &s.session.Status
	st.SessionDuration = now.Sub(s.session.CreationTimestamp.Time).Round(time.Second).String()
	r.setPhase(s.session, phase, reason, msg)
	ctrl.LoggerFrom(ctx).Info("BackupSession ended", "phase", phase, "reason", reason, "duration", st.SessionDuration)
	if phase != v1alpha1.BackupSessionSkipped {
		r.recordMetrics(s, now)
	}
}

// setPhase sets the phase, reason and message, with an event when the phase changes.
func (r *Reconciler) setPhase(session *v1alpha1.BackupSession, phase v1alpha1.BackupSessionPhase, reason conditions.Reason, msg string) {
	st := &session.Status
	changed := st.Phase != phase
	st.Phase, st.Reason, st.Message = phase, string(reason), conditions.Truncate(msg, conditions.MaxMessageLength)
	if !changed {
		return
	}
	eventType := corev1.EventTypeNormal
	switch phase {
	case v1alpha1.BackupSessionFailed, v1alpha1.BackupSessionUnknown, v1alpha1.BackupSessionSkipped:
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Event(session, eventType, string(phase), conditions.Truncate(msg, 1024))
}

// reconcileRetry creates the retry of a failed session once its delay has
// passed: a new session named <first session>-retry-<n>, with one retry less.
func (r *Reconciler) reconcileRetry(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := &s.session.Status
	if st.Phase != v1alpha1.BackupSessionFailed && st.Phase != v1alpha1.BackupSessionUnknown {
		return ctrl.Result{}, nil
	}
	cfg := retryConfig(s)
	left := retryLeft(s.session, cfg)
	if left <= 0 || s.invoker() == nil {
		return ctrl.Result{}, nil
	}
	delay, err := v1alpha1.ParseDuration(cfg.Delay)
	if err != nil {
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("retryConfig.delay: %w", err))
	}
	retry := retrySession(s.session, left-1)
	cond := conditions.Get(st.Conditions, conditions.RetryScheduled)
	if cond == nil {
		conditions.True(&st.Conditions, s.session.Generation, conditions.RetryScheduled, conditions.ReasonRetryPending,
			fmt.Sprintf("will be retried as %s after %s (%d retries left)", retry.Name, delay, left))
		cond = conditions.Get(st.Conditions, conditions.RetryScheduled)
	}
	if cond.Reason == string(conditions.ReasonRetryCreated) {
		return ctrl.Result{}, nil
	}
	if wait := cond.LastTransitionTime.Add(delay).Sub(r.Now()); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if err := r.Client.Create(ctx, retry); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating the retry session %s: %w", retry.Name, err)
	}
	msg := fmt.Sprintf("retried as %s (%d retries left)", retry.Name, left-1)
	conditions.True(&st.Conditions, s.session.Generation, conditions.RetryScheduled, conditions.ReasonRetryCreated, msg)
	r.Recorder.Event(s.session, corev1.EventTypeNormal, "RetryCreated", msg)
	ctrl.LoggerFrom(ctx).Info("Retry session created", "retry", klog.KObj(retry))
	return ctrl.Result{}, nil
}
