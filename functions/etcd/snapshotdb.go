package etcd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The layout of etcd's backend (go.etcd.io/etcd/server/v3/storage/schema
// and storage/mvcc/revision.go), read-only: the "key" bucket maps a
// revision — 8 bytes main, '_', 8 bytes sub, big-endian, plus a trailing 't'
// for a tombstone — to a marshalled mvccpb.KeyValue (decoded with protowire, without copying). bbolt orders keys
// bytewise, which is revision order.
var keyBucket = []byte("key")

const (
	revBytesLen       = 8 + 1 + 8
	markedRevBytesLen = revBytesLen + 1
	markTombstone     = 't'
)

type revision struct{ main, sub int64 }

func parseRevKey(b []byte) (revision, bool, error) {
	if (len(b) != revBytesLen && len(b) != markedRevBytesLen) || b[8] != '_' {
		return revision{}, false, fmt.Errorf("invalid revision key %x", b)
	}
	r := revision{main: int64(binary.BigEndian.Uint64(b[:8])), sub: int64(binary.BigEndian.Uint64(b[9:17]))}
	return r, len(b) == markedRevBytesLen && b[revBytesLen] == markTombstone, nil
}

// snapshotDB is an etcd snapshot file opened read-only.
type snapshotDB struct {
	db *bolt.DB
}

// openSnapshotDB opens path (a database without the sha256 trailer).
func openSnapshotDB(path string) (*snapshotDB, error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open snapshot database: %w", err)
	}
	return &snapshotDB{db: db}, nil
}

func (s *snapshotDB) Close() error { return s.db.Close() }

// latestState is the key-value state of a snapshot at its last revision,
// held as the revision of each live key (the values stay in the file).
type latestState struct {
	// live maps each key that exists at the end to the revision of its
	// last put.
	live map[string]revision
	// revision is the snapshot's last revision.
	revision int64
}

// latest computes the snapshot's latest state among keys with prefix: for
// every key the last entry wins; a tombstone removes the key.
func (s *snapshotDB) latest(prefix []byte) (*latestState, error) {
	st := &latestState{live: map[string]revision{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(keyBucket)
		if b == nil {
			return errors.New("snapshot has no \"key\" bucket: not an etcd v3 database")
		}
		return b.ForEach(func(k, v []byte) error {
			rev, tomb, err := parseRevKey(k)
			if err != nil {
				return err
			}
			st.revision = max(st.revision, rev.main)
			key, _, err := kvFields(v)
			if err != nil {
				return fmt.Errorf("revision %d/%d: %w", rev.main, rev.sub, err)
			}
			if !bytes.HasPrefix(key, prefix) {
				return nil
			}
			if tomb {
				delete(st.live, string(key))
			} else {
				st.live[string(key)] = rev
			}
			return nil
		})
	})
	return st, err
}

// each calls fn for every key of st with its value at st's revision, in
// revision order. key and value are valid only during the call.
func (s *snapshotDB) each(st *latestState, fn func(key, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(keyBucket)
		return b.ForEach(func(k, v []byte) error {
			rev, tomb, err := parseRevKey(k)
			if err != nil || tomb {
				return err
			}
			key, value, err := kvFields(v)
			if err != nil {
				return err
			}
			if want, ok := st.live[string(key)]; !ok || want != rev {
				return nil
			}
			return fn(key, value)
		})
	})
}

// lastRevision returns the snapshot's last revision (its last key).
func (s *snapshotDB) lastRevision() (int64, error) {
	var rev int64
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(keyBucket)
		if b == nil {
			return errors.New("snapshot has no \"key\" bucket: not an etcd v3 database")
		}
		k, _ := b.Cursor().Last()
		if k == nil {
			return nil
		}
		r, _, err := parseRevKey(k)
		rev = r.main
		return err
	})
	return rev, err
}
