package conformance

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/pipeline"
)

// TestCasesAreSound checks the table itself: every graph is valid, every step
// has a wanted phase and every wanted phase names a step.
func TestCasesAreSound(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			if seen[c.Name] {
				t.Fatalf("case name %q is used twice", c.Name)
			}
			seen[c.Name] = true
			if strings.TrimSpace(c.Drawing) == "" {
				t.Error("case has no drawing")
			}
			g := c.Graph(t.TempDir())
			if err := g.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			steps := map[string]pipeline.Phase{}
			for _, s := range g.Steps {
				steps[s.Name] = c.Want[s.Name]
				if s.Process.Command[0] != "sh" || s.Process.Command[1] != "-c" {
					t.Errorf("step %q: command %q is not a sh -c script", s.Name, s.Process.Command)
				}
			}
			if diff := cmp.Diff(c.Want, steps); diff != "" {
				t.Errorf("Want does not list exactly the graph's steps (-want +steps):\n%s", diff)
			}
			var wanted []pipeline.NodeStatus
			for step, p := range c.Want {
				wanted = append(wanted, pipeline.NodeStatus{Step: step, Phase: p})
			}
			if got := pipeline.RunPhase(g, wanted); got != c.WantRun {
				t.Errorf("pipeline.RunPhase of the wanted phases = %s, want the case's WantRun %s", got, c.WantRun)
			}
			for step := range c.WantOutputs {
				if _, ok := g.Step(step); !ok {
					t.Errorf("WantOutputs names unknown step %q", step)
				}
			}
		})
	}
}

// TestCheck makes sure Check notices a wrong phase, output or attempt count.
func TestCheck(t *testing.T) {
	c := retryThenSucceed()
	right := func() []pipeline.NodeStatus {
		var got []pipeline.NodeStatus
		for step, p := range c.Want {
			got = append(got, pipeline.NodeStatus{Step: step, Phase: p, Attempts: c.WantAttempts[step], Outputs: c.WantOutputs[step]})
		}
		return got
	}
	Check(t, c, right(), c.WantRun)
	tcs := map[string]func(*pipeline.NodeStatus){
		"phases":   func(st *pipeline.NodeStatus) { st.Phase = pipeline.PhaseError },
		"outputs":  func(st *pipeline.NodeStatus) { st.Outputs = map[string]string{"attempt": "2\n"} },
		"attempts": func(st *pipeline.NodeStatus) { st.Attempts = 3 },
		"run":      nil,
	}
	for name, spoil := range tcs {
		t.Run(name, func(t *testing.T) {
			got, run := right(), c.WantRun
			for i := range got {
				if got[i].Step == "flaky" && spoil != nil {
					spoil(&got[i])
				}
			}
			if spoil == nil {
				run = pipeline.PhaseFailed
			}
			if m := mismatches(c, got, run); len(m) != 1 || !strings.Contains(m[0], name+" mismatch") {
				t.Errorf("mismatches() = %q, want one %s mismatch", m, name)
			}
		})
	}
}
