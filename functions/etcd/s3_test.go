package etcd

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

// TestS3RoundTrip backs a small etcd up to a restic repository on a real
// S3 server (MinIO), then restores it into the running cluster (live
// mode): the whole keyspace and one prefix, with --delete-absent.
func TestS3RoundTrip(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	cli := src.Client(t)
	data := dataset{keys: 600, bigEvery: 100, overwrite: 50, deletes: 20, prefixes: []string{"/k/", "/a/"}, seed: 3}
	want := data.load(t, cli)
	eps := strings.Join(src.Endpoints(), ",")
	s3 := testservers.StartS3Server(t)
	repo := append(s3.S3Repo("etcd-backups/cluster-1"), "RESTIC_PASSWORD="+testPassword)

	backup := mustRun(t, NewBackup(), testEnv(t, repo),
		"--endpoints", eps, "--session", "s3-1", "--target", "etcd-main", "--hostname", "node-a")
	snaps := snapshots(t, repo)
	type snap struct {
		ID, Host string
		Tags     []string
	}
	var gotSnaps []snap
	for _, s := range snaps {
		gotSnaps = append(gotSnaps, snap{s.ID, s.Hostname, slices.Sorted(slices.Values(s.Tags))})
	}
	wantSnaps := []snap{{backup[outputs.SnapshotID], "node-a",
		[]string{"etcd-revision=" + backup[OutputRevision], "etcd-sha256=verified", "session=s3-1", "target=etcd-main"}}}
	if diff := cmp.Diff(wantSnaps, gotSnaps); diff != "" {
		t.Fatalf("snapshots (-want +got):\n%s", diff)
	}

	only := func(prefix string) map[string]string {
		m := map[string]string{}
		for k, v := range want {
			if strings.HasPrefix(k, prefix) {
				m[k] = v
			}
		}
		return m
	}
	// The cases run in order on the same cluster.
	for _, tc := range []struct {
		name   string
		damage []clientv3.Op // applied in order before the restore
		args   []string
		prefix string // compared after the restore ("" for all)
		want   map[string]string
		// outputs
		written, deleted int
	}{
		{
			name: "whole keyspace",
			damage: []clientv3.Op{
				clientv3.OpDelete("/k/", clientv3.WithPrefix()),
				clientv3.OpPut("/extra", "x"), clientv3.OpPut("/a/0000001", "changed"),
			},
			args:    []string{"--snapshot", "latest", "--target", "etcd-main"},
			want:    want,
			written: len(want), deleted: 1,
		},
		{
			name: "prefix",
			damage: []clientv3.Op{
				clientv3.OpDelete("/a/", clientv3.WithPrefix()),
				clientv3.OpPut("/a/new", "n"),
			},
			args:    []string{"--snapshot", backup[outputs.SnapshotID][:8], "--prefix", "/a/"},
			prefix:  "/a/",
			want:    only("/a/"),
			written: len(only("/a/")), deleted: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range tc.damage {
				if _, err := cli.Do(context.Background(), op); err != nil {
					t.Fatal(err)
				}
			}
			out := mustRun(t, NewRestore(), testEnv(t, repo),
				append([]string{"--mode", "live", "--endpoints", eps, "--delete-absent"}, tc.args...)...)
			if diff := diffData(tc.want, readAll(t, cli, tc.prefix)); diff != "" {
				t.Fatal(diff)
			}
			wantOut := map[string]string{
				OutputKeysWritten: strconv.Itoa(tc.written), OutputKeysDeleted: strconv.Itoa(tc.deleted),
				outputs.SnapshotID: backup[outputs.SnapshotID], OutputSHA256: backup[OutputSHA256],
			}
			gotOut := map[string]string{}
			for k := range wantOut {
				gotOut[k] = out[k]
			}
			if diff := cmp.Diff(wantOut, gotOut); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
		})
	}
	if diff := diffData(want, readAll(t, cli, "")); diff != "" {
		t.Errorf("after both restores: %s", diff)
	}
}
