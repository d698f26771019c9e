package sessionstatus

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
)

// layout of a batch:
//
//	global-pre ─▶ [a: a-pre ─▶ a-backup ─▶ a-retention] ─┐
//	           ─▶ [b: b-backup ─▶ b-post]                ├─▶ global-post
func layout() translators.Layout {
	return translators.Layout{
		GlobalPreHook:  "global-pre",
		GlobalPostHook: "global-post",
		Targets: []translators.TargetLayout{
			{Ref: v1alpha1.TargetRef{Kind: "AppBinding", Name: "a"}, Hostname: "a", PreHook: "a-pre", Steps: []translators.StepRef{
				{Name: "a-backup", Function: "etcd-backup", Outputs: []string{"snapshotID", "size"}},
				{Name: "a-retention", Function: "retention"},
			}},
			{Ref: v1alpha1.TargetRef{Kind: "PersistentVolumeClaim", Name: "b"}, Hostname: "b", PostHook: "b-post", Steps: []translators.StepRef{
				{Name: "b-backup", Function: "volume-backup", Outputs: []string{"snapshotID"}},
			}},
		},
	}
}

func nodes(phases map[string]pipeline.Phase) []pipeline.NodeStatus {
	t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	var out []pipeline.NodeStatus
	i := 0
	for _, name := range []string{"global-pre", "a-pre", "a-backup", "a-retention", "b-backup", "b-post", "global-post"} {
		p, ok := phases[name]
		if !ok {
			continue
		}
		n := pipeline.NodeStatus{Step: name, Phase: p}
		if p != pipeline.PhasePending && p != pipeline.PhaseOmitted {
			n.StartedAt = t0.Add(time.Duration(i) * time.Second)
			if p.Completed() {
				n.FinishedAt = n.StartedAt.Add(time.Second)
			}
		}
		if p == pipeline.PhaseFailed {
			n.Message = "exit code 1: boom"
		}
		if name == "a-backup" && p == pipeline.PhaseSucceeded {
			n.Outputs = map[string]string{"snapshotID": "abc123", "size": "2048"}
		}
		out = append(out, n)
		i++
	}
	return out
}

func TestSummarize(t *testing.T) {
	const (
		ok      = pipeline.PhaseSucceeded
		failed  = pipeline.PhaseFailed
		omitted = pipeline.PhaseOmitted
		running = pipeline.PhaseRunning
	)
	tests := []struct {
		name         string
		phases       map[string]pipeline.Phase
		wantPhase    Phase
		wantTargets  []v1alpha1.TargetPhase
		wantMessage  string
		wantSnapshot string
	}{
		{
			name:        "nothing started",
			phases:      map[string]pipeline.Phase{},
			wantPhase:   Pending,
			wantTargets: []v1alpha1.TargetPhase{v1alpha1.TargetPending, v1alpha1.TargetPending},
		},
		{
			name:        "running",
			phases:      map[string]pipeline.Phase{"global-pre": ok, "a-pre": running},
			wantPhase:   Running,
			wantTargets: []v1alpha1.TargetPhase{v1alpha1.TargetRunning, v1alpha1.TargetRunning},
		},
		{
			name: "all succeeded",
			phases: map[string]pipeline.Phase{"global-pre": ok, "a-pre": ok, "a-backup": ok, "a-retention": ok,
				"b-backup": ok, "b-post": ok, "global-post": ok},
			wantPhase:    Succeeded,
			wantTargets:  []v1alpha1.TargetPhase{v1alpha1.TargetSucceeded, v1alpha1.TargetSucceeded},
			wantSnapshot: "abc123",
		},
		{
			name: "a pre hook fails",
			phases: map[string]pipeline.Phase{"global-pre": ok, "a-pre": failed, "a-backup": omitted, "a-retention": omitted,
				"b-backup": ok, "b-post": ok, "global-post": ok},
			wantPhase:   Failed,
			wantTargets: []v1alpha1.TargetPhase{v1alpha1.TargetFailed, v1alpha1.TargetSucceeded},
			wantMessage: "target AppBinding/a: pre hook: exit code 1: boom",
		},
		{
			name: "a post hook fails: the session fails, the target's data is safe but it is Failed",
			phases: map[string]pipeline.Phase{"global-pre": ok, "a-pre": ok, "a-backup": ok, "a-retention": ok,
				"b-backup": ok, "b-post": failed, "global-post": ok},
			wantPhase:    Failed,
			wantTargets:  []v1alpha1.TargetPhase{v1alpha1.TargetSucceeded, v1alpha1.TargetFailed},
			wantMessage:  "target PersistentVolumeClaim/b: post hook: exit code 1: boom",
			wantSnapshot: "abc123",
		},
		{
			name: "the global pre hook fails: targets are skipped",
			phases: map[string]pipeline.Phase{"global-pre": failed, "a-pre": omitted, "a-backup": omitted, "a-retention": omitted,
				"b-backup": omitted, "b-post": omitted, "global-post": ok},
			wantPhase:   Failed,
			wantTargets: []v1alpha1.TargetPhase{v1alpha1.TargetSkipped, v1alpha1.TargetSkipped},
			wantMessage: "global pre hook: exit code 1: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(layout(), nodes(tt.phases))
			var gotTargets []v1alpha1.TargetPhase
			for _, tg := range s.Targets {
				gotTargets = append(gotTargets, tg.Phase)
			}
			got := []any{s.Phase, gotTargets, s.Message}
			want := []any{tt.wantPhase, tt.wantTargets, tt.wantMessage}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var st v1alpha1.BackupSessionStatus
			ApplyBackup(&st, s)
			if got := st.Targets[0].Stats[0].SnapshotID; got != tt.wantSnapshot {
				t.Errorf("snapshotID = %q, want %q", got, tt.wantSnapshot)
			}
			if tt.wantSnapshot != "" && *st.Targets[0].Stats[0].Size != 2048 {
				t.Errorf("size = %v", st.Targets[0].Stats[0].Size)
			}
			if len(st.Targets[0].Steps) != 2 || st.GlobalHooks == nil {
				t.Errorf("status lacks steps or global hooks: %+v", st)
			}
		})
	}
}
