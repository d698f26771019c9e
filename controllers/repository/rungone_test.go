package repository_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
	"github.com/stashflow/stashflow/outputs"
)

// TestRunGoneIsRunAgain: a Repository run whose Workflow is deleted before
// it ended (here held by a finalizer of the test's, so that the operator
// sees it go) is gone without an outcome. That says nothing about the
// repository: a new run of the same kind is named at once, the conditions
// stay what they were while the run went (not OpenFailed, CheckFailed or
// WipeOutFailed), an event RunLost says which run was gone, and the new run's
// outcome is written as any run's. A wipe is run again, never taken as
// done: the Repository stays until a wipe succeeded. The Argo engine, with
// no Argo controller: the test plays it, writing node statuses by hand.
func TestRunGoneIsRunAgain(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", "/var/backups/repo")
	repo.Spec.WipeOut = true
	ot.Create(t, c, repo, secret)
	cfg := controllers.Config{Engine: v1alpha1.EngineArgo, Image: "stashflow:test"}
	op, parent := ot.Start(t, env, ns, cfg), t

	reasonOf := func(r *v1alpha1.Repository, typ string) string {
		if c := conditions.Get(r.Status.Conditions, typ); c != nil {
			return string(c.Status) + "/" + c.Reason
		}
		return ""
	}
	// goneThenNew deletes the run's Workflow and returns the Repository as
	// it was when it named the next run, and that run's Workflow.
	// runLost waits for the event that says wf was gone.
	runLost := func(t *testing.T, wf *wfv1.Workflow) {
		t.Helper()
		ot.WaitEvent(t, c, ns, string(conditions.ReasonRunLost), "run "+wf.Name+" is gone without an outcome", 1)
	}
	goneThenNew := func(t *testing.T, kind string, wf *wfv1.Workflow) (*v1alpha1.Repository, *wfv1.Workflow) {
		t.Helper()
		gone(t, wf)
		next := repositoryRun(t, ns, kind, wf.Name)
		r := &v1alpha1.Repository{}
		ot.Eventually(t, 30*time.Second, func() string {
			if msg := ot.Get(c, ns, "repo", r); msg != "" {
				return msg
			}
			if r.Status.Workflow == nil || r.Status.Workflow.Name != next.Name {
				return fmt.Sprintf("status.workflow %+v, want %s", r.Status.Workflow, next.Name)
			}
			return ""
		})
		return r, next
	}

	t.Run("a Workflow gone while the operator was down", func(t *testing.T) {
		first := repositoryRun(t, ns, v1alpha1.RepositoryRunRefresh, "")
		op.Stop()
		deleteObject(t, &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: first.Name}})
		ot.Eventually(t, 10*time.Second, func() string {
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(first), &wfv1.Workflow{}); !apierrors.IsNotFound(err) {
				return fmt.Sprintf("Workflow %s still there: %v", first.Name, err)
			}
			return ""
		})
		ot.Start(parent, env, ns, cfg) // runs on after this subtest
		// Submitted again under its name (submission is idempotent): the
		// run goes on; nothing failed.
		again := repositoryRun(t, ns, v1alpha1.RepositoryRunRefresh, "")
		r := &v1alpha1.Repository{}
		if msg := ot.Get(c, ns, "repo", r); msg != "" {
			t.Fatal(msg)
		}
		if again.Name != first.Name || again.UID == first.UID || reasonOf(r, conditions.Initialized) != "Unknown/Initializing" {
			t.Errorf("after the restart: Workflow %s (uid %s), Initialized %s; want %s submitted again and Unknown/Initializing (status %s)",
				again.Name, again.UID, reasonOf(r, conditions.Initialized), first.Name, mustJSON(r.Status))
		}
	})

	t.Run("the first refresh", func(t *testing.T) {
		first := repositoryRun(t, ns, v1alpha1.RepositoryRunRefresh, "")
		r, next := goneThenNew(t, v1alpha1.RepositoryRunRefresh, first)
		if got := [2]string{reasonOf(r, conditions.Initialized), reasonOf(r, v1alpha1.ConditionReady)}; got != [2]string{"Unknown/Initializing", "False/Initializing"} {
			t.Errorf("Initialized, Ready = %v when the next run was named, want Unknown/Initializing and False/Initializing (status %s)", got, mustJSON(r.Status))
		}
		runLost(t, first)
		succeed(t, next, "repository-init", map[string]string{outputs.RepositoryExists: "true", outputs.SnapshotCount: "0", outputs.TotalSize: "0",
			outputs.Snapshots: `{"complete":true,"items":[]}`})
		waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
			if !conditions.IsTrue(st.Conditions, conditions.Initialized) || !conditions.IsTrue(st.Conditions, v1alpha1.ConditionReady) || st.Workflow != nil {
				return "not Initialized and Ready from the new run"
			}
			return ""
		})
	})

	t.Run("a check", func(t *testing.T) {
		requestCheck(t, ns, "repo", "1")
		first := repositoryRun(t, ns, v1alpha1.RepositoryRunCheck, "")
		r, next := goneThenNew(t, v1alpha1.RepositoryRunCheck, first)
		if got := reasonOf(r, v1alpha1.ConditionIntegrityVerified); got != "Unknown/Checking" || !conditions.IsTrue(r.Status.Conditions, v1alpha1.ConditionReady) {
			t.Errorf("IntegrityVerified %s, Ready %s when the next check was named; want Unknown/Checking and Ready True (status %s)",
				got, reasonOf(r, v1alpha1.ConditionReady), mustJSON(r.Status))
		}
		runLost(t, first)
		succeed(t, next, "repository-check", map[string]string{outputs.Integrity: "true", outputs.Errors: "0", outputs.BrokenPacks: "0"})
		waitRepository(t, ns, "repo", func(st *v1alpha1.RepositoryStatus) string {
			if c := conditions.Get(st.Conditions, v1alpha1.ConditionIntegrityVerified); c == nil || c.Reason != string(conditions.ReasonNoErrorsFound) {
				return "IntegrityVerified not NoErrorsFound"
			}
			return ""
		})
	})

	t.Run("a wipe", func(t *testing.T) {
		deleteObject(t, &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "repo"}})
		first := repositoryRun(t, ns, v1alpha1.RepositoryRunWipe, "")
		r, next := goneThenNew(t, v1alpha1.RepositoryRunWipe, first)
		if got := reasonOf(r, v1alpha1.ConditionReady); got != "False/WipingOut" || !controllerutil.ContainsFinalizer(r, "stashflow.dev/repository") {
			t.Errorf("Ready %s when the next wipe was named, want False/WipingOut and the Repository kept (status %s)", got, mustJSON(r.Status))
		}
		runLost(t, first)
		succeed(t, next, "repository-wipe", nil)
		ot.Eventually(t, 30*time.Second, func() string {
			err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "repo"}, &v1alpha1.Repository{})
			if !apierrors.IsNotFound(err) {
				return fmt.Sprintf("the Repository is still there (%v) after its wipe succeeded", err)
			}
			return ""
		})
	})
}

// repositoryRun waits for the one Workflow of the Repository repo's runs of
// kind whose name is not except.
func repositoryRun(t *testing.T, ns, kind, except string) *wfv1.Workflow {
	t.Helper()
	var found *wfv1.Workflow
	ot.Eventually(t, 30*time.Second, func() string {
		list := &wfv1.WorkflowList{}
		if err := c.List(context.Background(), list, client.InNamespace(ns),
			client.MatchingLabels{v1alpha1.LabelRepository: "repo", v1alpha1.LabelRepositoryRun: kind}); err != nil {
			return err.Error()
		}
		var names []string
		found = nil
		for i := range list.Items {
			if wf := &list.Items[i]; wf.Name != except && wf.DeletionTimestamp == nil {
				names = append(names, wf.Name)
				found = wf
			}
		}
		if len(names) != 1 {
			return fmt.Sprintf("%s Workflows %v besides %q, want one", kind, names, except)
		}
		return ""
	})
	return found
}

// gone deletes wf, which a finalizer of the test's keeps, deleted and not
// finished, for the rest of the test.
func gone(t *testing.T, wf *wfv1.Workflow) {
	t.Helper()
	ot.Eventually(t, 5*time.Second, func() string {
		cur := &wfv1.Workflow{}
		if msg := ot.Get(c, wf.Namespace, wf.Name, cur); msg != "" {
			return msg
		}
		controllerutil.AddFinalizer(cur, "test.stashflow.dev/hold")
		if err := c.Update(context.Background(), cur); err != nil {
			return err.Error()
		}
		return ""
	})
	deleteObject(t, &wfv1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: wf.Namespace, Name: wf.Name}})
}

// succeed plays Argo: wf's one step, step, succeeded with out.
func succeed(t *testing.T, wf *wfv1.Workflow, step string, out map[string]string) {
	t.Helper()
	now := metav1.Now()
	node := wfv1.NodeStatus{ID: wf.Name + "-1", Name: wf.Name + "." + step, Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded,
		StartedAt: now, FinishedAt: now, Outputs: &wfv1.Outputs{}}
	for k, v := range out {
		node.Outputs.Parameters = append(node.Outputs.Parameters, wfv1.Parameter{Name: k, Value: wfv1.AnyStringPtr(v)})
	}
	ot.Eventually(t, 5*time.Second, func() string {
		cur := &wfv1.Workflow{}
		if msg := ot.Get(c, wf.Namespace, wf.Name, cur); msg != "" {
			return msg
		}
		cur.Status.Phase, cur.Status.FinishedAt = wfv1.WorkflowSucceeded, now
		cur.Status.Nodes = wfv1.Nodes{node.ID: node}
		if err := c.Update(context.Background(), cur); err != nil {
			return err.Error()
		}
		return ""
	})
}
