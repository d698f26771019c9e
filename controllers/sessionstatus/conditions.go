package sessionstatus

import (
	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
)

// Vocabulary names the conditions of a backup or a restore.
type Vocabulary struct {
	Executor       string
	PreHook        string
	PostHook       string
	GlobalPreHook  string
	GlobalPostHook string
}

// Backup and Restore are the two vocabularies.
var (
	Backup = Vocabulary{
		Executor:       conditions.BackupExecutorEnsured,
		PreHook:        conditions.PreBackupHookExecutionSucceeded,
		PostHook:       conditions.PostBackupHookExecutionSucceeded,
		GlobalPreHook:  conditions.GlobalPreBackupHookSucceeded,
		GlobalPostHook: conditions.GlobalPostBackupHookSucceeded,
	}
	Restore = Vocabulary{
		Executor:       conditions.RestoreExecutorEnsured,
		PreHook:        conditions.PreRestoreHookExecutionSucceeded,
		PostHook:       conditions.PostRestoreHookExecutionSucceeded,
		GlobalPreHook:  conditions.GlobalPreRestoreHookSucceeded,
		GlobalPostHook: conditions.GlobalPostRestoreHookSucceeded,
	}
)

// TargetConditions sets a target's conditions from its outcome: its hooks,
// its retention step and its repository check, each once it ran.
func (v Vocabulary) TargetConditions(conds *[]v1alpha1.Condition, generation int64, t *Target) {
	for _, h := range t.PreHooks {
		hookCondition(conds, generation, v.PreHook, &h)
	}
	for _, h := range t.PostHooks {
		hookCondition(conds, generation, v.PostHook, &h)
	}
	stepCondition(conds, generation, conditions.RetentionPolicyApplied, t.Retention)
	stepCondition(conds, generation, conditions.RepositoryIntegrityVerified, t.Check)
}

// GlobalConditions sets the session's global hook conditions.
func (v Vocabulary) GlobalConditions(conds *[]v1alpha1.Condition, generation int64, o *Outcome) {
	hookCondition(conds, generation, v.GlobalPreHook, o.GlobalPre)
	hookCondition(conds, generation, v.GlobalPostHook, o.GlobalPost)
}

func hookCondition(conds *[]v1alpha1.Condition, generation int64, condType string, h *v1alpha1.HookStatus) {
	if h == nil {
		return
	}
	switch h.Phase {
	case v1alpha1.StepSucceeded:
		conditions.True(conds, generation, condType, conditions.ReasonHookSucceeded, "the hook "+h.Name+" succeeded")
	case v1alpha1.StepFailed:
		conditions.False(conds, generation, condType, conditions.ReasonHookFailed, "the hook "+h.Name+" failed: "+h.Message)
	}
}

func stepCondition(conds *[]v1alpha1.Condition, generation int64, condType string, s *v1alpha1.StepStatus) {
	if s == nil {
		return
	}
	switch s.Phase {
	case v1alpha1.StepSucceeded:
		conditions.True(conds, generation, condType, conditions.ReasonStepSucceeded, "the step "+s.Name+" succeeded")
	case v1alpha1.StepFailed:
		conditions.False(conds, generation, condType, conditions.ReasonStepFailed, "the step "+s.Name+" failed: "+s.Message)
	}
}
