package etcd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/internal/testproc"
	"github.com/stashflow/stashflow/internal/testservers"
)

// flipProxy forwards TCP connections to upstream and flips one bit of the
// byte at offset flipAt of each connection's upstream→client stream.
type flipProxy struct {
	l       net.Listener
	flipped atomic.Int32
	wg      sync.WaitGroup
}

func startFlipProxy(t *testing.T, upstream string, flipAt int64) *flipProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flipProxy{l: l}
	t.Cleanup(func() { l.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = c.Close() // test proxy: nothing to report
				continue
			}
			p.wg.Add(2)
			// Closes end the other direction's copy; their errors say nothing.
			go func() { defer p.wg.Done(); _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { defer p.wg.Done(); p.pump(c, u, flipAt); _ = c.Close() }()
		}
	}()
	return p
}

func (p *flipProxy) pump(dst io.Writer, src io.Reader, flipAt int64) {
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if flipAt >= off && flipAt < off+int64(n) {
				buf[flipAt-off] ^= 0x10
				p.flipped.Add(1)
			}
			off += int64(n)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *flipProxy) addr() string { return p.l.Addr().String() }

// TestCorruptStream flips one byte deep in the snapshot stream: the backup
// must fail, and no snapshot (and no lock) may be left in the repository.
func TestCorruptStream(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	dataset{keys: 2_000, bigEvery: 20, seed: 4}.load(t, src.Client(t))
	repo := localRepo(t)
	eps := strings.Join(src.Endpoints(), ",")

	good := runBin(t, repo, "etcd-backup", "--endpoints", eps)
	if good.code != 0 {
		t.Fatalf("good backup: exit %d: %s", good.code, good.stderr)
	}
	proxy := startFlipProxy(t, strings.TrimPrefix(src.Members[0].ClientURL, "http://"), 3<<20)
	bad := runBin(t, repo, "etcd-backup", "--endpoints", "http://"+proxy.addr())
	t.Logf("corrupt stream: exit %d, stderr %q", bad.code, bad.stderr)
	if proxy.flipped.Load() == 0 {
		t.Fatal("the proxy flipped nothing: the stream was shorter than the offset")
	}
	if bad.code == 0 {
		t.Fatal("backup of a corrupted stream succeeded")
	}
	checkOneLine(t, bad.stderr)
	if !strings.Contains(bad.stderr, "sha256 mismatch") && !strings.Contains(bad.stderr, "stream broke") {
		t.Errorf("stderr %q names neither a sha256 mismatch nor a broken stream", bad.stderr)
	}
	snaps := snapshots(t, repo)
	if len(snaps) != 1 || snaps[0].ID != good.outputs["snapshotID"] {
		t.Errorf("repository has %d snapshots %v, want only the good one %s", len(snaps), jsonString(snaps), good.outputs["snapshotID"])
	}
	locks, err := resticClient(t, repo).Locks(context.Background())
	if err != nil || len(locks) != 0 {
		t.Errorf("locks left: %v %v", locks, err)
	}

	// The good snapshot with bytes flipped, stored as it is: a datadir
	// restore must notice, fail with the reason, and leave the data
	// directory as empty as it found it — whether the damage is in the
	// data (etcdutl restores it happily) or in both bbolt meta pages
	// (bbolt refuses to open it).
	ctx := context.Background()
	rc := resticClient(t, repo)
	var snap bytes.Buffer
	if err := rc.Dump(ctx, good.outputs["snapshotID"], SnapshotPath, &snap); err != nil {
		t.Fatal(err)
	}
	for name, offsets := range map[string][]int{"data page": {snap.Len() / 2}, "meta pages": {16, 4096 + 16}} {
		t.Run("damaged "+name+", datadir restore", func(t *testing.T) {
			b := bytes.Clone(snap.Bytes())
			for _, o := range offsets {
				b[o] ^= 0x40
			}
			session := "damaged-" + strings.ReplaceAll(name, " ", "-")
			storeSnapshot(t, rc, b, TagSession+"="+session)
			dataDir := t.TempDir()
			res := runBin(t, repo, "etcd-restore", "--mode", "datadir", "--session", session, "--data-dir", dataDir, "--interim-dir", t.TempDir())
			if res.code != 1 || !strings.Contains(res.stderr, "sha256 mismatch") {
				t.Errorf("datadir: exit %d, stderr %q; want 1 and a sha256 mismatch", res.code, res.stderr)
			}
			checkOneLine(t, res.stderr)
			if empty, err := dirEmpty(dataDir); err != nil || !empty {
				t.Errorf("data directory left with the damaged database (empty %v, %v)", empty, err)
			}

			// Live mode: the running cluster is not touched. A key the
			// snapshot lacks would be deleted (--delete-absent) by a restore
			// that went ahead.
			if _, err := src.Client(t).Put(ctx, "/written-after-the-backup/"+session, "x"); err != nil {
				t.Fatal(err)
			}
			before := readAll(t, src.Client(t), "")
			res = runBin(t, repo, "etcd-restore", "--mode", "live", "--endpoints", eps, "--session", session, "--delete-absent", "--interim-dir", t.TempDir())
			if res.code != 1 || !strings.Contains(res.stderr, "sha256 mismatch") {
				t.Errorf("live: exit %d, stderr %q; want 1 and a sha256 mismatch", res.code, res.stderr)
			}
			checkOneLine(t, res.stderr)
			if diff := diffData(before, readAll(t, src.Client(t), "")); diff != "" {
				t.Errorf("live restore of a damaged snapshot changed the cluster: %s", diff)
			}
		})
	}

	// A snapshot whose backup verified the stream (etcd-backup's tag) is
	// not hashed again: restic returns exactly the bytes it stored. The
	// tag is all the restore goes by, so a damaged snapshot that carries
	// it (forged here) passes the datadir restore's check, and
	// --recheck-sha256 catches it.
	t.Run("verified tag", func(t *testing.T) {
		res := runBin(t, repo, "etcd-restore", "--mode", "datadir", "--snapshot", good.outputs["snapshotID"], "--data-dir", t.TempDir())
		if res.code != 0 || !strings.Contains(res.stdout+res.stderr, "not hashing the snapshot file again") {
			t.Errorf("restore of etcd-backup's snapshot: exit %d, want 0 and the log saying it was not hashed again; stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
		b := bytes.Clone(snap.Bytes())
		b[len(b)/2] ^= 0x40
		storeSnapshot(t, rc, b, TagSession+"=forged", TagVerified+"="+VerifiedValue)
		dataDir := t.TempDir()
		res = runBin(t, repo, "etcd-restore", "--mode", "datadir", "--session", "forged", "--data-dir", dataDir, "--recheck-sha256")
		if res.code != 1 || !strings.Contains(res.stderr, "sha256 mismatch") {
			t.Errorf("--recheck-sha256: exit %d, stderr %q; want 1 and a sha256 mismatch", res.code, res.stderr)
		}
		if empty, err := dirEmpty(dataDir); err != nil || !empty {
			t.Errorf("data directory left with the damaged database (empty %v, %v)", empty, err)
		}
		res = runBin(t, repo, "etcd-restore", "--mode", "datadir", "--session", "forged", "--data-dir", dataDir)
		if res.code != 0 {
			t.Errorf("restore of a snapshot tagged %s=%s: exit %d, stderr %q; want 0 (the tag is trusted)", TagVerified, VerifiedValue, res.code, res.stderr)
		}
	})

	// The data directory is locked for the whole restore, and a staging
	// directory a killed restore left behind is removed under the lock.
	t.Run("lock and leftovers", func(t *testing.T) {
		dataDir := t.TempDir()
		left := filepath.Join(dataDir, stagePrefix+"killed")
		if err := os.MkdirAll(filepath.Join(left, ".restore-1"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(left, "etcd.snapshot"), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := os.Open(dataDir)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		res := runBin(t, repo, "etcd-restore", "--mode", "datadir", "--snapshot", good.outputs["snapshotID"], "--data-dir", dataDir)
		if res.code != 1 || !strings.Contains(res.stderr, "being restored by another process") {
			t.Errorf("restore into a locked data directory: exit %d, stderr %q; want 1 and the lock named", res.code, res.stderr)
		}
		if _, err := os.Stat(filepath.Join(left, "etcd.snapshot")); err != nil {
			t.Errorf("a locked data directory was changed: %v", err)
		}
		if err := syscall.Flock(int(d.Fd()), syscall.LOCK_UN); err != nil {
			t.Fatal(err)
		}
		res = runBin(t, repo, "etcd-restore", "--mode", "datadir", "--snapshot", good.outputs["snapshotID"], "--data-dir", dataDir)
		if res.code != 0 {
			t.Fatalf("restore over a killed restore's leftovers: exit %d, stderr %q; want 0 without --force", res.code, res.stderr)
		}
		entries, err := os.ReadDir(dataDir)
		if err != nil || len(entries) != 1 || entries[0].Name() != "member" {
			t.Errorf("data directory holds %v (%v), want only member", entries, err)
		}
	})
}

// storeSnapshot stores b as a snapshot's etcd.snapshot, as it is, with tags.
func storeSnapshot(t *testing.T, rc *restic.Client, b []byte, tags ...string) {
	t.Helper()
	ctx := context.Background()
	bk, err := rc.BackupStdin(ctx, restic.BackupOptions{Filename: SnapshotFilename, Tags: tags})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Write(b); err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Finish(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkOneLine asserts a failed step's stderr: exactly one line, no Go
// stack trace, no secret.
func checkOneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || strings.TrimSpace(stderr) == "" {
		t.Errorf("stderr is not exactly one line: %q", stderr)
	}
	for _, bad := range []string{"goroutine ", "panic", testPassword, "wrong-" + testPassword} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr contains %q: %q", bad, stderr)
		}
	}
}

// TestFailures runs the real binary into each failure and checks the exit
// code and the one-line reason.
func TestFailures(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	eps := strings.Join(src.Endpoints(), ",")
	repo := localRepo(t)
	if _, err := resticClient(t, repo).EnsureRepository(context.Background()); err != nil {
		t.Fatal(err)
	}
	closedPort, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := fmt.Sprintf("http://127.0.0.1:%d", closedPort)
	wrongPassword := []string{repo[0], "RESTIC_PASSWORD=wrong-" + testPassword}
	unreachable := []string{fmt.Sprintf("RESTIC_REPOSITORY=rest:http://user:%s@127.0.0.1:%d/repo", "s3cr3t-in-url", closedPort),
		"RESTIC_PASSWORD=" + testPassword, restic.EnvOpenTimeout + "=2s"}
	noRepoEnv := []string{"RESTIC_REPOSITORY=", "RESTIC_PASSWORD="}
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     string
	}{
		{"etcd down", repo, []string{"etcd-backup", "--endpoints", down, "--dial-timeout", "1s"}, 1, "no healthy etcd member: " + down + ": unreachable"},
		{"wrong restic password", wrongPassword, []string{"etcd-backup", "--endpoints", eps}, 1, "restic backup: wrong password"},
		{"repository unreachable", unreachable, []string{"etcd-backup", "--endpoints", eps}, 1, "repository unreachable: rest:http://user:***@127.0.0.1"},
		{"no repository configured", noRepoEnv, []string{"etcd-backup", "--endpoints", eps}, 1, "RESTIC_REPOSITORY is not set"},
		{"restore: wrong password", wrongPassword, []string{"etcd-restore", "--mode", "live", "--endpoints", eps}, 1, "wrong password"},
		{"restore: no snapshot", repo, []string{"etcd-restore", "--mode", "live", "--endpoints", eps, "--session", "nope"}, 1, "no snapshot matches tags session=nope"},
		{"restore: interim dir is a file", repo, []string{"etcd-restore", "--mode", "datadir", "--data-dir", t.TempDir(), "--interim-dir", file}, 1, "--interim-dir"},
		{"missing --endpoints", repo, []string{"etcd-backup"}, 2, "--endpoints: at least one endpoint is required"},
		{"bad --mode", repo, []string{"etcd-restore", "--mode", "hot"}, 2, `--mode: "hot" is neither datadir nor live`},
		{"unknown flag", repo, []string{"etcd-backup", "--endpoint", eps}, 2, "unknown flag: --endpoint"},
		{"retention without rules", repo, []string{"retention"}, 2, "no keep rule given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runBin(t, tt.env, tt.args...)
			if res.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", res.code, tt.wantCode, res.stderr)
			}
			checkOneLine(t, res.stderr)
			if !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr %q does not contain %q", res.stderr, tt.want)
			}
			if strings.Contains(res.stderr, "s3cr3t-in-url") {
				t.Errorf("stderr leaks the URL password: %q", res.stderr)
			}
		})
	}
	if n := len(snapshots(t, repo)); n != 0 {
		t.Errorf("%d snapshots written by failed runs", n)
	}
}

// freezeLockHolder starts `restic prune` and stops it (SIGSTOP) as soon as
// its exclusive lock file exists: a live process holding the lock.
func freezeLockHolder(t *testing.T, repoEnv []string, repoDir string) *exec.Cmd {
	t.Helper()
	for try := 0; try < 10; try++ {
		cmd := exec.Command("restic", "prune", "--json")
		cmd.Env = append(os.Environ(), repoEnv...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if hasLockFile(repoDir) {
				_ = cmd.Process.Signal(syscall.SIGSTOP)
				select {
				case <-done: // it finished first: try again
				case <-time.After(100 * time.Millisecond):
					if hasLockFile(repoDir) {
						t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
						return cmd
					}
				}
				break
			}
			select {
			case <-done:
				deadline = time.Time{}
			case <-time.After(2 * time.Millisecond):
			}
		}
		_ = cmd.Process.Kill()
		<-done
	}
	t.Fatal("could not catch restic prune holding its lock")
	return nil
}

// TestLockedRepository: a backup blocked by an exclusive lock fails naming
// the live holder; once the holder is gone (same host, PID gone) the lock
// is removed and the backup succeeds.
func TestLockedRepository(t *testing.T) {
	src := testservers.StartEtcd(t, 1, nil)
	dataset{keys: 200, seed: 5}.load(t, src.Client(t))
	repoDir := filepath.Join(t.TempDir(), "repo")
	repo := []string{"RESTIC_REPOSITORY=" + repoDir, "RESTIC_PASSWORD=" + testPassword}
	eps := strings.Join(src.Endpoints(), ",")
	mustRun(t, NewBackup(), testEnv(t, repo), "--endpoints", eps)

	holder := freezeLockHolder(t, repo, repoDir)
	res := runBin(t, repo, "etcd-backup", "--endpoints", eps)
	checkOneLine(t, res.stderr)
	want := fmt.Sprintf("repository is locked by PID %d on host", holder.Process.Pid)
	if res.code != 1 || !strings.Contains(res.stderr, want) || !strings.Contains(res.stderr, "still running") {
		t.Fatalf("exit %d, stderr %q; want a lock error containing %q\n%s", res.code, res.stderr, want, res.stdout)
	}
	// The holder dies: its lock is stale now.
	_ = holder.Process.Kill()
	for pidAlive(holder.Process.Pid) {
		time.Sleep(10 * time.Millisecond)
	}
	res = runBin(t, repo, "etcd-backup", "--endpoints", eps)
	if res.code != 0 {
		t.Fatalf("backup after the holder died: exit %d: %s", res.code, res.stderr)
	}
	if !strings.Contains(res.stdout, "retrying after removing a stale restic lock") {
		t.Errorf("no retry logged:\n%s", res.stdout)
	}
	if n := len(snapshots(t, repo)); n != 2 {
		t.Errorf("%d snapshots, want 2", n)
	}
}

// hasLockFile reports whether the repository has a complete lock file: one
// named by its 64-hex id (the local backend writes a temporary file first).
func hasLockFile(repoDir string) bool {
	entries, _ := os.ReadDir(filepath.Join(repoDir, "locks"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && len(e.Name()) == 64 && !strings.Contains(e.Name(), "-") && info.Size() > 0 {
			return true
		}
	}
	return false
}

func pidAlive(pid int) bool {
	// Reaped by the goroutine in freezeLockHolder once killed.
	return syscall.Kill(pid, 0) == nil
}
