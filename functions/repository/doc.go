// Package repository holds the Functions that act on a restic repository as
// a whole: retention (restic forget with keep-* rules, optionally pruning)
// and repository-check (restic check).
package repository
