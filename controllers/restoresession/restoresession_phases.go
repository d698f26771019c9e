package restoresession

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
)

// reconcilePlan takes the run record of a submitted run, or resolves what
// the restore refers to and translates it.
func (r *Reconciler) reconcilePlan(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.status.Plan != nil && s.status.Workflow != nil {
		s.record = s.status.Plan
		return ctrl.Result{}, nil
	}
	repo, members := r.Kind.References(s.obj)
	objs, err := r.Resolver.Objects(ctx, resolve.Restore, s.obj.GetNamespace(), repo, members)
	switch {
	case err == nil:
	case resolve.IsForbidden(err):
		return r.fail(ctx, s, v1alpha1.RestoreInvalid, conditions.ReasonNamespaceNotAllowed, err.Error(), true)
	case resolve.IsInvalid(err):
		return r.fail(ctx, s, v1alpha1.RestoreInvalid, conditions.ReasonInvalidInput, err.Error(), true)
	case resolve.IsNotFound(err):
		age := r.Now().Sub(s.obj.GetCreationTimestamp().Time)
		if s.status.Workflow == nil && age < r.ReferenceGrace {
			r.setPhase(s, v1alpha1.RestorePending, conditions.ReasonWaitingForReferences, err.Error())
			s.done = true
			return ctrl.Result{RequeueAfter: min(2*time.Second, r.ReferenceGrace-age)}, nil
		}
		return r.fail(ctx, s, v1alpha1.RestoreFailed, resolve.Reason(err), err.Error(), true)
	default:
		return ctrl.Result{}, err
	}
	plan, err := r.Kind.Translate(s.obj, objs, r.Translate)
	if err != nil {
		return r.fail(ctx, s, v1alpha1.RestoreInvalid, conditions.ReasonInvalidInput, err.Error(), true)
	}
	if s.status.Workflow == nil {
		for _, w := range plan.Warnings {
			r.Recorder.Event(s.obj, corev1.EventTypeWarning, "TranslationWarning", w)
		}
	}
	s.plan, s.record = plan, plan.Record()
	if s.status.Workflow != nil {
		// Submitted by an operator that kept no record: read the run
		// against today's translation, and keep that from now on.
		s.status.Plan = s.record
	}
	return ctrl.Result{}, nil
}

// reconcileWorkflow submits the run to the engine, once.
func (r *Reconciler) reconcileWorkflow(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := s.status
	if st.Workflow != nil {
		return ctrl.Result{}, nil
	}
	if st.Phase == "" {
		r.setPhase(s, v1alpha1.RestorePending, conditions.ReasonWorkflowCreated, "submitting the workflow")
	}
	gen := s.obj.GetGeneration()
	ref, err := r.Engine.Submit(ctx, s.obj, s.plan.Graph)
	if err != nil {
		conditions.False(&st.Conditions, gen, conditions.RestoreExecutorEnsured, conditions.ReasonWorkflowCreateFailed, err.Error())
		if errors.Is(err, engine.ErrInvalidGraph) {
			return r.fail(ctx, s, v1alpha1.RestoreInvalid, conditions.ReasonEngineError, err.Error(), true)
		}
		return ctrl.Result{}, fmt.Errorf("submitting the workflow: %w", err)
	}
	st.Workflow, st.Plan = ref, s.record
	if s.plan.Graph.Timeout > 0 {
		d := metav1.NewTime(r.Now().Add(s.plan.Graph.Timeout))
		st.SessionDeadline = &d
	}
	msg := fmt.Sprintf("workflow %s submitted to the %s engine", ref.Name, ref.Engine)
	conditions.True(&st.Conditions, gen, conditions.RestoreExecutorEnsured, conditions.ReasonWorkflowCreated, msg)
	ctrl.LoggerFrom(ctx).Info("Workflow submitted", "engine", ref.Engine, "workflow", ref.Name)
	r.setPhase(s, v1alpha1.RestoreRunning, conditions.ReasonRunning, msg)
	return ctrl.Result{}, nil
}

// reconcileProgress reads the run and writes it into the status; it stops a
// run past its deadline.
func (r *Reconciler) reconcileProgress(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := s.status
	res, err := r.Engine.Status(ctx, s.obj, st.Workflow, s.record)
	if lost := engine.AsLost(err); lost != nil {
		phase := v1alpha1.RestoreFailed
		if lost.Unknown {
			phase = v1alpha1.RestoreUnknown
		}
		return r.fail(ctx, s, phase, lost.Reason, lost.Message, false)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the run: %w", err)
	}
	if res.Failure != "" {
		return r.fail(ctx, s, v1alpha1.RestoreFailed, conditions.ReasonEngineError, "the engine could not run the workflow: "+res.Failure, false)
	}
	now := r.Now()
	deadline := sessionstatus.Deadline{Timeout: s.record.RunTimeout(), Subject: "restore"}
	if st.SessionDeadline != nil {
		deadline.At = st.SessionDeadline.Time
	}
	if deadline.Passed(now) && !res.Finished {
		if err := r.Engine.Stop(ctx, s.obj, st.Workflow, deadline.Message()); err != nil {
			return ctrl.Result{}, err
		}
	}
	s.outcome = deadline.EvaluateRun(&st.Conditions, s.obj.GetGeneration(), &s.record.Layout, res.Nodes, res.Finished, now)
	sessionstatus.SetRestore(s.status, s.obj.GetGeneration(), s.outcome)
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

// reconcileCompletion ends a restore whose run ended.
func (r *Reconciler) reconcileCompletion(ctx context.Context, s *scope) (ctrl.Result, error) {
	o := s.outcome
	if o == nil || (o.Phase != sessionstatus.Succeeded && o.Phase != sessionstatus.Failed) {
		return ctrl.Result{}, nil
	}
	phase := v1alpha1.RestoreSucceeded
	if o.Phase == sessionstatus.Failed {
		phase = v1alpha1.RestoreFailed
	}
	r.finish(ctx, s, phase, o.Reason, o.Message)
	return ctrl.Result{}, nil
}

// fail ends the restore with phase; terminal marks input no retry can fix.
func (r *Reconciler) fail(ctx context.Context, s *scope, phase v1alpha1.RestorePhase, reason conditions.Reason, msg string, terminal bool) (ctrl.Result, error) {
	if s.status.Workflow != nil && phase != v1alpha1.RestoreUnknown {
		if err := r.Engine.Stop(ctx, s.obj, s.status.Workflow, msg); err != nil {
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
func (r *Reconciler) finish(ctx context.Context, s *scope, phase v1alpha1.RestorePhase, reason conditions.Reason, msg string) {
	now := r.Now()
	d := now.Sub(s.obj.GetCreationTimestamp().Time)
	s.status.SessionDuration = d.Round(time.Second).String()
	r.setPhase(s, phase, reason, msg)
	ctrl.LoggerFrom(ctx).Info("Restore ended", "phase", phase, "reason", reason, "duration", s.status.SessionDuration)
	if r.Metrics != nil && phase != v1alpha1.RestoreInvalid {
		ok := 0.0
		if phase == v1alpha1.RestoreSucceeded {
			ok = 1
		}
		r.Metrics.RestoreSessionSuccess.WithLabelValues(s.obj.GetNamespace(), r.Kind.Name, s.obj.GetName()).Set(ok)
		r.Metrics.RestoreSessionDuration.WithLabelValues(s.obj.GetNamespace(), r.Kind.Name, s.obj.GetName()).Set(d.Seconds())
	}
}

// setPhase sets the phase, reason and message, with an event when the phase changes.
func (r *Reconciler) setPhase(s *scope, phase v1alpha1.RestorePhase, reason conditions.Reason, msg string) {
	st := s.status
	changed := st.Phase != phase
	st.Phase, st.Reason, st.Message = phase, string(reason), conditions.Truncate(msg, conditions.MaxMessageLength)
	if !changed {
		return
	}
	eventType := corev1.EventTypeNormal
	switch phase {
	case v1alpha1.RestoreFailed, v1alpha1.RestoreUnknown, v1alpha1.RestoreInvalid:
		eventType = corev1.EventTypeWarning
	}
	r.Recorder.Event(s.obj, eventType, string(phase), conditions.Truncate(msg, 1024))
}
