// Package run holds what the session controllers share: the mapping from an
// engine's per-step pipeline.NodeStatus to targets, steps, hooks, host
// statistics and a session phase (Evaluate), the conditions that follow from
// it, and a cache of translated plans. It is pure except for the cache.
//
// # From node statuses to a session
//
// The translators' Layout says which graph step is which target's pre hook,
// Function step or post hook, and which steps are the global hooks. A step
// maps to a StepPhase: Pending, Running, Succeeded; Failed and Error are
// Failed; Omitted and Skipped are Skipped. Then, for each target:
//
//   - Failed if its pre hook or a Function step failed, or its post hook failed;
//   - Succeeded if every Function step succeeded and its post hook, if any,
//     has ended without failing (a post hook its policy skipped is fine);
//   - once the run finished, Skipped if the global pre hook failed (the
//     target never started), else Failed (something stopped it: a deadline,
//     a stop), with the message of its first step that did not run;
//   - before that, Running if any of its steps started, else Pending.
//
// The session is Running until the run finished; then Failed if the
// repository's initialisation step (Layout.RepositoryInit) failed, a target
// failed or was skipped or a global hook failed, else Succeeded. The reason
// and message name the first failure in DAG order: repository
// initialisation, global pre hook, each target's pre hook, steps and post
// hook, global post hook. The verdict step (Layout.Verdict) only restates
// the outcome and is not read.
//
// Host statistics come from the target's step that reported a snapshotID
// (the last one that did), or, while none has, from the first step that
// declares one: its phase, and its outputs snapshotID, size, uploaded,
// files and duration.
package sessionstatus

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// Phase is the phase of a whole run and of the session it is, whatever the
// session's kind; the values are the API's. A run's Outcome is Pending,
// Running, Succeeded or Failed; a session also ends Skipped (a BackupSession
// only), Unknown (its run was lost) or Invalid (a restore only).
type Phase string

// The phases.
const (
	Pending   Phase = "Pending"
	Running   Phase = "Running"
	Succeeded Phase = "Succeeded"
	Failed    Phase = "Failed"
	Skipped   Phase = "Skipped"
	Unknown   Phase = "Unknown"
	Invalid   Phase = "Invalid"
)

// Warning reports whether entering p is a Warning event.
func (p Phase) Warning() bool {
	switch p {
	case Failed, Skipped, Unknown, Invalid:
		return true
	}
	return false
}

// Host is the statistics of one host of a target.
type Host struct {
	Hostname   string
	Phase      v1alpha1.HostPhase
	SnapshotID string
	Size       *int64
	Uploaded   *int64
	Files      *int64
	Duration   string
	Error      string
	FinishedAt time.Time
	// SnapshotTime is the time restic recorded for SnapshotID (the step's
	// outputs.SnapshotTime); zero when the step did not report it.
	SnapshotTime time.Time
}

// Target is the outcome of one target.
type Target struct {
	Ref       *v1alpha1.TargetRef
	Hostname  string
	Phase     v1alpha1.TargetPhase
	Steps     []v1alpha1.StepStatus
	PreHooks  []v1alpha1.HookStatus
	PostHooks []v1alpha1.HookStatus
	// Hosts are the target's hosts (one, or a workload's replicas or
	// nodes); empty when no step of the target backs up or restores.
	Hosts []Host
	// Outputs are every output of the target's steps that has a value;
	// a later step wins.
	Outputs map[string]string
	// Retention and Check are the target's retention and repository-check
	// steps, if it has them.
	Retention *v1alpha1.StepStatus
	Check     *v1alpha1.StepStatus
	// Reason and Message explain a Failed or Skipped target.
	Reason  conditions.Reason
	Message string
}

// Outcome is the outcome of a run.
type Outcome struct {
	Phase      Phase
	Reason     conditions.Reason
	Message    string
	GlobalPre  *v1alpha1.HookStatus
	GlobalPost *v1alpha1.HookStatus
	Targets    []Target
	// FinishedAt is the latest end of a step; zero if none ended.
	FinishedAt time.Time
}

// Evaluate maps node statuses onto the layout. finished says whether the
// run ended.
func Evaluate(layout *v1alpha1.RunLayout, nodes []pipeline.NodeStatus, finished bool) *Outcome {
	byName := make(map[string]pipeline.NodeStatus, len(nodes))
	out := &Outcome{}
	for _, n := range nodes {
		byName[n.Step] = n
		if n.FinishedAt.After(out.FinishedAt) {
			out.FinishedAt = n.FinishedAt
		}
	}
	node := func(name string) pipeline.NodeStatus {
		if n, ok := byName[name]; ok {
			return n
		}
		return pipeline.NodeStatus{Step: name, Phase: pipeline.PhasePending}
	}
	if layout.GlobalPreHook != "" {
		h := hookStatus(node(layout.GlobalPreHook))
		out.GlobalPre = &h
	}
	if layout.GlobalPostHook != "" {
		h := hookStatus(node(layout.GlobalPostHook))
		out.GlobalPost = &h
	}
	globalPreFailed := out.GlobalPre != nil && out.GlobalPre.Phase == v1alpha1.StepFailed
	for i := range layout.Targets {
		out.Targets = append(out.Targets, evaluateTarget(&layout.Targets[i], node, finished, globalPreFailed))
	}

	out.Phase = Running
	if !finished {
		if !anyStarted(nodes) {
			out.Phase = Pending
		}
		return out
	}
	out.Phase = Succeeded
	fail := func(reason conditions.Reason, msg string) {
		if out.Phase != Failed {
			out.Phase, out.Reason, out.Message = Failed, reason, msg
		}
	}
	if n := layout.RepositoryInit; n != "" && StepPhase(node(n).Phase) == v1alpha1.StepFailed {
		fail(conditions.ReasonRepositoryInitFailed, "the repository could not be initialised: "+conditions.Truncate(node(n).Message, 4096))
	}
	if globalPreFailed {
		fail(conditions.ReasonGlobalPreHookFailed, "the global pre hook failed: "+out.GlobalPre.Message)
	}
	for _, t := range out.Targets {
		if t.Phase == v1alpha1.TargetFailed || t.Phase == v1alpha1.TargetSkipped {
			fail(t.Reason, targetName(t)+": "+t.Message)
		}
	}
	if out.GlobalPost != nil && out.GlobalPost.Phase == v1alpha1.StepFailed {
		fail(conditions.ReasonGlobalPostHookFailed, "the global post hook failed: "+out.GlobalPost.Message)
	}
	if out.Phase == Succeeded {
		out.Reason, out.Message = conditions.ReasonSucceeded, fmt.Sprintf("%d of %d targets succeeded", len(out.Targets), len(out.Targets))
	}
	return out
}

func anyStarted(nodes []pipeline.NodeStatus) bool {
	for _, n := range nodes {
		if n.Phase != pipeline.PhasePending {
			return true
		}
	}
	return false
}

func targetName(t Target) string {
	if t.Ref == nil {
		return "target " + t.Hostname
	}
	return fmt.Sprintf("target %s/%s", t.Ref.Kind, t.Ref.Name)
}

func evaluateTarget(l *v1alpha1.TargetLayout, node func(string) pipeline.NodeStatus, finished, globalPreFailed bool) Target {
	t := Target{Hostname: l.Hostname, Outputs: map[string]string{}}
	if l.Ref != nil {
		ref := *l.Ref
		t.Ref = &ref
	}
	var (
		started, failed bool
		allSucceeded    = true
		firstNotRun     string
	)
	failWith := func(reason conditions.Reason, msg string) {
		if !failed {
			failed, t.Reason, t.Message = true, reason, msg
		}
	}
	see := func(n pipeline.NodeStatus) {
		if n.Phase != pipeline.PhasePending {
			started = started || n.Phase != pipeline.PhaseOmitted && n.Phase != pipeline.PhaseSkipped
		}
		if (n.Phase == pipeline.PhaseOmitted || n.Phase == pipeline.PhaseSkipped) && firstNotRun == "" {
			firstNotRun = fmt.Sprintf("step %s did not run: %s", n.Step, n.Message)
		}
	}
	if l.PreHook != "" {
		n := node(l.PreHook)
		see(n)
		t.PreHooks = []v1alpha1.HookStatus{hookStatus(n)}
		if t.PreHooks[0].Phase == v1alpha1.StepFailed {
			failWith(conditions.ReasonPreHookFailed, "the pre hook failed: "+n.Message)
		}
	}
	for _, ref := range l.Steps {
		n := node(ref.Name)
		see(n)
		st := stepStatus(n, ref.Function)
		t.Steps = append(t.Steps, st)
		if st.Phase != v1alpha1.StepSucceeded {
			allSucceeded = false
		}
		if st.Phase == v1alpha1.StepFailed {
			failWith(conditions.ReasonStepFailed, fmt.Sprintf("step %s failed: %s", ref.Name, n.Message))
		}
		for k, v := range n.Outputs {
			if v = strings.TrimSpace(v); v != "" {
				t.Outputs[k] = v
			}
		}
		switch ref.Role {
		case v1alpha1.RoleRetention:
			s := st
			t.Retention = &s
		case v1alpha1.RoleIntegrityCheck:
			s := st
			t.Check = &s
		}
	}
	if l.PostHook != "" {
		n := node(l.PostHook)
		see(n)
		h := hookStatus(n)
		t.PostHooks = []v1alpha1.HookStatus{h}
		if h.Phase == v1alpha1.StepFailed {
			failWith(conditions.ReasonPostHookFailed, "the post hook failed: "+n.Message)
		}
		if !n.Phase.Completed() {
			allSucceeded = false
		}
	}
	phase := func(step string) v1alpha1.StepPhase { return StepPhase(node(step).Phase) }
	for _, h := range l.Hosts() {
		if i := l.StatsStep(h, phase); i >= 0 {
			t.Hosts = append(t.Hosts, host(h, node(l.Steps[i].Name)))
		}
	}

	switch {
	case failed:
		t.Phase = v1alpha1.TargetFailed
	case allSucceeded && len(l.Steps) > 0:
		t.Phase, t.Reason = v1alpha1.TargetSucceeded, conditions.ReasonSucceeded
	case finished && globalPreFailed:
		t.Phase, t.Reason, t.Message = v1alpha1.TargetSkipped, conditions.ReasonGlobalPreHookFailed, "skipped: the global pre hook failed"
	case finished:
		t.Phase, t.Reason, t.Message = v1alpha1.TargetFailed, conditions.ReasonTargetFailed, firstNotRun
		if t.Message == "" {
			t.Message = "the run ended before the target finished"
		}
	case started:
		t.Phase = v1alpha1.TargetRunning
	default:
		t.Phase = v1alpha1.TargetPending
	}
	if t.Phase == v1alpha1.TargetFailed {
		if left := leftQuiesced(l, node); left != "" {
			t.Message += "; " + left
		}
	}
	for i := range t.Hosts {
		if h := &t.Hosts[i]; t.Phase == v1alpha1.TargetFailed && h.Phase != v1alpha1.HostSucceeded {
			h.Phase = v1alpha1.HostFailed
			if h.Error == "" {
				h.Error = t.Message
			}
		}
	}
	if t.Phase == v1alpha1.TargetSkipped {
		t.Hosts = nil
	}
	return t
}

// leftQuiesced says where a failed workload restore left its workload: a
// quiesce step that succeeded and a resume that did not leave it at zero
// replicas, with its count in an annotation; "" otherwise.
func leftQuiesced(l *v1alpha1.TargetLayout, node func(string) pipeline.NodeStatus) string {
	var quiesced, resumed bool
	var replicas string
	for _, ref := range l.Steps {
		n := node(ref.Name)
		switch ref.Role {
		case v1alpha1.RoleQuiesce:
			quiesced, replicas = n.Phase == pipeline.PhaseSucceeded, strings.TrimSpace(n.Outputs[outputs.Replicas])
		case v1alpha1.RoleResume:
			resumed = n.Phase == pipeline.PhaseSucceeded
		}
	}
	if !quiesced || resumed || l.Ref == nil {
		return ""
	}
	count := "its replica count"
	if replicas != "" {
		count = "its " + replicas + " replica(s)"
	}
	kind := strings.ToLower(l.Ref.Kind)
	return fmt.Sprintf("%s/%s is left scaled to 0 so that nothing runs on half-restored data (%s recorded in annotation %s); once its volumes are right, scale it back with `kubectl -n <namespace> scale %s/%s --replicas=%s` and remove the annotation, or run `stashflow fn workload-resume --namespace=<namespace> --kind=%s --name=%s`",
		l.Ref.Kind, l.Ref.Name, count, v1alpha1.AnnotationRestoreReplicas, kind, l.Ref.Name, cmp.Or(replicas, "N"), l.Ref.Kind, l.Ref.Name)
}

func host(hostname string, n pipeline.NodeStatus) Host {
	h := Host{Hostname: hostname, FinishedAt: n.FinishedAt}
	if h.Hostname == "" {
		h.Hostname = "host-0"
	}
	switch n.Phase {
	case pipeline.PhaseSucceeded:
		h.Phase = v1alpha1.HostSucceeded
	case pipeline.PhaseFailed, pipeline.PhaseError:
		h.Phase, h.Error = v1alpha1.HostFailed, conditions.Truncate(n.Message, 4096)
	case pipeline.PhaseRunning:
		h.Phase = v1alpha1.HostRunning
	default:
		h.Phase = v1alpha1.HostPending
	}
	h.SnapshotID = strings.TrimSpace(n.Outputs[outputs.SnapshotID])
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(n.Outputs[outputs.SnapshotTime])); err == nil && h.SnapshotID != "" {
		h.SnapshotTime = t
	}
	h.Size = Int(n.Outputs[outputs.Size])
	h.Uploaded = Int(n.Outputs[outputs.Uploaded])
	h.Files = Int(n.Outputs[outputs.Files])
	h.Duration = Duration(n.Outputs[outputs.Duration])
	return h
}

// Int parses a non-negative integer output; nil if empty or not a number.
func Int(s string) *int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return nil
	}
	return &v
}

// Duration normalises a duration output: Go syntax as is, a bare number as seconds.
func Duration(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d.String()
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 {
		return time.Duration(f * float64(time.Second)).Round(time.Millisecond).String()
	}
	return ""
}

// StepPhase maps an engine phase onto a status phase.
func StepPhase(p pipeline.Phase) v1alpha1.StepPhase {
	switch p {
	case pipeline.PhaseRunning:
		return v1alpha1.StepRunning
	case pipeline.PhaseSucceeded:
		return v1alpha1.StepSucceeded
	case pipeline.PhaseFailed, pipeline.PhaseError:
		return v1alpha1.StepFailed
	case pipeline.PhaseOmitted, pipeline.PhaseSkipped:
		return v1alpha1.StepSkipped
	}
	return v1alpha1.StepPending
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t)
	return &mt
}

func stepStatus(n pipeline.NodeStatus, function string) v1alpha1.StepStatus {
	return v1alpha1.StepStatus{
		Name:       n.Step,
		Function:   function,
		Phase:      StepPhase(n.Phase),
		Message:    conditions.Truncate(n.Message, 4096),
		StartedAt:  timeOrNil(n.StartedAt),
		FinishedAt: timeOrNil(n.FinishedAt),
	}
}

func hookStatus(n pipeline.NodeStatus) v1alpha1.HookStatus {
	return v1alpha1.HookStatus{
		Name:       n.Step,
		Phase:      StepPhase(n.Phase),
		Message:    conditions.Truncate(n.Message, 4096),
		StartedAt:  timeOrNil(n.StartedAt),
		FinishedAt: timeOrNil(n.FinishedAt),
	}
}

// Stopped returns nodes as they are once a stop took effect: steps still
// running end Failed and steps not started end Omitted, with message. A
// step that was started but not yet seen Running (its pod created, the
// engine's view behind its process) may have done work: it ends Failed,
// never "did not run".
func Stopped(nodes []pipeline.NodeStatus, message string, now time.Time) []pipeline.NodeStatus {
	out := make([]pipeline.NodeStatus, len(nodes))
	for i, n := range nodes {
		switch {
		case n.Phase == pipeline.PhaseRunning, !n.Phase.Completed() && !n.StartedAt.IsZero():
			n.Phase, n.Message, n.FinishedAt = pipeline.PhaseFailed, message, now
		case !n.Phase.Completed():
			n.Phase, n.Message = pipeline.PhaseOmitted, message
		}
		out[i] = n
	}
	return out
}
