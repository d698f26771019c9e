package outputs

import (
	"slices"
	"time"
)

// Dir is where a step writes its output files: one file per output, named
// after it. Declared output paths live under it. An engine may give each
// step a directory of its own and tell the process through DirEnv.
const Dir = "/tmp/stashflow/outputs"

// DirEnv names the environment variable that overrides Dir for one step.
const DirEnv = "STASHFLOW_OUTPUT_DIR"

// The environment variables that carry a step's runtimeSettings.container
// nice and ionice (Stash's) to the processes the step starts: restic runs
// with its niceness raised by NiceEnv and in I/O class IONiceClassEnv at
// level IONiceClassDataEnv.
const (
	NiceEnv            = "STASHFLOW_NICE"
	IONiceClassEnv     = "STASHFLOW_IONICE_CLASS"
	IONiceClassDataEnv = "STASHFLOW_IONICE_CLASS_DATA"
	// NoCacheEnv=true runs restic with --no-cache (Stash's
	// tempDir.disableCaching).
	NoCacheEnv = "STASHFLOW_RESTIC_NO_CACHE"
	// ResticOptionsEnv holds restic extended options (-o), comma-separated,
	// e.g. gs.connections=8 from a backend's maxConnections.
	ResticOptionsEnv = "STASHFLOW_RESTIC_OPTIONS"
	// ResticInsecureTLSEnv=true runs restic with --insecure-tls (an S3
	// backend's insecureTLS).
	ResticInsecureTLSEnv = "STASHFLOW_RESTIC_INSECURE_TLS"
	// MemoryLimitEnv is the step's memory limit (bytes, or a size such as
	// 256Mi), which the Function runtime splits between its own process
	// and restic: the Argo engine renders the container's
	// resources.limits.memory into it (Downward API).
	MemoryLimitEnv = "STASHFLOW_MEMORY_LIMIT"
	// ResticMemoryLimitEnv is restic's share of that budget in bytes, set
	// by the runtime: restic runs with GOMEMLIMIT=<it> unless the step's
	// environment sets GOMEMLIMIT.
	ResticMemoryLimitEnv = "STASHFLOW_RESTIC_MEMORY_LIMIT"
)

// The outputs every Function step has: the runtime writes an empty file for
// those a Function does not set and sets Duration itself.
const (
	SnapshotID = "snapshotID" // restic snapshot id (full, 64 hex)
	Size       = "size"       // bytes the step read or restored
	Uploaded   = "uploaded"   // bytes added to the repository (packed)
	Files      = "files"      // files in the snapshot
	Duration   = "duration"   // wall time of the step, Go duration syntax
)

// SnapshotIDs is the output of a restore Function that restores every
// snapshot of its rule in turn (Stash's semantics for a rule listing
// several): the full ids it restored, comma-separated, in the order
// restored. Declaring it is how a Function says it takes several
// snapshots; the translators refuse a rule with several snapshots for a
// restore Function that does not. snapshotID is then the last one restored.
const SnapshotIDs = "snapshotIDs"

// SnapshotTime is the time restic recorded for the snapshot a backup step
// committed (RFC 3339 with nanoseconds, UTC): the snapshot's "time" in
// `restic snapshots --json`, which restic ≥ 0.17 also reports as the backup
// summary's backup_start. The Snapshot object's spec.time is this time, as a
// listing of the repository would write it; a step that does not report it
// leaves the session to use the step's end.
const SnapshotTime = "snapshotTime"

// Common returns the outputs every step has, in order.
func Common() []string {
	return []string{SnapshotID, SnapshotTime, Size, Uploaded, Files, Duration}
}

// Outputs of a retention step.
const (
	Kept    = "kept"    // snapshots kept (in the groups the policy looked at)
	Removed = "removed" // snapshots removed (or, with --dry-run, that would be)
	// TotalSize is the repository's stored size in bytes after the policy.
	TotalSize = "totalSize"
	// SnapshotCount is the number of snapshots left in the repository.
	SnapshotCount = "snapshotCount"
	// KeptSnapshots is a JSON array of KeptSnapshot: the snapshots the
	// policy kept, so that one committed by a lost run is recorded.
	KeptSnapshots = "keptSnapshots"
	// ForgottenSnapshots is a JSON array of the ids the policy removed
	// (empty on a dry run), whose Snapshot objects are deleted.
	ForgottenSnapshots = "forgottenSnapshots"
)

// KeptSnapshot is one entry of the KeptSnapshots output.
type KeptSnapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"hostname"`
	Paths    []string  `json:"paths,omitempty"`
	// Session is the snapshot's session=<name> tag.
	Session string `json:"session,omitempty"`
	// Size is the bytes the backup read, if restic recorded a summary.
	Size *uint64 `json:"size,omitempty"`
}

// Outputs of a repository-init step (the step of the Repository
// controller's refresh run, also named repository-init), beside TotalSize
// and SnapshotCount. Its check run's step, repository-check, reports
// Integrity, Errors and BrokenPacks; its wipe run's step, repository-wipe,
// nothing.
const (
	// RepositoryCreated is "true" when the step ran restic init.
	RepositoryCreated = "created"
	// RepositoryExists is "false" when the backend holds no repository and
	// the step was told not to create one; "true" otherwise.
	RepositoryExists = "exists"
	// FirstSnapshotTime and LastSnapshotTime are the times of the oldest and
	// the newest snapshot (RFC 3339), empty when there is none.
	FirstSnapshotTime = "firstSnapshotTime"
	LastSnapshotTime  = "lastSnapshotTime"
	// Snapshots is a JSON SnapshotList: what the repository holds, newest
	// first, at most MaxSnapshotListBytes.
	Snapshots = "snapshots"
	// ForgottenIDs is a JSON array of the snapshot ids the step was asked
	// to forget (--forget) that the repository no longer holds afterwards.
	ForgottenIDs = "forgottenIDs"
)

// MaxSnapshotListBytes bounds the Snapshots output. An output parameter is
// kept in the run's record (Argo keeps it in the Workflow object, bounded by
// etcd's request size of about 1.5 MiB; the local engine reads at most
// 256 KiB of one output), so a repository of many snapshots is listed from
// the newest down to this size: about 600 snapshots of typical records.
const MaxSnapshotListBytes = 192 << 10

// Bounds of one SnapshotRecord: its first MaxRecordPaths paths and
// MaxRecordTags tags (the Snapshot object's own limits).
const (
	MaxRecordPaths = 64
	MaxRecordTags  = 32
)

// SnapshotList is the Snapshots output. When Complete is false the
// repository held more than fit: Items are every snapshot taken at or after
// Since, and older ones are left out.
type SnapshotList struct {
	Complete bool             `json:"complete"`
	Since    *time.Time       `json:"since,omitempty"`
	Items    []SnapshotRecord `json:"items"`
}

// SnapshotRecord is restic's record of one snapshot, compact.
type SnapshotRecord struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Hostname string    `json:"host,omitempty"`
	Paths    []string  `json:"paths,omitempty"`
	Tags     []string  `json:"tags,omitempty"`
	Tree     string    `json:"tree,omitempty"`
	Username string    `json:"user,omitempty"`
	UID      *int64    `json:"uid,omitempty"`
	GID      *int64    `json:"gid,omitempty"`
	// Size is the bytes the backup read, if restic recorded a summary.
	Size *uint64 `json:"size,omitempty"`
}

// Covers says whether the list is complete for snapshots taken at t: a
// snapshot of that time that is not in Items is not in the repository.
func (l *SnapshotList) Covers(t time.Time) bool {
	return l.Complete || (l.Since != nil && t.After(*l.Since))
}

// Outputs of an integrity check step.
const (
	Integrity   = "integrity"   // "true" when restic check found no error, else "false"
	Errors      = "errors"      // number of errors restic check found
	BrokenPacks = "brokenPacks" // number of damaged pack files
)

// Outputs of the workload-quiesce and workload-resume steps of a workload
// restore.
const (
	// Replicas is the workload's replica count before the restore scaled it
	// to zero: the count quiesce recorded, or the one resume scaled it back to.
	Replicas = "replicas"
	// ClaimsCreated is how many PersistentVolumeClaims of a StatefulSet's
	// hosts workload-quiesce created from its volumeClaimTemplates because
	// they did not exist yet (0 for other kinds).
	ClaimsCreated = "claimsCreated"
)

// Role is what a Function step does for its target. The names are the API's
// StepRole values.
type Role string

// The roles; a step with none is any other work.
const (
	RoleNone           Role = ""
	RoleBackup         Role = "Backup"
	RoleRestore        Role = "Restore"
	RoleRetention      Role = "Retention"
	RoleIntegrityCheck Role = "IntegrityCheck"
)

// RoleOf is the one rule for a step's role, from the outputs its Function
// declares, never from its name:
//   - Integrity declared: an integrity check;
//   - KeptSnapshots or ForgottenSnapshots declared: retention;
//   - SnapshotID declared: the backup (or, in a restore, the restore) of
//     the target, whose outputs are the host's statistics.
func RoleOf(declared []string, restore bool) Role {
	switch {
	case slices.Contains(declared, Integrity):
		return RoleIntegrityCheck
	case slices.Contains(declared, KeptSnapshots), slices.Contains(declared, ForgottenSnapshots):
		return RoleRetention
	case slices.Contains(declared, SnapshotID) && restore:
		return RoleRestore
	case slices.Contains(declared, SnapshotID):
		return RoleBackup
	}
	return RoleNone
}

// The environment an AppBinding target's TLS settings and parameters give
// every Function step of the target (clientConfig.caBundle, serverName,
// insecureSkipTLSVerify; spec.parameters as JSON). The etcd and
// Elasticsearch Functions read them; a Function of a user's may too.
const (
	TargetCABundleEnv              = "TARGET_CA_BUNDLE"
	TargetServerNameEnv            = "TARGET_SERVER_NAME"
	TargetInsecureSkipTLSVerifyEnv = "TARGET_INSECURE_SKIP_TLS_VERIFY"
	TargetParametersEnv            = "TARGET_PARAMETERS"
)
