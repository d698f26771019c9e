package ui

import (
	"fmt"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// dag is a session's graph as the UI draws it: the steps and hooks of the
// run with their outcome, and the edges between them.
type dag struct {
	Nodes []dagNode
	Edges []dagEdge
	// FromStatus is true when the graph was built from the status alone
	// (targets side by side, steps chained): Note says why.
	FromStatus bool
	Note       string
}

// Node roles.
const (
	roleStep       = "step"
	roleHook       = "hook"
	roleGlobalHook = "global-hook"
)

// dagNode is one step or hook.
type dagNode struct {
	// Name is the step's name in the graph (and in the status).
	Name  string
	Title string
	// Role is roleStep, roleHook or roleGlobalHook; Hook is "preBackup", ...
	// for hooks.
	Role string
	Hook string
	// Target is the index of the node's target, -1 for global hooks;
	// TargetName names it ("AppBinding/db").
	Target     int
	TargetName string
	// Policy is a post hook's executionPolicy as the edges say it
	// (Always, OnSuccess, OnFailure); "" when not known.
	Policy   string
	Function string
	// Outputs are the output parameters the step's Function declares.
	Outputs []string
	Phase   v1alpha1.StepPhase
	Message string
	Status  *v1alpha1.StepStatus
	// Stats are the target's host statistics, on the step that produced them.
	Stats []hostStats
}

// dagEdge is an edge: To waits for From. AnyOf edges are alternatives (To
// runs if any of them holds).
type dagEdge struct {
	From, To string
	When     pipeline.Condition
	AnyOf    bool
}

// statusIndex finds the status of a step or hook by its graph name.
type statusIndex struct {
	steps map[string]v1alpha1.StepStatus
	// target of every name the status holds.
	target map[string]int
}

func indexStatus(r *record) statusIndex {
	ix := statusIndex{steps: map[string]v1alpha1.StepStatus{}, target: map[string]int{}}
	hook := func(h *v1alpha1.HookStatus, target int) {
		if h == nil || h.Name == "" {
			return
		}
		ix.steps[h.Name] = v1alpha1.StepStatus{Name: h.Name, Phase: h.Phase, Message: h.Message, StartedAt: h.StartedAt, FinishedAt: h.FinishedAt}
		ix.target[h.Name] = target
	}
	hook(r.GlobalPre, -1)
	hook(r.GlobalPost, -1)
	for i, t := range r.Targets {
		for k := range t.PreHooks {
			hook(&t.PreHooks[k], i)
		}
		for k := range t.PostHooks {
			hook(&t.PostHooks[k], i)
		}
		for _, s := range t.Steps {
			ix.steps[s.Name] = s
			ix.target[s.Name] = i
		}
	}
	return ix
}

// sessionDAG is the graph of a session: its run record with the status's
// outcome on every node, or, for a session that has none (not submitted
// yet, or submitted by an operator that kept no record), the status alone.
func sessionDAG(r *record) *dag {
	if r.Plan == nil {
		note := "The session has not been submitted yet: its graph is drawn once the operator records the plan it runs."
		if r.Workflow != nil || len(r.Targets) > 0 {
			note = "The session has no run record (an operator that kept none wrote its status): the graph is drawn from the status alone, targets side by side, each target's hooks and steps chained."
		}
		return dagFromStatus(r, note)
	}
	return dagFromPlan(r.Plan, r)
}

// dagFromPlan builds the graph of a run record, with the status's outcome on
// every node.
func dagFromPlan(plan *v1alpha1.RunPlan, r *record) *dag {
	ix := indexStatus(r)
	type place struct {
		target int
		role   string
		hook   string
	}
	pre, post := "preBackup", "postBackup"
	if r.Kind != nil && !r.Kind.Backup {
		pre, post = "preRestore", "postRestore"
	}
	layout := &plan.Layout
	where := map[string]place{}
	if n := layout.GlobalPreHook; n != "" {
		where[n] = place{-1, roleGlobalHook, pre}
	}
	if n := layout.GlobalPostHook; n != "" {
		where[n] = place{-1, roleGlobalHook, post}
	}
	// statsStep: the step whose node shows a host's statistics, per step name.
	type hostOf struct {
		target int
		host   string
	}
	statsStep := map[string]hostOf{}
	functions := map[string]string{}
	declared := map[string][]string{}
	for i := range layout.Targets {
		t := &layout.Targets[i]
		if t.PreHook != "" {
			where[t.PreHook] = place{i, roleHook, pre}
		}
		if t.PostHook != "" {
			where[t.PostHook] = place{i, roleHook, post}
		}
		for _, s := range t.Steps {
			where[s.Name] = place{i, roleStep, ""}
			functions[s.Name] = s.Function
			declared[s.Name] = s.Outputs
		}
		for _, h := range t.Hosts() {
			if k := t.StatsStep(h, func(step string) v1alpha1.StepPhase { return ix.steps[step].Phase }); k >= 0 {
				statsStep[t.Steps[k].Name] = hostOf{i, h}
			}
		}
	}

	d := &dag{}
	for i := range plan.Steps {
		s := &plan.Steps[i]
		if layout.Unlisted(s.Name) {
			// The verdict restates the session's phase; the repository's
			// initialisation, when it fails, is the session's message.
			continue
		}
		p, ok := where[s.Name]
		if !ok {
			p = place{-1, roleStep, ""}
		}
		n := dagNode{
			Name: s.Name, Title: s.Title(), Role: p.role, Target: p.target, Hook: p.hook,
			Function: functions[s.Name], Outputs: declared[s.Name], Phase: v1alpha1.StepPending,
		}
		if n.Target >= 0 && n.Target < len(layout.Targets) && layout.Targets[n.Target].Ref != nil {
			n.TargetName = targetName(*layout.Targets[n.Target].Ref)
		}
		if st, ok := ix.steps[s.Name]; ok {
			n.Status, n.Message = &st, st.Message
			if st.Phase != "" {
				n.Phase = st.Phase
			}
		}
		if h, ok := statsStep[s.Name]; ok && h.target < len(r.Targets) {
			n.Stats = statsOfHost(r.Targets[h.target].Stats, h.host)
		}
		if n.Role != roleStep && n.Hook == post {
			n.Policy = postPolicy(s)
		}
		d.Nodes = append(d.Nodes, n)
		for _, e := range s.Dependencies {
			if !layout.Unlisted(e.Step) {
				d.Edges = append(d.Edges, dagEdge{From: e.Step, To: s.Name, When: pipeline.Condition(e.When)})
			}
		}
		for _, e := range s.AnyOf {
			if !layout.Unlisted(e.Step) {
				d.Edges = append(d.Edges, dagEdge{From: e.Step, To: s.Name, When: pipeline.Condition(e.When), AnyOf: true})
			}
		}
	}
	return d
}

// postPolicy reads a post hook's executionPolicy back from its edges, as
// the translators wrote them: OnFailure hooks wait for any of the work to
// fail, Always hooks for it to end, OnSuccess hooks for it to succeed.
func postPolicy(s *v1alpha1.PlannedStep) string {
	for _, e := range s.AnyOf {
		if pipeline.Condition(e.When) == pipeline.OnFailure {
			return string(v1alpha1.HookExecuteOnFailure)
		}
	}
	for _, e := range s.Dependencies {
		if pipeline.Condition(e.When) == pipeline.OnEnd {
			return string(v1alpha1.HookExecuteAlways)
		}
	}
	return string(v1alpha1.HookExecuteOnSuccess)
}

func targetName(ref v1alpha1.TargetRef) string {
	if ref.Kind == "" && ref.Name == "" {
		return ""
	}
	return ref.Kind + "/" + ref.Name
}

// dagFromStatus builds a graph from the status alone: the global pre hook,
// then each target side by side (its pre hooks, steps and post hooks
// chained), then the global post hook. The real edges between targets and
// the hooks' policies are not known.
func dagFromStatus(r *record, note string) *dag {
	d := &dag{FromStatus: true, Note: note}
	used := map[string]int{}
	add := func(n dagNode) string {
		// Names are unique in a real graph; a hand-written status may
		// repeat one. The drawing needs unique names.
		name := n.Name
		if used[name] > 0 {
			n.Name = fmt.Sprintf("%s#%d", name, used[name]+1)
		}
		used[name]++
		if n.Title == "" {
			n.Title = name
		}
		d.Nodes = append(d.Nodes, n)
		return n.Name
	}
	hookNode := func(h v1alpha1.HookStatus, target int, targetName, phase, role string) dagNode {
		st := v1alpha1.StepStatus{Name: h.Name, Phase: h.Phase, Message: h.Message, StartedAt: h.StartedAt, FinishedAt: h.FinishedAt}
		return dagNode{Name: h.Name, Title: h.Name, Role: role, Hook: phase, Target: target, TargetName: targetName,
			Phase: phaseOr(h.Phase), Message: h.Message, Status: &st}
	}
	pre, post := "preBackup", "postBackup"
	if !r.Kind.Backup {
		pre, post = "preRestore", "postRestore"
	}
	var globalPre string
	if r.GlobalPre != nil {
		globalPre = add(hookNode(*r.GlobalPre, -1, "", pre, roleGlobalHook))
	}
	var lasts []string
	for i, t := range r.Targets {
		tn := ""
		if t.Ref != nil {
			tn = targetName(*t.Ref)
		}
		prev := globalPre
		link := func(name string) {
			if prev != "" {
				d.Edges = append(d.Edges, dagEdge{From: prev, To: name, When: pipeline.OnSuccess})
			}
			prev = name
		}
		for _, h := range t.PreHooks {
			link(add(hookNode(h, i, tn, pre, roleHook)))
		}
		stats := statsStepFromStatus(t)
		for _, s := range t.Steps {
			n := dagNode{Name: s.Name, Title: s.Name, Role: roleStep, Target: i, TargetName: tn, Function: s.Function,
				Phase: phaseOr(s.Phase), Message: s.Message, Status: &s}
			if s.Name == stats {
				n.Stats = t.Stats
			}
			link(add(n))
		}
		for _, h := range t.PostHooks {
			link(add(hookNode(h, i, tn, post, roleHook)))
		}
		if prev != "" && prev != globalPre {
			lasts = append(lasts, prev)
		}
	}
	if r.GlobalPost != nil {
		name := add(hookNode(*r.GlobalPost, -1, "", post, roleGlobalHook))
		for _, l := range lasts {
			d.Edges = append(d.Edges, dagEdge{From: l, To: name, When: pipeline.OnEnd})
		}
		if len(lasts) == 0 && globalPre != "" {
			d.Edges = append(d.Edges, dagEdge{From: globalPre, To: name, When: pipeline.OnEnd})
		}
	}
	return d
}

// statsStepFromStatus places a target's statistics, without a run record,
// on the step that has no role the status can tell apart: its first step.
func statsStepFromStatus(t targetRecord) string {
	if len(t.Stats) == 0 || len(t.Steps) == 0 {
		return ""
	}
	return t.Steps[0].Name
}

func phaseOr(p v1alpha1.StepPhase) v1alpha1.StepPhase {
	if p == "" {
		return v1alpha1.StepPending
	}
	return p
}

// statsOfHost are a target's statistics for one host; all of them when the
// target has one host or its status names none (a host's name defaults to
// host-0 in the status).
func statsOfHost(stats []hostStats, host string) []hostStats {
	if len(stats) <= 1 {
		return stats
	}
	var out []hostStats
	for _, s := range stats {
		if s.Hostname == host {
			out = append(out, s)
		}
	}
	return out
}
