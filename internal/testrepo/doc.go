// Package testrepo damages a restic repository on disk the way tests need
// it damaged: one pack file truncated or removed, so that `restic check`
// (and stashflow's check step, CLI and Repository controller) has something
// real to find. Test-only: nothing outside a _test.go file imports it.
//
// A restic repository on a local backend keeps its pack files under
// data/<two hex digits>/<id>, written read-only; the helpers pick the first
// pack in lexical order so that a failing test damages the same file when it
// is run again on the same repository.
package testrepo
