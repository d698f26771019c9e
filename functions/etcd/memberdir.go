package etcd

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/etcdserver"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/etcdserver/cindex"
	"go.etcd.io/etcd/server/v3/storage/backend"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// A member's data directory, as etcdutl's snapshot restore writes it
// (go.etcd.io/etcd/etcdutl/v3/snapshot, v3Manager.Restore), built from
// etcd's own exported packages: the database at member/snap/db with the
// snapshot's membership replaced by the new cluster's and the consistent
// index set to the bootstrap entries; a WAL at member/wal holding one
// ConfChangeAddNode entry per member at term 1; a raft snapshot at
// member/snap with the membership in v2 form. Every member's database is
// the same; only the WAL's metadata names the member.
//
// etcdutl opens the copied database three times (trim the membership; add
// the members; set the consistent index), and each open maps the whole file
// with MAP_POPULATE and each close commits and fsyncs. Here the database is
// opened once and every change goes into one transaction, committed once.

// newCluster returns the membership of the restored cluster.
func newCluster(lg *zap.Logger, token, initialCluster string) (*membership.RaftCluster, error) {
	urls, err := types.NewURLsMap(initialCluster)
	if err != nil {
		return nil, fmt.Errorf("--initial-cluster: %w", err)
	}
	return membership.NewClusterFromURLsMap(lg, token, urls)
}

// bootstrapIndex is the raft index and term of the restored cluster's
// bootstrap entries (one per member, term 1): the consistent index the
// database must carry so that etcd does not apply them again.
func bootstrapIndex(cl *membership.RaftCluster) (index, term uint64) {
	return uint64(len(cl.MemberIDs())), 1
}

// dbEdit is what one transaction changes in a restored database.
type dbEdit struct {
	cluster *membership.RaftCluster
	// latest is the snapshot's last main revision; with bump > 0 a
	// revision bump above it is written and marked compacted.
	latest int64
	bump   int64
}

// openedDB is a restored database opened for its one write transaction.
type openedDB struct {
	be backend.Backend
}

// openDB opens the database at path; nothing is written to the file before
// edit (the hash of the bytes restic wrote may still be being checked).
// bbolt panics on some damaged files; that comes back as an error.
func openDB(lg *zap.Logger, path string) (db *openedDB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("open database %s: %v", filepath.Base(path), r)
		}
	}()
	cfg := backend.DefaultBackendConfig(lg)
	cfg.Path = path
	// The backend commits every BatchInterval and every BatchLimit puts
	// (and after deletes); only edit's changes and commit may write.
	cfg.BatchInterval = 24 * time.Hour
	cfg.BatchLimit = 1 << 30
	return &openedDB{be: backend.New(cfg)}, nil
}

// edit makes the restored cluster's changes in the open transaction.
func (d *openedDB) edit(lg *zap.Logger, e dbEdit) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("edit database: %v", r)
		}
	}()
	mb := schema.NewMembershipBackend(lg, d.be)
	if err := mb.TrimMembershipFromBackend(); err != nil {
		return fmt.Errorf("remove the snapshot's members: %w", err)
	}
	if e.bump > 0 {
		tx := d.be.BatchTx()
		tx.LockOutsideApply()
		rev := e.latest + e.bump
		tx.UnsafePut(schema.Key, mvcc.RevToBytes(mvcc.Revision{Main: rev}, mvcc.NewRevBytes()), []byte{})
		mvcc.UnsafeSetScheduledCompact(tx, rev)
		tx.Unlock()
	}
	e.cluster.SetBackend(mb)
	for _, m := range e.cluster.Members() {
		e.cluster.AddMember(m, true)
	}
	index, term := bootstrapIndex(e.cluster)
	cindex.UpdateConsistentIndexForce(d.be.BatchTx(), index, term)
	return nil
}

// commit commits the transaction (bbolt fsyncs the file) and closes.
func (d *openedDB) commit() error { return d.be.Close() }

// writeRaftState writes the member's WAL and raft snapshot into memberDir
// (the new data directory's "member").
func writeRaftState(lg *zap.Logger, cl *membership.RaftCluster, name, memberDir string) error {
	m := cl.MemberByName(name)
	if m == nil {
		return fmt.Errorf("--initial-cluster: has no member named %q", name)
	}
	meta, err := (&etcdserverpb.Metadata{NodeID: uint64(m.ID), ClusterID: uint64(cl.ID())}).Marshal()
	if err != nil {
		return err
	}
	w, err := wal.Create(lg, filepath.Join(memberDir, "wal"), meta)
	if err != nil {
		return fmt.Errorf("create WAL: %w", err)
	}
	ids := cl.MemberIDs() // sorted: every member writes the same entries
	entries := make([]raftpb.Entry, len(ids))
	voters := make([]uint64, len(ids))
	for i, id := range ids {
		peer, err := json.Marshal(cl.Member(id))
		if err != nil {
			_ = w.Close()
			return err
		}
		cc, err := (&raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: uint64(id), Context: peer}).Marshal()
		if err != nil {
			_ = w.Close()
			return err
		}
		entries[i] = raftpb.Entry{Type: raftpb.EntryConfChange, Term: 1, Index: uint64(i + 1), Data: cc}
		voters[i] = uint64(id)
	}
	index, term := bootstrapIndex(cl)
	hs := raftpb.HardState{Term: term, Vote: voters[0], Commit: index}
	if err := w.Save(hs, entries); err != nil {
		_ = w.Close()
		return fmt.Errorf("write WAL: %w", err)
	}
	cs := raftpb.ConfState{Voters: voters}
	rs := raftpb.Snapshot{
		Data:     etcdserver.GetMembershipInfoInV2Format(lg, cl),
		Metadata: raftpb.SnapshotMetadata{Index: index, Term: term, ConfState: cs},
	}
	if err := snap.New(lg, filepath.Join(memberDir, "snap")).SaveSnap(rs); err != nil {
		_ = w.Close()
		return fmt.Errorf("write raft snapshot: %w", err)
	}
	if err := w.SaveSnapshot(walpb.Snapshot{Index: index, Term: term, ConfState: &cs}); err != nil {
		_ = w.Close()
		return fmt.Errorf("write WAL snapshot entry: %w", err)
	}
	return w.Close()
}

// memberDirs returns a data directory's member directory and the database
// path in it, creating member/snap.
func memberDirs(lg *zap.Logger, root string) (memberDir, dbPath string, err error) {
	memberDir = filepath.Join(root, "member")
	if err := fileutil.CreateDirAll(lg, filepath.Join(memberDir, "snap")); err != nil {
		return "", "", err
	}
	return memberDir, filepath.Join(memberDir, "snap", "db"), nil
}
