package restoresession

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/repository"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
)

// repositoryRecheck is how often a restore that waits for its Repository
// looks again.
const repositoryRecheck = time.Second

// reconcileRepository holds a restore that has not been submitted until its
// Repository is Initialized, and fails one whose Repository's backend holds
// no repository: a restore never creates one (the Repository controller
// initialises a repository only for the backups into it).
func (r *Reconciler) reconcileRepository(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.Submitted() {
		return ctrl.Result{}, nil
	}
	ref, _ := r.Kind.References(s.Obj)
	key := types.NamespacedName{Namespace: ref.NamespaceOr(s.Obj.GetNamespace()), Name: ref.Name}
	repo := &v1alpha1.Repository{}
	if err := r.Client.Get(ctx, key, repo); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return ctrl.Result{}, nil // reconcilePlan resolved it; a deletion is seen later
		}
		return ctrl.Result{}, fmt.Errorf("reading Repository %s: %w", key, err)
	}
	rd := repository.ReadinessOf(repo, true)
	switch {
	case rd.Ready:
		return ctrl.Result{}, nil
	case rd.Final:
		return r.run.Fail(ctx, s.Run, sessionstatus.Failed, rd.Reason, rd.Message, true)
	}
	r.run.SetPhase(s.Run, sessionstatus.Pending, rd.Reason, rd.Message)
	ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the Repository", "repository", key, "reason", rd.Reason)
	s.Done = true
	return ctrl.Result{RequeueAfter: repositoryRecheck}, nil
}
