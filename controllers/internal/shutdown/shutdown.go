package shutdown

import (
	"context"
	"errors"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Quiet wraps r. When a reconcile fails after its context was cancelled —
// controller-runtime cancels it only when the manager stops — the failure is
// logged at V(1) and not returned: controller-runtime would log it as a
// "Reconciler error" for every reconcile in flight at every shutdown, and
// would requeue it into a queue that is shutting down. The next leader
// reconciles every object again anyway. A reconcile whose context ran out
// of time (context.DeadlineExceeded) still fails as before.
func Quiet(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if err != nil && errors.Is(ctx.Err(), context.Canceled) {
			ctrl.LoggerFrom(ctx).V(1).Info("Reconcile cut short by shutdown", "error", err.Error())
			return reconcile.Result{}, nil
		}
		return res, err
	})
}
