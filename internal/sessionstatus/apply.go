package sessionstatus

import (
	"github.com/stashflow/stashflow/api/v1alpha1"
)

// ApplyBackup writes the summary into a BackupSession's status: phase,
// targets (steps, hooks, stats), global hooks and duration. Conditions are
// the caller's.
func ApplyBackup(st *v1alpha1.BackupSessionStatus, s Summary) {
	st.Phase = v1alpha1.BackupSessionPhase(s.Phase)
	st.Message = s.Message
	st.Targets = st.Targets[:0]
	for _, t := range s.Targets {
		ref := t.Ref
		ts := v1alpha1.BackupTargetStatus{
			Ref: &ref, Phase: t.Phase, TotalHosts: ptr(int32(1)),
			Steps: t.Steps, PreBackupHooks: t.PreHooks, PostBackupHooks: t.PostHooks,
		}
		host := v1alpha1.HostBackupStats{Hostname: t.Hostname, Phase: hostPhase(t.Phase), Error: t.Failure}
		if o := t.Snapshot; o != nil {
			host.SnapshotID, host.Duration = o["snapshotID"], o["duration"]
			host.Size, host.Uploaded, host.Files = Int64(o["size"]), Int64(o["uploaded"]), Int64(o["files"])
		}
		ts.Stats = []v1alpha1.HostBackupStats{host}
		st.Targets = append(st.Targets, ts)
	}
	if s.GlobalPre != nil || s.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.BackupGlobalHooksStatus{PreBackup: s.GlobalPre, PostBackup: s.GlobalPost}
	}
	if !s.StartedAt.IsZero() && !s.FinishedAt.IsZero() && (s.Phase == Succeeded || s.Phase == Failed) {
		st.SessionDuration = s.FinishedAt.Sub(s.StartedAt).Round(1e9).String()
	}
}

// ApplyRestore writes the summary into a RestoreSession's (or a
// RestoreBatch's) status.
func ApplyRestore(st *v1alpha1.RestoreSessionStatus, s Summary) {
	st.Phase = v1alpha1.RestorePhase(s.Phase)
	st.Message = s.Message
	st.Targets = st.Targets[:0]
	for _, t := range s.Targets {
		ref := t.Ref
		ts := v1alpha1.RestoreTargetStatus{
			Ref: &ref, Phase: t.Phase, TotalHosts: ptr(int32(1)),
			Steps: t.Steps, PreRestoreHooks: t.PreHooks, PostRestoreHooks: t.PostHooks,
		}
		host := v1alpha1.HostRestoreStats{Hostname: t.Hostname, Phase: hostPhase(t.Phase), Error: t.Failure}
		if o := t.Snapshot; o != nil {
			host.SnapshotID, host.Duration = o["snapshotID"], o["duration"]
			host.Size, host.Files = Int64(o["size"]), Int64(o["files"])
		}
		ts.Stats = []v1alpha1.HostRestoreStats{host}
		st.Targets = append(st.Targets, ts)
	}
	if s.GlobalPre != nil || s.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.RestoreGlobalHooksStatus{PreRestore: s.GlobalPre, PostRestore: s.GlobalPost}
	}
	if !s.StartedAt.IsZero() && !s.FinishedAt.IsZero() && (s.Phase == Succeeded || s.Phase == Failed) {
		st.SessionDuration = s.FinishedAt.Sub(s.StartedAt).Round(1e9).String()
	}
}

func hostPhase(p v1alpha1.TargetPhase) v1alpha1.HostPhase {
	switch p {
	case v1alpha1.TargetSucceeded:
		return v1alpha1.HostSucceeded
	case v1alpha1.TargetFailed, v1alpha1.TargetSkipped:
		return v1alpha1.HostFailed
	case v1alpha1.TargetRunning:
		return v1alpha1.HostRunning
	}
	return v1alpha1.HostPending
}

func ptr[T any](v T) *T { return &v }
