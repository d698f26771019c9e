// Package local owns the embedded engine: it runs a pipeline.Graph on this
// machine, every step a child process, with the meaning the Argo engine gives
// the same graph (dependency conditions, Omitted steps, per-attempt timeouts,
// retries with backoff, output parameters and output references).
//
// What it owns:
//   - scheduling (engine.go): steps start as soon as their dependencies ended
//     and their conditions hold, up to Options.Parallelism at a time; a step
//     whose condition cannot hold ends Omitted; the run's timeout and the
//     caller's context stop everything;
//   - one step (step.go): secrets, output references, the command, retries
//     and output parameters;
//   - one attempt (process.go): a process group per attempt, SIGTERM then
//     SIGKILL after a grace period, the log file and the one-line summary;
//   - host mapping (volumes.go): Graph volumes and mount paths to host dirs;
//     a Graph's VolumeClaims to <WorkDir>/.claims/<name>, made empty before
//     the first step and removed when the run ends (Argo's volumeClaimGC
//     OnWorkflowCompletion), never to a directory of Options.Volumes;
//   - secrets (secrets.go): the SecretResolver interface and redaction.
//
// Output goes straight from the child to <WorkDir>/<step>/attempt-N.log (the
// child's stdout and stderr are that file), so the engine copies nothing and
// its memory does not depend on how much a step prints; only the last 4 KiB
// are read back, to summarise a failure. When a step ends, tail.go leaves
// the end of its last log and its outputs beside it, secret values
// redacted (TailFile, OutputsFile), for the web UI.
//
// docs/engines-local.md describes the mapping and the differences from Argo.
package local
