package translators

import "strconv"

// Step labels: stashflow's classification of the steps of a Graph, for the
// status mapping and the Argo UI. The engines carry them as they are and
// read none of them.
const (
	// LabelTarget is the index of the target a step belongs to (absent on
	// global steps).
	LabelTarget = "stashflow.dev/target"
	// LabelStepKind is one of StepKindFunction, StepKindHook, StepKindVerdict.
	LabelStepKind = "stashflow.dev/step-kind"
	// LabelHookPhase is a hook's phase, e.g. preBackup, postBackup.
	LabelHookPhase = "stashflow.dev/hook-phase"
	// LabelFunction is the Function a step invokes.
	LabelFunction = "stashflow.dev/function"
	// LabelGlobal is "true" on the steps of no one target: global (batch)
	// hooks, a session's repository-init, the verdict, and the step of a
	// Repository's run (repository-init, -check or -wipe).
	LabelGlobal = "stashflow.dev/global"
)

// The values of LabelStepKind.
const (
	// StepKindFunction is a step that runs a Function (repository-init,
	// -check and -wipe too).
	StepKindFunction = "step"
	// StepKindHook is a pre- or post- hook.
	StepKindHook = "hook"
	// StepKindVerdict is the step that fails a run in which a step failed.
	StepKindVerdict = "verdict"
)

// stepLabels classify a step of target m (nil for a global step).
func stepLabels(m *member, kind, hookPhase, function string) map[string]string {
	l := map[string]string{LabelStepKind: kind}
	if m != nil {
		l[LabelTarget] = strconv.Itoa(m.index)
	} else {
		l[LabelGlobal] = "true"
	}
	if hookPhase != "" {
		l[LabelHookPhase] = hookPhase
	}
	if function != "" {
		l[LabelFunction] = function
	}
	return l
}
