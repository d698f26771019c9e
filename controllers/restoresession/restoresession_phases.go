package restoresession

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/sessionrun"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/translators"
)

// reconcilePlan takes the run record of a submitted run, or resolves what
// the restore refers to and translates it.
func (r *Reconciler) reconcilePlan(ctx context.Context, s *scope) (ctrl.Result, error) {
	return r.run.TakePlan(ctx, s.Run, func(ctx context.Context) (*translators.Plan, error) {
		repo, members := r.Kind.References(s.Obj)
		objs, err := r.Resolver.Objects(ctx, resolve.Restore, s.Obj.GetNamespace(), repo, members)
		if err != nil {
			return nil, err
		}
		plan, err := r.Kind.Translate(s.Obj, objs, r.Translate)
		return plan, sessionrun.TranslateError(err)
	})
}

// reconcileWorkflow submits the run to the engine, once.
func (r *Reconciler) reconcileWorkflow(ctx context.Context, s *scope) (ctrl.Result, error) {
	return r.run.Submit(ctx, s.Run)
}

// reconcileProgress reads the run and writes it into the status; it stops a
// run past its deadline.
func (r *Reconciler) reconcileProgress(ctx context.Context, s *scope) (ctrl.Result, error) {
	return r.run.Follow(ctx, s.Run)
}

// reconcileCompletion ends a restore whose run ended.
func (r *Reconciler) reconcileCompletion(ctx context.Context, s *scope) (ctrl.Result, error) {
	r.run.Complete(ctx, s.Run)
	return ctrl.Result{}, nil
}

// recordMetrics exports an ended restore.
func (r *Reconciler) recordMetrics(_ context.Context, obj client.Object, phase sessionstatus.Phase, now time.Time) {
	if r.Metrics == nil || phase == sessionstatus.Invalid {
		return
	}
	d := now.Sub(obj.GetCreationTimestamp().Time)
	r.Metrics.RestoreSessionSuccess.WithLabelValues(obj.GetNamespace(), r.Kind.Name, obj.GetName()).Set(metrics.Bool(phase == sessionstatus.Succeeded))
	r.Metrics.RestoreSessionDuration.WithLabelValues(obj.GetNamespace(), r.Kind.Name, obj.GetName()).Set(d.Seconds())
}
