package sessionstatus

import (
	"github.com/dustin/go-humanize"
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// SetBackup writes the run's targets, hooks and their conditions into the
// status. Targets keep their conditions (and so their transition times)
// from one reconcile to the next by position.
func SetBackup(s *v1alpha1.BackupSession, o *Outcome) {
	st := &s.Status
	st.Targets = setTargets(o, st.Targets, s.Generation, Backup,
		func(ts *v1alpha1.BackupTargetStatus) *[]v1alpha1.Condition { return &ts.Conditions },
		func(t *Target) v1alpha1.BackupTargetStatus {
			ts := v1alpha1.BackupTargetStatus{Ref: t.Ref, Phase: t.Phase, Steps: t.Steps, PreBackupHooks: t.PreHooks, PostBackupHooks: t.PostHooks}
			for _, h := range t.Hosts {
				ts.Stats = append(ts.Stats, v1alpha1.HostBackupStats{
					Hostname: h.Hostname, Phase: h.Phase, SnapshotID: h.SnapshotID, Size: h.Size,
					Uploaded: h.Uploaded, Files: h.Files, Duration: h.Duration, Error: h.Error,
					Snapshots: stashSnapshots(&h),
				})
			}
			if len(t.Hosts) > 0 {
				ts.TotalHosts = ptr.To(int32(len(t.Hosts)))
			}
			return ts
		})
	if o.GlobalPre != nil || o.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.BackupGlobalHooksStatus{PreBackup: o.GlobalPre, PostBackup: o.GlobalPost}
	}
	Backup.GlobalConditions(&st.Conditions, s.Generation, o)
}

// SetRestore writes the run's targets, hooks and their conditions into the
// status, as SetBackup does.
func SetRestore(st *v1alpha1.RestoreSessionStatus, gen int64, o *Outcome) {
	st.Targets = setTargets(o, st.Targets, gen, Restore,
		func(ts *v1alpha1.RestoreTargetStatus) *[]v1alpha1.Condition { return &ts.Conditions },
		func(t *Target) v1alpha1.RestoreTargetStatus {
			ts := v1alpha1.RestoreTargetStatus{Ref: t.Ref, Phase: t.Phase, Steps: t.Steps, PreRestoreHooks: t.PreHooks, PostRestoreHooks: t.PostHooks}
			for _, h := range t.Hosts {
				ts.Stats = append(ts.Stats, v1alpha1.HostRestoreStats{
					Hostname: h.Hostname, Phase: h.Phase, SnapshotID: h.SnapshotID, Size: h.Size,
					Files: h.Files, Duration: h.Duration, Error: h.Error,
				})
			}
			if len(t.Hosts) > 0 {
				ts.TotalHosts = ptr.To(int32(len(t.Hosts)))
			}
			return ts
		})
	if o.GlobalPre != nil || o.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.RestoreGlobalHooksStatus{PreRestore: o.GlobalPre, PostRestore: o.GlobalPost}
	}
	Restore.GlobalConditions(&st.Conditions, gen, o)
}

// setTargets builds one target status per outcome target with build, keeps
// each target's conditions from old by position and sets them from the
// outcome in v's words.
func setTargets[T any](o *Outcome, old []T, gen int64, v Vocabulary, conds func(*T) *[]v1alpha1.Condition, build func(*Target) T) []T {
	out := make([]T, len(o.Targets))
	for i := range o.Targets {
		out[i] = build(&o.Targets[i])
		if i < len(old) {
			*conds(&out[i]) = *conds(&old[i])
		}
		v.TargetConditions(conds(&out[i]), gen, &o.Targets[i])
	}
	return out
}

// stashSnapshots is a host's snapshot in Stash's form (targets[].stats[].snapshots[]),
// for what reads Stash's status: its id, sizes as Stash formats them, the backup's
// duration and its file count; nil while the host has no snapshot.
func stashSnapshots(h *Host) []v1alpha1.SnapshotStats {
	if h.SnapshotID == "" {
		return nil
	}
	s := v1alpha1.SnapshotStats{Name: h.SnapshotID, ProcessingTime: h.Duration}
	if h.Size != nil && *h.Size >= 0 {
		s.TotalSize = humanize.IBytes(uint64(*h.Size))
	}
	if h.Uploaded != nil && *h.Uploaded >= 0 {
		s.Uploaded = humanize.IBytes(uint64(*h.Uploaded))
	}
	if h.Files != nil {
		s.FileStats = &v1alpha1.FileStats{TotalFiles: ptr.To(*h.Files)}
	}
	return []v1alpha1.SnapshotStats{s}
}
