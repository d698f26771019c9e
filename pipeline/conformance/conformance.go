// Package conformance owns the table of graphs that every engine must run
// to the same result: the phase of every step, the output parameters and the
// number of attempts where it matters. pipeline/local runs it in its unit
// tests; pipeline/argo runs it in e2e through a pod runner that executes each
// container's command as a host process.
//
// So that both can run it, every step is a plain `sh -c` script; scratch
// state lives under the directory given to Case.Graph; outputs are written to
// ${STASHFLOW_OUTPUT_DIR:-/tmp/stashflow/outputs}/<name>. Each step records
// that it started and that it ran to its end (files started-<step> and
// ran-<step> in the scratch directory) and first checks that every dependency
// expected to run has done so, so a step started too early fails. Every case takes well under two seconds on the local engine.
package conformance

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// Image is the image of every step: any image with a POSIX sh will do.
const Image = "docker.io/library/busybox:1.36"

// Case is one graph and what running it must give.
type Case struct {
	Name string
	// Drawing is the graph as ASCII art: ─▶ is OnSuccess unless labelled,
	// ✗ marks a step that fails on purpose.
	Drawing string
	// Graph builds the graph; scratchDir is an existing empty directory the
	// steps may use for state.
	Graph func(scratchDir string) *pipeline.Graph
	// Want is the final phase of every step.
	Want map[string]pipeline.Phase
	// WantOutputs lists every step that has output parameters, with their values.
	WantOutputs map[string]map[string]string
	// WantAttempts lists, for some steps, the number of attempts made.
	WantAttempts map[string]int
	// WantRun is the phase of the whole run as Argo gives it to the
	// Workflow (pipeline.RunPhase models it): a failure that a dependent
	// handles does not fail the run.
	WantRun pipeline.Phase
}

// Check compares what an engine reported for c with what c wants: the
// steps' statuses, and run, the phase the engine gave the whole run.
func Check(t *testing.T, c Case, got []pipeline.NodeStatus, run pipeline.Phase) {
	t.Helper()
	for _, m := range mismatches(c, got, run) {
		t.Error(m)
	}
}

func mismatches(c Case, got []pipeline.NodeStatus, run pipeline.Phase) []string {
	phases := make(map[string]pipeline.Phase, len(got))
	gotOutputs := map[string]map[string]string{}
	attempts := map[string]int{}
	for _, st := range got {
		phases[st.Step] = st.Phase
		if len(st.Outputs) > 0 {
			gotOutputs[st.Step] = st.Outputs
		}
		if _, ok := c.WantAttempts[st.Step]; ok {
			attempts[st.Step] = st.Attempts
		}
	}
	var out []string
	if diff := cmp.Diff(c.Want, phases); diff != "" {
		out = append(out, fmt.Sprintf("%s: phases mismatch (-want +got):\n%s\nsteps:\n%s", c.Name, diff, Describe(got)))
	}
	if diff := cmp.Diff(c.WantOutputs, gotOutputs, cmpopts.EquateEmpty()); diff != "" {
		out = append(out, fmt.Sprintf("%s: outputs mismatch (-want +got):\n%s", c.Name, diff))
	}
	if diff := cmp.Diff(c.WantAttempts, attempts, cmpopts.EquateEmpty()); diff != "" {
		out = append(out, fmt.Sprintf("%s: attempts mismatch (-want +got):\n%s", c.Name, diff))
	}
	if run != c.WantRun {
		out = append(out, fmt.Sprintf("%s: run mismatch: the run ended %s, want %s", c.Name, run, c.WantRun))
	}
	return out
}

// Describe renders statuses one per line, for failure messages.
func Describe(statuses []pipeline.NodeStatus) string {
	var b strings.Builder
	for _, st := range statuses {
		fmt.Fprintf(&b, "  %-28s %-9s attempts=%d %s\n", st.Step, st.Phase, st.Attempts, st.Message)
	}
	return b.String()
}

// spec is one step of a case: what it depends on, whether it fails, the
// phase it must end in.
type spec struct {
	name string
	deps []pipeline.Dependency
	// anyOf: at least one must hold once all have ended.
	anyOf []pipeline.Dependency
	want  pipeline.Phase
	fails bool
	// before runs first (e.g. a short sleep); extra runs after the
	// dependency checks, before the step records that it ran.
	before, extra string
	timeout       time.Duration
	retry         pipeline.RetryPolicy
	outputs       []string
	args          []string
	env           []pipeline.EnvVar
}

func on(step string, when pipeline.Condition) pipeline.Dependency {
	return pipeline.Dependency{Step: step, When: when}
}

func after(steps ...string) []pipeline.Dependency {
	deps := make([]pipeline.Dependency, 0, len(steps))
	for _, s := range steps {
		deps = append(deps, on(s, pipeline.OnSuccess))
	}
	return deps
}

// quote quotes s for sh.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// outDir is the shell expression of the directory outputs go to.
const outDir = `"${` + outputs.DirEnv + `:-` + outputs.Dir + `}"`

// build turns specs into a graph whose steps check their dependencies'
// markers, and the phases the case wants.
func build(name, scratch string, specs []spec) (*pipeline.Graph, map[string]pipeline.Phase) {
	want := make(map[string]pipeline.Phase, len(specs))
	// A step that a timeout kills never records that it ran to the end:
	// its dependents check that it started.
	marker := make(map[string]string, len(specs))
	for _, s := range specs {
		want[s.name] = s.want
		marker[s.name] = "ran-" + s.name
		if s.timeout > 0 {
			marker[s.name] = "started-" + s.name
		}
	}
	g := &pipeline.Graph{Name: name, Labels: map[string]string{"stashflow.dev/conformance": name}}
	for _, s := range specs {
		var script strings.Builder
		script.WriteString("set -e\n")
		if s.before != "" {
			script.WriteString(s.before + "\n")
		}
		fmt.Fprintf(&script, "cd %s\n", quote(scratch))
		for _, d := range append(slices.Clone(s.deps), s.anyOf...) {
			if want[d.Step] != pipeline.PhaseOmitted {
				fmt.Fprintf(&script, "[ -e %s ] || { echo 'started before %s ended' >&2; exit 90; }\n", marker[d.Step], d.Step)
			}
		}
		fmt.Fprintf(&script, "touch started-%s\n", s.name)
		if len(s.outputs) > 0 {
			fmt.Fprintf(&script, "out=%s\nmkdir -p \"$out\"\n", outDir)
		}
		if s.extra != "" {
			script.WriteString(s.extra + "\n")
		}
		fmt.Fprintf(&script, "echo %s ran\ntouch ran-%s\n", s.name, s.name)
		if s.fails {
			fmt.Fprintf(&script, "echo '%s fails on purpose' >&2\nexit 3\n", s.name)
		}
		step := pipeline.Step{
			Name:         s.name,
			Process:      pipeline.Process{Image: Image, Command: []string{"sh", "-c", script.String(), s.name}, Args: s.args, Env: s.env},
			Dependencies: s.deps,
			AnyOf:        s.anyOf,
			Timeout:      s.timeout,
			Retry:        s.retry,
		}
		for _, o := range s.outputs {
			step.Outputs = append(step.Outputs, pipeline.Output{Name: o, Path: outputs.Dir + "/" + o})
		}
		g.Steps = append(g.Steps, step)
	}
	return g, want
}

// newCase makes a Case out of specs.
func newCase(name string, run pipeline.Phase, drawing string, specs []spec) Case {
	_, want := build(name, "/nonexistent", specs)
	return Case{
		Name:    name,
		WantRun: run,
		Drawing: drawing,
		Graph: func(scratch string) *pipeline.Graph {
			g, _ := build(name, scratch, specs)
			return g
		},
		Want: want,
	}
}

const (
	ok      = pipeline.PhaseSucceeded
	failed  = pipeline.PhaseFailed
	omitted = pipeline.PhaseOmitted
)

// Cases returns the table, a new copy every call.
func Cases() []Case {
	return []Case{
		linear(), diamond(), failureWithHooks(), sequentialBatch(), parallelBatch(),
		failingPreHook(), timeout(), retryThenSucceed(), outputReference(), anyOfHooks(),
		verdict(true), verdict(false),
	}
}
