package translators

import (
	"errors"
	"fmt"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// BackupInvoker is what a BackupSession was invoked by: exactly one of a
// BackupConfiguration and a BackupBatch.
type BackupInvoker struct {
	Config *v1alpha1.BackupConfiguration
	Batch  *v1alpha1.BackupBatch
}

// Backup translates a BackupSession.
func Backup(s *v1alpha1.BackupSession, inv BackupInvoker, objs *Objects, opts Options) (*Plan, error) {
	r := &run{kind: backupRun, name: s.Name, namespace: s.Namespace, invoker: s.Spec.Invoker}
	switch {
	case inv.Config != nil && inv.Batch == nil:
		c := &inv.Config.Spec
		timeout, err := v1alpha1.ParseDuration(c.TimeOut)
		if err != nil {
			return nil, fmt.Errorf("spec.timeOut: %w", err)
		}
		r.timeout, r.retention, r.runtime = timeout, c.RetentionPolicy, c.RuntimeSettings
		r.members = []member{backupMember(0, &c.BackupConfigurationTemplateSpec)}
		r.order = v1alpha1.Sequential
	case inv.Batch != nil && inv.Config == nil:
		b := &inv.Batch.Spec
		timeout, err := v1alpha1.ParseDuration(b.TimeOut)
		if err != nil {
			return nil, fmt.Errorf("spec.timeOut: %w", err)
		}
		r.timeout, r.retention, r.runtime, r.order = timeout, b.RetentionPolicy, b.RuntimeSettings, b.Order()
		if b.Hooks != nil {
			r.globalPre, r.globalPost = b.Hooks.PreBackup, b.Hooks.PostBackup
		}
		for i := range b.Members {
			if b.Members[i].Target == nil && b.Members[i].Task == nil {
				return nil, fmt.Errorf("spec.members[%d]: neither target nor task is set", i)
			}
			r.members = append(r.members, backupMember(i, &b.Members[i].BackupConfigurationTemplateSpec))
		}
	default:
		return nil, errors.New("spec.invoker: want exactly one BackupConfiguration or BackupBatch")
	}
	return r.translate(objs, opts)
}

func backupMember(i int, t *v1alpha1.BackupConfigurationTemplateSpec) member {
	m := member{index: i, task: t.Task, runtime: t.RuntimeSettings, tempDir: t.TempDir, interim: t.InterimVolumeTemplate}
	if t.Target != nil {
		m.ref, m.paths, m.exclude, m.volumeMounts, m.alias = &t.Target.Ref, t.Target.Paths, t.Target.Exclude, t.Target.VolumeMounts, t.Target.Alias
	}
	if t.Hooks != nil {
		m.pre, m.post = t.Hooks.PreBackup, t.Hooks.PostBackup
	}
	return m
}

// Restore translates a RestoreSession.
func Restore(s *v1alpha1.RestoreSession, objs *Objects, opts Options) (*Plan, error) {
	timeout, err := v1alpha1.ParseDuration(s.Spec.TimeOut)
	if err != nil {
		return nil, fmt.Errorf("spec.timeOut: %w", err)
	}
	r := &run{
		kind: restoreRun, name: s.Name, namespace: s.Namespace, timeout: timeout,
		invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupName, Kind: "RestoreSession", Name: s.Name},
		order:   v1alpha1.Sequential,
		runtime: s.Spec.RuntimeSettings,
		members: []member{restoreMember(0, &s.Spec.RestoreTargetSpec)},
	}
	return r.translate(objs, opts)
}

// RestoreBatch translates a RestoreBatch, which is its own session.
func RestoreBatch(b *v1alpha1.RestoreBatch, objs *Objects, opts Options) (*Plan, error) {
	timeout, err := v1alpha1.ParseDuration(b.Spec.TimeOut)
	if err != nil {
		return nil, fmt.Errorf("spec.timeOut: %w", err)
	}
	r := &run{
		kind: restoreRun, name: b.Name, namespace: b.Namespace, timeout: timeout,
		invoker: v1alpha1.BackupInvokerRef{APIGroup: v1alpha1.GroupName, Kind: "RestoreBatch", Name: b.Name},
		order:   b.Spec.Order(),
		runtime: b.Spec.RuntimeSettings,
	}
	if h := b.Spec.Hooks; h != nil {
		r.globalPre, r.globalPost = h.PreRestore, h.PostRestore
	}
	for i := range b.Spec.Members {
		if b.Spec.Members[i].Target == nil && b.Spec.Members[i].Task == nil {
			return nil, fmt.Errorf("spec.members[%d]: neither target nor task is set", i)
		}
		r.members = append(r.members, restoreMember(i, &b.Spec.Members[i].RestoreTargetSpec))
	}
	return r.translate(objs, opts)
}

func restoreMember(i int, t *v1alpha1.RestoreTargetSpec) member {
	m := member{index: i, task: t.Task, runtime: t.RuntimeSettings, tempDir: t.TempDir, interim: t.InterimVolumeTemplate}
	if t.Target != nil {
		m.ref, m.rules, m.volumeMounts, m.alias = &t.Target.Ref, t.Target.Rules, t.Target.VolumeMounts, t.Target.Alias
		m.rulesField = "target.rules"
		if len(m.rules) == 0 {
			m.rules, m.rulesField = t.Rules, "rules" // Stash's older place for them
		}
	}
	if t.Hooks != nil {
		m.pre, m.post = t.Hooks.PreRestore, t.Hooks.PostRestore
	}
	return m
}
