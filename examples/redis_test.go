package examples_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
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
	secret := map[string]string{"password": src.Password}
	_, snap := backUp(t, loadDatabase(t, "redis", tmp, "backup.yaml", src.Endpoint(), secret), tmp,
		"redis-backup/Succeeded", "retention/Succeeded")
	in := loadDatabase(t, "redis", tmp, "restore.yaml", src.Endpoint(), secret)
	rs, ok := manifest.Named[*v1alpha1.RestoreSession](in.Set, "default", "redis-restore")
	if !ok {
		t.Fatal("redis/restore.yaml has no RestoreSession redis-restore")
	}
	rs.Spec.Task.Params[0].Value = dst.Dir
	restore(t, in, tmp, snap.SnapshotID, "redis-restore/Succeeded")
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
