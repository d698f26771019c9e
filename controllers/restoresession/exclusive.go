package restoresession

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
)

// busyRecheck is how often a restore that waits for its target looks again.
const busyRecheck = 2 * time.Second

// reconcileExclusive keeps two restores out of one target: a restore not yet
// submitted waits (Pending, TargetBusy) while another unfinished restore of
// the namespace, RestoreSession or RestoreBatch member, names one of its
// targets and has been submitted or was created first (by creation time,
// then name, so that two restores created together do not both go). Two
// restores writing one target at once would leave it holding parts of
// both, each reported Succeeded.
func (r *Reconciler) reconcileExclusive(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.status.Workflow != nil {
		return ctrl.Result{}, nil
	}
	mine := restoreTargets(s.obj)
	if len(mine) == 0 {
		return ctrl.Result{}, nil
	}
	others, err := r.unfinishedRestores(ctx, s.obj.GetNamespace())
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, o := range others {
		if o.GetUID() == s.obj.GetUID() {
			continue
		}
		if restoreStatus(o).Workflow == nil && !createdBefore(o, s.obj) {
			continue
		}
		for _, t := range restoreTargets(o) {
			if !slices.Contains(mine, t) {
				continue
			}
			msg := fmt.Sprintf("waiting: target %s is being restored by %s %s; this restore starts when that one ends",
				t, kindOf(o), o.GetName())
			r.setPhase(s, v1alpha1.RestorePending, conditions.ReasonTargetBusy, msg)
			ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the target", "target", t, "restore", o.GetName())
			s.done = true
			return ctrl.Result{RequeueAfter: busyRecheck}, nil
		}
	}
	return ctrl.Result{}, nil
}

// unfinishedRestores lists the namespace's RestoreSessions and RestoreBatches
// that have not ended.
func (r *Reconciler) unfinishedRestores(ctx context.Context, ns string) ([]client.Object, error) {
	var out []client.Object
	sessions := &v1alpha1.RestoreSessionList{}
	if err := r.Client.List(ctx, sessions, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range sessions.Items {
		out = append(out, &sessions.Items[i])
	}
	batches := &v1alpha1.RestoreBatchList{}
	if err := r.Client.List(ctx, batches, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range batches.Items {
		out = append(out, &batches.Items[i])
	}
	return slices.DeleteFunc(out, func(o client.Object) bool { return finished(restoreStatus(o).Phase) }), nil
}

// restoreTargets are the targets an object restores into, as Kind/Name.
func restoreTargets(o client.Object) []string {
	var specs []*v1alpha1.RestoreTargetSpec
	switch x := o.(type) {
	case *v1alpha1.RestoreSession:
		specs = append(specs, &x.Spec.RestoreTargetSpec)
	case *v1alpha1.RestoreBatch:
		for i := range x.Spec.Members {
			specs = append(specs, &x.Spec.Members[i].RestoreTargetSpec)
		}
	}
	var out []string
	for _, t := range specs {
		if t.Target != nil && t.Target.Ref.Name != "" {
			out = append(out, t.Target.Ref.Kind+"/"+t.Target.Ref.Name)
		}
	}
	return out
}

func restoreStatus(o client.Object) *v1alpha1.RestoreSessionStatus {
	switch x := o.(type) {
	case *v1alpha1.RestoreSession:
		return &x.Status
	case *v1alpha1.RestoreBatch:
		return &x.Status
	}
	return &v1alpha1.RestoreSessionStatus{}
}

// createdBefore orders restores by creation time, then kind and name.
func createdBefore(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp().Time, b.GetCreationTimestamp().Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return cmp.Or(cmp.Compare(kindOf(a), kindOf(b)), cmp.Compare(a.GetName(), b.GetName())) < 0
}

func kindOf(o client.Object) string {
	if _, ok := o.(*v1alpha1.RestoreBatch); ok {
		return RestoreBatchKind.Name
	}
	return RestoreSessionKind.Name
}
