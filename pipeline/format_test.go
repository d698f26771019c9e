package pipeline_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/pipeline"
)

func TestFormat(t *testing.T) {
	tcs := []struct {
		name  string
		graph *pipeline.Graph
		want  string
	}{{
		// a ─▶ b   (declared in reverse): topological order
		name:  "valid graph",
		graph: graph(step("b", "a"), step("a")),
		want: "graph test\n" +
			"\nstep a\n  command: true\n" +
			"\nstep b\n  after: a (OnSuccess)\n  command: true\n",
	}, {
		// b ─▶ a ─▶ b: no order, so as declared
		name:  "cycle",
		graph: graph(step("b", "a"), step("a", "b")),
		want: "graph test\n" +
			"\nstep b\n  after: a (OnSuccess)\n  command: true\n" +
			"\nstep a\n  after: b (OnSuccess)\n  command: true\n",
	}, {
		// a ─(any of)─▶ (x: not in the graph): used to panic
		name:  "unknown step in AnyOf",
		graph: graph(with(step("a"), func(s *pipeline.Step) { s.AnyOf = []pipeline.Dependency{on("x", pipeline.OnFailure)} })),
		want:  "graph test\n\nstep a\n  after any of: x (OnFailure)\n  command: true\n",
	}, {
		// a, a: both steps, not the first one twice
		name: "name used twice",
		graph: graph(step("a"), with(step("a"), func(s *pipeline.Step) {
			s.Process.Command = []string{"false"}
		})),
		want: "graph test\n" +
			"\nstep a\n  command: true\n" +
			"\nstep a\n  command: false\n",
	}}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.graph.Format()); diff != "" {
				t.Errorf("Format() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
