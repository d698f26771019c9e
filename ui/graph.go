package ui

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
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
	Phase    v1alpha1.StepPhase
	Message  string
	Status   *v1alpha1.StepStatus
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

// dagFromPlan builds the graph of a translated plan, with the status's
// outcome on every node. It fails if the plan and the status disagree on the
// steps (the invoker changed since the session ran).
func dagFromPlan(plan *translators.Plan, r *record) (*dag, error) {
	ix := indexStatus(r)
	type place struct {
		target int
		role   string
		hook   string
	}
	where := map[string]place{}
	if n := plan.Layout.GlobalPreHook; n != "" {
		where[n] = place{-1, roleGlobalHook, ""}
	}
	if n := plan.Layout.GlobalPostHook; n != "" {
		where[n] = place{-1, roleGlobalHook, ""}
	}
	statsStep := map[int]string{}
	for i, t := range plan.Layout.Targets {
		if t.PreHook != "" {
			where[t.PreHook] = place{i, roleHook, ""}
		}
		if t.PostHook != "" {
			where[t.PostHook] = place{i, roleHook, ""}
		}
		for _, s := range t.Steps {
			where[s.Name] = place{i, roleStep, ""}
		}
		statsStep[i] = statsStepOf(t, r, i)
	}

	if len(ix.steps) > 0 {
		graphNames := sets.New[string]()
		for _, s := range plan.Graph.Steps {
			if !plan.Layout.Unlisted(s.Name) {
				graphNames.Insert(s.Name)
			}
		}
		statusNames := sets.KeySet(ix.steps)
		if !graphNames.Equal(statusNames) {
			return nil, fmt.Errorf("the status has steps the graph of today's invoker does not (%s), or the other way round (%s): the invoker changed since the session ran",
				strings.Join(sets.List(statusNames.Difference(graphNames)), ", "), strings.Join(sets.List(graphNames.Difference(statusNames)), ", "))
		}
	}

	d := &dag{}
	for _, s := range plan.Graph.Steps {
		if plan.Layout.Unlisted(s.Name) {
			// The verdict restates the session's phase; the repository's
			// initialisation, when it fails, is the session's message.
			continue
		}
		p, ok := where[s.Name]
		if !ok {
			p = place{-1, roleStep, ""}
		}
		n := dagNode{
			Name: s.Name, Title: s.Title(), Role: p.role, Target: p.target,
			Function: s.Labels[pipeline.LabelFunction], Hook: s.Labels[pipeline.LabelHookPhase],
			Phase: v1alpha1.StepPending,
		}
		if n.Role == roleStep && n.Function == "" {
			n.Function = functionOf(plan.Layout, s.Name)
		}
		if n.Target >= 0 && n.Target < len(plan.Layout.Targets) {
			n.TargetName = targetName(plan.Layout.Targets[n.Target].Ref)
		}
		if st, ok := ix.steps[s.Name]; ok {
			n.Status, n.Message = &st, st.Message
			if st.Phase != "" {
				n.Phase = st.Phase
			}
		}
		if n.Target >= 0 && statsStep[n.Target] == s.Name && n.Target < len(r.Targets) {
			n.Stats = r.Targets[n.Target].Stats
		}
		if n.Role != roleStep && strings.HasPrefix(n.Hook, "post") {
			n.Policy = postPolicy(s)
		}
		d.Nodes = append(d.Nodes, n)
		for _, e := range s.Dependencies {
			if !plan.Layout.Unlisted(e.Step) {
				d.Edges = append(d.Edges, dagEdge{From: e.Step, To: s.Name, When: e.When})
			}
		}
		for _, e := range s.AnyOf {
			if !plan.Layout.Unlisted(e.Step) {
				d.Edges = append(d.Edges, dagEdge{From: e.Step, To: s.Name, When: e.When, AnyOf: true})
			}
		}
	}
	return d, nil
}

// postPolicy reads a post hook's executionPolicy back from its edges, as
// the translators wrote them: OnFailure hooks wait for any of the work to
// fail, Always hooks for it to end, OnSuccess hooks for it to succeed.
func postPolicy(s pipeline.Step) string {
	for _, e := range s.AnyOf {
		if e.When == pipeline.OnFailure {
			return string(v1alpha1.HookExecuteOnFailure)
		}
	}
	for _, e := range s.Dependencies {
		if e.When == pipeline.OnEnd {
			return string(v1alpha1.HookExecuteAlways)
		}
	}
	return string(v1alpha1.HookExecuteOnSuccess)
}

// statsStepOf is the step of target i whose outputs became the host
// statistics, following controllers/sessionstatus: the last step declaring a
// snapshotID that succeeded once a snapshot id was reported, else the first
// step declaring one.
func statsStepOf(t translators.TargetLayout, r *record, i int) string {
	var declaring []string
	for _, s := range t.Steps {
		if slices.Contains(s.Outputs, "snapshotID") {
			declaring = append(declaring, s.Name)
		}
	}
	if len(declaring) == 0 {
		return ""
	}
	if i < len(r.Targets) && hasSnapshot(r.Targets[i].Stats) {
		phases := map[string]v1alpha1.StepPhase{}
		for _, s := range r.Targets[i].Steps {
			phases[s.Name] = s.Phase
		}
		for k := len(declaring) - 1; k >= 0; k-- {
			if phases[declaring[k]] == v1alpha1.StepSucceeded {
				return declaring[k]
			}
		}
	}
	return declaring[0]
}

func hasSnapshot(stats []hostStats) bool {
	for _, h := range stats {
		if h.SnapshotID != "" {
			return true
		}
	}
	return false
}

func functionOf(l translators.Layout, step string) string {
	for _, t := range l.Targets {
		for _, s := range t.Steps {
			if s.Name == step {
				return s.Function
			}
		}
	}
	return ""
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

// statsStepFromStatus guesses, without the plan, which step of a target
// produced its statistics: the first that is not a retention or check step.
func statsStepFromStatus(t targetRecord) string {
	if len(t.Stats) == 0 {
		return ""
	}
	for _, s := range t.Steps {
		f := s.Function
		if strings.Contains(f, "retention") || f == "check" || strings.HasSuffix(f, "-check") || strings.Contains(f, "verify") {
			continue
		}
		return s.Name
	}
	if len(t.Steps) > 0 {
		return t.Steps[0].Name
	}
	return ""
}

func phaseOr(p v1alpha1.StepPhase) v1alpha1.StepPhase {
	if p == "" {
		return v1alpha1.StepPending
	}
	return p
}
