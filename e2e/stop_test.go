package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stashflow/stashflow/e2e/podrunner"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/argo"
	"github.com/stashflow/stashflow/pipeline/conformance"
)

// longStep is a graph of one step that records its pid in scratch and
// sleeps for a minute.
func longStep(name, scratch string) *pipeline.Graph {
	return &pipeline.Graph{
		Name: name,
		Steps: []pipeline.Step{{
			Name: "long",
			Process: pipeline.Process{
				Image:   conformance.Image,
				Command: []string{"sh", "-c", `echo $$ > pid.tmp && mv pid.tmp pid && sleep 60`},
				// The script writes its pid in its working directory.
				WorkingDir: scratch,
			},
		}},
	}
}

// startLong creates the workflow and returns the pid of its running step.
func startLong(ctx context.Context, t *testing.T, name string) (*pipeline.Graph, int) {
	t.Helper()
	env.DumpOnFailure(t, name)
	scratch := t.TempDir()
	g := longStep(name, scratch)
	wf, err := argo.Render(g, argo.Options{Name: name, Namespace: env.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(scratch, "pid"))
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return g, pid
		}
		select {
		case <-ctx.Done():
			t.Fatal("the step did not start")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitGone waits until no process has pid (the runner reaps its children).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStopWorkflowKillsStep stops a workflow while its step runs: the
// step's process is killed (the controller's exec'd kill, played by the pod
// runner), and the step and workflow end Failed.
func TestStopWorkflowKillsStep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	g, pid := startLong(ctx, t, "stop-workflow")

	stopped := time.Now()
	_, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).Patch(ctx, "stop-workflow",
		types.MergePatchType, []byte(`{"spec":{"shutdown":"Stop"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wf, err := env.WaitForWorkflow(ctx, "stop-workflow")
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	t.Logf("stopped in %s", time.Since(stopped).Round(time.Millisecond))
	got, err := argo.NodeStatuses(wf, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wf.Status.Phase != "Failed" || got[0].Phase != pipeline.PhaseFailed {
		t.Errorf("workflow %s, steps:\n%s want the workflow and its step Failed", wf.Status.Phase, conformance.Describe(got))
	}
}

// TestDeletedPodKillsStep deletes a running step's pod: the pod runner
// kills its process. (Argo then recreates the pod of a node that started
// less than RECENTLY_STARTED_POD_DURATION (10s) ago, taking the deletion for
// informer lag, and marks the node Error "pod deleted" only after that; so
// the test terminates the workflow to end it.)
func TestDeletedPodKillsStep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	_, pid := startLong(ctx, t, "delete-pod")

	pods := env.Kube.CoreV1().Pods(env.Namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: podrunner.LabelWorkflow + "=delete-pod"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("pods of the workflow: %v, %v", list, err)
	}
	if err := pods.Delete(ctx, list.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)

	_, err = env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).Patch(ctx, "delete-pod",
		types.MergePatchType, []byte(`{"spec":{"shutdown":"Terminate"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.WaitForWorkflow(ctx, "delete-pod"); err != nil {
		t.Fatal(err)
	}
}
