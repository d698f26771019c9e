package sessionstatus

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/outputs"
)

// Lost is what is known of a run that its engine lost (its Argo Workflow
// was deleted): nothing will report its steps any more, so the status must
// end them itself.
type Lost struct {
	// Message says what happened, e.g. "the Argo Workflow ns/x was deleted
	// while the session was running".
	Message string
	// At is when the loss was seen: the finish time of every step, hook
	// and host that had not ended.
	At time.Time
	// Late are the steps, by name, known to have started or ended that the
	// status may not show yet: from the nodes of a Workflow being deleted,
	// or from the pods found when the run was lost, still running (and
	// deleted) or ended (a step pod that completed after its Workflow went
	// away).
	Late map[string]LateStep
}

// LateStep is what a step's pod showed when its run was lost.
type LateStep struct {
	// Stopped is true if its pod was still running and was deleted: the
	// step ran, and ends Failed with the loss's message even if the status
	// did not show it started yet.
	Stopped bool
	// Succeeded is true if the pod had ended and its process exited 0.
	Succeeded bool
	// Outputs are its output parameters, if they could be read.
	Outputs map[string]string
	// StartedAt and FinishedAt are when it started and ended; zero if unknown.
	StartedAt, FinishedAt time.Time
}

// EndBackup ends every step, hook, target and host of a BackupSession's
// status that had not ended when its run was lost: a running step or hook
// ends Failed and one not started ends Skipped (the API's word for a step
// that never ran), both with the loss's message and finish time; targets
// and hosts still Pending or Running end Failed. A step in l.Late ends as
// its pod showed: Failed if it was stopped, else as it ended; the snapshot of a late step that succeeded is put on its
// target's host and named in the step's message, so that it is not lost
// from sight although no Snapshot object is made for it.
func EndBackup(st *v1alpha1.BackupSessionStatus, l Lost) {
	for i := range st.Targets {
		t := &st.Targets[i]
		late := endSteps(t.Steps, l)
		endHooks(t.PreBackupHooks, l)
		endHooks(t.PostBackupHooks, l)
		t.Phase = endTarget(t.Phase)
		for j := range t.Stats {
			h := &t.Stats[j]
			if late.snapshotID != "" && h.SnapshotID == "" {
				h.Phase, h.SnapshotID, h.Error = v1alpha1.HostSucceeded, late.snapshotID, ""
				h.Size, h.Uploaded, h.Files = Int(late.outputs[outputs.Size]), Int(late.outputs[outputs.Uploaded]), Int(late.outputs[outputs.Files])
				h.Duration = Duration(late.outputs[outputs.Duration])
				continue
			}
			h.Phase, h.Error = endHost(h.Phase, h.Error, l.Message)
		}
	}
	if g := st.GlobalHooks; g != nil {
		endHook(g.PreBackup, l)
		endHook(g.PostBackup, l)
	}
}

// EndRestore is EndBackup for a RestoreSession's or RestoreBatch's status.
func EndRestore(st *v1alpha1.RestoreSessionStatus, l Lost) {
	for i := range st.Targets {
		t := &st.Targets[i]
		endSteps(t.Steps, l)
		endHooks(t.PreRestoreHooks, l)
		endHooks(t.PostRestoreHooks, l)
		t.Phase = endTarget(t.Phase)
		for j := range t.Stats {
			h := &t.Stats[j]
			h.Phase, h.Error = endHost(h.Phase, h.Error, l.Message)
		}
	}
	if g := st.GlobalHooks; g != nil {
		endHook(g.PreRestore, l)
		endHook(g.PostRestore, l)
	}
}

// lateSnapshot is the snapshot a late step of a target committed.
type lateSnapshot struct {
	snapshotID string
	outputs    map[string]string
}

func endSteps(steps []v1alpha1.StepStatus, l Lost) lateSnapshot {
	var snap lateSnapshot
	for i := range steps {
		s := &steps[i]
		if ended(s.Phase) {
			continue
		}
		if late, ok := l.Late[s.Name]; ok {
			if s.StartedAt == nil {
				s.StartedAt = timeOrNil(late.StartedAt)
			}
			switch {
			case late.Stopped:
				s.Phase, s.Message = v1alpha1.StepFailed, l.Message
			case late.Succeeded:
				s.Phase, s.Message = v1alpha1.StepSucceeded, "succeeded, but "+l.Message
				if id := late.Outputs[outputs.SnapshotID]; id != "" {
					s.Message += fmt.Sprintf("; it committed snapshot %s, which this session did not record", id)
					snap = lateSnapshot{snapshotID: id, outputs: late.Outputs}
				}
			default:
				s.Phase, s.Message = v1alpha1.StepFailed, "failed; "+l.Message
			}
			s.Message = conditions.Truncate(s.Message, 4096)
			s.FinishedAt = timeOrNil(late.FinishedAt)
			if s.FinishedAt == nil || late.Stopped {
				s.FinishedAt = at(l)
			}
			continue
		}
		s.Phase, s.Message, s.FinishedAt = endPhase(s.Phase), conditions.Truncate(l.Message, 4096), at(l)
	}
	return snap
}

func endHooks(hooks []v1alpha1.HookStatus, l Lost) {
	for i := range hooks {
		endHook(&hooks[i], l)
	}
}

func endHook(h *v1alpha1.HookStatus, l Lost) {
	if h == nil || ended(h.Phase) {
		return
	}
	h.Phase, h.Message, h.FinishedAt = endPhase(h.Phase), conditions.Truncate(l.Message, 4096), at(l)
}

// endPhase is what a step or hook that had not ended becomes.
func endPhase(p v1alpha1.StepPhase) v1alpha1.StepPhase {
	if p == v1alpha1.StepRunning {
		return v1alpha1.StepFailed
	}
	return v1alpha1.StepSkipped
}

func ended(p v1alpha1.StepPhase) bool {
	return p == v1alpha1.StepSucceeded || p == v1alpha1.StepFailed || p == v1alpha1.StepSkipped
}

func endTarget(p v1alpha1.TargetPhase) v1alpha1.TargetPhase {
	if p == v1alpha1.TargetSucceeded || p == v1alpha1.TargetSkipped {
		return p
	}
	return v1alpha1.TargetFailed
}

func endHost(p v1alpha1.HostPhase, errMsg, msg string) (v1alpha1.HostPhase, string) {
	if p == v1alpha1.HostSucceeded || p == v1alpha1.HostFailed {
		return p, errMsg
	}
	return v1alpha1.HostFailed, conditions.Truncate(msg, 4096)
}

func at(l Lost) *metav1.Time {
	t := metav1.NewTime(l.At)
	return &t
}
