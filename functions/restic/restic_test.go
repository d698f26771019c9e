package restic

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/testproc"
	"github.com/stashflow/stashflow/internal/testservers"
	"github.com/stashflow/stashflow/outputs"
)

func TestMain(m *testing.M) {
	if err := testservers.SetupPATH("restic", "rest-server"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const password = "a password"

func newClient(t *testing.T, location string, extra ...string) *Client {
	t.Helper()
	env := append(os.Environ(), "RESTIC_REPOSITORY="+location, "RESTIC_PASSWORD="+password)
	c, err := NewClient(append(env, extra...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// backup stores data from a stream with tags.
func backup(t *testing.T, c *Client, data []byte, tags ...string) *BackupSummary {
	t.Helper()
	b, err := c.BackupStdin(ctx(t), BackupOptions{Filename: "f", Tags: tags, Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(data); err != nil {
		t.Fatal(err)
	}
	s, err := b.Finish(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRepository exercises a local and a REST repository: init when
// absent, backup from a stream, snapshots, resolve, dump, stats, forget,
// check.
func TestRepository(t *testing.T) {
	rest := testservers.StartRestServer(t)
	for name, loc := range map[string]string{"local": filepath.Join(t.TempDir(), "repo"), "rest": rest + "r1"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // mostly waiting for restic's key derivation and fsyncs
			c := newClient(t, loc)
			created, err := c.EnsureRepository(ctx(t))
			if err != nil || !created {
				t.Fatalf("EnsureRepository = %v, %v; want a new repository", created, err)
			}
			if created, err := c.EnsureRepository(ctx(t)); err != nil || created {
				t.Fatalf("second EnsureRepository = %v, %v", created, err)
			}
			data := make([]byte, 3<<20)
			_, _ = rand.Read(data)
			s1 := backup(t, c, data, "target=a", "n=1")
			s2 := backup(t, c, data[:1<<20], "target=a", "n=2")
			s3 := backup(t, c, []byte("other"), "target=b")
			if s1.TotalBytesProcessed != 3<<20 || s1.TotalFilesProcessed != 1 || s1.DataAddedPacked == 0 {
				t.Errorf("summary %+v", s1)
			}
			snaps, err := c.Snapshots(ctx(t), Filter{Tags: []string{"target=a"}})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range snaps {
				ids = append(ids, s.ID)
			}
			if diff := cmp.Diff([]string{s1.SnapshotID, s2.SnapshotID}, ids); diff != "" {
				t.Errorf("snapshots target=a (-want +got):\n%s", diff)
			}
			if snaps[0].Tag("n") != "1" || snaps[0].Hostname != "h" {
				t.Errorf("snapshot %+v", snaps[0])
			}
			latest, err := c.Resolve(ctx(t), "latest", Filter{Tags: []string{"target=a"}})
			if err != nil || latest.ID != s2.SnapshotID {
				t.Errorf("Resolve(latest) = %v, %v", latest.ID, err)
			}
			if got, err := c.Resolve(ctx(t), s3.SnapshotID[:8], Filter{}); err != nil || got.ID != s3.SnapshotID {
				t.Errorf("Resolve(prefix) = %v, %v", got.ID, err)
			}
			if _, err := c.Resolve(ctx(t), "latest", Filter{Tags: []string{"target=zzz"}}); !IsKind(err, KindNoSnapshot) {
				t.Errorf("Resolve(no match) err = %v", err)
			}
			var dumped bytes.Buffer
			if err := c.Dump(ctx(t), s1.SnapshotID, "/f", &dumped); err != nil || !bytes.Equal(dumped.Bytes(), data) {
				t.Errorf("Dump: %v (got %d bytes)", err, dumped.Len())
			}
			st, err := c.Stats(ctx(t), "restore-size", s1.SnapshotID)
			if err != nil || st.TotalSize != 3<<20 || st.TotalFileCount != 1 {
				t.Errorf("Stats = %+v, %v", st, err)
			}
			// Dry run: nothing removed.
			res, err := c.Forget(ctx(t), ForgetOptions{KeepLast: 1, Filter: Filter{Tags: []string{"target=a"}}, DryRun: true})
			if err != nil || res.Kept != 1 || res.Removed != 1 {
				t.Fatalf("Forget(dry run) = %+v, %v", res, err)
			}
			if snaps, _ := c.Snapshots(ctx(t), Filter{}); len(snaps) != 3 {
				t.Fatalf("dry run removed snapshots: %d left", len(snaps))
			}
			res, err = c.Forget(ctx(t), ForgetOptions{KeepLast: 1, Filter: Filter{Tags: []string{"target=a"}}, Prune: true})
			if err != nil || res.Kept != 1 || res.Removed != 1 || res.Groups[0].Remove[0].ID != s1.SnapshotID {
				t.Fatalf("Forget = %+v, %v", res, err)
			}
			if snaps, _ := c.Snapshots(ctx(t), Filter{}); len(snaps) != 2 {
				t.Fatalf("%d snapshots after forget, want 2", len(snaps))
			}
			chk, err := c.Check(ctx(t), CheckOptions{ReadDataSubset: "50%"})
			if err != nil || chk.NumErrors != 0 {
				t.Fatalf("Check = %+v, %v", chk, err)
			}
		})
	}
}

func TestWrongPasswordAndUnreachable(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "repo")
	if _, err := newClient(t, loc).EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, loc, "RESTIC_PASSWORD=nope")
	if _, err := c.EnsureRepository(ctx(t)); !IsKind(err, KindWrongPassword) {
		t.Errorf("wrong password: err = %v", err)
	}
	port, _ := testproc.FreePort()
	c = newClient(t, fmt.Sprintf("rest:http://127.0.0.1:%d/x", port), EnvOpenTimeout+"=1s")
	start := time.Now()
	_, err := c.EnsureRepository(ctx(t))
	if !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("unreachable: err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("giving up took %v", d)
	}
	if _, err := NewClient([]string{"RESTIC_PASSWORD=x"}, nil); !IsKind(err, KindRepositoryConfig) {
		t.Errorf("no RESTIC_REPOSITORY: err = %v", err)
	}
}

// startHolder starts `restic backup --stdin` that holds a lock until its
// stdin closes or it is killed; it returns once the lock exists.
func startHolder(t *testing.T, c *Client) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(c.Binary, "backup", "--stdin", "--json")
	cmd.Env = c.Environ
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = w.Close() }
	t.Cleanup(stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		locks, err := c.Locks(ctx(t))
		if err == nil && len(locks) > 0 {
			return cmd, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lock appeared: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLocks(t *testing.T) {
	c := newClient(t, filepath.Join(t.TempDir(), "repo"))
	if _, err := c.EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	backup(t, c, []byte("x"))
	backup(t, c, []byte("y"))
	keep := ForgetOptions{KeepLast: 2}

	t.Run("live holder", func(t *testing.T) {
		holder, stop := startHolder(t, c)
		defer stop()
		_, err := c.Forget(ctx(t), keep)
		want := fmt.Sprintf("repository is locked by PID %d on host %s", holder.Process.Pid, c.Hostname)
		if !IsKind(err, KindLocked) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "still running") {
			t.Fatalf("err = %v, want a lock error containing %q", err, want)
		}
	})
	t.Run("holder on another host", func(t *testing.T) {
		_, stop := startHolder(t, c)
		stop() // the lock stays, its PID is gone
		other := *c
		other.Hostname = "elsewhere"
		_, err := other.Forget(ctx(t), keep)
		if !IsKind(err, KindLocked) || !strings.Contains(err.Error(), "another host") {
			t.Fatalf("err = %v, want a lock error naming another host", err)
		}
	})
	t.Run("stale holder removed", func(t *testing.T) {
		// The lock of the previous subtest (same host, PID gone) is stale.
		if locks, _ := c.Locks(ctx(t)); len(locks) == 0 {
			_, stop := startHolder(t, c)
			stop()
		}
		if _, err := c.Forget(ctx(t), keep); err != nil {
			t.Fatalf("forget with a stale lock: %v", err)
		}
		if locks, err := c.Locks(ctx(t)); err != nil || len(locks) != 0 {
			t.Errorf("locks after: %v, %v", locks, err)
		}
	})
}

// TestAbort: a stream aborted before its end leaves no snapshot and no
// lock, also after restic consumed megabytes of it.
func TestAbort(t *testing.T) {
	c := newClient(t, filepath.Join(t.TempDir(), "repo"))
	if _, err := c.EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	b, err := c.BackupStdin(ctx(t), BackupOptions{Filename: "f"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 8<<20)
	_, _ = rand.Read(data)
	if _, err := b.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := b.Abort(ctx(t)); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if snaps, err := c.Snapshots(ctx(t), Filter{}); err != nil || len(snaps) != 0 {
		t.Errorf("snapshots after abort: %v, %v", snaps, err)
	}
	if locks, err := c.Locks(ctx(t)); err != nil || len(locks) != 0 {
		t.Errorf("locks after abort: %v, %v", locks, err)
	}
}

// TestConcurrentFirstUse starts several first uses of one new repository
// at once, on a local path and on a rest-server, again and again, and once
// on S3 (MinIO): restic's
// own init gives such a repository two keys and an unreadable config; under
// the init lock it gets exactly one key and checks clean.
func TestConcurrentFirstUse(t *testing.T) {
	rest := testservers.StartRestServer(t)
	s3 := testservers.StartS3Server(t)
	lockDir := t.TempDir()
	const users, rounds = 4, 3
	for round := range rounds {
		s3Env := s3.S3Repo(fmt.Sprintf("concurrent-%d", round))
		s3Loc, _ := strings.CutPrefix(s3Env[0], "RESTIC_REPOSITORY=")
		for name, repo := range map[string]struct {
			loc string
			env []string
		}{
			"local": {loc: filepath.Join(t.TempDir(), "new", "repo")},
			"rest":  {loc: fmt.Sprintf("%sconcurrent-%d", rest, round)},
			"s3":    {loc: s3Loc, env: s3Env[1:]},
		} {
			if name == "s3" && round > 0 {
				continue // MinIO is slower; one round shows the lock reaches S3
			}
			loc := repo.loc
			t.Run(fmt.Sprintf("%s/%d", name, round), func(t *testing.T) {
				created := make(chan bool, users)
				errs := make(chan error, users)
				for range users {
					go func() {
						env := append(os.Environ(), "RESTIC_REPOSITORY="+loc, "RESTIC_PASSWORD="+password, EnvInitLockDir+"="+lockDir)
						c, err := NewClient(append(env, repo.env...), nil)
						if err != nil {
							errs <- err
							return
						}
						ok, err := c.EnsureRepository(ctx(t))
						created <- ok
						errs <- err
					}()
				}
				inits := 0
				for range users {
					if err := <-errs; err != nil {
						t.Errorf("EnsureRepository: %v", err)
						continue
					}
					if <-created {
						inits++
					}
				}
				if inits != 1 {
					t.Errorf("%d of %d first uses initialised the repository, want exactly 1", inits, users)
				}
				c := newClient(t, loc, repo.env...)
				out, err := c.run(ctx(t), runOptions{}, "key", "list")
				if err != nil {
					t.Fatalf("restic key list: %v", err)
				}
				if n := strings.Count(string(out), `"id"`); n != 1 {
					t.Errorf("repository has %d keys, want 1: %s", n, out)
				}
				backup(t, c, []byte("after a concurrent first use"))
				if _, err := c.Check(ctx(t), CheckOptions{}); err != nil {
					t.Errorf("restic check: %v", err)
				}
			})
		}
	}
}

// TestBackendDiesMidStream kills the rest-server while a stream is being
// backed up: the backup fails within the stall timeout, naming the
// backend, instead of restic retrying for minutes; no snapshot is written.
func TestBackendDiesMidStream(t *testing.T) {
	url, kill := testservers.StartKillableRestServer(t)
	loc := url + "dies"
	c := newClient(t, loc, EnvStallTimeout+"=3s")
	if _, err := c.EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	b, err := c.BackupStdin(ctx(t), BackupOptions{Filename: "f", Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	_, _ = rand.Read(chunk)
	start := time.Now()
	var werr error
	for i := 0; werr == nil && time.Since(start) < 2*time.Minute; i++ {
		if i == 32 {
			kill()
		}
		_, _ = rand.Read(chunk[:64]) // no two chunks alike: restic must upload each
		_, werr = b.Write(chunk)
	}
	if werr == nil {
		t.Fatal("restic still read its input 2 minutes after its backend died")
	}
	err = b.Abort(ctx(t))
	took := time.Since(start)
	if err == nil || !IsKind(err, KindUnreachable) || !strings.Contains(err.Error(), "stopped answering") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("Abort() = %v, want the backend named as unreachable", err)
	}
	t.Logf("failed after %s: %v", took.Round(100*time.Millisecond), err)
}

// TestDiskFull backs up a stream into a repository on a small tmpfs:
// the error is restic's own ("no space left on device"), not the broken
// pipe our side of the stream saw, and no snapshot is recorded.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	c := newClient(t, filepath.Join(dir, "repo"))
	if _, err := c.EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	b, err := c.BackupStdin(ctx(t), BackupOptions{Filename: "f", Host: "h"})
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	var werr error
	for i := 0; werr == nil && i < 64; i++ {
		_, _ = rand.Read(chunk)
		_, werr = b.Write(chunk)
	}
	if werr == nil {
		_, err = b.Finish(ctx(t))
	} else {
		err = b.Abort(ctx(t)) // as the Functions do when a write fails
	}
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("backup into a full disk: %v, want restic's own cause (no space left on device) alone", err)
	}
	snaps, serr := c.Snapshots(ctx(t), Filter{})
	if serr == nil && len(snaps) != 0 {
		t.Errorf("a failed backup left %d snapshot(s)", len(snaps))
	}
}

// TestStdinBackupResticKilled: a restic that someone else kills in the
// middle of a stream backup ends the backup with the signal as its cause
// (not "exit status -1"), no snapshot, and no lock left behind.
func TestStdinBackupResticKilled(t *testing.T) {
	for _, when := range []string{"while writing", "before finishing"} {
		t.Run(when, func(t *testing.T) {
			c := newClient(t, filepath.Join(t.TempDir(), "repo"))
			if _, err := c.EnsureRepository(ctx(t)); err != nil {
				t.Fatal(err)
			}
			b, err := c.BackupStdin(ctx(t), BackupOptions{Filename: "f", Host: "h"})
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 1<<20)
			_, _ = rand.Read(chunk)
			if _, err := b.Write(chunk); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(b.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if when == "while writing" {
				// The writer finds restic gone, then aborts, as the
				// Functions do.
				for i := 0; i < 64 && err == nil; i++ {
					_, err = b.Write(chunk)
				}
				if err == nil {
					t.Fatal("writing to a killed restic did not fail")
				}
				err = b.Abort(ctx(t))
			} else {
				_, err = b.Finish(ctx(t))
			}
			if err == nil || !strings.Contains(err.Error(), "restic was killed by signal SIGKILL") {
				t.Errorf("error = %v, want restic killed by SIGKILL", err)
			}
			if snaps, err := c.Snapshots(ctx(t), Filter{}); err != nil || len(snaps) != 0 {
				t.Errorf("snapshots: %v, %v; want none", snaps, err)
			}
			if locks, err := c.Locks(ctx(t)); err != nil || len(locks) != 0 {
				t.Errorf("locks: %v, %v; want none", locks, err)
			}
		})
	}
}

// TestRuntimeSettings: the step's nice, ionice and disableCaching reach
// restic: it runs without its cache (nothing under XDG_CACHE_HOME) and
// with the priority asked for; a value that is not a number is a
// configuration error naming the variable.
func TestRuntimeSettings(t *testing.T) {
	cache := t.TempDir()
	c := newClient(t, filepath.Join(t.TempDir(), "repo"), "XDG_CACHE_HOME="+cache, outputs.NoCacheEnv+"=true",
		outputs.NiceEnv+"=3", outputs.IONiceClassEnv+"=3", outputs.IONiceClassDataEnv+"=0")
	if !c.NoCache || c.Priority.Nice == nil || *c.Priority.Nice != 3 || c.Priority.IOClass == nil || *c.Priority.IOClass != 3 {
		t.Fatalf("client = %+v, want no cache, nice 3 and the idle I/O class", c)
	}
	if _, err := c.EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	backup(t, c, []byte("some data"))
	if _, err := c.Snapshots(ctx(t), Filter{}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("restic cached into %s (%d entries) with %s=true", cache, len(entries), outputs.NoCacheEnv)
	}
	if _, err := NewClient([]string{"RESTIC_REPOSITORY=/r", "RESTIC_PASSWORD=x", outputs.NiceEnv + "=high"}, nil); !IsKind(err, KindRepositoryConfig) || !strings.Contains(err.Error(), outputs.NiceEnv) {
		t.Errorf("a nice that is not a number: err = %v, want a configuration error naming %s", err, outputs.NiceEnv)
	}
}

// TestBackendOptions: a backend's restic options (maxConnections as
// <backend>.connections) and insecureTLS reach restic: it accepts the
// local backend's connections option and --insecure-tls, and refuses an
// option that does not exist, which shows the options are passed at all.
func TestBackendOptions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	c := newClient(t, dir, outputs.ResticOptionsEnv+"=local.connections=2", outputs.ResticInsecureTLSEnv+"=true")
	if !slices.Equal(c.Options, []string{"local.connections=2"}) || !c.InsecureTLS {
		t.Fatalf("options %v, insecure TLS %v", c.Options, c.InsecureTLS)
	}
	if _, err := c.EnsureRepository(ctx(t)); err != nil {
		t.Fatal(err)
	}
	bad := newClient(t, dir, outputs.ResticOptionsEnv+"=local.no-such-option=1")
	if _, err := bad.Snapshots(ctx(t), Filter{}); err == nil || !strings.Contains(err.Error(), "no-such-option") {
		t.Errorf("an unknown option: err = %v, want restic to refuse it by name", err)
	}
	if _, err := NewClient([]string{"RESTIC_REPOSITORY=/r", "RESTIC_PASSWORD=x", outputs.ResticOptionsEnv + "=novalue"}, nil); !IsKind(err, KindRepositoryConfig) {
		t.Errorf("an option without a value: err = %v, want a configuration error", err)
	}
}
