package backupsession

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
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
	list := &v1alpha1.BackupSessionList{}
	if err := r.Client.List(ctx, list, client.InNamespace(s.session.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing the sessions of namespace %s: %w", s.session.Namespace, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == s.session.UID || finished(other.Status.Phase) || (other.Status.Workflow == nil && !olderThan(other, s.session)) {
			continue
		}
		otherRepo, err := r.sessionRepository(ctx, other)
		if err != nil {
			return ctrl.Result{}, err
		}
		if otherRepo == nil || *otherRepo != repoKey {
			continue
		}
		msg := fmt.Sprintf("waiting: Repository %s has no backup yet and BackupSession %s, which uses it too, goes first (a new repository is initialised by one session)",
			repoKey, other.Name)
		r.setPhase(s.session, v1alpha1.BackupSessionPending, conditions.ReasonRepositoryFirstUse, msg)
		ctrl.LoggerFrom(ctx).V(1).Info("Waiting for the repository's first backup", "repository", repoKey, "session", other.Name)
		s.done = true
		return ctrl.Result{RequeueAfter: firstUseRecheck}, nil
	}
	return ctrl.Result{}, nil
}

// sessionRepository is the Repository a session's invoker names; nil if the
// invoker is gone.
func (r *Reconciler) sessionRepository(ctx context.Context, session *v1alpha1.BackupSession) (*types.NamespacedName, error) {
	inv := session.Spec.Invoker
	key := types.NamespacedName{Namespace: session.Namespace, Name: inv.Name}
	var ref v1alpha1.ObjectRef
	switch inv.Kind {
	case v1alpha1.KindBackupConfiguration:
		c := &v1alpha1.BackupConfiguration{}
		if err := r.Client.Get(ctx, key, c); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		ref = c.Spec.Repository
	case v1alpha1.KindBackupBatch:
		b := &v1alpha1.BackupBatch{}
		if err := r.Client.Get(ctx, key, b); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		ref = b.Spec.Repository
	default:
		return nil, nil
	}
	return &types.NamespacedName{Namespace: ref.NamespaceOr(session.Namespace), Name: ref.Name}, nil
}
