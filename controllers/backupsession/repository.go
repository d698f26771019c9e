package backupsession

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

// repositoryRecheck is how often a session that waits for its Repository
// looks again.
const repositoryRecheck = time.Second

// reconcileRepository holds a session that has not been submitted until its
// Repository is Initialized: the Repository controller alone initialises a
// repository, once (restic's init is not atomic, and two sessions starting
// together into a new repository would each write a key and a config).
// Meanwhile the session is Pending with the Repository's reason; a
// Repository the controller could not open fails the session at once.
func (r *Reconciler) reconcileRepository(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.session.Status.Workflow != nil {
		return ctrl.Result{}, nil
	}
	ref, _ := invokerReferences(s)
	key := types.NamespacedName{Namespace: ref.NamespaceOr(s.session.Namespace), Name: ref.Name}
	repo := &v1alpha1.Repository{}
	if err := r.Client.Get(ctx, key, repo); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return ctrl.Result{}, nil // reconcilePlan resolved it; a deletion is seen later
		}
		return ctrl.Result{}, fmt.Errorf("reading Repository %s: %w", key, err)
	}
	rd := repository.ReadinessOf(repo, false)
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
