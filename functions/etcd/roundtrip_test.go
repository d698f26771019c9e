package etcd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

// TestRoundTrip backs up ≥ 50k keys (values up to 100 KiB, overwrites and
// deletions) to a local and a REST repository, then restores them into a
// running cluster (live, whole keyspace and one prefix) and into a new data
// directory (datadir), comparing every key and value.
func TestRoundTrip(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	cli := src.Client(t)
	data := dataset{keys: 50_000, bigEvery: 250, overwrite: 2_000, deletes: 1_000, prefixes: []string{"/k/", "/k/", "/a/"}, seed: 1}
	want := data.load(t, cli)
	if diff := diffData(want, readAll(t, cli, "")); diff != "" {
		t.Fatalf("loading: %s", diff)
	}
	rest := testservers.StartRestServer(t)
	repos := map[string][]string{"local": localRepo(t), "rest": restRepo(t, rest, "etcd")}
	eps := strings.Join(src.Endpoints(), ",")

	backups := map[string]step.Outputs{}
	for _, name := range []string{"local", "rest"} {
		out := mustRun(t, NewBackup(), testEnv(t, repos[name]),
			"--endpoints", eps, "--session", "s1", "--target", "etcd-main", "--tags", "kind=etcd", "--hostname", "node-a")
		backups[name] = out
		snaps := snapshots(t, repos[name])
		if len(snaps) != 1 {
			t.Fatalf("%s: %d snapshots, want 1", name, len(snaps))
		}
		s := snaps[0]
		if s.ID != out[outputs.SnapshotID] {
			t.Errorf("%s: output snapshotID %s, repository has %s", name, out[outputs.SnapshotID], s.ID)
		}
		wantTags := []string{"etcd-revision=" + out[OutputRevision], "etcd-sha256=verified", "kind=etcd", "session=s1", "target=etcd-main"}
		gotTags := slices.Sorted(slices.Values(s.Tags))
		if diff := cmp.Diff(wantTags, gotTags); diff != "" {
			t.Errorf("%s: tags (-want +got):\n%s", name, diff)
		}
		if s.Hostname != "node-a" || !slices.Equal(s.Paths, []string{SnapshotPath}) {
			t.Errorf("%s: snapshot host %q paths %v", name, s.Hostname, s.Paths)
		}
		size, _ := strconv.ParseInt(out[outputs.Size], 10, 64)
		if size < 10<<20 || (size-32)%4096 != 0 || out[outputs.Files] != "1" || len(out[OutputSHA256]) != 64 || out[OutputMember] != "m0" {
			t.Errorf("%s: outputs %v", name, jsonString(out))
		}
		t.Logf("%s backup: %d bytes, uploaded %s, revision %s", name, size, out[outputs.Uploaded], out[OutputRevision])
	}
	if backups["local"][OutputSHA256] == "" || backups["local"][OutputRevision] != backups["rest"][OutputRevision] {
		t.Errorf("local and REST backups of the same data differ: %v vs %v", backups["local"], backups["rest"])
	}

	t.Run("live", func(t *testing.T) {
		// Wipe, then add keys the snapshot does not have and change some.
		wipe(t, cli)
		extra := map[string]string{"/extra/1": "x", "/extra/2": "y", "/k/0000001": "changed", "/zzz": "z"}
		for k, v := range extra {
			if _, err := cli.Put(context.Background(), k, v); err != nil {
				t.Fatal(err)
			}
		}
		out := mustRun(t, NewRestore(), testEnv(t, repos["rest"]),
			"--mode", "live", "--endpoints", eps, "--session", "s1", "--target", "etcd-main", "--delete-absent")
		if diff := diffData(want, readAll(t, cli, "")); diff != "" {
			t.Fatal(diff)
		}
		wantOut := map[string]string{
			OutputKeysWritten: strconv.Itoa(len(want)), OutputKeysDeleted: "3",
			outputs.SnapshotID: backups["rest"][outputs.SnapshotID], OutputSHA256: backups["rest"][OutputSHA256],
		}
		gotOut := map[string]string{}
		for k := range wantOut {
			gotOut[k] = out[k]
		}
		if diff := cmp.Diff(wantOut, gotOut); diff != "" {
			t.Errorf("outputs (-want +got):\n%s", diff)
		}
	})

	t.Run("live prefix", func(t *testing.T) {
		// Damage /a/ and /k/; restoring /a/ must leave /k/ as it is.
		if _, err := cli.Delete(context.Background(), "/a/", clientv3.WithPrefix()); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(context.Background(), "/a/new", "n"); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(context.Background(), "/k/0000001", "kept"); err != nil {
			t.Fatal(err)
		}
		out := mustRun(t, NewRestore(), testEnv(t, repos["local"]),
			"--mode", "live", "--endpoints", eps, "--snapshot", backups["local"][outputs.SnapshotID][:10],
			"--prefix", "/a/", "--delete-absent", "--max-txn-ops", "50", "--max-txn-bytes", "200000")
		wantA := map[string]string{}
		for k, v := range want {
			if strings.HasPrefix(k, "/a/") {
				wantA[k] = v
			}
		}
		if diff := diffData(wantA, readAll(t, cli, "/a/")); diff != "" {
			t.Fatal(diff)
		}
		if out[OutputKeysWritten] != strconv.Itoa(len(wantA)) || out[OutputKeysDeleted] != "1" {
			t.Errorf("outputs %v, want %d written, 1 deleted", jsonString(out), len(wantA))
		}
		got, err := cli.Get(context.Background(), "/k/0000001")
		if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "kept" {
			t.Errorf("/k/0000001 outside the prefix was changed: %v %v", got, err)
		}
	})

	t.Run("datadir", func(t *testing.T) {
		dst := testservers.PlanEtcd(t, 1, nil)
		m := dst.Members[0]
		out := mustRun(t, NewRestore(), testEnv(t, repos["local"]),
			"--mode", "datadir", "--snapshot", "latest", "--host", "node-a",
			"--name", m.Name, "--data-dir", m.DataDir, "--initial-cluster", dst.InitialCluster(),
			"--initial-cluster-token", dst.Token, "--interim-dir", filepath.Join(t.TempDir(), "interim"))
		if out[OutputMembers] != "m0" || out[OutputRevision] == "" || out[OutputSHA256] != backups["local"][OutputSHA256] {
			t.Errorf("outputs %v", jsonString(out))
		}
		dst.Start(t)
		if diff := diffData(want, readAll(t, dst.Client(t), "")); diff != "" {
			t.Fatal(diff)
		}
		// A second restore into the now non-empty data directory is refused.
		dst.Stop()
		_, err := runFn(t, NewRestore(), testEnv(t, repos["local"]),
			"--mode", "datadir", "--name", m.Name, "--data-dir", m.DataDir, "--initial-cluster", dst.InitialCluster())
		if err == nil || !strings.Contains(err.Error(), "--force") {
			t.Errorf("restore into a non-empty data dir: err = %v, want one mentioning --force", err)
		}

		// --force replaces the data directory (a file the old one held is
		// gone); --bump-revision with --mark-compacted raises the
		// revision and compacts below it; --keep-interim keeps the
		// fetched file in --interim-dir.
		stray := filepath.Join(m.DataDir, "stray")
		if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		interim := filepath.Join(t.TempDir(), "interim")
		const bump = 1000
		out = mustRun(t, NewRestore(), testEnv(t, repos["local"]),
			"--mode", "datadir", "--name", m.Name, "--data-dir", m.DataDir, "--initial-cluster", dst.InitialCluster(),
			"--initial-cluster-token", dst.Token, "--force", "--bump-revision", strconv.Itoa(bump), "--mark-compacted",
			"--keep-interim", "--interim-dir", interim)
		if _, err := os.Stat(stray); !os.IsNotExist(err) {
			t.Errorf("--force left %s (stat: %v)", stray, err)
		}
		entries, err := os.ReadDir(m.DataDir)
		if err != nil || len(entries) != 1 || entries[0].Name() != "member" {
			t.Errorf("data directory holds %v (%v), want only member", entries, err)
		}
		kept, err := filepath.Glob(filepath.Join(interim, "etcd-*.snapshot"))
		if err != nil || len(kept) != 1 {
			t.Errorf("--keep-interim: interim files %v (%v), want one", kept, err)
		} else if st, err := os.Stat(kept[0]); err != nil || strconv.FormatInt(st.Size(), 10) != out[outputs.Size] {
			t.Errorf("--keep-interim: %s is %v (%v), want %s bytes", kept[0], st, err, out[outputs.Size])
		}
		dst.Start(t)
		rev, err := strconv.ParseInt(out[OutputRevision], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		got, err := dst.Client(t).Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if got.Header.Revision < rev+bump {
			t.Errorf("revision after --bump-revision %d: %d, want ≥ %d", bump, got.Header.Revision, rev+bump)
		}
		if _, err := dst.Client(t).Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithRev(rev)); err == nil || !strings.Contains(err.Error(), "compacted") {
			t.Errorf("read at the snapshot's revision %d after --mark-compacted: err = %v, want compacted", rev, err)
		}
		if diff := diffData(want, readAll(t, dst.Client(t), "")); diff != "" {
			t.Fatal(diff)
		}
	})
}
