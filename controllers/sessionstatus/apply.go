package sessionstatus

import (
	"github.com/stashflow/stashflow/api/v1alpha1"
)

// SetBackup writes the run's targets, hooks and their conditions into the
// status. Targets keep their conditions (and so their transition times)
// from one reconcile to the next by position.
func SetBackup(s *v1alpha1.BackupSession, o *Outcome) {
	st := &s.Status
	targets := make([]v1alpha1.BackupTargetStatus, len(o.Targets))
	for i := range o.Targets {
		t := &o.Targets[i]
		ts := v1alpha1.BackupTargetStatus{
			Ref:             t.Ref,
			Phase:           t.Phase,
			Steps:           t.Steps,
			PreBackupHooks:  t.PreHooks,
			PostBackupHooks: t.PostHooks,
		}
		if i < len(st.Targets) {
			ts.Conditions = st.Targets[i].Conditions
		}
		if t.Host != nil {
			ts.TotalHosts = oneHost()
			ts.Stats = []v1alpha1.HostBackupStats{{
				Hostname:   t.Host.Hostname,
				Phase:      t.Host.Phase,
				SnapshotID: t.Host.SnapshotID,
				Size:       t.Host.Size,
				Uploaded:   t.Host.Uploaded,
				Files:      t.Host.Files,
				Duration:   t.Host.Duration,
				Error:      t.Host.Error,
			}}
		}
		Backup.TargetConditions(&ts.Conditions, s.Generation, t)
		targets[i] = ts
	}
	st.Targets = targets
	if o.GlobalPre != nil || o.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.BackupGlobalHooksStatus{PreBackup: o.GlobalPre, PostBackup: o.GlobalPost}
	}
	Backup.GlobalConditions(&st.Conditions, s.Generation, o)
}

// SetRestore writes the run's targets, hooks and their conditions into the
// status. Targets keep their conditions from one reconcile to the next by
// position.
func SetRestore(st *v1alpha1.RestoreSessionStatus, gen int64, o *Outcome) {
	targets := make([]v1alpha1.RestoreTargetStatus, len(o.Targets))
	for i := range o.Targets {
		t := &o.Targets[i]
		ts := v1alpha1.RestoreTargetStatus{
			Ref:              t.Ref,
			Phase:            t.Phase,
			Steps:            t.Steps,
			PreRestoreHooks:  t.PreHooks,
			PostRestoreHooks: t.PostHooks,
		}
		if i < len(st.Targets) {
			ts.Conditions = st.Targets[i].Conditions
		}
		if t.Host != nil {
			ts.TotalHosts = oneHost()
			ts.Stats = []v1alpha1.HostRestoreStats{{
				Hostname:   t.Host.Hostname,
				Phase:      t.Host.Phase,
				SnapshotID: t.Host.SnapshotID,
				Size:       t.Host.Size,
				Files:      t.Host.Files,
				Duration:   t.Host.Duration,
				Error:      t.Host.Error,
			}}
		}
		Restore.TargetConditions(&ts.Conditions, gen, t)
		targets[i] = ts
	}
	st.Targets = targets
	if o.GlobalPre != nil || o.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.RestoreGlobalHooksStatus{PreRestore: o.GlobalPre, PostRestore: o.GlobalPost}
	}
	Restore.GlobalConditions(&st.Conditions, gen, o)
}

func oneHost() *int32 {
	n := int32(1)
	return &n
}
