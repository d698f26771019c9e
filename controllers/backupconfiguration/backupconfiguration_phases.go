package backupconfiguration

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/internal/names"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/schedule"
	"github.com/stashflow/stashflow/translators"
)

// AnnotationScheduleTime on a scheduled BackupSession is its slot, RFC 3339.
const AnnotationScheduleTime = v1alpha1.GroupName + "/schedule-time"

// reconcileReferences checks everything the invoker refers to and writes
// the conditions, the members' status and the phase.
func (r *Reconciler) reconcileReferences(ctx context.Context, s *scope) (ctrl.Result, error) {
	inv := s.inv
	ns, gen := inv.obj.GetNamespace(), inv.obj.GetGeneration()
	v := &verdict{}

	repo, err := r.Resolver.Repository(ctx, "spec.repository", inv.spec.Repository, ns)
	if err := v.check(inv.status.Conditions, gen, v1alpha1.ConditionRepositoryFound, err, conditions.ReasonRepositoryFound,
		fmt.Sprintf("Repository %s/%s lets namespace %s use it", inv.spec.Repository.NamespaceOr(ns), inv.spec.Repository.Name, ns)); err != nil {
		return ctrl.Result{}, err
	}
	if repo != nil {
		err := r.Resolver.StorageSecret(ctx, repo)
		if err := v.check(inv.status.Conditions, gen, v1alpha1.ConditionBackendSecretFound, err, conditions.ReasonSecretFound,
			fmt.Sprintf("Secret %s/%s found", repo.Namespace, repo.Spec.Backend.StorageSecretName)); err != nil {
			return ctrl.Result{}, err
		}
	} else {
		conditions.Unknown(inv.status.Conditions, gen, v1alpha1.ConditionBackendSecretFound, conditions.ReasonRepositoryNotFound, "waiting for the Repository")
	}

	objs := &translators.Objects{
		Repository:  repo,
		AppBindings: map[string]*v1alpha1.AppBinding{},
		Tasks:       map[string]*v1alpha1.Task{},
		Functions:   map[string]*v1alpha1.Function{},
	}
	var members []v1alpha1.BackupBatchMemberStatus
	for i, m := range inv.spec.Members {
		ms, err := r.checkMember(ctx, s, i, m, objs, v)
		if err != nil {
			return ctrl.Result{}, err
		}
		members = append(members, ms)
	}
	if inv.status.Members != nil {
		*inv.status.Members = members
	}

	if inv.spec.Schedule != "" {
		sched, err := schedule.Parse(inv.spec.Schedule)
		if err != nil {
			v.invalid = append(v.invalid, "spec.schedule: "+err.Error())
		}
		s.sched = sched
	}
	if len(v.invalid) == 0 && len(v.missing) == 0 {
		// A trial translation finds what only the translators know: unknown
		// params, hooks without a handler, names too long for labels.
		trial := &v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Name: names.Join(inv.obj.GetName(), "0000000000"), Namespace: ns},
			Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: inv.kind, Name: inv.obj.GetName()}},
		}
		if _, err := translators.Backup(trial, inv.translate, objs, r.Translate); err != nil {
			v.invalid = append(v.invalid, err.Error())
		}
	}
	return r.setReadiness(ctx, s, v), nil
}

// checkMember checks one member's target, Task and Functions. For a
// BackupConfiguration the conditions go on the invoker; for a BackupBatch on
// the member's status entry.
func (r *Reconciler) checkMember(ctx context.Context, s *scope, i int, m *v1alpha1.BackupConfigurationTemplateSpec, objs *translators.Objects, v *verdict) (v1alpha1.BackupBatchMemberStatus, error) {
	inv := s.inv
	ns, gen := inv.obj.GetNamespace(), inv.obj.GetGeneration()
	field := inv.memberField(i)
	ms := v1alpha1.BackupBatchMemberStatus{}
	conds := inv.status.Conditions
	if inv.status.Members != nil {
		if i < len(*inv.status.Members) {
			ms.Conditions = (*inv.status.Members)[i].Conditions
		}
		conds = &ms.Conditions
	}
	before := len(v.invalid) + len(v.missing)
	invalidBefore := len(v.invalid)
	member := resolve.BackupMember(field, m)
	if m.Target != nil {
		ms.Ref = m.Target.Ref
		checked, err := r.Resolver.Target(ctx, field+".target.ref", ns, m.Target.Ref)
		msg := fmt.Sprintf("%s %s found", m.Target.Ref.Kind, m.Target.Ref.Name)
		reason := conditions.ReasonTargetFound
		if !checked {
			msg, reason = fmt.Sprintf("targets of kind %s are not checked", m.Target.Ref.Kind), conditions.ReasonTargetNotChecked
		}
		if err := v.check(conds, gen, v1alpha1.ConditionTargetFound, err, reason, msg); err != nil {
			return ms, err
		}
	} else {
		conditions.True(conds, gen, v1alpha1.ConditionTargetFound, conditions.ReasonTargetNotChecked, "the Task needs no target")
	}
	mo, err := r.Resolver.Member(ctx, resolve.Backup, ns, member)
	switch {
	case err == nil:
		fns := make([]string, 0, len(mo.Functions))
		for n := range mo.Functions {
			fns = append(fns, n)
		}
		slices.Sort(fns)
		conditions.True(conds, gen, v1alpha1.ConditionTaskResolved, conditions.ReasonTaskResolved,
			fmt.Sprintf("Task %s and its Functions (%s) resolved", mo.Task.Name, strings.Join(fns, ", ")))
		if mo.AppBinding != nil {
			objs.AppBindings[mo.AppBinding.Name] = mo.AppBinding
		}
		objs.Tasks[mo.Task.Name] = mo.Task
		for n, f := range mo.Functions {
			objs.Functions[n] = f
		}
	case resolve.NotFoundKind(err) == "AppBinding":
		// TargetFound already says so.
		conditions.Unknown(conds, gen, v1alpha1.ConditionTaskResolved, conditions.ReasonTargetNotFound, "waiting for the target")
	default:
		if err := v.check(conds, gen, v1alpha1.ConditionTaskResolved, err, conditions.ReasonTaskResolved, ""); err != nil {
			return ms, err
		}
	}
	switch {
	case len(v.invalid) > invalidBefore:
		ms.Phase = v1alpha1.InvokerInvalid
	case len(v.invalid)+len(v.missing) > before:
		ms.Phase = v1alpha1.InvokerNotReady
	default:
		ms.Phase = v1alpha1.InvokerReady
	}
	return ms, nil
}

// reconcileHistory keeps lastBackupTime and deletes the finished sessions
// beyond backupHistoryLimit, newest kept. A failed session whose retry is
// still to come is kept until the retry exists, and the newest Succeeded
// session is always kept: slots Skipped while a long backup ran must not
// push the record of the last good backup out of the history.
func (r *Reconciler) reconcileHistory(ctx context.Context, s *scope) (ctrl.Result, error) {
	inv := s.inv
	list := &v1alpha1.BackupSessionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(inv.obj.GetNamespace()),
		client.MatchingFields{index.SessionInvoker: index.InvokerKey(inv.kind, inv.obj.GetName())}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing sessions: %w", err)
	}
	var done []*v1alpha1.BackupSession
	for i := range list.Items {
		bs := &list.Items[i]
		if !finished(bs.Status.Phase) {
			continue
		}
		done = append(done, bs)
		if bs.Status.Phase == v1alpha1.BackupSessionSucceeded {
			d, err := time.ParseDuration(bs.Status.SessionDuration)
			if err != nil {
				d = 0
			}
			end := metav1.NewTime(bs.CreationTimestamp.Add(d))
			if last := *inv.status.LastBackupTime; last == nil || last.Before(&end) {
				*inv.status.LastBackupTime = &end
			}
		}
	}
	slices.SortFunc(done, func(a, b *v1alpha1.BackupSession) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	limit := int(inv.spec.HistoryLimit)
	if len(done) <= limit {
		return ctrl.Result{}, nil
	}
	log := ctrl.LoggerFrom(ctx)
	gen := inv.obj.GetGeneration()
	newestSucceeded := slices.IndexFunc(done, func(bs *v1alpha1.BackupSession) bool {
		return bs.Status.Phase == v1alpha1.BackupSessionSucceeded
	})
	for i, bs := range done {
		if i < limit || i == newestSucceeded {
			continue
		}
		if c := conditions.Get(bs.Status.Conditions, conditions.RetryScheduled); c != nil && c.Reason == string(conditions.ReasonRetryPending) {
			continue
		}
		if err := r.Client.Delete(ctx, bs, client.Preconditions{UID: &bs.UID}); err != nil && !apierrors.IsNotFound(err) {
			conditions.False(inv.status.Conditions, gen, conditions.BackupHistoryCleaned, conditions.ReasonHistoryCleanFailed, err.Error())
			return ctrl.Result{}, fmt.Errorf("deleting BackupSession %s: %w", bs.Name, err)
		}
		log.V(1).Info("Deleted a session beyond the history limit", "backupSession", klog.KObj(bs), "limit", limit)
	}
	conditions.True(inv.status.Conditions, gen, conditions.BackupHistoryCleaned, conditions.ReasonHistoryCleaned,
		fmt.Sprintf("finished sessions beyond backupHistoryLimit (%d) are deleted", limit))
	return ctrl.Result{}, nil
}

func finished(p v1alpha1.BackupSessionPhase) bool {
	switch p {
	case v1alpha1.BackupSessionSucceeded, v1alpha1.BackupSessionFailed, v1alpha1.BackupSessionSkipped, v1alpha1.BackupSessionUnknown:
		return true
	}
	return false
}

// reconcileTrigger turns the stashflow.dev/trigger annotation into a
// session named after the annotation's value, then removes the annotation.
// A paused invoker can be triggered.
func (r *Reconciler) reconcileTrigger(ctx context.Context, s *scope) (ctrl.Result, error) {
	inv := s.inv
	value, ok := inv.obj.GetAnnotations()[v1alpha1.AnnotationTrigger]
	if !ok || !s.ready {
		return ctrl.Result{}, nil
	}
	name := names.Join(inv.obj.GetName(), "manual-"+names.Hash(value))
	if err := r.createSession(ctx, inv, name, v1alpha1.TriggerManual, nil); err != nil {
		return ctrl.Result{}, err
	}
	// Patch a copy: the status patch that follows is computed from inv.obj.
	cp := inv.obj.DeepCopyObject().(client.Object)
	ann := cp.GetAnnotations()
	delete(ann, v1alpha1.AnnotationTrigger)
	cp.SetAnnotations(ann)
	if err := r.Client.Patch(ctx, cp, client.MergeFrom(inv.obj)); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("removing the %s annotation: %w", v1alpha1.AnnotationTrigger, err)
	}
	return ctrl.Result{}, nil
}

// reconcileSchedule creates the session of a due slot and requeues for the
// next one. specChanged means the spec changed since the last reconcile
// (or there was none): no slot before now is caught up then.
func (r *Reconciler) reconcileSchedule(ctx context.Context, s *scope, specChanged bool) (ctrl.Result, error) {
	inv := s.inv
	next := inv.status.NextBackupTime
	if !s.checked {
		// The check failed on an error: keep the schedule's bookkeeping as it is.
		return ctrl.Result{}, nil
	}
	if !s.ready || inv.spec.Paused || s.sched == nil {
		*next = nil
		return ctrl.Result{}, nil
	}
	now := r.Now()
	var handled time.Time
	switch {
	case specChanged:
		handled = now
	case *next != nil:
		handled = (*next).Time
	}
	d := s.sched.Decide(schedule.Input{
		Anchor:           inv.obj.GetCreationTimestamp().Time,
		Handled:          handled,
		Now:              now,
		StartingDeadline: r.StartingDeadline,
	})
	if !d.Due.IsZero() {
		name := names.Join(inv.obj.GetName(), strconv.FormatInt(d.Due.Unix(), 10))
		if err := r.createSession(ctx, inv, name, v1alpha1.TriggerSchedule, &d.Due); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !d.Missed.IsZero() && !handled.IsZero() && !d.Missed.Before(handled) {
		msg := fmt.Sprintf("the slot of %s was missed by more than the starting deadline of %s", d.Missed.UTC().Format(time.RFC3339), r.StartingDeadline)
		r.Recorder.Event(inv.obj, corev1.EventTypeWarning, "MissedSchedule", msg)
	}
	if d.Next.IsZero() {
		*next = nil
		return ctrl.Result{}, nil
	}
	t := metav1.NewTime(d.Next)
	*next = &t
	return ctrl.Result{RequeueAfter: max(d.Next.Sub(now), 100*time.Millisecond)}, nil
}

// createSession creates a BackupSession of the invoker, owned by it. An
// existing session of that name is the same slot or trigger: not an error.
func (r *Reconciler) createSession(ctx context.Context, inv *invoker, name, trigger string, slot *time.Time) error {
	bs := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: inv.obj.GetNamespace(),
			Labels: map[string]string{
				v1alpha1.LabelInvokerKind: inv.kind,
				v1alpha1.LabelManagedBy:   v1alpha1.ManagedByValue,
			},
			Annotations: map[string]string{v1alpha1.AnnotationTrigger: trigger},
		},
		Spec: v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: inv.kind, Name: inv.obj.GetName()}},
	}
	if len(inv.obj.GetName()) <= 63 {
		bs.Labels[v1alpha1.LabelInvoker] = inv.obj.GetName()
	}
	if slot != nil {
		bs.Annotations[AnnotationScheduleTime] = slot.UTC().Format(time.RFC3339)
	}
	if inv.spec.Retry != nil {
		bs.Spec.RetryLeft = ptr.To(inv.spec.Retry.Retries())
	}
	if err := controllerutil.SetControllerReference(inv.obj, bs, r.Scheme); err != nil {
		return err
	}
	err := r.Client.Create(ctx, bs)
	switch {
	case apierrors.IsAlreadyExists(err):
		return nil
	case err != nil:
		return fmt.Errorf("creating BackupSession %s: %w", name, err)
	}
	ctrl.LoggerFrom(ctx).Info("BackupSession created", "backupSession", klog.KObj(bs), "trigger", trigger)
	r.Recorder.Event(inv.obj, corev1.EventTypeNormal, "SessionCreated", fmt.Sprintf("BackupSession %s created (%s)", name, trigger))
	return nil
}
