// Package faults injects faults into whole runs and checks, after each, the
// invariants a backup tool owes its users (DEVELOPERS.md, docs/reliability.md):
//
//   - the session ends in the right phase, with a message that names the cause;
//   - a failed backup leaves no snapshot, and every committed one is recorded;
//   - the repository stays readable by plain restic (`restic check` is clean);
//   - no process of the run is left;
//   - nothing is written outside the target;
//   - no secret value appears in the output, the step logs or the status.
//
// The runs are real: the built stashflow binary, restic, rest-server and a
// tmpfs for a full disk; faults are real too (SIGKILL of restic, of the
// backend, of stashflow itself). The cases run on the local engine through
// `stashflow run`, which writes the status the operator writes (issue 15 lists
// the Argo-engine cases still to come).
package faults
