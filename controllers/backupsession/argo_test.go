package backupsession_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/conditions"
	ot "github.com/stashflow/stashflow/controllers/internal/operatortest"
)

// TestArgoEngine runs sessions on the Argo engine with no Argo controller:
// the test plays it, writing node statuses into the Workflow by hand.
func TestArgoEngine(t *testing.T) {
	t.Parallel()
	ns := ot.Namespace(t, c, nil)
	repo, secret := ot.Repository(ns, "repo", "/var/backups/repo")
	ot.Create(t, c, repo, secret, ot.AppBinding(ns, "db"),
		ot.BackupFunction(ns+"-backup"), ot.Task(ns+"-ok", ns+"-backup"),
		config(ns, "argo", ns+"-ok"))
	ot.Initialized(t, c, repo) // no Argo controller runs the Repository's own run here
	ot.Start(t, env, ns, controllers.Config{Engine: v1alpha1.EngineArgo, Image: "stashflow:test", ArgoUIBaseURL: "https://argo.example/"})
	ctx := context.Background()

	// workflowOf waits for the one Workflow of a session.
	workflowOf := func(t *testing.T, name string) *wfv1.Workflow {
		t.Helper()
		list := &wfv1.WorkflowList{}
		ot.Eventually(t, 30*time.Second, func() string {
			if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSession: name}); err != nil {
				return err.Error()
			}
			if len(list.Items) != 1 {
				return fmt.Sprintf("%d workflows of session %s, want 1", len(list.Items), name)
			}
			return ""
		})
		return &list.Items[0]
	}

	t.Run("one owned Workflow per session, and node statuses make the session's status", func(t *testing.T) {
		ot.Create(t, c, session(ns, "argo-1", "argo"))
		wf := workflowOf(t, "argo-1")
		bs := waitPhase(t, ns, "argo-1", v1alpha1.BackupSessionRunning, 30*time.Second)
		if ref := metav1.GetControllerOf(wf); ref == nil || ref.UID != bs.UID || ref.Kind != "BackupSession" {
			t.Errorf("controller of the workflow = %+v, want the session", ref)
		}
		if wf.Labels[v1alpha1.LabelInvoker] != "argo" || wf.Labels[v1alpha1.LabelSessionKind] != "BackupSession" {
			t.Errorf("workflow labels = %v, want the session's", wf.Labels)
		}
		if w := bs.Status.Workflow; w == nil || w.Engine != v1alpha1.EngineArgo || w.Name != wf.Name || w.Namespace != ns ||
			w.UIURL != "https://argo.example/workflows/"+ns+"/"+wf.Name {
			t.Errorf("status.workflow = %+v, want %s with its UI link", w, wf.Name)
		}

		// Play Argo: the step runs, then succeeds with its outputs.
		step := ns + "-backup"
		start := metav1.NewTime(time.Now().Add(-2 * time.Second).Truncate(time.Second))
		setNodes(t, wf, wfv1.WorkflowRunning, wfv1.NodeStatus{
			ID: wf.Name + "-1", Name: wf.Name + "." + step, Type: wfv1.NodeTypePod, Phase: wfv1.NodeRunning, StartedAt: start,
		})
		ot.Eventually(t, 30*time.Second, func() string {
			got := &v1alpha1.BackupSession{}
			if msg := ot.Get(c, ns, "argo-1", got); msg != "" {
				return msg
			}
			if tg := got.Status.Targets; len(tg) != 1 || len(tg[0].Steps) != 1 || tg[0].Steps[0].Phase != v1alpha1.StepRunning {
				return fmt.Sprintf("targets = %+v, want the step Running", tg)
			}
			return ""
		})
		id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		setNodes(t, wf, wfv1.WorkflowSucceeded, wfv1.NodeStatus{
			ID: wf.Name + "-1", Name: wf.Name + "." + step, Type: wfv1.NodeTypePod, Phase: wfv1.NodeSucceeded,
			StartedAt: start, FinishedAt: metav1.NewTime(start.Add(time.Second)),
			Outputs: &wfv1.Outputs{Parameters: []wfv1.Parameter{
				{Name: "snapshotID", Value: wfv1.AnyStringPtr(id)},
				{Name: "size", Value: wfv1.AnyStringPtr("4096")},
				{Name: "uploaded", Value: wfv1.AnyStringPtr("100")},
				{Name: "files", Value: wfv1.AnyStringPtr("7")},
				{Name: "duration", Value: wfv1.AnyStringPtr("1s")},
			}},
		})
		bs = waitPhase(t, ns, "argo-1", v1alpha1.BackupSessionSucceeded, 30*time.Second)
		// The reconciles that followed the run made no second Workflow.
		all := &wfv1.WorkflowList{}
		if err := c.List(ctx, all, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSession: "argo-1"}); err != nil || len(all.Items) != 1 {
			t.Errorf("%d workflows of argo-1 (%v), want 1", len(all.Items), err)
		}
		if h := bs.Status.Targets[0].Stats; len(h) != 1 || h[0].SnapshotID != id || *h[0].Size != 4096 || *h[0].Files != 7 {
			t.Errorf("stats = %+v, want the outputs of the node", h)
		}
	})

	t.Run("deleting the Workflow fails the running session", func(t *testing.T) {
		ot.Create(t, c, session(ns, "argo-2", "argo"))
		wf := workflowOf(t, "argo-2")
		waitPhase(t, ns, "argo-2", v1alpha1.BackupSessionRunning, 30*time.Second)
		if err := c.Delete(ctx, wf); err != nil {
			t.Fatal(err)
		}
		bs := waitPhase(t, ns, "argo-2", v1alpha1.BackupSessionFailed, 30*time.Second)
		if bs.Status.Reason != string(conditions.ReasonWorkflowDeleted) {
			t.Errorf("reason, message = %s, %q; want WorkflowDeleted", bs.Status.Reason, bs.Status.Message)
		}
	})

	t.Run("a session past its timeOut stops its Workflow", func(t *testing.T) {
		bc := config(ns, "argo-slow", ns+"-ok", func(bc *v1alpha1.BackupConfiguration) { bc.Spec.TimeOut = "2s" })
		ot.Create(t, c, bc, session(ns, "argo-3", "argo-slow"))
		wf := workflowOf(t, "argo-3")
		if wf.Spec.ActiveDeadlineSeconds == nil || *wf.Spec.ActiveDeadlineSeconds != 2 {
			t.Errorf("activeDeadlineSeconds = %v, want 2", wf.Spec.ActiveDeadlineSeconds)
		}
		bs := waitPhase(t, ns, "argo-3", v1alpha1.BackupSessionFailed, 30*time.Second)
		if bs.Status.Reason != string(conditions.ReasonDeadlineExceeded) {
			t.Errorf("reason = %s, want DeadlineExceeded", bs.Status.Reason)
		}
		got := &wfv1.Workflow{}
		if msg := ot.Get(c, ns, wf.Name, got); msg != "" {
			t.Fatal(msg)
		}
		if got.Spec.Shutdown != wfv1.ShutdownStrategyTerminate {
			t.Errorf("spec.shutdown = %q, want Terminate", got.Spec.Shutdown)
		}
	})
}

// setNodes writes a workflow phase and one node into the Workflow, as
// Argo's controller would (the CRD has no status subresource).
func setNodes(t *testing.T, wf *wfv1.Workflow, phase wfv1.WorkflowPhase, node wfv1.NodeStatus) {
	t.Helper()
	ot.Eventually(t, 5*time.Second, func() string {
		cur := &wfv1.Workflow{}
		if msg := ot.Get(c, wf.Namespace, wf.Name, cur); msg != "" {
			return msg
		}
		cur.Status.Phase = phase
		cur.Status.Nodes = wfv1.Nodes{node.ID: node}
		if phase.Completed() {
			cur.Status.FinishedAt = node.FinishedAt
		}
		if err := c.Update(context.Background(), cur); err != nil {
			return err.Error()
		}
		return ""
	})
}
