package engine

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/local"
	"github.com/stashflow/stashflow/translators"
)

func newLocal(t *testing.T, secrets local.StaticSecrets) *Local {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	l := NewLocal(LocalOptions{
		WorkDir: t.TempDir(),
		Scheme:  s,
		Secrets: func(string) local.SecretResolver { return secrets },
	})
	t.Cleanup(l.Shutdown)
	return l
}

func owner(name, uid string) *v1alpha1.BackupSession {
	return &v1alpha1.BackupSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid)}}
}

// graph is  a ─▶ b, both shell steps; a writes an output and reads a secret.
// record is the run record of g, as a session stores it.
func record(g *pipeline.Graph) *v1alpha1.RunPlan {
	return (&translators.Plan{Graph: g}).Record()
}

func graph(script string) *pipeline.Graph {
	return &pipeline.Graph{
		Name: "g",
		Steps: []pipeline.Step{
			{
				Name: "a",
				Process: pipeline.Process{
					Command: []string{"sh", "-c", `printf "%s" "$PASSWORD" > "$STASHFLOW_OUTPUT_DIR/snapshotID"`},
					Env:     []pipeline.EnvVar{{Name: "PASSWORD", SecretKeyRef: &pipeline.SecretKeyRef{Name: "repo", Key: "RESTIC_PASSWORD"}}},
				},
				Outputs: []pipeline.Output{{Name: "snapshotID", Path: outputs.Dir + "/snapshotID"}},
			},
			{Name: "b", Process: pipeline.Process{Command: []string{"sh", "-c", script}}, Dependencies: []pipeline.Dependency{{Step: "a", When: pipeline.OnSuccess}}},
		},
	}
}

func waitFinished(t *testing.T, l *Local, o *v1alpha1.BackupSession, ref *v1alpha1.WorkflowRef, g *pipeline.Graph) *Run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := l.Status(context.Background(), o, ref, record(g))
		if err != nil {
			t.Fatal(err)
		}
		if r.Finished {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run did not finish: %+v", r.Nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLocalRun(t *testing.T) {
	l := newLocal(t, local.StaticSecrets{"repo": {"RESTIC_PASSWORD": "s3cret"}})
	o := owner("s1", "11111111-2222")
	g := graph("exit 0")
	ref, err := l.Submit(context.Background(), o, g)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Submit(context.Background(), o, g)
	if err != nil || *again != *ref {
		t.Fatalf("a second Submit = %+v, %v; want the same run %+v", again, err, ref)
	}
	if ref.Engine != v1alpha1.EngineLocal || ref.Name != "backupsession-s1-11111111" {
		t.Errorf("ref = %+v", ref)
	}
	r := waitFinished(t, l, o, ref, g)
	if r.Nodes[0].Phase != pipeline.PhaseSucceeded || r.Nodes[0].Outputs["snapshotID"] != "s3cret" || r.Nodes[1].Phase != pipeline.PhaseSucceeded {
		t.Errorf("nodes = %+v, want both Succeeded with a's output", r.Nodes)
	}
	if l.Runs() != 1 {
		t.Errorf("runs = %d, want 1", l.Runs())
	}
	l.Forget(KeyOf("BackupSession", o))
	if l.Runs() != 0 {
		t.Errorf("runs after Forget = %d, want 0", l.Runs())
	}
}

func TestLocalLostAndStopped(t *testing.T) {
	l := newLocal(t, local.StaticSecrets{"repo": {"RESTIC_PASSWORD": "x"}})
	g := graph("sleep 30")

	// A run this engine never started: the operator restarted.
	_, err := l.Status(context.Background(), owner("old", "0000"), &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: "old"}, record(g))
	lost := AsLost(err)
	if lost == nil || lost.Reason != conditions.ReasonRunLost || lost.Message != LostOnRestart || !lost.Unknown {
		t.Errorf("Status of an unknown run = %v, want RunLost", err)
	}
	// A run of another engine.
	_, err = l.Status(context.Background(), owner("old", "0000"), &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineArgo, Name: "old"}, record(g))
	if AsLost(err) == nil {
		t.Errorf("Status of an Argo run = %v, want a LostError", err)
	}

	// Stop ends the running step Failed, with the reason.
	o := owner("s2", "3333")
	ref, err := l.Submit(context.Background(), o, g)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := l.Status(context.Background(), o, ref, record(g))
		if err != nil {
			t.Fatal(err)
		}
		if r.Nodes[1].Phase == pipeline.PhaseRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b did not start: %+v", r.Nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := l.Stop(context.Background(), o, ref, "deadline exceeded"); err != nil {
		t.Fatal(err)
	}
	r := waitFinished(t, l, o, ref, g)
	if r.Nodes[1].Phase != pipeline.PhaseFailed {
		t.Errorf("b = %+v, want Failed", r.Nodes[1])
	}

	// After Shutdown, a run in progress is lost.
	o3 := owner("s3", "4444")
	ref3, err := l.Submit(context.Background(), o3, g)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	l.Shutdown()
	if _, err := l.Status(context.Background(), o3, ref3, record(g)); AsLost(err) == nil {
		t.Errorf("Status after Shutdown = %v, want a LostError", err)
	}
	if _, err := l.Submit(context.Background(), owner("s4", "5555"), g); err == nil {
		t.Errorf("Submit after Shutdown = %v, want an error", err)
	}
}
