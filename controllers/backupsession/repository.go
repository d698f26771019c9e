package backupsession

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// reconcileRepository holds a session that has not been submitted until the
// Repository its invoker backs up into is Initialized
// (sessionrun.HoldForRepository).
func (r *Reconciler) reconcileRepository(ctx context.Context, s *scope) (ctrl.Result, error) {
	ref, _ := invokerReferences(s)
	key := types.NamespacedName{Namespace: ref.NamespaceOr(s.session.Namespace), Name: ref.Name}
	return r.run.HoldForRepository(ctx, s.Run, key, false)
}
