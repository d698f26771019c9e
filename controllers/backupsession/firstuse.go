package backupsession

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
)

// firstUseRecheck is how often a session that waits for a repository's
// first backup looks again.
const firstUseRecheck = 2 * time.Second

// reconcileFirstUse makes the first backup into a Repository the only one:
// restic's init is not atomic, and the Functions' init lock is one
// machine's, so two sessions whose steps run on two nodes could both
// initialise a new repository and leave it with two keys and a config only
// one can read. While the Repository has no backup yet (no
// status.firstBackupTime), a session not yet submitted waits, Pending with
// reason RepositoryFirstUse, as long as another unfinished session of the
// namespace into the same Repository has been submitted or was created
// before it. Once one has run, the repository exists and the rest go.
// Sessions of one invoker are kept apart by reconcileConcurrency; the
// members of one Parallel batch by the translators' repository-init step.
func (r *Reconciler) reconcileFirstUse(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.session.Status.Workflow != nil {
		return ctrl.Result{}, nil
	}
	ref, _ := invokerReferences(s)
	repoKey := types.NamespacedName{Namespace: ref.NamespaceOr(s.session.Namespace), Name: ref.Name}
	repo := &v1alpha1.Repository{}
	if err := r.Client.Get(ctx, repoKey, repo); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err) // reconcilePlan resolved it; a deletion is seen later
	}
	if repo.Status.FirstBackupTime != nil {
		return ctrl.Result{}, nil
	}
	invokers, err := r.invokersOf(ctx, s.session.Namespace, repoKey)
	if err != nil {
		return ctrl.Result{}, err
	}
	list := &v1alpha1.BackupSessionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.session.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the sessions of namespace %s: %w", s.session.Namespace, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == s.session.UID || other.Status.Phase.IsFinal() || (other.Status.Workflow == nil && !olderThan(other, s.session)) ||
			!invokers.Has(index.InvokerKey(other.Spec.Invoker.Kind, other.Spec.Invoker.Name)) {
			continue
		}
		msg := fmt.Sprintf("waiting: Repository %s has no backup yet and BackupSession %s, which uses it too, goes first (a new repository is initialised by one session)",
			repoKey, other.Name)
		r.run.SetPhase(s.Run, sessionstatus.Pending, conditions.ReasonRepositoryFirstUse, msg)
		ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the repository's first backup", "repository", repoKey, "session", other.Name)
		s.Done = true
		return ctrl.Result{RequeueAfter: firstUseRecheck}, nil
	}
	return ctrl.Result{}, nil
}

// invokersOf is the InvokerKeys of the namespace's BackupConfigurations and
// BackupBatches that back up into the Repository, by the cache's
// InvokerRepository index.
func (r *Reconciler) invokersOf(ctx context.Context, ns string, repo types.NamespacedName) (sets.Set[string], error) {
	match := client.MatchingFields{index.InvokerRepository: repo.String()}
	configs := &v1alpha1.BackupConfigurationList{}
	if err := r.Client.List(ctx, configs, client.InNamespace(ns), match); err != nil {
		return nil, fmt.Errorf("listing the BackupConfigurations of Repository %s: %w", repo, err)
	}
	batches := &v1alpha1.BackupBatchList{}
	if err := r.Client.List(ctx, batches, client.InNamespace(ns), match); err != nil {
		return nil, fmt.Errorf("listing the BackupBatches of Repository %s: %w", repo, err)
	}
	out := sets.New[string]()
	for _, c := range configs.Items {
		out.Insert(index.InvokerKey(v1alpha1.KindBackupConfiguration, c.Name))
	}
	for _, b := range batches.Items {
		out.Insert(index.InvokerKey(v1alpha1.KindBackupBatch, b.Name))
	}
	return out, nil
}
