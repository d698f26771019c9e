package pipeline

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/stashflow/stashflow/outputs"
)

var (
	stepNamePattern   = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	claimNamePattern  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	outputNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
)

// Validate reports every problem with the graph, joined; nil if it can run.
func (g *Graph) Validate() error {
	var errs []error
	if len(g.Steps) == 0 {
		errs = append(errs, errors.New("graph has no steps"))
	}
	names := make(map[string]*Step, len(g.Steps))
	for i := range g.Steps {
		s := &g.Steps[i]
		if !stepNamePattern.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("step %q: name must be lower-case letters, digits and '-', start with a letter and be at most 63 characters", s.Name))
		}
		if _, dup := names[s.Name]; dup {
			errs = append(errs, fmt.Errorf("step %q: name is used twice", s.Name))
		}
		names[s.Name] = s
	}
	for i := range g.Steps {
		errs = append(errs, g.Steps[i].validate(names)...)
	}
	errs = append(errs, g.validateClaims()...)
	if len(errs) > 0 {
		// Cycles and references are only meaningful once every edge is sound.
		return errors.Join(errs...)
	}
	if _, err := g.TopologicalOrder(); err != nil {
		return err
	}
	return g.validateRefs()
}

func (s *Step) validate(names map[string]*Step) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("step %q: "+format, append([]any{s.Name}, args...)...))
	}
	if len(s.Process.Command) == 0 {
		fail("process.command is empty")
	}
	if s.Timeout < 0 {
		fail("timeout %s is negative", s.Timeout)
	}
	if s.Retry.Limit < 0 || s.Retry.Backoff < 0 || s.Retry.MaxBackoff < 0 || s.Retry.Factor < 0 {
		fail("retry policy has a negative value")
	}
	seenDeps := map[string]bool{}
	for _, d := range s.Edges() {
		switch {
		case d.Step == s.Name:
			fail("depends on itself")
		case names[d.Step] == nil:
			fail("depends on unknown step %q", d.Step)
		case seenDeps[d.Step]:
			fail("depends on %q twice", d.Step)
		}
		seenDeps[d.Step] = true
		switch d.When {
		case OnSuccess, OnFailure, OnEnd:
		default:
			fail("dependency on %q has condition %q, want OnSuccess, OnFailure or OnEnd", d.Step, d.When)
		}
	}
	seenOut := map[string]bool{}
	for _, o := range s.Outputs {
		if !outputNamePattern.MatchString(o.Name) {
			fail("output %q: name must be letters, digits, '_' or '-', starting with a letter", o.Name)
		}
		if seenOut[o.Name] {
			fail("output %q is declared twice", o.Name)
		}
		seenOut[o.Name] = true
		if p := path.Clean(o.Path); !strings.HasPrefix(p, outputs.Dir+"/") {
			fail("output %q: path %q is not under %s", o.Name, o.Path, outputs.Dir)
		}
	}
	for _, e := range s.Process.Env {
		if e.Name == "" {
			fail("env var without a name")
		}
		if e.SecretKeyRef != nil && (e.Value != "" || e.SecretKeyRef.Name == "" || e.SecretKeyRef.Key == "") {
			fail("env %q: a secretKeyRef needs a name and a key and no value", e.Name)
		}
	}
	return errs
}

// validateClaims checks the claims' names: DNS labels (they name a volume
// and, in a cluster, a claim), each used once among claims and volumes.
func (g *Graph) validateClaims() []error {
	var errs []error
	volumes := map[string]bool{}
	for _, v := range g.Volumes {
		volumes[v.Name] = true
	}
	seen := map[string]bool{}
	for _, c := range g.VolumeClaims {
		switch {
		case !claimNamePattern.MatchString(c.Name):
			errs = append(errs, fmt.Errorf("volume claim %q: name must be lower-case letters, digits and '-', start and end with a letter or digit and be at most 63 characters", c.Name))
		case volumes[c.Name]:
			errs = append(errs, fmt.Errorf("volume claim %q: a volume of the graph has the same name", c.Name))
		case seen[c.Name]:
			errs = append(errs, fmt.Errorf("volume claim %q: name is used twice", c.Name))
		}
		seen[c.Name] = true
	}
	return errs
}

// TopologicalOrder returns the step names so that every step comes after
// every step it waits for (Dependencies and AnyOf), ties broken by name
// (Kahn's algorithm). It takes any graph: on one it cannot order it returns
// nil and the first problem, the same for the same graph every time (a name
// used twice, else an edge to an unknown step, both in declaration order,
// else a cycle, named by its steps). Validate reports every problem, this
// only the one that stops the ordering; a graph Validate accepts always has
// an order.
func (g *Graph) TopologicalOrder() ([]string, error) {
	steps := make(map[string]*Step, len(g.Steps))
	for i := range g.Steps {
		s := &g.Steps[i]
		if _, dup := steps[s.Name]; dup {
			return nil, fmt.Errorf("step %q: name is used twice", s.Name)
		}
		steps[s.Name] = s
	}
	for i := range g.Steps {
		s := &g.Steps[i]
		for _, d := range s.Edges() {
			if steps[d.Step] == nil {
				return nil, fmt.Errorf("step %q: depends on unknown step %q", s.Name, d.Step)
			}
		}
	}
	// From here on every edge joins two steps of the graph, which is what
	// both Kahn's algorithm and the cycle search below rely on.
	indegree := make(map[string]int, len(g.Steps))
	dependents := make(map[string][]string, len(g.Steps))
	for _, s := range g.Steps {
		indegree[s.Name] += 0
		for _, d := range s.Edges() {
			indegree[s.Name]++
			dependents[d.Step] = append(dependents[d.Step], s.Name)
		}
	}
	var ready []string
	for name, n := range indegree {
		if n == 0 {
			ready = append(ready, name)
		}
	}
	slices.Sort(ready)
	order := make([]string, 0, len(indegree))
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		order = append(order, name)
		for _, dep := range dependents[name] {
			indegree[dep]--
			if indegree[dep] == 0 {
				i, _ := slices.BinarySearch(ready, dep)
				ready = slices.Insert(ready, i, dep)
			}
		}
	}
	if len(order) == len(indegree) {
		return order, nil
	}
	return nil, fmt.Errorf("dependency cycle: %s", strings.Join(findCycle(steps, indegree), " -> "))
}

// findCycle walks edges back from the smallest-named step Kahn's algorithm
// could not place, always to the smallest-named unplaced step it waits for,
// until a step repeats; the repeated stretch is a cycle. Every unplaced step
// waits for at least one unplaced step (it would have been placed otherwise,
// every edge joining two steps of the graph), so the walk goes on until it
// closes a cycle.
func findCycle(steps map[string]*Step, indegree map[string]int) []string {
	var stuck []string
	for name, n := range indegree {
		if n > 0 {
			stuck = append(stuck, name)
		}
	}
	slices.Sort(stuck)
	seen := map[string]int{}
	var walk []string
	for name := stuck[0]; ; {
		if i, ok := seen[name]; ok {
			cycle := append(slices.Clone(walk[i:]), name)
			slices.Reverse(cycle) // present it in execution order: a -> b means b waits for a
			return cycle
		}
		seen[name] = len(walk)
		walk = append(walk, name)
		var next []string
		for _, d := range steps[name].Edges() {
			if indegree[d.Step] > 0 {
				next = append(next, d.Step)
			}
		}
		if len(next) == 0 {
			return stuck // cannot happen (see above); never a panic on a graph
		}
		name = slices.Min(next)
	}
}

// Ancestors returns every step that name transitively depends on.
func (g *Graph) Ancestors(name string) map[string]bool {
	out := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		s, ok := g.Step(n)
		if !ok {
			return
		}
		for _, d := range s.Edges() {
			if !out[d.Step] {
				out[d.Step] = true
				visit(d.Step)
			}
		}
	}
	visit(name)
	return out
}

func (g *Graph) validateRefs() error {
	var errs []error
	for i := range g.Steps {
		s := &g.Steps[i]
		refs := s.Refs()
		if len(refs) == 0 {
			continue
		}
		ancestors := g.Ancestors(s.Name)
		for _, r := range refs {
			producer, ok := g.Step(r.Step)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("step %q: %s refers to unknown step %q", s.Name, r, r.Step))
			case !ancestors[r.Step]:
				errs = append(errs, fmt.Errorf("step %q: %s refers to step %q, which it does not depend on", s.Name, r, r.Step))
			case !slices.ContainsFunc(producer.Outputs, func(o Output) bool { return o.Name == r.Output }):
				errs = append(errs, fmt.Errorf("step %q: %s refers to output %q, which step %q does not declare", s.Name, r, r.Output, r.Step))
			}
		}
	}
	return errors.Join(errs...)
}
