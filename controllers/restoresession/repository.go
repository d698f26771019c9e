package restoresession

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// reconcileRepository holds a restore that has not been submitted until its
// Repository is Initialized, and fails one whose Repository's backend holds
// no repository (sessionrun.HoldForRepository).
func (r *Reconciler) reconcileRepository(ctx context.Context, s *scope) (ctrl.Result, error) {
	ref, _ := r.Kind.References(s.Obj)
	key := types.NamespacedName{Namespace: ref.NamespaceOr(s.Obj.GetNamespace()), Name: ref.Name}
	return r.run.HoldForRepository(ctx, s.Run, key, true)
}
