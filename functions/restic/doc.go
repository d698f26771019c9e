// Package restic drives the restic binary as a child process for the
// Functions: every command runs with --json and its output is parsed into Go
// values (backup summary, snapshots, stats, forget groups, check summary);
// dump is a stream. Errors come back as *Error with a Kind and a one-line
// message (wrong password, repository unreachable, locked, ...).
//
// The repository and its password reach restic through the step's environment
// (RESTIC_REPOSITORY, RESTIC_PASSWORD or RESTIC_PASSWORD_FILE, plus whatever
// the backend needs, e.g. AWS_*): this package never puts them on a command
// line or in a log line, and strips credentials from repository URLs in
// messages.
//
// Repositories are initialised when absent (`restic cat config` reports
// "repository does not exist" → `restic init`). A lock left behind is removed
// only when its holder is provably gone: the lock was taken on this host and
// its PID no longer exists; otherwise the error says who holds it.
//
// Backup from a stream (BackupStdin) hands restic one end of a pipe (enlarged
// with F_SETPIPE_SZ) as stdin. restic writes the snapshot when its stdin
// reaches EOF, so a stream that turns out to be bad must never be closed
// cleanly: Abort kills restic first (SIGKILL), waits for it, and only then
// closes the pipe and removes the lock the killed process left. restic is
// started with Pdeathsig=SIGKILL from a goroutine locked to its OS thread, so
// that restic also dies when this process is killed.
package restic
