package pipeline

// RunPhase is the phase of a whole run, decided as Argo decides the phase
// of a DAG: Running while any step has not ended; then, over the leaves
// (the steps no other step waits for), Failed or Error if any leaf is, else
// Succeeded. A leaf that did not run (Omitted, Skipped) takes the phase of
// the last step that ran on a path to it from a root, a failure winning over
// a success, so a failure whose dependents were all omitted fails the run,
// and one that a dependent handled (OnFailure, OnEnd) does not.
//
// The local engine has no run phase of its own; this is what the Workflow
// of the same graph gets on Argo, and the conformance table checks it
// against the real workflow-controller.
func RunPhase(g *Graph, nodes []NodeStatus) Phase {
	phase := make(map[string]Phase, len(nodes))
	for _, n := range nodes {
		phase[n.Step] = n.Phase
	}
	order, err := g.TopologicalOrder()
	if err != nil {
		return PhaseError
	}
	hasDependents := map[string]bool{}
	for i := range g.Steps {
		for _, d := range g.Steps[i].Edges() {
			hasDependents[d.Step] = true
		}
	}
	branch := make(map[string]Phase, len(order))
	for _, name := range order {
		p := phase[name]
		if !p.Completed() {
			return PhaseRunning
		}
		if ran(p) {
			branch[name] = p
			continue
		}
		s, _ := g.Step(name)
		b := PhaseSucceeded
		for _, d := range s.Edges() {
			if failed(branch[d.Step]) {
				b = branch[d.Step]
				break
			}
		}
		branch[name] = b
	}
	for _, name := range order {
		if !hasDependents[name] && failed(branch[name]) {
			return branch[name]
		}
	}
	return PhaseSucceeded
}

func ran(p Phase) bool { return p == PhaseSucceeded || failed(p) }

func failed(p Phase) bool { return p == PhaseFailed || p == PhaseError }
