package translators_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// TestRunPhaseIsSessionPhase: for every translated case, and for batches
// with every post-hook policy in both orders, and for every outcome in which
// no step, one step or two steps fail, the phase the engine gives the whole
// run (pipeline.RunPhase, Argo's rule for a Workflow) is the session's phase
// (sessionstatus.Evaluate, stashflow's rules). Without the verdict step, a
// batch whose target fails ends as a Succeeded Workflow.
func TestRunPhaseIsSessionPhase(t *testing.T) {
	type variant struct {
		name string
		in   *input
	}
	var variants []variant
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		variants = append(variants, variant{strings.TrimSuffix(filepath.Base(f), ".yaml"), mustLoad(t, filepath.Base(f))})
	}
	for _, order := range []v1alpha1.ExecutionOrder{v1alpha1.Parallel, v1alpha1.Sequential} {
		for _, policy := range []v1alpha1.HookExecutionPolicy{v1alpha1.HookExecuteAlways, v1alpha1.HookExecuteOnSuccess, v1alpha1.HookExecuteOnFailure} {
			in := mustLoad(t, "batch-parallel.yaml")
			b := batchOf(in)
			b.Spec.ExecutionOrder = order
			b.Spec.Hooks.PostBackup.ExecutionPolicy = policy
			for i := range b.Spec.Members {
				m := &b.Spec.Members[i]
				if m.Hooks == nil {
					m.Hooks = &v1alpha1.BackupHooks{}
				}
				m.Hooks.PostBackup = &v1alpha1.PostHook{Hook: v1alpha1.Hook{Exec: execAction("true")}, ExecutionPolicy: policy}
			}
			variants = append(variants, variant{fmt.Sprintf("batch-%s-%s", order, policy), in})
		}
	}

	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			plan, err := v.in.translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range plan.Graph.Steps {
				if s.Name != plan.Layout.Verdict {
					names = append(names, s.Name)
				}
			}
			outcomes := [][]string{nil}
			for i, a := range names {
				outcomes = append(outcomes, []string{a})
				for _, b := range names[i+1:] {
					outcomes = append(outcomes, []string{a, b})
				}
			}
			for _, fail := range outcomes {
				nodes := simulate(t, plan, fail)
				session := sessionstatus.Evaluate(&plan.Layout, nodes, true).Phase
				run := pipeline.RunPhase(plan.Graph, nodes)
				runFailed := run == pipeline.PhaseFailed || run == pipeline.PhaseError
				if runFailed != (session == sessionstatus.Failed) {
					t.Errorf("steps %v fail: the session ends %s and the run %s\n%s", fail, session, run, describe(nodes))
				}
			}
		})
	}
}

// simulate runs a plan's graph on paper: in topological order, a step whose
// dependencies let it run succeeds, unless it is in fail or is the verdict
// step (which always fails); any other step is Omitted.
func simulate(t *testing.T, plan *translators.Plan, fail []string) []pipeline.NodeStatus {
	t.Helper()
	order, err := plan.Graph.TopologicalOrder()
	if err != nil {
		t.Fatal(err)
	}
	phase := map[string]pipeline.Phase{}
	var out []pipeline.NodeStatus
	for _, name := range order {
		s, _ := plan.Graph.Step(name)
		run, ok := s.Ready(func(d string) pipeline.Phase { return phase[d] })
		switch {
		case !ok:
			t.Fatalf("step %s is not ready in topological order", name)
		case !run:
			phase[name] = pipeline.PhaseOmitted
		case name == plan.Layout.Verdict || slices.Contains(fail, name):
			phase[name] = pipeline.PhaseFailed
		default:
			phase[name] = pipeline.PhaseSucceeded
		}
		out = append(out, pipeline.NodeStatus{Step: name, Phase: phase[name]})
	}
	return out
}

func describe(nodes []pipeline.NodeStatus) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "  %-40s %s\n", n.Step, n.Phase)
	}
	return b.String()
}
