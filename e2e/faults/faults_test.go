package faults

import (
	"bytes"

	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/internal/testproc"
)

var stashflowBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stashflow-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root, err := repo.Root()
	if err == nil {
		stashflowBin, err = repo.BuildStashflow(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Setenv("PATH", filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// password is the repository's; no output may hold it.
const password = "faults-9f3c2e1d7b6a"

// world is one case's machine: a source volume, a repository location and
// the manifests that name them.
type world struct {
	t        *testing.T
	dir      string
	source   string // the PVC's directory
	location string // RESTIC_REPOSITORY as restic sees it
	hostRepo string // a local repository's directory ("" for REST)
	// killBackend ends a REST backend the case started (SIGKILL).
	killBackend func()
}

func newWorld(t *testing.T, sourceMiB int) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	w.source = filepath.Join(w.dir, "pvc-data")
	if err := os.MkdirAll(filepath.Join(w.source, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range sourceMiB {
		buf := make([]byte, 1<<20)
		_, _ = rand.Read(buf)
		if err := os.WriteFile(filepath.Join(w.source, "sub", fmt.Sprintf("f%03d", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.hostRepo = filepath.Join(w.dir, "repo")
	w.location = w.hostRepo
	return w
}

// manifests is a PVC BackupConfiguration into the world's repository.
func (w *world) manifests() string {
	backend := `local: {mountPath: /stashflow/repository, hostPath: {path: ` + w.hostRepo + `}}`
	if w.hostRepo == "" {
		backend = `rest: {url: "` + strings.TrimPrefix(w.location, "rest:") + `"}`
	}
	p := filepath.Join(w.dir, "backup.yaml")
	body := `apiVersion: v1
kind: Secret
metadata: {name: repo}
stringData: {RESTIC_PASSWORD: ` + password + `}
---
apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: repo}
spec:
  backend:
    storageSecretName: repo
    ` + backend + `
---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: data}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: v1, kind: PersistentVolumeClaim, name: pvc-data}}
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// run is one `stashflow run` of the world's manifests, its processes
// watched from start to end.
type run struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	workDir        string
	procs          *procWatch
	done           chan struct{}
	code           int
}

func (w *world) start(extraEnv ...string) *run {
	w.t.Helper()
	r := &run{workDir: filepath.Join(w.dir, fmt.Sprintf("work-%d", time.Now().UnixNano())), done: make(chan struct{})}
	r.cmd = exec.Command(stashflowBin, "run", "-f", w.manifests(), "--volume", "target-0="+w.source, "--work-dir", r.workDir, "-o", "yaml")
	r.cmd.Env = append(os.Environ(), extraEnv...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	r.procs = watchTree(r.cmd.Process.Pid)
	go func() {
		err := r.cmd.Wait()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			r.code = ee.ExitCode()
		default:
			r.code = -1
		}
		r.procs.stop()
		close(r.done)
	}()
	w.t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		r.procs.killAll()
	})
	return r
}

func (r *run) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("stashflow run still running after 3 minutes\nstderr:\n%s", r.stderr.String())
	}
}

// waitForPack blocks until the repository holds a data pack: the backup is
// streaming.
func (w *world) waitForPack(r *run) {
	w.t.Helper()
	dataDir := filepath.Join(w.hostRepo, "data")
	if w.hostRepo == "" {
		dataDir = w.restDataDir()
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		found := false
		_ = filepath.WalkDir(dataDir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				found = true
				return filepath.SkipAll
			}
			return nil
		})
		if found {
			return
		}
		select {
		case <-r.done:
			w.t.Fatalf("the run ended before the backup streamed: exit %d\n%s", r.code, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	w.t.Fatal("no data pack after a minute")
}

func (w *world) restDataDir() string {
	return filepath.Join(w.dir, "rest-server", "data", "repo", "data")
}

// restic runs plain restic against the world's repository.
func (w *world) restic(args ...string) ([]byte, error) {
	cmd := exec.Command("restic", args...)
	cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+w.location, "RESTIC_PASSWORD="+password)
	return cmd.CombinedOutput()
}

// invariants are what every case checks after its fault.
type invariants struct {
	phase     string // Succeeded or Failed
	cause     string // a substring of the session's status, naming the cause
	snapshots int    // snapshots in the repository afterwards; -1: not looked at (it cannot be read)
	// staleLock: the fault killed every process that could clean up, so
	// a lock may be left; it must be provably stale (plain `restic unlock`,
	// which removes only those, clears it).
	staleLock bool
}

func (w *world) check(r *run, want invariants) {
	t := w.t
	t.Helper()
	out := r.stdout.String() + r.stderr.String()
	if want.phase != "" && !strings.Contains(r.stdout.String(), "phase: "+want.phase) {
		t.Errorf("session phase: want %s\nstdout:\n%s\nstderr:\n%s", want.phase, r.stdout.String(), r.stderr.String())
	}
	if want.cause != "" && !strings.Contains(out, want.cause) {
		t.Errorf("the run's status and output do not name the cause %q\nstdout:\n%s\nstderr:\n%s", want.cause, r.stdout.String(), r.stderr.String())
	}
	// No secret value anywhere: output, and every step log.
	if strings.Contains(out, password) {
		t.Errorf("the password appears in the run's output")
	}
	_ = filepath.WalkDir(r.workDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(password)) {
				t.Errorf("the password appears in %s", p)
			}
		}
		return nil
	})
	// No process of the run is left.
	if left := r.procs.alive(); len(left) > 0 {
		t.Errorf("processes of the run still alive after it ended: %v", left)
	}
	// The repository: readable by plain restic, and as many snapshots as
	// recorded.
	if want.snapshots < 0 {
		return
	}
	snaps, err := w.restic("snapshots", "--json", "--no-lock")
	if err != nil {
		t.Errorf("restic snapshots: %v\n%s", err, snaps)
		return
	}
	if n := strings.Count(string(snaps), `"short_id"`); n != want.snapshots {
		t.Errorf("repository holds %d snapshot(s), want %d", n, want.snapshots)
	}
	if want.staleLock {
		if b, err := w.restic("unlock"); err != nil {
			t.Errorf("restic unlock: %v\n%s", err, b)
		}
	}
	if b, err := w.restic("check"); err != nil {
		t.Errorf("restic check after the fault: %v\n%s", err, b)
	}
}

// procWatch records every process below a pid while it runs (pid and start
// time, so that a reused pid is not mistaken for it).
type procWatch struct {
	mu    sync.Mutex
	seen  map[int]string
	quit  chan struct{}
	ended chan struct{}
}

func watchTree(root int) *procWatch {
	w := &procWatch{seen: map[int]string{}, quit: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(w.ended)
		for {
			for _, p := range deathsig.Descendants(root) {
				if p.State == "Z" {
					continue
				}
				w.mu.Lock()
				w.seen[p.PID] = p.Start
				w.mu.Unlock()
			}
			select {
			case <-w.quit:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return w
}

func (w *procWatch) stop() { close(w.quit); <-w.ended }

// alive lists the recorded processes still running (zombies are not),
// after giving them a moment to be reaped.
func (w *procWatch) alive() []string {
	var left []string
	for range 100 {
		left = left[:0]
		w.mu.Lock()
		for pid, start := range w.seen {
			if st, ok := deathsig.ReadProc(pid); ok && st.Start == start && st.State != "Z" {
				left = append(left, fmt.Sprintf("%d (%s)", pid, st.Comm))
			}
		}
		w.mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return left
}

func (w *procWatch) killAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, start := range w.seen {
		if st, ok := deathsig.ReadProc(pid); ok && st.Start == start {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// find returns a recorded, running process whose command name is comm.
func (w *procWatch) find(comm string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, start := range w.seen {
		if st, ok := deathsig.ReadProc(pid); ok && st.Start == start && st.Comm == comm && st.State != "Z" {
			return pid
		}
	}
	return 0
}

// treeDigest is a digest of a directory's files, to show that a run wrote
// nothing into it.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&sb, "%s %d %s\n", rel, info.Size(), info.ModTime().UTC().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// startRestServer starts rest-server with its data in
// <dir>/rest-server/data; kill ends it with SIGKILL.
func startRestServer(t *testing.T, dir string) (url string, kill func()) {
	t.Helper()
	addr, kill := testproc.StartRestServer(t, filepath.Join(dir, "rest-server", "data"), "--no-auth")
	return "rest:http://" + addr + "/", kill
}
