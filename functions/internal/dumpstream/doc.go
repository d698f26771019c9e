// Package dumpstream runs a database's dump tool straight into `restic
// backup --stdin`, and `restic dump` straight into its load tool, for the
// database Functions (postgres, mysql). No temp file: the bytes pass
// through this process once, which watches them on the way.
//
// A backup commits its snapshot only when the dump tool exited 0 and its
// stream passed the caller's check (a trailer the tool writes last); in
// every other case restic is killed before its stdin is closed, so no
// snapshot is written. A restore closes the load tool's stdin only when
// restic dumped the whole file; otherwise the load tool is killed first,
// so that what it was given is not committed.
package dumpstream
