package restoresession

import (
	"k8s.io/utils/ptr"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/internal/run"
)

// setOutcome writes the run's targets, hooks and their conditions into the
// status. Targets keep their conditions from one reconcile to the next by
// position.
func setOutcome(s *scope, o *run.Outcome) {
	st := s.status
	gen := s.obj.GetGeneration()
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
			ts.TotalHosts = ptr.To[int32](1)
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
		run.Restore.TargetConditions(&ts.Conditions, gen, t)
		targets[i] = ts
	}
	st.Targets = targets
	if o.GlobalPre != nil || o.GlobalPost != nil {
		st.GlobalHooks = &v1alpha1.RestoreGlobalHooksStatus{PreRestore: o.GlobalPre, PostRestore: o.GlobalPost}
	}
	run.Restore.GlobalConditions(&st.Conditions, gen, o)
}
