// Package sessionstatus turns the engine's per-step outcomes into a
// session's status: targets with their steps, hooks and statistics, global
// hooks, and the session's phase. It is pure (layout and node statuses in,
// status out), so the operator and `stashflow run` fill a session's status
// the same way.
package sessionstatus
