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
	"github.com/stashflow/stashflow/controllers/sessionstatus"
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
	mine := restoreTargets(r.Kind, s.Obj)
	if len(mine) == 0 {
		return ctrl.Result{}, nil
	}
	others, err := r.unfinishedRestores(ctx, s.Obj.GetNamespace())
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, o := range others {
		if o.obj.GetUID() == s.Obj.GetUID() {
			continue
		}
		if o.kind.Status(o.obj).Workflow == nil && !createdBefore(o, restore{r.Kind, s.Obj}) {
			continue
		}
		for _, t := range restoreTargets(o.kind, o.obj) {
			if !slices.Contains(mine, t) {
				continue
			}
			msg := fmt.Sprintf("waiting: target %s is being restored by %s %s; this restore starts when that one ends",
				t, o.kind.Name, o.obj.GetName())
			r.run.SetPhase(s.Run, sessionstatus.Pending, conditions.ReasonTargetBusy, msg)
			ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the target", "target", t, "restore", o.obj.GetName())
			s.Done = true
			return ctrl.Result{RequeueAfter: busyRecheck}, nil
		}
	}
	return ctrl.Result{}, nil
}

// restore is a RestoreSession or RestoreBatch with its Kind.
type restore struct {
	kind Kind
	obj  client.Object
}

// unfinishedRestores lists the namespace's RestoreSessions and RestoreBatches
// that have not ended, from the API server, not the cache: RestoreSessions
// and RestoreBatches are reconciled by two controllers at once, and a cache
// that does not hold the other's newest restore, or its status.workflow,
// let both go (seen in CI: a RestoreSession and a RestoreBatch member
// writing one target together).
func (r *Reconciler) unfinishedRestores(ctx context.Context, ns string) ([]restore, error) {
	var out []restore
	sessions := &v1alpha1.RestoreSessionList{}
	if err := r.APIReader.List(ctx, sessions, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range sessions.Items {
		out = append(out, restore{RestoreSessionKind, &sessions.Items[i]})
	}
	batches := &v1alpha1.RestoreBatchList{}
	if err := r.APIReader.List(ctx, batches, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range batches.Items {
		out = append(out, restore{RestoreBatchKind, &batches.Items[i]})
	}
	return slices.DeleteFunc(out, func(o restore) bool { return o.kind.Status(o.obj).Phase.IsFinal() }), nil
}

// restoreTargets are the targets a restore writes into, as Kind/Name.
func restoreTargets(kind Kind, o client.Object) []string {
	_, members := kind.References(o)
	var out []string
	for _, m := range members {
		if m.Target != nil && m.Target.Name != "" {
			out = append(out, m.Target.Kind+"/"+m.Target.Name)
		}
	}
	return out
}

// createdBefore orders restores by creation time, then kind and name.
func createdBefore(a, b restore) bool {
	ta, tb := a.obj.GetCreationTimestamp().Time, b.obj.GetCreationTimestamp().Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return cmp.Or(cmp.Compare(a.kind.Name, b.kind.Name), cmp.Compare(a.obj.GetName(), b.obj.GetName())) < 0
}
