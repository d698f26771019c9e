// Package snapshot owns Snapshot objects: how one is built from what is
// known of a restic snapshot, and how a Repository's objects are made to
// mirror what its backend holds.
//
//   - New builds a Snapshot object (name, labels, owner, finalizer, spec)
//     from Facts. The BackupSession controller records a session's
//     snapshots with it, and the mirror creates the objects of snapshots
//     made elsewhere with it: spec is written once, at creation, by whoever
//     creates the object first.
//   - Mirror.Sync, called by the Repository controller with the list its
//     run read from the backend (outputs.SnapshotList), creates the objects
//     of listed snapshots that have none, deletes those whose snapshot the
//     backend no longer holds (forgotten by retention or by hand), and
//     alone writes the Stash status fields (tree, paths, hostname,
//     username, uid, gid, tags, repository) from restic's record.
//   - Every object carries Finalizer: deleting it asks the Repository
//     controller to forget the snapshot in restic (its next run does
//     `restic forget --prune <id>`); the object goes once the backend no
//     longer holds the snapshot. Objects deleted because their Repository
//     or their namespace is being deleted are released without forgetting
//     anything: only wipeOut removes a Repository's data.
//
// The Repository controller drives all of it: runs of one Repository never
// overlap, so a forget and the listing after it are one run, and a listing
// never resurrects a snapshot it forgot.
package snapshot
