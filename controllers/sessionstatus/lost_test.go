package sessionstatus

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
)

const lostMsg = "the Argo Workflow ns/wf was deleted while the session was running"

func mt(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}

// TestEndBackup: the run of
//
//	pre-hook ─▶ backup ─▶ retention ─▶ post-hook ─▶ global-post
//
// is lost while backup runs; what had ended keeps its phase, message and
// time; the rest ends at the loss.
func TestEndBackup(t *testing.T) {
	lostAt := t0.Add(time.Minute)
	tests := []struct {
		name  string
		late  map[string]LateStep
		steps []v1alpha1.StepStatus
		host  v1alpha1.HostBackupStats
	}{
		{
			name: "backup running",
			steps: []v1alpha1.StepStatus{
				{Name: "backup", Phase: v1alpha1.StepFailed, Message: lostMsg, StartedAt: mt(t0), FinishedAt: mt(lostAt)},
				{Name: "retention", Phase: v1alpha1.StepSkipped, Message: lostMsg, FinishedAt: mt(lostAt)},
			},
			host: v1alpha1.HostBackupStats{Hostname: "h", Phase: v1alpha1.HostFailed, Error: lostMsg},
		},
		{
			name: "backup succeeded after the loss",
			late: map[string]LateStep{"backup": {Succeeded: true, FinishedAt: t0.Add(2 * time.Second), Outputs: map[string]string{
				outputs.SnapshotID: "abc", outputs.Size: "7", outputs.Duration: "1.5",
			}}},
			steps: []v1alpha1.StepStatus{
				{
					Name: "backup", Phase: v1alpha1.StepSucceeded, StartedAt: mt(t0), FinishedAt: mt(t0.Add(2 * time.Second)),
					Message: "succeeded, but " + lostMsg + "; it committed snapshot abc, which this session did not record",
				},
				{Name: "retention", Phase: v1alpha1.StepSkipped, Message: lostMsg, FinishedAt: mt(lostAt)},
			},
			host: v1alpha1.HostBackupStats{Hostname: "h", Phase: v1alpha1.HostSucceeded, SnapshotID: "abc", Size: Int("7"), Duration: "1.5s"},
		},
		{
			name: "backup failed after the loss",
			late: map[string]LateStep{"backup": {}},
			steps: []v1alpha1.StepStatus{
				{Name: "backup", Phase: v1alpha1.StepFailed, Message: "failed; " + lostMsg, StartedAt: mt(t0), FinishedAt: mt(lostAt)},
				{Name: "retention", Phase: v1alpha1.StepSkipped, Message: lostMsg, FinishedAt: mt(lostAt)},
			},
			host: v1alpha1.HostBackupStats{Hostname: "h", Phase: v1alpha1.HostFailed, Error: lostMsg},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			preHook := v1alpha1.HookStatus{Name: "pre-hook", Phase: v1alpha1.StepSucceeded, StartedAt: mt(t0), FinishedAt: mt(t0)}
			st := &v1alpha1.BackupSessionStatus{
				Targets: []v1alpha1.BackupTargetStatus{{
					Phase: v1alpha1.TargetRunning,
					Steps: []v1alpha1.StepStatus{
						{Name: "backup", Phase: v1alpha1.StepRunning, StartedAt: mt(t0)},
						{Name: "retention", Phase: v1alpha1.StepPending},
					},
					PreBackupHooks:  []v1alpha1.HookStatus{preHook},
					PostBackupHooks: []v1alpha1.HookStatus{{Name: "post-hook", Phase: v1alpha1.StepPending}},
					Stats:           []v1alpha1.HostBackupStats{{Hostname: "h", Phase: v1alpha1.HostRunning}},
				}},
				GlobalHooks: &v1alpha1.BackupGlobalHooksStatus{PostBackup: &v1alpha1.HookStatus{Name: "global-post", Phase: v1alpha1.StepPending}},
			}
			EndBackup(st, Lost{Message: lostMsg, At: lostAt, Late: tt.late})
			want := v1alpha1.BackupSessionStatus{
				Targets: []v1alpha1.BackupTargetStatus{{
					Phase:           v1alpha1.TargetFailed,
					Steps:           tt.steps,
					PreBackupHooks:  []v1alpha1.HookStatus{preHook},
					PostBackupHooks: []v1alpha1.HookStatus{{Name: "post-hook", Phase: v1alpha1.StepSkipped, Message: lostMsg, FinishedAt: mt(lostAt)}},
					Stats:           []v1alpha1.HostBackupStats{tt.host},
				}},
				GlobalHooks: &v1alpha1.BackupGlobalHooksStatus{PostBackup: &v1alpha1.HookStatus{
					Name: "global-post", Phase: v1alpha1.StepSkipped, Message: lostMsg, FinishedAt: mt(lostAt),
				}},
			}
			if diff := cmp.Diff(want, *st); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEndRestore: a restore batch of two targets, a done and b running, is
// lost; a keeps its outcome.
func TestEndRestore(t *testing.T) {
	lostAt := t0.Add(time.Minute)
	done := v1alpha1.RestoreTargetStatus{
		Phase: v1alpha1.TargetSucceeded,
		Steps: []v1alpha1.StepStatus{{Name: "a-restore", Phase: v1alpha1.StepSucceeded, StartedAt: mt(t0), FinishedAt: mt(t0)}},
		Stats: []v1alpha1.HostRestoreStats{{Hostname: "a", Phase: v1alpha1.HostSucceeded}},
	}
	st := &v1alpha1.RestoreSessionStatus{
		Targets: []v1alpha1.RestoreTargetStatus{*done.DeepCopy(), {
			Phase: v1alpha1.TargetPending,
			Steps: []v1alpha1.StepStatus{{Name: "b-restore", Phase: v1alpha1.StepPending}},
			Stats: []v1alpha1.HostRestoreStats{{Hostname: "b", Phase: v1alpha1.HostPending}},
		}},
		GlobalHooks: &v1alpha1.RestoreGlobalHooksStatus{PreRestore: &v1alpha1.HookStatus{Name: "global-pre", Phase: v1alpha1.StepRunning, StartedAt: mt(t0)}},
	}
	EndRestore(st, Lost{Message: lostMsg, At: lostAt})
	want := v1alpha1.RestoreSessionStatus{
		Targets: []v1alpha1.RestoreTargetStatus{done, {
			Phase: v1alpha1.TargetFailed,
			Steps: []v1alpha1.StepStatus{{Name: "b-restore", Phase: v1alpha1.StepSkipped, Message: lostMsg, FinishedAt: mt(lostAt)}},
			Stats: []v1alpha1.HostRestoreStats{{Hostname: "b", Phase: v1alpha1.HostFailed, Error: lostMsg}},
		}},
		GlobalHooks: &v1alpha1.RestoreGlobalHooksStatus{PreRestore: &v1alpha1.HookStatus{
			Name: "global-pre", Phase: v1alpha1.StepFailed, Message: lostMsg, StartedAt: mt(t0), FinishedAt: mt(lostAt),
		}},
	}
	if diff := cmp.Diff(want, *st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}
