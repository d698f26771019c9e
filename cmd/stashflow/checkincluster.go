package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
)

// checkInCluster asks the operator to check the cluster's Repository: it
// sets the stashflow.dev/check-requested annotation to a new value and
// follows the Repository until status.checkRequest holds that value and
// the IntegrityVerified condition says how the check ended. The check runs
// where the operator runs its steps (with spec.integrityCheck's
// readDataSubset), not on this machine, and needs no access to the Secret.
// Errors found, or a check that could not run, exit 1.
func checkInCluster(c *cobra.Command, r *repoFlags, timeout time.Duration) error {
	if len(r.files) > 0 || r.repository == "" {
		return usageError{errors.New("--in-cluster: name the cluster's Repository with --repository (no -f)")}
	}
	ctx := c.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	repo := &v1alpha1.Repository{}
	cl, ns, err := r.kube.get(ctx, "Repository", r.repository, repo)
	if err != nil {
		return err
	}
	value := time.Now().UTC().Format(time.RFC3339Nano)
	base := repo.DeepCopy()
	if repo.Annotations == nil {
		repo.Annotations = map[string]string{}
	}
	repo.Annotations[v1alpha1.AnnotationCheckRequested] = value
	if err := cl.Patch(ctx, repo, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("repository %s/%s: requesting a check (annotation %s): %w", ns, repo.Name, v1alpha1.AnnotationCheckRequested, err)
	}
	fmt.Fprintf(c.ErrOrStderr(), "repository %s/%s: check requested (%s=%s)\n", ns, repo.Name, v1alpha1.AnnotationCheckRequested, value)
	var ended *v1alpha1.Repository
	err = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := cl.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
			return false, fmt.Errorf("reading Repository %s/%s: %w", ns, repo.Name, err)
		}
		cond := conditions.Get(repo.Status.Conditions, v1alpha1.ConditionIntegrityVerified)
		if repo.Status.CheckRequest != value || cond == nil || cond.Reason == string(conditions.ReasonChecking) {
			return false, nil
		}
		ended = repo
		return true, nil
	})
	if err != nil {
		if ctx.Err() != nil && c.Context().Err() == nil {
			return fmt.Errorf("repository %s/%s: no check result within %s (is the operator running, and the Repository Initialized?)", ns, repo.Name, timeout)
		}
		return err
	}
	cond := conditions.Get(ended.Status.Conditions, v1alpha1.ConditionIntegrityVerified)
	if cond.Reason != string(conditions.ReasonNoErrorsFound) {
		return fmt.Errorf("repository %s/%s: %s: %s", ns, repo.Name, cond.Reason, cond.Message)
	}
	fmt.Fprintf(c.OutOrStdout(), "repository %s/%s: no errors found (%s)\n", ns, repo.Name, cond.Message)
	return nil
}
