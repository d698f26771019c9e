package pipeline_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/pipeline"
)

func TestRunPhase(t *testing.T) {
	const (
		ok      = pipeline.PhaseSucceeded
		failed  = pipeline.PhaseFailed
		errored = pipeline.PhaseError
		omitted = pipeline.PhaseOmitted
		running = pipeline.PhaseRunning
	)
	// a ─▶ b ─▶ c, and d ─(OnFailure)▶ e.
	chain := graph(step("a"), step("b", "a"), step("c", "b"),
		step("d"), with(step("e"), func(s *pipeline.Step) { s.Dependencies = []pipeline.Dependency{on("d", pipeline.OnFailure)} }))
	// x ✗ ─(OnEnd)▶ y: a failure an OnEnd dependent handles.
	handled := graph(step("x"), with(step("y"), func(s *pipeline.Step) { s.Dependencies = []pipeline.Dependency{on("x", pipeline.OnEnd)} }))
	// p, q ─(any failed)▶ v.
	anyOf := graph(step("p"), step("q"), with(step("v"), func(s *pipeline.Step) {
		s.AnyOf = []pipeline.Dependency{on("p", pipeline.OnFailure), on("q", pipeline.OnFailure)}
	}))
	tcs := []struct {
		name   string
		g      *pipeline.Graph
		phases map[string]pipeline.Phase
		want   pipeline.Phase
	}{
		{"all succeeded", chain, map[string]pipeline.Phase{"a": ok, "b": ok, "c": ok, "d": ok, "e": omitted}, ok},
		{"a step still runs", chain, map[string]pipeline.Phase{"a": ok, "b": running, "d": ok, "e": omitted}, running},
		{"a step not reported yet", chain, map[string]pipeline.Phase{"a": ok, "b": ok, "c": ok, "d": ok}, running},
		{"a leaf failed", chain, map[string]pipeline.Phase{"a": ok, "b": ok, "c": failed, "d": ok, "e": omitted}, failed},
		{"a failure omits the rest of its chain", chain, map[string]pipeline.Phase{"a": ok, "b": errored, "c": omitted, "d": ok, "e": omitted}, errored},
		{"a failure handled by OnFailure", chain, map[string]pipeline.Phase{"a": ok, "b": ok, "c": ok, "d": failed, "e": ok}, ok},
		{"a failure handled by OnEnd", handled, map[string]pipeline.Phase{"x": failed, "y": ok}, ok},
		{"the handler failed too", handled, map[string]pipeline.Phase{"x": failed, "y": failed}, failed},
		{"verdict omitted", anyOf, map[string]pipeline.Phase{"p": ok, "q": ok, "v": omitted}, ok},
		{"verdict failed", anyOf, map[string]pipeline.Phase{"p": ok, "q": failed, "v": failed}, failed},
		// An AnyOf naming a step not in the graph: no order, so no run phase.
		{"invalid graph", graph(with(step("v"), func(s *pipeline.Step) {
			s.AnyOf = []pipeline.Dependency{on("missing", pipeline.OnFailure)}
		})), map[string]pipeline.Phase{"v": ok}, errored},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			var nodes []pipeline.NodeStatus
			for s, p := range tc.phases {
				nodes = append(nodes, pipeline.NodeStatus{Step: s, Phase: p})
			}
			if diff := cmp.Diff(tc.want, pipeline.RunPhase(tc.g, nodes)); diff != "" {
				t.Errorf("RunPhase (-want +got):\n%s", diff)
			}
		})
	}
}
