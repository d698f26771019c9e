package examples_test

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
)

// loadDatabase reads examples/<dir>/common.yaml and file with the
// Repository <dir>-repo on workDir/repo and the AppBinding and Secret named
// dir pointed at a test server (pointAt).
func loadDatabase(t *testing.T, dir, workDir, file, url string, secret map[string]string) *localrun.Inputs {
	t.Helper()
	in, err := localrun.Load(filepath.Join(dir, "common.yaml"), filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := manifest.Named[*v1alpha1.Repository](in.Set, "default", dir+"-repo")
	if !ok {
		t.Fatalf("%s/common.yaml has no Repository %s-repo", dir, dir)
	}
	r.Spec.Backend.Local.HostPath.Path = filepath.Join(workDir, "repo")
	pointAt(t, in, dir, dir, url, secret)
	return in
}

// pointAt points AppBinding name at url and writes secretData into the
// stringData of Secret secret.
func pointAt(t *testing.T, in *localrun.Inputs, name, secret, url string, secretData map[string]string) {
	t.Helper()
	ab, ok := manifest.Named[*v1alpha1.AppBinding](in.Set, "default", name)
	s, ok2 := manifest.Named[*corev1.Secret](in.Set, "default", secret)
	if !ok || !ok2 {
		t.Fatalf("AppBinding %s %v, Secret %s %v", name, ok, secret, ok2)
	}
	ab.Spec.ClientConfig.URL = &url
	for k, v := range secretData {
		s.StringData[k] = v
	}
}

// backUp runs the backup in in workDir: it must succeed with steps (as
// name/phase) and one host with a snapshot of non-zero size. It returns
// the run and that host's stats.
func backUp(t *testing.T, in *localrun.Inputs, workDir string, steps ...string) (*localrun.Result, v1alpha1.HostBackupStats) {
	t.Helper()
	res := runOne(t, in, workDir)
	b := res.Session.(*v1alpha1.BackupSession)
	if b.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup phase = %s: %s (logs in %s)", b.Status.Phase, b.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff(steps, stepPhases(b.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("backup steps (-want +got):\n%s", diff)
	}
	stats := b.Status.Targets[0].Stats
	if len(stats) != 1 || len(stats[0].SnapshotID) != 64 || stats[0].Size == nil || *stats[0].Size == 0 {
		t.Fatalf("backup stats = %+v", stats)
	}
	return res, stats[0]
}

// restore runs the restore in in workDir: it must succeed with steps and
// report snapshotID as the one it restored. It returns the run.
func restore(t *testing.T, in *localrun.Inputs, workDir, snapshotID string, steps ...string) *localrun.Result {
	t.Helper()
	res := runOne(t, in, workDir)
	r := res.Session.(*v1alpha1.RestoreSession)
	if r.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore phase = %s: %s (logs in %s)", r.Status.Phase, r.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff(steps, stepPhases(r.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("restore steps (-want +got):\n%s", diff)
	}
	if out := res.Outcome.Targets[0].Outputs; out["snapshotID"] != snapshotID {
		t.Errorf("restore outputs %v", out)
	}
	return res
}
