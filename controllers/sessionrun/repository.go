package sessionrun

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

// HoldForRepository holds a run that has not been submitted until its
// Repository (key) is Initialized, the one Repository rule sessions apply
// (repository.ReadinessOf): the Repository controller alone initialises a
// repository, once, since restic's init is not atomic. Meanwhile the run is
// Pending with the Repository's reason; it fails at once where waiting
// cannot help (a Repository that could not be opened, or for a restore —
// restore true — a backend that holds no repository: a restore never
// creates one).
func (r *Runner) HoldForRepository(ctx context.Context, run *Run, key types.NamespacedName, restore bool) (ctrl.Result, error) {
	if run.Submitted() {
		return ctrl.Result{}, nil
	}
	repo := &v1alpha1.Repository{}
	if err := r.Client.Get(ctx, key, repo); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return ctrl.Result{}, nil // the plan resolved it; a deletion is seen later
		}
		return ctrl.Result{}, fmt.Errorf("reading Repository %s: %w", key, err)
	}
	rd := repository.ReadinessOf(repo, restore)
	switch {
	case rd.Ready:
		return ctrl.Result{}, nil
	case rd.Final:
		return r.Fail(ctx, run, sessionstatus.Failed, rd.Reason, rd.Message, true)
	}
	r.SetPhase(run, sessionstatus.Pending, rd.Reason, rd.Message)
	ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the Repository", "repository", key, "reason", rd.Reason)
	run.Done = true
	return ctrl.Result{RequeueAfter: repositoryRecheck}, nil
}
