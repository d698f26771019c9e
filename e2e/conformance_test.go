package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/e2e/podrunner"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/argo"
	"github.com/stashflow/stashflow/pipeline/conformance"
)

// caseTimeout bounds one case; the slowest (timeout) takes about 2s.
const caseTimeout = time.Minute

// runGraph renders g, runs it on the real workflow-controller and returns
// the steps' statuses read back from the finished Workflow.
func runGraph(ctx context.Context, t *testing.T, g *pipeline.Graph, name string) []pipeline.NodeStatus {
	t.Helper()
	got, _ := runGraphPhase(ctx, t, g, name)
	return got
}

// runGraphPhase is runGraph that also returns the Workflow's phase.
func runGraphPhase(ctx context.Context, t *testing.T, g *pipeline.Graph, name string) ([]pipeline.NodeStatus, pipeline.Phase) {
	t.Helper()
	env.DumpOnFailure(t, name)
	wf, err := argo.Render(g, argo.Options{Name: name, Namespace: env.Namespace})
	if err != nil {
		t.Fatalf("Render() error = %v", err)
	}
	wf, err = env.RunWorkflow(ctx, wf)
	if err != nil {
		t.Fatal(err)
	}
	if !argo.Finished(wf) {
		t.Fatalf("workflow %s is %s, not finished", wf.Name, wf.Status.Phase)
	}
	got, err := argo.NodeStatuses(wf, g, nil)
	if err != nil {
		t.Fatalf("NodeStatuses() error = %v", err)
	}
	return got, pipeline.Phase(wf.Status.Phase)
}

// TestConformance runs the shared table on the real Argo workflow-controller:
// every step must end as it does on the local engine (pipeline/local), with
// the same outputs and attempts, and the Workflow's phase must be the run
// phase the table wants (which pipeline.RunPhase models).
func TestConformance(t *testing.T) {
	start := time.Now()
	t.Run("cases", func(t *testing.T) {
		for _, c := range conformance.Cases() {
			t.Run(c.Name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
				defer cancel()
				caseStart := time.Now()
				got, run := runGraphPhase(ctx, t, c.Graph(t.TempDir()), "conformance-"+c.Name)
				conformance.Check(t, c, got, run)
				t.Logf("%s on Argo in %s:\n%s", c.Name, time.Since(caseStart).Round(time.Millisecond), conformance.Describe(got))
				if t.Failed() {
					t.Logf("drawing:%s", c.Drawing)
				}
			})
		}
	})
	t.Logf("whole table: %s", time.Since(start).Round(time.Millisecond))
}

// TestNoSecretsInWorkflow runs a step that reads a Secret through a
// secretKeyRef env: the step gets the value (it outputs its SHA-256), and
// the value appears nowhere in the Workflow (spec and status) or in what is
// left of its task results.
func TestNoSecretsInWorkflow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	value := "s3cr3t-" + hex.EncodeToString(raw)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-repo-secret", Namespace: env.Namespace},
		Data:       map[string][]byte{"RESTIC_PASSWORD": []byte(value)},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), secret) })

	g := &pipeline.Graph{
		Name: "no-secrets",
		Steps: []pipeline.Step{{
			Name: "use-secret",
			Process: pipeline.Process{
				Image:   conformance.Image,
				Command: []string{"sh", "-c", `printf '%s' "$RESTIC_PASSWORD" | sha256sum | cut -d' ' -f1 > "$STASHFLOW_OUTPUT_DIR/digest"`},
				Env: []pipeline.EnvVar{{Name: "RESTIC_PASSWORD", SecretKeyRef: &pipeline.SecretKeyRef{
					Name: secret.Name, Key: "RESTIC_PASSWORD",
				}}},
			},
			Outputs: []pipeline.Output{{Name: "digest", Path: outputs.Dir + "/digest"}},
		}},
	}
	got := runGraph(ctx, t, g, "no-secrets")
	sum := sha256.Sum256([]byte(value))
	if len(got) != 1 || got[0].Phase != pipeline.PhaseSucceeded || got[0].Outputs["digest"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("step did not get the secret: want Succeeded with digest %x, got:\n%s%v", sum, conformance.Describe(got), got)
	}

	wf, err := env.Argo.ArgoprojV1alpha1().Workflows(env.Namespace).Get(ctx, "no-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := env.Argo.ArgoprojV1alpha1().WorkflowTaskResults(env.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: podrunner.LabelWorkflow + "=no-secrets",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The controller deletes a workflow's task results once it completes,
	// so there are usually none left to check; the pod runner never writes
	// env values into them anyway.
	for what, obj := range map[string]any{"Workflow": wf, "WorkflowTaskResults": results} {
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range []string{value, base64.StdEncoding.EncodeToString([]byte(value))} {
			if strings.Contains(string(b), form) {
				t.Errorf("the %s holds the secret value (%q):\n%s", what, form, b)
			}
		}
	}
	if !strings.Contains(mustJSON(t, wf.Spec), `"secretKeyRef"`) {
		t.Errorf("the Workflow does not refer to the Secret by secretKeyRef:\n%s", mustJSON(t, wf.Spec))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
