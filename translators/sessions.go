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
	if err := checkRuleSnapshots("spec", &s.Spec.RestoreTargetSpec); err != nil {
		return nil, err
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
		if err := checkRuleSnapshots(fmt.Sprintf("spec.members[%d]", i), &b.Spec.Members[i].RestoreTargetSpec); err != nil {
			return nil, err
		}
		r.members = append(r.members, restoreMember(i, &b.Spec.Members[i].RestoreTargetSpec))
	}
	return r.translate(objs, opts)
}

// checkRuleSnapshots refuses a rule with several snapshots. Stash restores
// each of them in turn into the target; a restore step here restores one
// snapshot, so such a rule is refused, naming the field, rather than run
// as one step that cannot find a snapshot named "a,b".
func checkRuleSnapshots(prefix string, t *v1alpha1.RestoreTargetSpec) error {
	check := func(field string, rules []v1alpha1.RestoreRule) error {
		for i, r := range rules {
			if len(r.Snapshots) > 1 {
				return fmt.Errorf("%s.%s[%d].snapshots: %d snapshots in one rule are not supported yet (a restore step restores one snapshot): restore each with its own RestoreSession, or name one snapshot (or latest)", prefix, field, i, len(r.Snapshots))
			}
		}
		return nil
	}
	if t.Target != nil {
		if err := check("target.rules", t.Target.Rules); err != nil {
			return err
		}
	}
	return check("rules", t.Rules)
}

func restoreMember(i int, t *v1alpha1.RestoreTargetSpec) member {
	m := member{index: i, task: t.Task, runtime: t.RuntimeSettings, tempDir: t.TempDir, interim: t.InterimVolumeTemplate}
	if t.Target != nil {
		m.ref, m.rules, m.volumeMounts, m.alias = &t.Target.Ref, t.Target.Rules, t.Target.VolumeMounts, t.Target.Alias
		if len(m.rules) == 0 {
			m.rules = t.Rules // Stash's older place for them
		}
	}
	if t.Hooks != nil {
		m.pre, m.post = t.Hooks.PreRestore, t.Hooks.PostRestore
	}
	return m
}
