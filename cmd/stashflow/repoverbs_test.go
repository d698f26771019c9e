package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/stashflow/stashflow/internal/testrepo"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestRepositoryVerbs runs check, unlock and download against a real
// restic repository read from files: check passes and then finds a
// removed pack; unlock removes the lock of a killed restic and keeps a
// live one's; download writes a snapshot's files into a new directory
// and refuses one that is not empty, leaving it as it was.
func TestRepositoryVerbs(t *testing.T) {
	if err := testservers.SetupPATH("restic"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repoDir, src := filepath.Join(dir, "repo"), filepath.Join(dir, "src")
	files := write(t, "repo.yaml", localRepository(repoDir, "verbs-pw"))
	resticEnv := append(os.Environ(), "RESTIC_REPOSITORY="+repoDir, "RESTIC_PASSWORD=verbs-pw", "RESTIC_CACHE_DIR="+filepath.Join(dir, "cache"))
	restic := func(args ...string) *exec.Cmd {
		cmd := exec.Command("restic", args...)
		cmd.Env = resticEnv
		return cmd
	}
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"a.txt": "alpha", "sub/b.txt": "beta"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init"}, {"backup", "--host", "h1", src}} {
		if out, err := restic(args...).CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
	}
	ctx := context.Background()

	t.Run("download", func(t *testing.T) {
		to := filepath.Join(dir, "out")
		out, stderr, code := stashflow(ctx, t, "download", "-f", files, "--snapshot", "latest", "--host", "h1", "--to", to)
		if code != 0 || !strings.Contains(out, "snapshot ") || !strings.Contains(out, "into "+to) {
			t.Fatalf("download: exit %d\n%s%s", code, out, stderr)
		}
		for name, want := range map[string]string{"a.txt": "alpha", "sub/b.txt": "beta"} {
			if got, err := os.ReadFile(filepath.Join(to, src, name)); err != nil || string(got) != want {
				t.Errorf("%s: %q, %v; want %q", name, got, err, want)
			}
		}
		// Not into a directory that has files: nothing written.
		_, stderr, code = stashflow(ctx, t, "download", "-f", files, "--snapshot", "latest", "--to", to, "--include", filepath.Join(src, "a.txt"))
		if code != exitUsage || !strings.Contains(stderr, "is not empty") {
			t.Errorf("download into a non-empty dir: exit %d, %q; want a usage error", code, stderr)
		}
		only := filepath.Join(dir, "only")
		if _, stderr, code := stashflow(ctx, t, "download", "-f", files, "--snapshot", "latest", "--to", only, "--include", filepath.Join(src, "sub")); code != 0 {
			t.Fatalf("download --include: exit %d: %s", code, stderr)
		}
		if _, err := os.Stat(filepath.Join(only, src, "a.txt")); !os.IsNotExist(err) {
			t.Errorf("--include sub also wrote a.txt (%v)", err)
		}
		_, stderr, code = stashflow(ctx, t, "download", "-f", files, "--snapshot", "feedbeef", "--to", filepath.Join(dir, "none"))
		if code != exitFailed || !strings.Contains(stderr, `no snapshot "feedbeef"`) {
			t.Errorf("download of an unknown id: exit %d, %q", code, stderr)
		}
	})

	t.Run("unlock", func(t *testing.T) {
		// Two restic processes holding locks: one killed (its lock is
		// stale), one alive until the end.
		hold := func() *exec.Cmd {
			cmd := restic("backup", "--stdin", "--stdin-filename", "held", "--host", "holder")
			w, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Killed before its stdin closes: a holder never commits a
			// snapshot into the repository the later subtests read.
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = w.Close(); _ = cmd.Wait() })
			return cmd
		}
		locks := func() int {
			out, err := restic("list", "locks", "--no-lock").Output()
			if err != nil {
				t.Fatal(err)
			}
			return len(strings.Fields(string(out)))
		}
		killed := hold()
		waitLocks(t, locks, 1)
		if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = killed.Wait()
		live := hold()
		waitLocks(t, locks, 2)
		out, stderr, code := stashflow(ctx, t, "unlock", "-f", files)
		if code != 0 || !strings.Contains(out, "1 stale lock removed") || !strings.Contains(out, "kept: PID "+strconv.Itoa(live.Process.Pid)) {
			t.Fatalf("unlock: exit %d\n%s%s", code, out, stderr)
		}
		if n := locks(); n != 1 {
			t.Errorf("%d locks after unlock; want the live one only", n)
		}
	})

	t.Run("check", func(t *testing.T) {
		if out, stderr, code := stashflow(ctx, t, "check", "-f", files, "--read-data"); code != 0 || !strings.Contains(out, "no errors found") {
			t.Fatalf("check: exit %d\n%s%s", code, out, stderr)
		}
		testrepo.RemovePack(t, repoDir)
		_, stderr, code := stashflow(ctx, t, "check", "-f", files)
		if code != exitFailed || !strings.Contains(stderr, "error(s) found") {
			t.Errorf("check of a repository missing a pack: exit %d, %q; want exit 1 and the errors", code, stderr)
		}
	})
}

func waitLocks(t *testing.T, locks func() int, n int) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return locks() >= n, nil
	}); err != nil {
		t.Fatalf("waiting for %d locks: %v", n, err)
	}
}
