package repository

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/internal/shutdown"
	"github.com/stashflow/stashflow/controllers/metrics"
)

// Reconciler reconciles Repositories.
type Reconciler struct {
	Client  client.Client
	Metrics *metrics.Metrics
}

// +kubebuilder:rbac:groups=stashflow.dev,resources=repositories,verbs=get;list;watch

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Repository{}).
		Named("repository").
		WithOptions(opts).
		Complete(shutdown.Quiet(r))
}

// Reconcile exports a Repository's snapshot count from its status (so that
// it is there after the operator restarts, not only after the next backup)
// and drops the metrics of a Repository that no longer exists.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	repo := &v1alpha1.Repository{}
	err := r.Client.Get(ctx, req.NamespacedName, repo)
	switch {
	case apierrors.IsNotFound(err):
		if r.Metrics != nil {
			r.Metrics.ForgetRepository(req.Namespace, req.Name)
		}
		ctrl.LoggerFrom(ctx).V(1).Info("Repository gone, its metrics dropped")
		return ctrl.Result{}, nil
	case err != nil:
		return ctrl.Result{}, err
	}
	if r.Metrics != nil && repo.Status.FirstBackupTime != nil {
		r.Metrics.RepositorySnapshots.WithLabelValues(repo.Namespace, repo.Name).Set(float64(repo.Status.SnapshotCount))
	}
	return ctrl.Result{}, nil
}
