package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/pipeline/conformance"
	"github.com/stashflow/stashflow/pipeline/local"
)

// TestRetentionWarning runs the catalog's retention Function with a stats
// step that cannot finish (--stats-timeout=1ns: restic stats is cut off, as
// on a repository too large to walk in time) on both engines: the policy is
// applied and the size only warned about, so the step Succeeds on Argo as it
// does locally, with totalSize and snapshotCount empty rather than missing
// (a missing output file fails an Argo node).
func TestRetentionWarning(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	fn := cat.Functions["retention"]
	if fn == nil {
		t.Fatal("the catalog has no retention Function")
	}
	graph := func(repo string) *pipeline.Graph {
		s := pipeline.Step{
			Name: "retention",
			Process: pipeline.Process{
				Image: "stashflow:e2e", Command: []string{"stashflow"},
				Args: []string{"fn", "retention", "--keep-last=1", "--stats-timeout=1ns"},
				Env: []pipeline.EnvVar{
					{Name: "RESTIC_REPOSITORY", Value: repo},
					{Name: "RESTIC_PASSWORD", Value: "retention-warning"},
				},
			},
		}
		for _, o := range fn.Spec.Outputs {
			s.Outputs = append(s.Outputs, pipeline.Output{Name: o.Name, Path: o.Path})
		}
		return &pipeline.Graph{Name: "retention-warning", Steps: []pipeline.Step{s}}
	}
	check := func(t *testing.T, engine string, got []pipeline.NodeStatus) {
		t.Helper()
		if len(got) != 1 || got[0].Phase != pipeline.PhaseSucceeded {
			t.Fatalf("%s: want the retention step Succeeded, got:\n%s", engine, conformance.Describe(got))
		}
		out := got[0].Outputs
		for _, name := range []string{"totalSize", "snapshotCount"} {
			if v, ok := out[name]; !ok || v != "" {
				t.Errorf("%s: output %s = %q (present: %v), want present and empty", engine, name, v, ok)
			}
		}
		if out["kept"] != "0" || out["removed"] != "0" {
			t.Errorf("%s: kept %q removed %q, want 0 and 0 (a new repository)", engine, out["kept"], out["removed"])
		}
	}

	t.Run("argo", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		defer cancel()
		got, run := runGraphPhase(ctx, t, graph(filepath.Join(t.TempDir(), "repo")), "retention-warning")
		check(t, "argo", got)
		if run != pipeline.PhaseSucceeded {
			t.Errorf("argo: the Workflow ended %s, want Succeeded", run)
		}
	})
	t.Run("local", func(t *testing.T) {
		e := local.New(local.Options{WorkDir: t.TempDir(), Commands: map[string]string{"stashflow": stashflowBin}})
		got, err := e.Run(context.Background(), graph(filepath.Join(t.TempDir(), "repo")), nil)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "local", got)
	})
}
