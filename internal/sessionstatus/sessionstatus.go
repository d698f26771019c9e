package sessionstatus

import (
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// Phase is a run's overall state, the same words for backup and restore.
type Phase string

// A run's phases.
const (
	Pending   Phase = "Pending"
	Running   Phase = "Running"
	Succeeded Phase = "Succeeded"
	Failed    Phase = "Failed"
)

// Summary is the engine-neutral result of mapping node statuses onto a layout.
type Summary struct {
	Phase Phase
	// Message names the first failure, in graph order: "target AppBinding/etcd:
	// step etcd-backup: exit code 1: ...".
	Message    string
	Targets    []Target
	GlobalPre  *v1alpha1.HookStatus
	GlobalPost *v1alpha1.HookStatus
	// StartedAt and FinishedAt span the steps that ran.
	StartedAt, FinishedAt time.Time
}

// Target is one target's part of the result.
type Target struct {
	Ref       v1alpha1.TargetRef
	Hostname  string
	Phase     v1alpha1.TargetPhase
	Steps     []v1alpha1.StepStatus
	PreHooks  []v1alpha1.HookStatus
	PostHooks []v1alpha1.HookStatus
	// Outputs of the step that produced the snapshot (declares snapshotID), if any.
	Snapshot map[string]string
	// Failure is the first failed node's message.
	Failure string
}

// Summarize maps nodes (by step name) onto the layout.
func Summarize(layout translators.Layout, nodes []pipeline.NodeStatus) Summary {
	byStep := make(map[string]pipeline.NodeStatus, len(nodes))
	var s Summary
	for _, n := range nodes {
		byStep[n.Step] = n
		if !n.StartedAt.IsZero() && (s.StartedAt.IsZero() || n.StartedAt.Before(s.StartedAt)) {
			s.StartedAt = n.StartedAt
		}
		if n.FinishedAt.After(s.FinishedAt) {
			s.FinishedAt = n.FinishedAt
		}
	}
	node := func(name string) pipeline.NodeStatus {
		if n, ok := byStep[name]; ok {
			return n
		}
		return pipeline.NodeStatus{Step: name, Phase: pipeline.PhasePending}
	}
	failed, running, allDone, anyStarted := false, false, true, false
	var firstFailure string
	note := func(where string, n pipeline.NodeStatus) {
		switch n.Phase {
		case pipeline.PhaseFailed, pipeline.PhaseError:
			failed = true
			if firstFailure == "" {
				firstFailure = where + ": " + n.Message
			}
		case pipeline.PhaseRunning:
			running = true
		}
		if !n.Phase.Completed() {
			allDone = false
		}
		if n.Phase != pipeline.PhasePending {
			anyStarted = true
		}
	}
	if layout.GlobalPreHook != "" {
		n := node(layout.GlobalPreHook)
		note("global pre hook", n)
		s.GlobalPre = hookStatus(n)
	}
	for _, tl := range layout.Targets {
		t := Target{Ref: tl.Ref, Hostname: tl.Hostname}
		where := "target " + tl.Ref.Kind + "/" + tl.Ref.Name
		if tl.Ref.Name == "" {
			where = "host " + tl.Hostname
		}
		tFailed, tRunning, tDone, stepsOK, stepsSkipped := false, false, true, true, true
		visit := func(what string, n pipeline.NodeStatus) {
			note(where+": "+what, n)
			switch n.Phase {
			case pipeline.PhaseFailed, pipeline.PhaseError:
				tFailed = true
				if t.Failure == "" {
					t.Failure = what + ": " + n.Message
				}
			case pipeline.PhaseRunning:
				tRunning = true
			}
			if !n.Phase.Completed() {
				tDone = false
			}
		}
		if tl.PreHook != "" {
			n := node(tl.PreHook)
			visit("pre hook", n)
			t.PreHooks = append(t.PreHooks, *hookStatus(n))
		}
		for _, sr := range tl.Steps {
			n := node(sr.Name)
			visit("step "+sr.Name, n)
			t.Steps = append(t.Steps, stepStatus(sr, n))
			stepsOK = stepsOK && n.Phase == pipeline.PhaseSucceeded
			stepsSkipped = stepsSkipped && (n.Phase == pipeline.PhaseOmitted || n.Phase == pipeline.PhaseSkipped)
			if t.Snapshot == nil && declares(sr, "snapshotID") && n.Outputs["snapshotID"] != "" {
				t.Snapshot = n.Outputs
			}
		}
		if tl.PostHook != "" {
			n := node(tl.PostHook)
			visit("post hook", n)
			t.PostHooks = append(t.PostHooks, *hookStatus(n))
		}
		switch {
		case tFailed:
			t.Phase = v1alpha1.TargetFailed
		case tRunning || (!tDone && anyStarted):
			t.Phase = v1alpha1.TargetRunning
		case tDone && stepsOK:
			t.Phase = v1alpha1.TargetSucceeded
		case tDone && stepsSkipped:
			t.Phase = v1alpha1.TargetSkipped
		case tDone:
			t.Phase = v1alpha1.TargetFailed
		default:
			t.Phase = v1alpha1.TargetPending
		}
		if t.Phase == v1alpha1.TargetSkipped || (t.Phase == v1alpha1.TargetFailed && !tFailed) {
			// Nothing of the target ran, because something before it failed.
			failed = true
			if t.Failure == "" {
				t.Failure = "its steps did not run"
			}
		}
		s.Targets = append(s.Targets, t)
	}
	if layout.GlobalPostHook != "" {
		n := node(layout.GlobalPostHook)
		note("global post hook", n)
		s.GlobalPost = hookStatus(n)
	}
	switch {
	case allDone && failed:
		s.Phase = Failed
	case allDone:
		s.Phase = Succeeded
	case running || anyStarted:
		s.Phase = Running
	default:
		s.Phase = Pending
	}
	if failed {
		s.Message = firstFailure
	}
	return s
}

func declares(sr translators.StepRef, output string) bool {
	for _, o := range sr.Outputs {
		if o == output {
			return true
		}
	}
	return false
}

// StepPhase maps an engine phase onto a status phase: Error is Failed,
// Omitted and Skipped are Skipped.
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

func stepStatus(sr translators.StepRef, n pipeline.NodeStatus) v1alpha1.StepStatus {
	return v1alpha1.StepStatus{
		Name: sr.Name, Function: sr.Function, Phase: StepPhase(n.Phase), Message: n.Message,
		StartedAt: timePtr(n.StartedAt), FinishedAt: timePtr(n.FinishedAt),
	}
}

func hookStatus(n pipeline.NodeStatus) *v1alpha1.HookStatus {
	return &v1alpha1.HookStatus{
		Name: n.Step, Phase: StepPhase(n.Phase), Message: n.Message,
		StartedAt: timePtr(n.StartedAt), FinishedAt: timePtr(n.FinishedAt),
	}
}

func timePtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}

// Int64 parses an integer output; nil when empty or not a number.
func Int64(s string) *int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return &n
}
