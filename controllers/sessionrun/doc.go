// Package sessionrun is the lifecycle every session kind shares:
// BackupSession, RestoreSession and RestoreBatch each reconcile through one
// Runner and a small Adapter (what differs: the status type, the phase
// for input that can never run, the subject of messages).
//
// The lifecycle of one session:
//
//	TakePlan   the run record (status.plan) once submitted; before that,
//	           the kind resolves and translates, and reference errors wait
//	           within the grace or end the session
//	Submit     once: status.workflow and status.plan in one status patch;
//	           a session the cache shows unsubmitted is read again from
//	           the API server first (one GET), and nothing is submitted if
//	           the server's status names a workflow or is past Pending: an
//	           engine would re-create a Workflow deleted since
//	Follow     node statuses from the engine, read against the record; the
//	           deadline; a lost run
//	End        the final phase, duration, event, log and the kind's OnEnd
//
// A Reconcile keeps its own phases (an invoker, retries, first use,
// exclusive restores, snapshots) around these, runs them with Do and patches
// the status once on exit.
package sessionrun
