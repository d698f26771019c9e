package etcd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"

	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

// TestDataDirMatchesEtcdutl restores three members' data directories from
// one snapshot with etcd-restore and with etcdutl's snapshot restore (the
// library etcdutl runs) and compares them: the WAL byte for byte, the raft
// snapshot's metadata and membership, and every bucket of the database key
// by key (bbolt's page layout differs with the number of commits). With and
// without a revision bump.
func TestDataDirMatchesEtcdutl(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	dataset{keys: 2_000, bigEvery: 100, overwrite: 200, deletes: 50, seed: 7}.load(t, src.Client(t))
	repo := localRepo(t)
	out := mustRun(t, NewBackup(), testEnv(t, repo), "--endpoints", strings.Join(src.Endpoints(), ","))
	file := filepath.Join(t.TempDir(), "etcd.snapshot")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := resticClient(t, repo).Dump(context.Background(), out[outputs.SnapshotID], SnapshotPath, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	const cluster = "m0=http://127.0.0.1:2380,m1=http://127.0.0.1:2381,m2=http://127.0.0.1:2382"
	const token = "tok"
	for _, tc := range []struct {
		name string
		bump uint64
	}{
		{"no bump", 0},
		{"bump 500, compacted", 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours, theirs := t.TempDir(), t.TempDir()
			args := []string{"--mode", "datadir", "--snapshot", out[outputs.SnapshotID], "--initial-cluster", cluster, "--initial-cluster-token", token}
			if tc.bump > 0 {
				args = append(args, "--bump-revision", "500", "--mark-compacted")
			}
			for _, m := range []string{"m0", "m1", "m2"} {
				args = append(args, "--member", m+"="+filepath.Join(ours, m))
			}
			mustRun(t, NewRestore(), testEnv(t, repo), args...)
			for i, m := range []string{"m0", "m1", "m2"} {
				err := snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
					SnapshotPath: file, Name: m, OutputDataDir: filepath.Join(theirs, m),
					PeerURLs: []string{"http://127.0.0.1:238" + string(rune('0'+i))}, InitialCluster: cluster, InitialClusterToken: token,
					RevisionBump: tc.bump, MarkCompacted: tc.bump > 0,
				})
				if err != nil {
					t.Fatal(err)
				}
				a, b := filepath.Join(ours, m), filepath.Join(theirs, m)
				if diff := cmp.Diff(dirFiles(t, b), dirFiles(t, a)); diff != "" {
					t.Errorf("%s: WAL differs from etcdutl's (-etcdutl +ours):\n%s", m, diff)
				}
				if diff := cmp.Diff(raftSnapshot(t, b), raftSnapshot(t, a)); diff != "" {
					t.Errorf("%s: raft snapshot differs from etcdutl's (-etcdutl +ours):\n%s", m, diff)
				}
				if diff := cmp.Diff(dbContents(t, filepath.Join(b, "member", "snap", "db")), dbContents(t, filepath.Join(a, "member", "snap", "db"))); diff != "" {
					t.Errorf("%s: database differs from etcdutl's (-etcdutl +ours):\n%s", m, diff)
				}
				st, err := os.Stat(filepath.Join(a, "member", "snap", "db"))
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Errorf("%s: database mode %v (%v), want 0600", m, st.Mode().Perm(), err)
				}
			}
		})
	}
}

// dirFiles returns every file under dir but the database and the raft
// snapshot, by path, with its contents.
func dirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "db" || strings.HasSuffix(d.Name(), ".snap") {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// snapshotContents is a raft snapshot file's metadata and the v2 store it
// carries without its indexes: etcd writes the members into that store in
// map order, so the indexes differ between any two restores.
type snapshotContents struct {
	Name     string
	Metadata raftpb.SnapshotMetadata
	Root     any
}

func raftSnapshot(t *testing.T, dir string) snapshotContents {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "member", "snap", "*.snap"))
	if err != nil || len(names) != 1 {
		t.Fatalf("raft snapshots in %s: %v (%v), want one", dir, names, err)
	}
	s, err := snap.Read(zap.NewNop(), names[0])
	if err != nil {
		t.Fatal(err)
	}
	var store map[string]any
	if err := json.Unmarshal(s.Data, &store); err != nil {
		t.Fatal(err)
	}
	return snapshotContents{Name: filepath.Base(names[0]), Metadata: s.Metadata, Root: withoutIndexes(store["Root"])}
}

func withoutIndexes(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if k != "CreatedIndex" && k != "ModifiedIndex" {
				out[k] = withoutIndexes(e)
			}
		}
		return out
	default:
		return v
	}
}

// dbContents returns every bucket's keys and values.
func dbContents(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }() // read-only
	all := map[string]map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			kv := map[string]string{}
			all[string(name)] = kv
			return b.ForEach(func(k, v []byte) error {
				kv[string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}
