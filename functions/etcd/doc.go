// Package etcd holds the etcd Functions: etcd-backup streams a snapshot of
// a healthy member straight into `restic backup --stdin`, verifying etcd's
// sha256 trailer on the way; etcd-restore brings a snapshot back either as
// member data directories (what etcdutl's snapshot restore writes, built
// with etcd's storage packages around a file restic writes in place: see
// memberdir.go) or into a running cluster (the snapshot's latest key-value
// state replayed in bounded transactions).
//
// The snapshot stream is read with a tiny gRPC codec instead of the etcd
// client's Maintenance.Snapshot: the client copies every 32 KiB message
// through an io.Pipe and allocates a fresh slice for it; the codec decodes
// into one reused buffer that is written to restic's stdin directly. On two
// cores the client, the etcd server and restic compete for CPU, so copies
// and garbage in this process are taken from restic's share.
package etcd
