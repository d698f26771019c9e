package faults

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fault is one case of the table: how the world is set up, what is done to
// the run once it streams, and what must hold afterwards.
type fault struct {
	name string
	// sourceMiB is the size of the volume backed up (random data).
	sourceMiB int
	// setup prepares the world before the run and returns extra
	// environment for `stashflow run` (inherited by its steps).
	setup func(t *testing.T, w *world) []string
	// inject acts on the running session; nil: no fault during the run.
	inject func(t *testing.T, w *world, r *run)
	want   invariants
}

func TestFaults(t *testing.T) {
	for _, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) { runCase(t, tc) })
	}
}

// runCase sets a case's world up, runs it, injects its fault and checks the
// invariants.
func runCase(t *testing.T, tc fault) {
	w := newWorld(t, tc.sourceMiB)
	var env []string
	if tc.setup != nil {
		env = tc.setup(t, w)
	}
	before := treeDigest(t, w.source)
	r := w.start(env...)
	if tc.inject != nil {
		tc.inject(t, w, r)
	}
	r.wait(t)
	w.check(r, tc.want)
	if after := treeDigest(t, w.source); after != before {
		t.Errorf("the backup wrote into its source volume")
	}
}

// faultCases is the table, shared by TestFaults and TestSoak.
func faultCases() []fault {
	return []fault{
		{
			name: "no fault", sourceMiB: 4,
			want: invariants{phase: "Succeeded", snapshots: 1},
		},
		{
			name: "restic killed mid-backup", sourceMiB: 96,
			inject: func(t *testing.T, w *world, r *run) {
				w.waitForPack(r)
				pid := r.procs.find("restic")
				if pid == 0 {
					t.Fatal("no restic process below stashflow run")
				}
				_ = syscall.Kill(pid, syscall.SIGKILL)
			},
			want: invariants{phase: "Failed", cause: "restic was killed by signal SIGKILL", snapshots: 0},
		},
		{
			name: "stashflow run killed mid-backup", sourceMiB: 96,
			inject: func(t *testing.T, w *world, r *run) {
				w.waitForPack(r)
				_ = r.cmd.Process.Kill()
			},
			// Nothing is left to write a status: the invariants are that no
			// process of the run survives it and no snapshot is committed.
			want: invariants{snapshots: 0, staleLock: true},
		},
		{
			name: "disk full", sourceMiB: 48,
			setup: func(t *testing.T, w *world) []string {
				if os.Geteuid() != 0 {
					t.Skip("mounting a small tmpfs needs root")
				}
				dir := filepath.Join(w.dir, "small")
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput(); err != nil {
					t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
				}
				t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
				w.hostRepo = filepath.Join(dir, "repo")
				w.location = w.hostRepo
				return nil
			},
			// The repository is full: restic cannot even lock it to list.
			want: invariants{phase: "Failed", cause: "no space left on device", snapshots: -1},
		},
		{
			name: "wrong password", sourceMiB: 1,
			setup: func(t *testing.T, w *world) []string {
				cmd := exec.Command("restic", "init")
				cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+w.location, "RESTIC_PASSWORD=another-password")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("restic init: %v\n%s", err, out)
				}
				return nil
			},
			want: invariants{phase: "Failed", cause: "wrong password", snapshots: -1},
		},
		{
			name: "backend down at start", sourceMiB: 1,
			setup: func(t *testing.T, w *world) []string {
				url, kill := startRestServer(t, w.dir)
				kill()
				w.hostRepo, w.location = "", url+"repo"
				return []string{"STASHFLOW_REPOSITORY_TIMEOUT=3s"}
			},
			want: invariants{phase: "Failed", cause: "unreachable", snapshots: -1},
		},
		{
			name: "backend dies mid-backup", sourceMiB: 96,
			setup: func(t *testing.T, w *world) []string {
				url, kill := startRestServer(t, w.dir)
				w.hostRepo, w.location, w.killBackend = "", url+"repo", kill
				return []string{"STASHFLOW_STALL_TIMEOUT=3s"}
			},
			inject: func(t *testing.T, w *world, r *run) {
				w.waitForPack(r)
				w.killBackend()
			},
			want: invariants{phase: "Failed", cause: "stopped answering", snapshots: -1},
		},
	}
}

// TestConcurrentFirstUse starts three `stashflow run`s of one new
// repository at once, on a local path and on a rest-server: each backs up,
// and the repository ends with one key and three snapshots, checked clean.
func TestConcurrentFirstUse(t *testing.T) {
	for _, backend := range []string{"local", "rest"} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, 2)
			if backend == "rest" {
				url, _ := startRestServer(t, w.dir)
				w.hostRepo, w.location = "", url+"repo"
			}
			runs := make([]*run, 3)
			for i := range runs {
				runs[i] = w.start()
			}
			for _, r := range runs {
				r.wait(t)
				w.check(r, invariants{phase: "Succeeded", snapshots: -1}) // the repository once, below
			}
			w.check(runs[0], invariants{snapshots: len(runs)})
			keys, err := w.restic("key", "list", "--json")
			if err != nil {
				t.Fatalf("restic key list: %v\n%s", err, keys)
			}
			if n := strings.Count(string(keys), `"id"`); n != 1 {
				t.Errorf("the repository has %d keys, want 1", n)
			}
		})
	}
}

var soak = flag.Duration("soak", 0, "run TestSoak for this long (make soak)")

// TestSoak runs random cases of the fault table, one after another, for
// -soak (make soak; skipped without it), and reports how many ran, which
// faults, and how many broke an invariant: that number must be 0.
func TestSoak(t *testing.T) {
	if *soak <= 0 {
		t.Skip("run with -soak=DURATION (make soak)")
	}
	cases := faultCases()
	counts := map[string]int{}
	violations := 0
	end := time.Now().Add(*soak)
	for n := 0; time.Now().Before(end); n++ {
		tc := cases[rand.IntN(len(cases))]
		ok := t.Run(fmt.Sprintf("%03d %s", n, tc.name), func(t *testing.T) { runCase(t, tc) })
		counts[tc.name]++
		if !ok {
			violations++
		}
	}
	total := 0
	for name, c := range counts {
		t.Logf("soak: %-36s %d", name, c)
		total += c
	}
	t.Logf("soak: %d sessions in %s, %d with a violated invariant", total, *soak, violations)
}
