package examples_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestRedis runs examples/redis on the local engine against a real Redis:
// the backup through Stash's Task name redis-backup-6.2.5 (redis-backup,
// then retention) while the server runs, then the restore as the dump.rdb
// of a second, stopped server, which started holds every key with the same
// value and expiry.
func TestRedis(t *testing.T) {
	src, err := testservers.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)
	var data strings.Builder
	for i := range 300 {
		k := fmt.Sprintf("session:%04d", i)
		switch i % 3 {
		case 0:
			data.WriteString(respCommand("SET", k, fmt.Sprintf("user-%d\x00\xff", i), "EX", "86400"))
		case 1:
			data.WriteString(respCommand("HSET", k, "user", fmt.Sprint(i), "cart", strings.Repeat("é", i)))
		case 2:
			data.WriteString(respCommand("ZADD", k, "1", "a", fmt.Sprint(i), "b"))
		}
	}
	if err := src.Pipe(context.Background(), data.String()); err != nil {
		t.Fatal(err)
	}
	want := redisDataset(t, src)
	dst, err := testservers.NewRedis() // stopped: the restore writes its dump.rdb
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Stop)

	tmp := t.TempDir()
	load := func(file string) *localrun.Inputs {
		t.Helper()
		in, err := localrun.Load(filepath.Join("redis", "common.yaml"), filepath.Join("redis", file))
		if err != nil {
			t.Fatal(err)
		}
		r, ok := manifest.Named[*v1alpha1.Repository](in.Set, "default", "redis-repo")
		ab, ok2 := manifest.Named[*v1alpha1.AppBinding](in.Set, "default", "redis")
		s, ok3 := manifest.Named[*corev1.Secret](in.Set, "default", "redis")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("common.yaml: Repository %v, AppBinding %v, Secret %v", ok, ok2, ok3)
		}
		r.Spec.Backend.Local.HostPath.Path = filepath.Join(tmp, "repo")
		url := src.Endpoint()
		ab.Spec.ClientConfig.URL = &url
		s.StringData["password"] = src.Password
		if rs, ok := manifest.Named[*v1alpha1.RestoreSession](in.Set, "default", "redis-restore"); ok {
			rs.Spec.Task.Params[0].Value = dst.Dir
		}
		return in
	}

	res := runOne(t, load("backup.yaml"), tmp)
	b := res.Session.(*v1alpha1.BackupSession)
	if b.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup phase = %s: %s (logs in %s)", b.Status.Phase, b.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"redis-backup/Succeeded", "retention/Succeeded"}, stepPhases(b.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("backup steps (-want +got):\n%s", diff)
	}
	stats := b.Status.Targets[0].Stats
	if len(stats) != 1 || len(stats[0].SnapshotID) != 64 || stats[0].Size == nil || *stats[0].Size == 0 {
		t.Fatalf("backup stats = %+v", stats)
	}

	res = runOne(t, load("restore.yaml"), tmp)
	r := res.Session.(*v1alpha1.RestoreSession)
	if r.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore phase = %s: %s (logs in %s)", r.Status.Phase, r.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"redis-restore/Succeeded"}, stepPhases(r.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("restore steps (-want +got):\n%s", diff)
	}
	if out := res.Outcome.Targets[0].Outputs; out["snapshotID"] != stats[0].SnapshotID {
		t.Errorf("restore outputs %v", out)
	}
	if err := dst.Start(); err != nil { // as nobody: the restored file must be the server's
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, redisDataset(t, dst)); diff != "" {
		t.Errorf("dataset after the restore (-backed up +restored):\n%s", diff)
	}
}

// respCommand encodes one command in the Redis protocol.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// redisDataset is database 0 key by key: each key with its value's digest
// (DEBUG DIGEST-VALUE) and its expiry time.
func redisDataset(t *testing.T, r *testservers.Redis) []string {
	t.Helper()
	ctx := context.Background()
	keys, err := r.Cmd(ctx, "--scan")
	if err != nil {
		t.Fatal(err)
	}
	list := strings.Fields(strings.ReplaceAll(keys, `"`, ""))
	slices.Sort(list)
	var script strings.Builder
	for _, k := range list {
		fmt.Fprintf(&script, "DEBUG DIGEST-VALUE %s\nEXPIRETIME %s\n", k, k)
	}
	replies, err := r.Script(ctx, "0", script.String())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(replies, "\n")
	if len(list) < 300 || len(lines) != 2*len(list) {
		t.Fatalf("%d keys, %d replies: %.300s", len(list), len(lines), replies)
	}
	out := make([]string, len(list))
	for i, k := range list {
		out[i] = k + " " + lines[2*i] + " expire=" + lines[2*i+1]
	}
	return out
}
