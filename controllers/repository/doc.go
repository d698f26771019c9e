// Package repository reconciles Repositories. It is the one owner of a
// Repository's state (cert-manager's split: one concern, the fields it
// writes are its own):
//
//   - It initialises the repository once, before any session uses it: a
//     small run on the operator's engine, owned by the Repository
//     (translators.RepositoryRun: `stashflow fn repository-init`, a pod with
//     the Repository's Secret as environment on Argo, a child process on the
//     local engine), opens the repository and runs `restic init` only if the
//     backend holds none and a BackupConfiguration or BackupBatch backs up
//     into it (a Repository only restored from is never created). Runs of
//     one Repository never overlap: the name of the next run is written into
//     status.workflow (with the optimistic lock) before it is submitted, so
//     that two reconciles cannot start two. Condition Initialized says how
//     it went; sessions wait, Pending, until it is True (Readiness).
//   - It alone writes Repository status: snapshotCount, totalSize,
//     first/lastBackupTime are read from the backend by the same run, again
//     after a BackupSession into the Repository ends and on a period
//     (RefreshInterval); lastBackupTime never moves backwards.
//   - It keeps the Repository's Snapshot objects a mirror of the backend
//     (controllers/snapshot): the same run lists the snapshots, and forgets
//     first those whose objects were deleted (a finalizer on each Snapshot),
//     unless a session uses the Repository; objects are created for
//     snapshots made elsewhere and deleted for snapshots forgotten
//     elsewhere.
//   - Its finalizer handles a deleted Repository (repository_deletion.go):
//     with wipeOut a run deletes the backend's data once no session uses
//     it; without, the data stays and the Snapshots are released so that
//     their deletion forgets nothing.
//   - It exports the Repository's metrics, and drops them when the
//     Repository is deleted.
//
// Reconcile reads the object, defers one status patch and runs the phases
// of repository_phases.go over a scope; repository_status.go maps a run's
// outputs into the status.
package repository
