package redis

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

var src *testservers.Redis

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := testservers.SetupPATH("restic"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var err error
	if src, err = testservers.StartRedis(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer src.Stop()
	if err := src.Pipe(context.Background(), dataset()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// resp encodes one command in the Redis protocol.
func resp(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// dataset is every kind of value, with expiries, binary bytes, and keys
// in two databases.
func dataset() string {
	var b strings.Builder
	for i := range 600 {
		k := fmt.Sprintf("k:%05d", i)
		switch i % 6 {
		case 0:
			b.WriteString(resp("SET", k, strings.Repeat(fmt.Sprintf("v%d-", i), i%40+1)))
		case 1:
			b.WriteString(resp("SET", k, fmt.Sprintf("bin\x00\xff\r\n%d", i), "EX", "86400"))
		case 2:
			b.WriteString(resp("HSET", k, "a", fmt.Sprint(i), "b", "☃", "c", strings.Repeat("x", i%300)))
		case 3:
			b.WriteString(resp("RPUSH", k, "1", "2", fmt.Sprint(i)))
		case 4:
			b.WriteString(resp("SADD", k, "x", "y", fmt.Sprint(i)))
		case 5:
			b.WriteString(resp("ZADD", k, "1.5", "a", fmt.Sprint(i), "b"))
		}
	}
	b.WriteString(resp("XADD", "stream", "1-1", "f", "v"))
	b.WriteString(resp("SELECT", "3"))
	b.WriteString(resp("SET", "in-db-3", "yes"))
	return b.String()
}

// digests returns, for databases 0 and 3, the key count and every key's
// value digest (DEBUG DIGEST-VALUE), key by key.
func digests(t *testing.T, r *testservers.Redis) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, db := range []string{"0", "3"} {
		keys, err := r.Cmd(ctx, "-n", db, "--scan")
		if err != nil {
			t.Fatal(err)
		}
		list := strings.Fields(strings.ReplaceAll(keys, "\"", ""))
		slicesSort(list)
		out = append(out, fmt.Sprintf("db%s: %d keys", db, len(list)))
		var script strings.Builder
		for _, k := range list {
			fmt.Fprintf(&script, "DEBUG DIGEST-VALUE %s\nEXPIRETIME %s\n", k, k)
		}
		replies, err := r.Script(ctx, db, script.String())
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(replies, "\n")
		if len(lines) != 2*len(list) {
			t.Fatalf("%d replies for %d keys: %.300s", len(lines), len(list), replies)
		}
		for i, k := range list {
			out = append(out, k+" "+lines[2*i]+" expire="+lines[2*i+1])
		}
	}
	return out
}

func localRepo(t *testing.T) []string {
	return []string{"RESTIC_REPOSITORY=" + filepath.Join(t.TempDir(), "repo"), "RESTIC_PASSWORD=correct horse battery staple"}
}

func creds() []string { return []string{EnvPassword + "=" + src.Password} }

// TestRoundTrip: the RDB of a running server into restic, written back as
// another (stopped) server's dump.rdb; started, it holds every key with
// the same value and expiry. A second restore over it needs --force.
func TestRoundTrip(t *testing.T) {
	repo := localRepo(t)
	want := digests(t, src)
	if len(want) < 600 {
		t.Fatalf("source has %d entries", len(want))
	}
	out := fntest.MustRun(t, NewBackup(), fntest.Env(t, repo, creds()), "--endpoint", src.Endpoint(), "--session", "s1")
	if out[outputs.SnapshotID] == "" || out[outputs.Size] == "0" {
		t.Fatalf("outputs %v", out)
	}
	dst, err := testservers.NewRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dst.Stop)
	res := fntest.MustRun(t, NewRestore(), fntest.Env(t, repo), "--data-dir", dst.Dir, "--session", "s1")
	if res[outputs.SnapshotID] != out[outputs.SnapshotID] || res[outputs.Size] != out[outputs.Size] {
		t.Errorf("restore outputs %v, backup's %v", res, out)
	}
	checkOwnedLikeDir(t, filepath.Join(dst.Dir, "dump.rdb"), dst.Dir)
	if err := dst.Start(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, digests(t, dst)); diff != "" {
		t.Errorf("restored dataset (-source +restored):\n%s", diff)
	}
	dst.Halt()
	_, err = fntest.Run(t, NewRestore(), fntest.Env(t, repo), "--data-dir", dst.Dir)
	if err == nil || !strings.Contains(err.Error(), "exists; set --force") {
		t.Errorf("restore over an existing dump.rdb: err = %v", err)
	}
	fntest.MustRun(t, NewRestore(), fntest.Env(t, repo), "--data-dir", dst.Dir, "--force")
}

// checkOwnedLikeDir: a restore run as root gives the file the owner of
// its directory (the server's user), so that the server can read it.
func checkOwnedLikeDir(t *testing.T, file, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	d, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	du, dg := statOwner(d)
	fu, fg := statOwner(f)
	if du != fu || dg != fg {
		t.Errorf("%s is owned by %d:%d, its directory by %d:%d", file, fu, fg, du, dg)
	}
}

func wrapper(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTransferStopsEarly: redis-cli killed halfway, or exiting 0 after
// part of the RDB, or after a damaged one, fails the backup without a
// snapshot. (A file cut short is told by its missing end-of-file opcode;
// when the byte where that opcode would stand happens to be 0xFF, about 1
// run in 128, the checksum fails instead: both messages say "cut short".)
func TestTransferStopsEarly(t *testing.T) {
	real, err := osexec.LookPath("redis-cli")
	if err != nil {
		t.Fatal(err)
	}
	repo := localRepo(t)
	fntest.MustRun(t, NewBackup(), fntest.Env(t, repo, creds()), "--endpoint", src.Endpoint())
	for name, tc := range map[string]struct{ script, want string }{
		"killed":  {`"` + real + `" "$@" | head -c 5000; kill -KILL $$`, "signal: killed"},
		"exits 0": {`"` + real + `" "$@" | head -c 5000; exit 0`, "cut short"},
		"damaged": {`"` + real + `" "$@" | tr v w`, "RDB checksum mismatch"},
	} {
		t.Run(name, func(t *testing.T) {
			path := []string{"PATH=" + wrapper(t, "redis-cli", tc.script) + string(os.PathListSeparator) + os.Getenv("PATH")}
			_, err := fntest.Run(t, NewBackup(), fntest.Env(t, repo, creds(), path), "--endpoint", src.Endpoint())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			c, cerr := restic.NewClient(append(os.Environ(), repo...), nil)
			if cerr != nil {
				t.Fatal(cerr)
			}
			snaps, serr := c.Snapshots(context.Background(), restic.Filter{})
			if serr != nil || len(snaps) != 1 {
				t.Errorf("snapshots %d (%v), want only the good one", len(snaps), serr)
			}
		})
	}
}

// TestRestoreDamaged: a damaged RDB in the repository is refused and no
// dump.rdb is written.
func TestRestoreDamaged(t *testing.T) {
	repo := localRepo(t)
	c, err := restic.NewClient(append(os.Environ(), repo...), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.EnsureRepository(ctx); err != nil {
		t.Fatal(err)
	}
	bk, err := c.BackupStdin(ctx, restic.BackupOptions{Filename: DumpFilename})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Write([]byte("REDIS0010\xfa\x09redis-ver\x057.0.0\xff12345678")); err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = fntest.Run(t, NewRestore(), fntest.Env(t, repo), "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("err = %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the data directory has %v after a refused restore", left)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		restore bool
		args    []string
		want    string
	}{
		{false, nil, "--endpoint: required"},
		{false, []string{"--endpoint", "rediss://db:6380"}, `scheme "rediss" is not redis`},
		{false, []string{"--endpoint", "redis://:pw@db:6379"}, "must not hold a user or password"},
		{false, []string{"--endpoint", "redis://db:6379/2"}, "a path or query is not supported"},
		{false, []string{"--endpoint", "redis://db", "--args", "-a secret"}, `"-a" is not allowed`},
		{true, nil, "--data-dir: required"},
		{true, []string{"--data-dir", "/d", "--file", "a/b"}, `--file: "a/b"`},
	} {
		fn := NewBackup()
		if tc.restore {
			fn = NewRestore()
		}
		_, err := fntest.Run(t, fn, fntest.Env(t), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T %q: err = %v, want %q", fn, tc.args, err, tc.want)
		}
	}
}
