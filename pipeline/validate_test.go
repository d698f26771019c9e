package pipeline_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// step is a valid step named name that runs once every step in deps succeeded.
func step(name string, deps ...string) pipeline.Step {
	s := pipeline.Step{Name: name, Process: pipeline.Process{Command: []string{"true"}}}
	for _, d := range deps {
		s.Dependencies = append(s.Dependencies, pipeline.Dependency{Step: d, When: pipeline.OnSuccess})
	}
	return s
}

// with returns s after applying f to it, for cases that need one odd field.
func with(s pipeline.Step, f func(*pipeline.Step)) pipeline.Step {
	f(&s)
	return s
}

func on(step string, when pipeline.Condition) pipeline.Dependency {
	return pipeline.Dependency{Step: step, When: when}
}

func graph(steps ...pipeline.Step) *pipeline.Graph {
	return &pipeline.Graph{Name: "test", Steps: steps}
}

func TestTopologicalOrder(t *testing.T) {
	tcs := []struct {
		name  string
		graph *pipeline.Graph
		want  []string
	}{{
		// a ─▶ b ─▶ c   (declared in reverse)
		name:  "linear",
		graph: graph(step("c", "b"), step("b", "a"), step("a")),
		want:  []string{"a", "b", "c"},
	}, {
		//     ┌─▶ b ─┐
		//  a ─┤      ├─▶ d
		//     └─▶ c ─┘
		name:  "diamond",
		graph: graph(step("d", "b", "c"), step("c", "a"), step("b", "a"), step("a")),
		want:  []string{"a", "b", "c", "d"},
	}, {
		//         ┌─▶ x
		//  root ──┼─▶ y       lone
		//         └─▶ z
		name:  "fan-out next to a lone step",
		graph: graph(step("z", "root"), step("y", "root"), step("x", "root"), step("root"), step("lone")),
		want:  []string{"lone", "root", "x", "y", "z"},
	}, {
		//  a ─▶ b
		//  z
		// Ties are broken by name among the steps ready at each moment: b
		// becomes ready after a and sorts before z.
		name:  "a step made ready goes before a later name",
		graph: graph(step("z"), step("b", "a"), step("a")),
		want:  []string{"a", "b", "z"},
	}, {
		//  pre ─▶ backup ─▶ post
		//    └──────────────▲      (post also waits for pre)
		name: "transitive edge",
		graph: graph(
			step("post", "backup", "pre"),
			step("backup", "pre"),
			step("pre"),
		),
		want: []string{"pre", "backup", "post"},
	}}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.graph.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			got, err := tc.graph.TopologicalOrder()
			if err != nil {
				t.Fatalf("TopologicalOrder() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TopologicalOrder() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTopologicalOrderOfAnUnvalidatedGraph(t *testing.T) {
	tcs := []struct {
		name  string
		graph *pipeline.Graph
		want  string
	}{{
		// a ─▶ (x: not in the graph)
		name:  "unknown dependency",
		graph: graph(step("a", "x")),
		want:  `step "a": depends on unknown step "x"`,
	}, {
		// a, a ─▶ b ─▶ a
		name:  "duplicate name",
		graph: graph(step("a"), step("a", "b"), step("b", "a")),
		want:  `step "a": name is used twice`,
	}, {
		// a ─(any of)─▶ (x: not in the graph)
		// This used to panic in the cycle search.
		name:  "unknown step in AnyOf",
		graph: graph(with(step("a"), func(s *pipeline.Step) { s.AnyOf = []pipeline.Dependency{on("x", pipeline.OnFailure)} })),
		want:  `step "a": depends on unknown step "x"`,
	}, {
		// b ─▶ a ─(any of)─▶ (y: not in the graph), and c ─▶ (x: not in the graph)
		// The first unknown step in declaration order is the one reported.
		name: "unknown steps, the first declared wins",
		graph: graph(
			with(step("a", "b"), func(s *pipeline.Step) { s.AnyOf = []pipeline.Dependency{on("y", pipeline.OnEnd)} }),
			step("b"),
			step("c", "x"),
		),
		want: `step "a": depends on unknown step "y"`,
	}, {
		// a ─(any of)─▶ b ─(any of)─▶ a
		name: "cycle through AnyOf",
		graph: graph(
			with(step("a"), func(s *pipeline.Step) { s.AnyOf = []pipeline.Dependency{on("b", pipeline.OnEnd)} }),
			with(step("b"), func(s *pipeline.Step) { s.AnyOf = []pipeline.Dependency{on("a", pipeline.OnFailure)} }),
		),
		want: "dependency cycle: a -> b -> a",
	}, {
		// a ─┐
		//  ▲ │
		//  └─┘
		name:  "self dependency",
		graph: graph(step("a", "a")),
		want:  "dependency cycle: a -> a",
	}, {
		// "" ─▶ a     (a step with an empty name is a step like any other here)
		name:  "empty name",
		graph: graph(step(""), step("a", "")),
	}}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			order, err := tc.graph.TopologicalOrder()
			if diff := cmp.Diff(tc.want, errText(err)); diff != "" {
				t.Errorf("TopologicalOrder() error mismatch (-want +got):\n%s", diff)
			}
			if err != nil && order != nil {
				t.Errorf("TopologicalOrder() = %q with an error, want nil", order)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func manySteps(n int) *pipeline.Graph {
	g := graph()
	for i := range n {
		g.Steps = append(g.Steps, step(fmt.Sprintf("s-%d", i)))
	}
	return g
}

func TestValidate(t *testing.T) {
	tcs := []struct {
		name  string
		graph *pipeline.Graph
		// want is the exact error text; "" means valid. Several problems are
		// joined with newlines in the order Validate finds them.
		want string
	}{{
		// a ─▶ b ─▶ c
		name:  "valid linear graph",
		graph: graph(step("a"), step("b", "a"), step("c", "b")),
	}, {
		// (nothing)
		name:  "no steps",
		graph: graph(),
		want:  "graph has no steps",
	}, {
		// a    a
		name:  "duplicate names",
		graph: graph(step("a"), step("a")),
		want:  `step "a": name is used twice`,
	}, {
		// A    1a    a_b    a-    (64 × x)
		name:  "bad names",
		graph: graph(step("A"), step("1a"), step("a_b"), step("a-"), step(strings.Repeat("x", 64)), step(strings.Repeat("y", 63))),
		want: strings.Join([]string{
			`step "A": name must be lower-case letters, digits and '-', start with a letter and be at most 63 characters`,
			`step "1a": name must be lower-case letters, digits and '-', start with a letter and be at most 63 characters`,
			`step "a_b": name must be lower-case letters, digits and '-', start with a letter and be at most 63 characters`,
			`step "a-": name must be lower-case letters, digits and '-', start with a letter and be at most 63 characters`,
			`step "` + strings.Repeat("x", 64) + `": name must be lower-case letters, digits and '-', start with a letter and be at most 63 characters`,
		}, "\n"),
	}, {
		// a ─▶ b ◀─ (x: not in the graph)
		name:  "unknown dependency",
		graph: graph(step("a"), step("b", "a", "x")),
		want:  `step "b": depends on unknown step "x"`,
	}, {
		// a ─┐
		//  ▲ │
		//  └─┘
		name:  "self dependency",
		graph: graph(step("a", "a")),
		want:  `step "a": depends on itself`,
	}, {
		// a ═▶ b   (the same edge twice)
		name:  "duplicate dependency",
		graph: graph(step("a"), step("b", "a", "a")),
		want:  `step "b": depends on "a" twice`,
	}, {
		// a ─(Always)─▶ b    a ─("")─▶ c
		name: "bad conditions",
		graph: graph(
			step("a"),
			with(step("b"), func(s *pipeline.Step) {
				s.Dependencies = []pipeline.Dependency{{Step: "a", When: "Always"}}
			}),
			with(step("c"), func(s *pipeline.Step) { s.Dependencies = []pipeline.Dependency{{Step: "a"}} }),
		),
		want: `step "b": dependency on "a" has condition "Always", want OnSuccess, OnFailure or OnEnd` + "\n" +
			`step "c": dependency on "a" has condition "", want OnSuccess, OnFailure or OnEnd`,
	}, {
		// a ─▶ b
		// ▲    │
		// └────┘
		name:  "2-cycle",
		graph: graph(step("b", "a"), step("a", "b")),
		want:  "dependency cycle: a -> b -> a",
	}, {
		// x ─▶ a ─▶ b ─▶ c
		//      ▲         │
		//      └─────────┘
		name:  "3-cycle behind a root",
		graph: graph(step("c", "b"), step("b", "a"), step("a", "x", "c"), step("x")),
		want:  "dependency cycle: a -> b -> c -> a",
	}, {
		// b ─▶ c      b ─▶ after
		// ▲    │
		// └────┘
		// The walk starts at "after" (the smallest stuck name) but only the
		// repeated stretch is reported.
		name:  "2-cycle with a step waiting on it",
		graph: graph(step("after", "b"), step("b", "c"), step("c", "b")),
		want:  "dependency cycle: b -> c -> b",
	}, {
		// s-0  s-1  …  s-999
		// The size limit of one Argo DAG is argo.MaxSteps, checked where a
		// graph is rendered for Argo: the model itself has none.
		name:  "many steps",
		graph: manySteps(1000),
	}, {
		// a (empty command, negative timeout, negative retry)
		name: "bad process, timeout and retry",
		graph: graph(with(step("a"), func(s *pipeline.Step) {
			s.Process.Command = nil
			s.Timeout = -1
			s.Retry.Backoff = -1
		})),
		want: `step "a": process.command is empty` + "\n" +
			`step "a": timeout -1ns is negative` + "\n" +
			`step "a": retry policy has a negative value`,
	}, {
		// a (outputs: outside, escaping, the dir itself, ok)
		name: "output paths",
		graph: graph(with(step("a"), func(s *pipeline.Step) {
			s.Outputs = []pipeline.Output{
				{Name: "outside", Path: "/tmp/other/id"},
				{Name: "escaping", Path: outputs.Dir + "/../id"},
				{Name: "dir", Path: outputs.Dir},
				{Name: "ok", Path: outputs.Dir + "/sub/id"},
			}
		})),
		want: `step "a": output "outside": path "/tmp/other/id" is not under /tmp/stashflow/outputs` + "\n" +
			`step "a": output "escaping": path "/tmp/stashflow/outputs/../id" is not under /tmp/stashflow/outputs` + "\n" +
			`step "a": output "dir": path "/tmp/stashflow/outputs" is not under /tmp/stashflow/outputs`,
	}, {
		// a (outputs: 9x, id, id)
		name: "output names",
		graph: graph(with(step("a"), func(s *pipeline.Step) {
			s.Outputs = []pipeline.Output{
				{Name: "9x", Path: outputs.Dir + "/x"},
				{Name: "id", Path: outputs.Dir + "/id"},
				{Name: "id", Path: outputs.Dir + "/id2"},
			}
		})),
		want: `step "a": output "9x": name must be letters, digits, '_' or '-', starting with a letter` + "\n" +
			`step "a": output "id" is declared twice`,
	}, {
		// a ─▶ b ─▶ c      c uses a's output "id": a is an ancestor
		name: "reference to an ancestor's output",
		graph: graph(
			with(step("a"), func(s *pipeline.Step) {
				s.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
			}),
			step("b", "a"),
			with(step("c", "b"), func(s *pipeline.Step) { s.Process.Args = []string{"--id=$(steps.a.outputs.id)"} }),
		),
	}, {
		// a ─▶ b      b uses a's output "size", which a does not declare
		name: "reference to an undeclared output",
		graph: graph(
			with(step("a"), func(s *pipeline.Step) {
				s.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
			}),
			with(step("b", "a"), func(s *pipeline.Step) { s.Process.Args = []string{"$(steps.a.outputs.size)"} }),
		),
		want: `step "b": $(steps.a.outputs.size) refers to output "size", which step "a" does not declare`,
	}, {
		// a    b      b uses a's output, but a is not an ancestor of b;
		//             b also names a step that does not exist
		name: "reference to a non-ancestor and to an unknown step",
		graph: graph(
			with(step("a"), func(s *pipeline.Step) {
				s.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
			}),
			with(step("b"), func(s *pipeline.Step) {
				s.Process.Env = []pipeline.EnvVar{{Name: "ID", Value: "$(steps.a.outputs.id)"}}
				s.Process.Command = []string{"echo", "$(steps.zz.outputs.id)"}
			}),
		),
		want: `step "b": $(steps.zz.outputs.id) refers to unknown step "zz"` + "\n" +
			`step "b": $(steps.a.outputs.id) refers to step "a", which it does not depend on`,
	}, {
		// a (env: PW from a secret, with a value too; NAMELESS; KEYLESS)
		name: "env vars",
		graph: graph(with(step("a"), func(s *pipeline.Step) {
			s.Process.Env = []pipeline.EnvVar{
				{Name: "PW", Value: "x", SecretKeyRef: &pipeline.SecretKeyRef{Name: "s", Key: "k"}},
				{Name: "", Value: "v"},
				{Name: "KEYLESS", SecretKeyRef: &pipeline.SecretKeyRef{Name: "s"}},
				{Name: "OK", SecretKeyRef: &pipeline.SecretKeyRef{Name: "s", Key: "k"}},
			}
		})),
		want: `step "a": env "PW": a secretKeyRef needs a name and a key and no value` + "\n" +
			`step "a": env var without a name` + "\n" +
			`step "a": env "KEYLESS": a secretKeyRef needs a name and a key and no value`,
	}, {
		// a, with claims: data (ok), scratch (a volume's name), data again, Bad_Name
		name: "volume claims",
		graph: func() *pipeline.Graph {
			g := graph(step("a"))
			g.Volumes = []corev1.Volume{{Name: "scratch"}}
			g.VolumeClaims = []pipeline.VolumeClaim{{Name: "data"}, {Name: "scratch"}, {Name: "data"}, {Name: "Bad_Name"}}
			return g
		}(),
		want: `volume claim "scratch": a volume of the graph has the same name` + "\n" +
			`volume claim "data": name is used twice` + "\n" +
			`volume claim "Bad_Name": name must be lower-case letters, digits and '-', start and end with a letter or digit and be at most 63 characters`,
	}, {
		// a ─▶ b ─▶ a (cycle)  and  c ─▶ (x: unknown)
		// Edge errors are reported alone: cycles are only searched once
		// every edge is sound.
		name:  "edge errors hide cycles",
		graph: graph(step("a", "b"), step("b", "a"), step("c", "x")),
		want:  `step "c": depends on unknown step "x"`,
	}}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			got := errText(tc.graph.Validate())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCycleErrorIsDeterministic declares the same cyclic graph in every
// rotation and checks that the error never changes.
func TestCycleErrorIsDeterministic(t *testing.T) {
	steps := []pipeline.Step{step("c", "b"), step("b", "a"), step("a", "c"), step("d", "c")}
	const want = "dependency cycle: a -> b -> c -> a"
	for i := range steps {
		rotated := append(append([]pipeline.Step{}, steps[i:]...), steps[:i]...)
		for range 5 {
			if diff := cmp.Diff(want, errText(graph(rotated...).Validate())); diff != "" {
				t.Fatalf("rotation %d: Validate() mismatch (-want +got):\n%s", i, diff)
			}
		}
	}
}

func TestConditionSatisfies(t *testing.T) {
	phases := []pipeline.Phase{
		pipeline.PhasePending, pipeline.PhaseRunning, pipeline.PhaseSucceeded, pipeline.PhaseFailed,
		pipeline.PhaseError, pipeline.PhaseOmitted, pipeline.PhaseSkipped,
	}
	// want lists, per condition, the phases that satisfy it.
	tcs := []struct {
		cond pipeline.Condition
		want []pipeline.Phase
	}{
		{pipeline.OnSuccess, []pipeline.Phase{pipeline.PhaseSucceeded}},
		{pipeline.OnFailure, []pipeline.Phase{pipeline.PhaseFailed, pipeline.PhaseError}},
		{pipeline.OnEnd, []pipeline.Phase{
			pipeline.PhaseSucceeded, pipeline.PhaseFailed, pipeline.PhaseError, pipeline.PhaseOmitted, pipeline.PhaseSkipped,
		}},
		{"Always", nil},
		{"", nil},
	}
	for _, tc := range tcs {
		t.Run(string(tc.cond), func(t *testing.T) {
			var got []pipeline.Phase
			for _, p := range phases {
				if tc.cond.Satisfies(p) {
					got = append(got, p)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%q.Satisfies mismatch (-want +got):\n%s", tc.cond, diff)
			}
		})
	}
}

func TestPhaseCompleted(t *testing.T) {
	want := map[pipeline.Phase]bool{
		pipeline.PhasePending: false, pipeline.PhaseRunning: false,
		pipeline.PhaseSucceeded: true, pipeline.PhaseFailed: true, pipeline.PhaseError: true,
		pipeline.PhaseOmitted: true, pipeline.PhaseSkipped: true,
	}
	got := map[pipeline.Phase]bool{}
	for p := range want {
		got[p] = p.Completed()
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Completed() mismatch (-want +got):\n%s", diff)
	}
}
