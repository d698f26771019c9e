package elasticsearch

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/outputs"
)

var (
	buildOnce sync.Once
	fnBinDir  string
	fnBinErr  error
)

// stashflowFn returns the lean Function binary stashflow-fn, built once
// per test run by repo.BuildStashflow beside stashflow, as the image ships
// them.
func stashflowFn(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if fnBinDir, fnBinErr = os.MkdirTemp("", "stashflow-fn-bin-"); fnBinErr == nil {
			_, fnBinErr = repo.BuildStashflow(fnBinDir)
		}
	})
	if fnBinErr != nil {
		t.Fatal(fnBinErr)
	}
	return filepath.Join(fnBinDir, repo.FnBinary)
}

// runner runs the Function name with args in env and returns its outputs,
// what it wrote (its log and stderr) and its one-line failure.
type runner func(t *testing.T, env *step.Env, name string, args ...string) (step.Outputs, string, error)

// inProcess runs the Function in the test's process.
func inProcess(t *testing.T, env *step.Env, name string, args ...string) (step.Outputs, string, error) {
	t.Helper()
	switch name {
	case BackupName:
		b, stderr := backupFn()
		out, err := runFn(t, b, env, args...)
		return out, stderr.String(), err
	case RestoreName:
		out, err := runFn(t, &Restore{}, env, args...)
		return out, "", err
	}
	t.Fatalf("no Function %s", name)
	return nil, "", nil
}

// inStashflowFn runs `stashflow-fn <name> args` as a step does: env's
// variables, outputs as files, the one-line reason after "error: " on
// stderr.
func inStashflowFn(t *testing.T, env *step.Env, name string, args ...string) (step.Outputs, string, error) {
	t.Helper()
	outDir := t.TempDir()
	cmd := exec.Command(stashflowFn(t), append([]string{name}, args...)...)
	cmd.Env = append(slices.Clone(env.Environ), outputs.DirEnv+"="+outDir, "TMPDIR="+env.TempDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	log := stdout.String() + stderr.String()
	t.Logf("stashflow-fn %s %q:\n%s", name, args, log)
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		_, reason, _ := strings.Cut(stderr.String(), "error: ")
		return nil, log, errors.New(strings.TrimRight(reason, "\n"))
	} else if err != nil {
		t.Fatal(err)
	}
	out := step.Outputs{}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(outDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out, log, nil
}

// TestRoundTripInStashflowFn: the Functions run by the lean binary
// (stashflow-fn, which `stashflow fn` execs; internal/repo's
// TestStepsRunInStashflowFn shows the exec) back the fixture up with
// points in time and slices and restore it into an empty cluster: same
// outputs, documents, mappings, aliases and settings as in process, and a
// second restore over the names fails with one line before writing.
func TestRoundTripInStashflowFn(t *testing.T) {
	src := fixture(t, estest.Options{})
	env := testEnv(t, localRepo(t))
	out, log, err := inStashflowFn(t, env, BackupName, "--url", src.URL, "--session", "s1", "--target", "AppBinding/es", "--hostname", "es-host", "--page-size", "333")
	if err != nil {
		t.Fatal(err)
	}
	want := step.Outputs{OutputIndices: "3", OutputDocuments: "6520", OutputDataStreams: "events"}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	if len(out[outputs.SnapshotID]) != 64 || out[OutputBytes] == "" || out[OutputBytes] != out[outputs.Size] {
		t.Errorf("outputs %v: want a 64-hex snapshot id and bytes == size", out)
	}
	if !strings.Contains(log, "data streams are not backed up: events") {
		t.Errorf("output %q does not report the data stream", log)
	}
	if src.Count("search.pit") == 0 {
		t.Errorf("no point-in-time search")
	}
	if snaps := snapshots(t, env); len(snaps) != 1 || snaps[0].ID != out[outputs.SnapshotID] || snaps[0].Hostname != "es-host" {
		t.Fatalf("snapshots %+v, want the one of the outputs", snaps)
	}

	dst := estest.New(estest.Options{})
	defer dst.Close()
	rout, _, err := inStashflowFn(t, env, RestoreName, "--url", dst.URL, "--snapshot", out[outputs.SnapshotID], "--workers", "3", "--bulk-size", "256KiB")
	if err != nil {
		t.Fatal(err)
	}
	if rout[OutputIndices] != "3" || rout[OutputDocuments] != "6520" || rout[outputs.SnapshotID] != out[outputs.SnapshotID] {
		t.Errorf("restore outputs %v", rout)
	}
	if got := dst.Indices(); !slices.Equal(got, []string{"logs-a", "logs-b", "metrics"}) {
		t.Errorf("indices %v", got)
	}
	for _, n := range []string{"logs-a", "logs-b", "metrics"} {
		compareIndex(t, src, n, dst, n)
	}
	if dst.Count("bulk") == 0 {
		t.Errorf("the restore sent no bulk request")
	}

	_, _, err = inStashflowFn(t, env, RestoreName, "--url", src.URL)
	if err == nil || !strings.Contains(err.Error(), "3 index(es) to restore already exist: logs-a, logs-b, metrics") || strings.Contains(err.Error(), "\n") {
		t.Errorf("restore over existing indices: %v, want one line naming them", err)
	}
}
