package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRestoreIntoAnotherVolume is a user's first volume restore: a PVC's
// data backed up with `stashflow run`, then restored into *another* PVC.
// The target gets the data; the source, changed since, stays as it is.
func TestRestoreIntoAnotherVolume(t *testing.T) {
	tmp := t.TempDir()
	src, dst, repo := filepath.Join(tmp, "pvc-a"), filepath.Join(tmp, "pvc-b"), filepath.Join(tmp, "repo")
	for _, d := range []string{filepath.Join(src, "sub"), dst} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := localRepository(repo, "volume-test")
	backup := write(t, "backup.yaml", common+`---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: pvc-a}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: v1, kind: PersistentVolumeClaim, name: pvc-a}}
`)
	restore := write(t, "restore.yaml", common+`---
apiVersion: stashflow.dev/v1alpha1
kind: RestoreSession
metadata: {name: into-b}
spec:
  repository: {name: repo}
  target:
    ref: {apiVersion: v1, kind: PersistentVolumeClaim, name: pvc-b}
    rules: [{sourceHost: pvc-a, snapshots: [latest]}]
`)
	if stdout, stderr, code := stashflow(context.Background(), t, "run", "--work-dir", t.TempDir(), "-f", backup, "--volume", "target-0="+src); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if err := os.WriteFile(filepath.Join(src, "a.txt"), []byte("changed since"), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := stashflow(context.Background(), t, "run", "--work-dir", t.TempDir(), "-f", restore, "--volume", "target-0="+dst); code != 0 {
		t.Fatalf("restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if diff := cmp.Diff(map[string]string{"a.txt": "alpha", "sub/b.txt": "bravo"}, files(t, dst)); diff != "" {
		t.Errorf("target pvc-b (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a.txt": "changed since", "sub/b.txt": "bravo"}, files(t, src)); diff != "" {
		t.Errorf("source pvc-a was written to (-want +got):\n%s", diff)
	}

	// A rule path outside the snapshot is refused before anything is written.
	bad := write(t, "bad.yaml", strings.Replace(string(mustRead(t, restore)), "snapshots: [latest]", "snapshots: [latest], paths: [/etc]", 1))
	empty := filepath.Join(tmp, "pvc-c")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := stashflow(context.Background(), t, "run", "--work-dir", t.TempDir(), "-f", bad, "--volume", "target-0="+empty)
	if code != 1 || !strings.Contains(stdout+stderr, "nothing was restored") {
		t.Errorf("restore of a path outside the snapshot: exit %d, want 1 with \"nothing was restored\"\n%s\n%s", code, stdout, stderr)
	}
	if got := files(t, empty); len(got) != 0 {
		t.Errorf("refused restore wrote %v", got)
	}
}

func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localRepository is the manifest of a Secret and a Repository named repo:
// a restic repository at dir with the given password.
func localRepository(dir, password string) string {
	return `apiVersion: v1
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
    local: {mountPath: /stashflow/repository, hostPath: {path: ` + dir + `}}
`
}
