package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/internal/testenv"

	"github.com/stashflow/stashflow/internal/repo"
)

var stashflowBin string

func TestMain(m *testing.M) {
	root, err := testenv.RepoRoot()
	if err != nil {
		panic(err)
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "restic")); err != nil {
		println("bin/restic is missing: run make tools (hack/build-tools.sh restic)")
		os.Exit(1)
	}
	_ = os.Setenv("PATH", filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir, err := os.MkdirTemp("", "stashflow-examples")
	if err != nil {
		panic(err)
	}
	if stashflowBin, err = repo.BuildStashflow(dir); err != nil {
		println(err.Error())
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestExamplesDecode: every example manifest decodes strictly (unknown
// fields are errors). The admission test in api/v1alpha1 sends
// examples/kinds to the real apiserver.
func TestExamplesDecode(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." {
			return err
		}
		if path == "stash" {
			return filepath.SkipDir // Stash's manifests: examples/stash converts them
		}
		if yamls, _ := filepath.Glob(filepath.Join(path, "*.yaml")); len(yamls) == 0 {
			return nil // e.g. examples/demo, a program
		}
		objs, err := manifest.LoadPaths(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if len(objs) == 0 {
			t.Errorf("%s: no objects", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCustomFunction runs examples/custom-function on the local engine:
// the custom Function archives a directory into a real restic repository,
// the built-in retention Function follows, and the archive restores to the
// same bytes.
func TestCustomFunction(t *testing.T) {
	tmp := t.TempDir()
	site, repo := filepath.Join(tmp, "site"), filepath.Join(tmp, "repo")
	if err := os.MkdirAll(filepath.Join(site, "css"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"index.html": "<h1>hello</h1>\n", "css/site.css": "body{}\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(site, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	in, err := localrun.Load("custom-function")
	if err != nil {
		t.Fatal(err)
	}
	// Point the example's machine paths at this test's directories.
	r, _ := manifest.Named[*v1alpha1.Repository](in.Set, "default", "archive-repo")
	r.Spec.Backend.Local.HostPath.Path = repo
	c, _ := manifest.Named[*v1alpha1.BackupConfiguration](in.Set, "default", "site")
	c.Spec.Task.Params[0].Value = site

	res := runOne(t, in, tmp)
	s := res.Session.(*v1alpha1.BackupSession)
	if s.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("phase = %s: %s", s.Status.Phase, s.Status.Message)
	}
	stats := s.Status.Targets[0].Stats[0]
	if len(stats.SnapshotID) != 64 || stats.Size == nil || *stats.Size == 0 {
		t.Fatalf("stats = %+v", stats)
	}
	if got := []string{s.Status.Targets[0].Steps[0].Name, s.Status.Targets[0].Steps[1].Name}; got[0] != "directory-archive" || got[1] != "retention" {
		t.Fatalf("steps = %v", got)
	}

	// The snapshot is in the repository, tagged with the session, and holds the archive.
	env := append(os.Environ(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD=change-me-archive-password")
	snaps := run(t, env, "restic", "snapshots", "--json", "--tag", "session=site-manual")
	if !strings.Contains(snaps, stats.SnapshotID[:8]) {
		t.Fatalf("restic snapshots --tag session=site-manual = %s, want snapshot %s", snaps, stats.SnapshotID)
	}
	out := filepath.Join(tmp, "restored")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	tar := run(t, env, "restic", "dump", stats.SnapshotID, "site.tar")
	if err := os.WriteFile(filepath.Join(tmp, "site.tar"), []byte(tar), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "tar", "-C", out, "-xf", filepath.Join(tmp, "site.tar"))
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(got) != want {
			t.Errorf("restored %s = %q, %v; want %q", name, got, err, want)
		}
	}

	// tar failing (its source gone) fails the step, and restic, which ran
	// tar, commits nothing: still one snapshot.
	c.Spec.Task.Params[0].Value = filepath.Join(tmp, "gone")
	res = runOne(t, in, filepath.Join(tmp, "second"))
	if s := res.Session.(*v1alpha1.BackupSession); s.Status.Phase != v1alpha1.BackupSessionFailed || !strings.Contains(s.Status.Message, "tar") {
		t.Errorf("with tar failing: phase = %s: %s; want Failed naming tar", s.Status.Phase, s.Status.Message)
	}
	if got := strings.Count(run(t, env, "restic", "snapshots", "--json"), `"id"`); got != 1 {
		t.Errorf("%d snapshots after the failed backup, want 1", got)
	}
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// runOne runs the one session the inputs make now on the local engine,
// with its work in workDir.
func runOne(t *testing.T, in *localrun.Inputs, workDir string) *localrun.Result {
	t.Helper()
	sessions, err := in.Sessions(time.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions = %v, %v", sessions, err)
	}
	res, err := in.Run(context.Background(), sessions[0], localrun.Options{WorkDir: workDir, Stashflow: stashflowBin})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
