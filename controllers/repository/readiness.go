package repository

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
)

// Readiness is what a session reads of its Repository before it submits
// its run, the one Repository rule the session controllers apply.
type Readiness struct {
	// Ready: the Repository is Initialized for its current spec; the session may go.
	Ready bool
	// Final: waiting cannot help (a restore from a Repository whose backend
	// holds no repository, or a Repository the controller failed to open);
	// the session fails with Reason and Message.
	Final bool
	// Reason and Message say why the session waits or fails.
	Reason  conditions.Reason
	Message string
}

// ReadinessOf says whether a session may use repo now; restore is true for
// a restore, which never waits for a repository that does not exist.
func ReadinessOf(repo *v1alpha1.Repository, restore bool) Readiness {
	c := conditions.Get(repo.Status.Conditions, conditions.Initialized)
	key := repo.Namespace + "/" + repo.Name
	switch {
	case checking(repo):
		// restic check holds an exclusive lock: a backup or restore would
		// fail on it.
		return Readiness{Reason: conditions.ReasonChecking,
			Message: fmt.Sprintf("waiting for the integrity check of Repository %s to end: %s", key,
				conditions.Get(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified).Message)}
	case c != nil && c.Status == metav1.ConditionTrue && repo.Status.ObservedGeneration == repo.Generation:
		return Readiness{Ready: true}
	case c != nil && restore && c.Status == metav1.ConditionFalse && c.Reason == string(conditions.ReasonNotInitialized):
		return Readiness{Final: true, Reason: conditions.ReasonNotInitialized,
			Message: fmt.Sprintf("nothing to restore: %s", c.Message)}
	case c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration == repo.Generation &&
		c.Reason == string(conditions.ReasonOpenFailed):
		// The Repository controller tried and could not open it (a wrong
		// password, a backend that is down): a session fails at once with
		// that cause, touching nothing, rather than wait unseen; the
		// controller keeps retrying, and the next session goes once it
		// succeeds. A Secret not found yet is waited for: objects applied
		// together reach the cache in any order.
		return Readiness{Final: true, Reason: conditions.ReasonRepositoryNotReady,
			Message: fmt.Sprintf("Repository %s cannot be used: %s (%s)", key, c.Message, c.Reason)}
	case c == nil || c.ObservedGeneration != repo.Generation:
		return Readiness{Reason: conditions.ReasonRepositoryNotReady,
			Message: fmt.Sprintf("waiting for Repository %s to be initialised: the Repository controller has not opened it yet", key)}
	}
	return Readiness{Reason: conditions.ReasonRepositoryNotReady,
		Message: fmt.Sprintf("waiting for Repository %s to be initialised: %s (%s)", key, c.Message, c.Reason)}
}
