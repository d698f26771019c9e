package pipeline_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// parseFuzzGraph turns any string into a graph, so that the fuzzer reaches
// every shape a caller could build, valid or not. Steps are separated by
// ';', each written
//
//	name[+][:deps][|anyOf][$refs][@phase]
//
// name is taken as it is (empty, upper-case, repeated, anything); a '+'
// after it declares the output "id". deps and anyOf are ','-separated step
// names, each with an optional condition suffix: none OnSuccess, '!'
// OnFailure, '*' OnEnd, '?' the invalid "Always". refs are ','-separated
// step names whose output "id" the step's args refer to. phase is the step's
// reported phase for RunPhase: s(ucceeded), f(ailed), e(rror), o(mitted),
// k (skipped), r(unning), p(ending); anything else reports no status.
//
// Example: "a+@s;b:a|c!,d*$a@f" is a (declares id, Succeeded), and b, which
// waits for a to succeed and for c to fail or d to end, uses a's id, Failed.
func parseFuzzGraph(in string) (*pipeline.Graph, []pipeline.NodeStatus) {
	g := &pipeline.Graph{Name: "fuzz"}
	var nodes []pipeline.NodeStatus
	for _, text := range strings.Split(in, ";") {
		text, phase, _ := strings.Cut(text, "@")
		text, refs, _ := strings.Cut(text, "$")
		text, anyOf, _ := strings.Cut(text, "|")
		name, deps, _ := strings.Cut(text, ":")
		s := pipeline.Step{Process: pipeline.Process{Command: []string{"true"}}}
		if n, ok := strings.CutSuffix(name, "+"); ok {
			name = n
			s.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
		}
		s.Name = name
		s.Dependencies = parseFuzzEdges(deps)
		s.AnyOf = parseFuzzEdges(anyOf)
		for _, r := range splitNonEmpty(refs) {
			s.Process.Args = append(s.Process.Args, pipeline.OutputRef{Step: r, Output: "id"}.String())
		}
		g.Steps = append(g.Steps, s)
		if p, ok := fuzzPhases[phase]; ok {
			nodes = append(nodes, pipeline.NodeStatus{Step: name, Phase: p})
		}
	}
	return g, nodes
}

var fuzzPhases = map[string]pipeline.Phase{
	"s": pipeline.PhaseSucceeded, "f": pipeline.PhaseFailed, "e": pipeline.PhaseError, "o": pipeline.PhaseOmitted,
	"k": pipeline.PhaseSkipped, "r": pipeline.PhaseRunning, "p": pipeline.PhasePending,
}

var fuzzConditions = map[string]pipeline.Condition{"!": pipeline.OnFailure, "*": pipeline.OnEnd, "?": "Always"}

func parseFuzzEdges(text string) []pipeline.Dependency {
	var out []pipeline.Dependency
	for _, e := range splitNonEmpty(text) {
		d := pipeline.Dependency{Step: e, When: pipeline.OnSuccess}
		if when, ok := fuzzConditions[e[max(0, len(e)-1):]]; ok {
			d = pipeline.Dependency{Step: e[:len(e)-1], When: when}
		}
		out = append(out, d)
	}
	return out
}

// splitNonEmpty splits a ','-separated list; "" is no element, so that
// "a:" has no dependency, while "a:," has one on the step named "".
func splitNonEmpty(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(text, ",")
}

// TestParseFuzzGraph pins the fuzz input syntax down, so that the seeds
// below mean what their comments say.
func TestParseFuzzGraph(t *testing.T) {
	tcs := []struct {
		in        string
		wantGraph *pipeline.Graph
		wantNodes []pipeline.NodeStatus
	}{{
		in:        "a",
		wantGraph: graph(step("a")),
	}, {
		in: "a+@s;b:a|c!,d*$a@f;:,x?@z",
		wantGraph: graph(
			with(step("a"), func(s *pipeline.Step) {
				s.Outputs = []pipeline.Output{{Name: "id", Path: outputs.Dir + "/id"}}
			}),
			with(step("b", "a"), func(s *pipeline.Step) {
				s.AnyOf = []pipeline.Dependency{on("c", pipeline.OnFailure), on("d", pipeline.OnEnd)}
				s.Process.Args = []string{"$(steps.a.outputs.id)"}
			}),
			with(step(""), func(s *pipeline.Step) {
				s.Dependencies = []pipeline.Dependency{on("", pipeline.OnSuccess), on("x", "Always")}
			}),
		),
		wantNodes: []pipeline.NodeStatus{{Step: "a", Phase: pipeline.PhaseSucceeded}, {Step: "b", Phase: pipeline.PhaseFailed}},
	}}
	for _, tc := range tcs {
		t.Run(tc.in, func(t *testing.T) {
			g, nodes := parseFuzzGraph(tc.in)
			tc.wantGraph.Name = "fuzz"
			if diff := cmp.Diff(tc.wantGraph, g); diff != "" {
				t.Errorf("graph mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantNodes, nodes); diff != "" {
				t.Errorf("nodes mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzGraph builds graphs of any shape, invalid ones included, and checks
// that no exported function of the package panics on them, that
// TopologicalOrder is deterministic and exact (every step after every step it
// waits for) whenever it succeeds, that it succeeds on every graph Validate
// accepts, and that Validate rejects every graph it cannot order.
func FuzzGraph(f *testing.F) {
	for _, seed := range []string{
		"a",                                // one step
		"c:b;b:a;a",                        // a chain declared in reverse
		"d:b,c;c:a;b:a;a",                  // a diamond
		"z;b:a;a",                          // a step made ready sorts before a later name
		"a@s;b:a@f;c:b@o;d@s;e:d!@o",       // a failure omits its chain; an OnFailure not taken
		"x@f;y:x*@s",                       // an OnEnd handler
		"p@s;q@f;v|p!,q!@f",                // a verdict: AnyOf only
		"a@s;b@s;c:a|b!,a*",                // Dependencies and AnyOf together
		"a+@s;b:a@s;c:b$a@s",               // an output reference to an ancestor
		"a+;b$a",                           // an output reference to a non-ancestor
		"a;b:a$a",                          // an output reference to an undeclared output
		"a|x",                              // AnyOf names an unknown step (used to panic)
		"a:x",                              // Dependencies name an unknown step
		"a:b;b:a",                          // a 2-cycle
		"after:b;b:c;c:b",                  // a cycle with a step waiting on it
		"c:b;b:a;a:x,c;x",                  // a 3-cycle behind a root
		"a|b;b|a",                          // a cycle through AnyOf
		"a:a",                              // a self-edge
		"a|a*",                             // a self-edge in AnyOf
		"a;a",                              // a name used twice
		"a;a:b;b:a",                        // a name used twice, in a cycle
		";:",                               // empty names, and an edge to one
		"A;1a;a_b;a-",                      // malformed names
		"a;b:a,a",                          // the same edge twice
		"a;b:a|a!",                         // the same step in Dependencies and AnyOf
		"a;b:a?",                           // an invalid condition
		"a@r;b:a",                          // a step still running, one not reported
		"",                                 // a single step with an empty name
		"a:b@s;b@x;ghost@s;b:a*;c|b,ghost", // everything at once
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		g, nodes := parseFuzzGraph(in)
		validateErr := g.Validate()
		order, orderErr := g.TopologicalOrder()
		again, againErr := g.TopologicalOrder()
		if diff := cmp.Diff(order, again); diff != "" || errText(orderErr) != errText(againErr) {
			t.Fatalf("TopologicalOrder is not deterministic: %v, %v then %v, %v", order, orderErr, again, againErr)
		}
		if validateErr == nil && orderErr != nil {
			t.Fatalf("Validate accepts the graph, TopologicalOrder fails: %v", orderErr)
		}
		if orderErr == nil {
			if validateErr == nil && len(order) == 0 {
				t.Fatal("TopologicalOrder is empty for a valid graph")
			}
			checkOrder(t, g, order)
		}
		// Everything else exported must take any graph without panicking.
		text := g.Format()
		run := pipeline.RunPhase(g, nodes)
		if !slices.Contains([]pipeline.Phase{pipeline.PhaseRunning, pipeline.PhaseSucceeded, pipeline.PhaseFailed, pipeline.PhaseError}, run) {
			t.Fatalf("RunPhase = %q, not a phase of a run", run)
		}
		phase := map[string]pipeline.Phase{}
		for _, n := range nodes {
			phase[n.Step] = n.Phase
		}
		for i := range g.Steps {
			s := &g.Steps[i]
			g.Ancestors(s.Name)
			g.Step(s.Name)
			s.Title()
			s.Edges()
			s.Ready(func(d string) pipeline.Phase { return phase[d] })
			for _, r := range s.Refs() {
				pipeline.ReplaceOutputRefs(r.String(), func(pipeline.OutputRef) string { return "" })
			}
		}
		if validateErr != nil {
			return
		}
		if diff := cmp.Diff(order, formattedSteps(text)); diff != "" {
			t.Fatalf("Format does not list the steps in topological order (-order +format):\n%s", diff)
		}
		simulate(t, g, order, phase)
	})
}

// checkOrder fails unless order names every step of g once, each after all
// the steps it waits for (Dependencies and AnyOf).
func checkOrder(t *testing.T, g *pipeline.Graph, order []string) {
	t.Helper()
	var names []string
	for _, s := range g.Steps {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(order))); diff != "" {
		t.Fatalf("TopologicalOrder does not name every step once (-steps +order):\n%s", diff)
	}
	position := map[string]int{}
	for i, name := range order {
		position[name] = i
	}
	for _, s := range g.Steps {
		for _, d := range s.Edges() {
			if position[d.Step] >= position[s.Name] {
				t.Fatalf("TopologicalOrder %v puts %q before %q, which it waits for", order, s.Name, d.Step)
			}
		}
	}
}

// formattedSteps lists the steps of a Format text, in its order.
func formattedSteps(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if name, ok := strings.CutPrefix(line, "step "); ok {
			out = append(out, name)
		}
	}
	return out
}

// simulate runs a valid graph on paper, in topological order, each step that
// Ready lets run ending in its reported phase (Succeeded when none) and every
// other Omitted. Ready must find every step's dependencies ended, and
// RunPhase must find the run ended.
func simulate(t *testing.T, g *pipeline.Graph, order []string, reported map[string]pipeline.Phase) {
	t.Helper()
	phase := map[string]pipeline.Phase{}
	var nodes []pipeline.NodeStatus
	for _, name := range order {
		s, _ := g.Step(name)
		run, ok := s.Ready(func(d string) pipeline.Phase { return phase[d] })
		switch {
		case !ok:
			t.Fatalf("step %q is not ready in topological order %v", name, order)
		case !run:
			phase[name] = pipeline.PhaseOmitted
		case reported[name].Completed():
			phase[name] = reported[name]
		default:
			phase[name] = pipeline.PhaseSucceeded
		}
		nodes = append(nodes, pipeline.NodeStatus{Step: name, Phase: phase[name]})
	}
	if run := pipeline.RunPhase(g, nodes); !run.Completed() {
		t.Fatalf("RunPhase of a finished run = %s\n%s", run, fmt.Sprint(nodes))
	}
}
