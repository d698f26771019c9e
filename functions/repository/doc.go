// Package repository holds the Functions that act on a restic repository as
// a whole: retention (restic forget with keep-* rules, optionally pruning),
// repository-check (restic check), repository-init, and repository-wipe
// (a Repository deleted with wipeOut: restic's own files, after opening the
// repository with its password). repository-wipe reaches object stores
// through the ObjectStore interface; their clients live in
// repository/objectstore, which only the full binary links.
package repository
