package backupsession

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/sessionrun"
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
		return r.run.Fail(ctx, s.Run, sessionstatus.Failed, conditions.ReasonInvalidInvoker,
			fmt.Sprintf("spec.invoker: API group %q is not %s", inv.Group(), v1alpha1.GroupName), true)
	case inv.Kind == v1alpha1.KindBackupConfiguration:
		s.config = &v1alpha1.BackupConfiguration{}
		obj = s.config
	case inv.Kind == v1alpha1.KindBackupBatch:
		s.batch = &v1alpha1.BackupBatch{}
		obj = s.batch
	default:
		return r.run.Fail(ctx, s.Run, sessionstatus.Failed, conditions.ReasonInvalidInvoker,
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
	if s.session.Status.Phase.IsFinal() {
		return ctrl.Result{}, nil // nothing to retry for
	}
	msg := fmt.Sprintf("spec.invoker: %s %s not found", inv.Kind, key)
	if wait := r.run.WaitForReferences(s.Run, msg); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	return r.run.Fail(ctx, s.Run, sessionstatus.Failed, conditions.ReasonInvokerNotFound, msg, true)
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
		if other.UID == s.session.UID || other.Status.Phase.IsFinal() || !olderThan(other, s.session) {
			continue
		}
		msg := fmt.Sprintf("skipped: BackupSession %s of the same %s is still %s", other.Name, inv.Kind, phaseOrNew(other.Status.Phase))
		return r.run.Fail(ctx, s.Run, sessionstatus.Skipped, conditions.ReasonAnotherSessionRunning, msg, false)
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
	return r.run.TakePlan(ctx, s.Run, func(ctx context.Context) (*translators.Plan, error) {
		repo, members := invokerReferences(s)
		objs, err := r.Resolver.Objects(ctx, resolve.Backup, s.session.Namespace, repo, members)
		if err != nil {
			return nil, err
		}
		plan, err := translators.Backup(s.session, translators.BackupInvoker{Config: s.config, Batch: s.batch}, objs, r.Translate)
		return plan, sessionrun.TranslateError(err)
	})
}

// invokerReferences returns the invoker's Repository and members.
func invokerReferences(s *scope) (v1alpha1.ObjectRef, []resolve.Member) {
	if s.config != nil {
		return s.config.Spec.Repository, []resolve.Member{resolve.BackupMember("spec", &s.config.Spec.BackupConfigurationTemplateSpec)}
	}
	var members []resolve.Member
	for i := range s.batch.Spec.Members {
		members = append(members, resolve.BackupMember(fmt.Sprintf("spec.members[%d]", i), &s.batch.Spec.Members[i].BackupConfigurationTemplateSpec))
	}
	return s.batch.Spec.Repository, members
}

// reconcileWorkflow submits the run to the engine, once.
func (r *Reconciler) reconcileWorkflow(ctx context.Context, s *scope) (ctrl.Result, error) {
	return r.run.Submit(ctx, s.Run)
}

// reconcileProgress reads the run from the engine and writes it into the
// status; it stops a run past its deadline.
func (r *Reconciler) reconcileProgress(ctx context.Context, s *scope) (ctrl.Result, error) {
	return r.run.Follow(ctx, s.Run)
}

// reconcileCompletion records what the run produced and ends the session.
func (r *Reconciler) reconcileCompletion(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.Ended() {
		return ctrl.Result{}, nil
	}
	// Snapshots first: the session ends only once they are recorded.
	if err := r.recordSnapshots(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	r.run.Complete(ctx, s.Run)
	return ctrl.Result{}, nil
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
