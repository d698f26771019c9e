package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRunStatefulSet: `stashflow run` backs up each replica's claim of a
// StatefulSet as its own host (Stash's host-0, host-1), the claims mapped
// to directories by their names, and restores each host into the claims of
// another StatefulSet; a path outside the mounted volumes is refused.
func TestRunStatefulSet(t *testing.T) {
	tmp := t.TempDir()
	dirs := map[string]string{}
	for _, c := range []string{"data-db-0", "data-db-1", "data-db2-0", "data-db2-1"} {
		dirs[c] = filepath.Join(tmp, c)
		if err := os.MkdirAll(dirs[c], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := []map[string]string{{"rows": "replica zero", "sub/x": "0"}, {"rows": "replica one"}}
	for i, c := range []string{"data-db-0", "data-db-1"} {
		for name, body := range want[i] {
			p := filepath.Join(dirs[c], name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	sts := func(name string) string {
		return `---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ` + name + `}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers: [{name: db, image: db, volumeMounts: [{name: data, mountPath: /var/lib/db}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`
	}
	common := localRepository(filepath.Join(tmp, "repo"), "workload-test")
	backup := write(t, "backup.yaml", common+sts("db")+`---
apiVersion: stashflow.dev/v1alpha1
kind: BackupConfiguration
metadata: {name: db}
spec:
  repository: {name: repo}
  schedule: "@daily"
  target: {ref: {apiVersion: apps/v1, kind: StatefulSet, name: db}}
`)
	restore := write(t, "restore.yaml", common+sts("db2")+`---
apiVersion: stashflow.dev/v1alpha1
kind: RestoreSession
metadata: {name: into-db2}
spec:
  repository: {name: repo}
  target: {ref: {apiVersion: apps/v1, kind: StatefulSet, name: db2}}
`)
	vol := func(claims ...string) []string {
		var out []string
		for _, c := range claims {
			out = append(out, "--volume", c+"="+dirs[c])
		}
		return out
	}
	args := append([]string{"run", "--work-dir", t.TempDir(), "-f", backup}, vol("data-db-0", "data-db-1")...)
	if stdout, stderr, code := stashflow(context.Background(), t, args...); code != 0 {
		t.Fatalf("backup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	out, _, code := stashflow(context.Background(), t, "snapshots", "-f", backup, "-o", "json")
	if code != 0 || !strings.Contains(out, `"host-0"`) || !strings.Contains(out, `"host-1"`) {
		t.Errorf("snapshots: exit %d, want one of host-0 and one of host-1:\n%s", code, out)
	}
	args = append([]string{"run", "--work-dir", t.TempDir(), "-f", restore}, vol("data-db2-0", "data-db2-1")...)
	stdout, stderr, code := stashflow(context.Background(), t, args...)
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout+stderr, `StatefulSet "db2" is not scaled down on this machine`) {
		t.Errorf("the restore does not warn that nothing scales the workload down:\n%s\n%s", stdout, stderr)
	}
	for i, c := range []string{"data-db2-0", "data-db2-1"} {
		if diff := cmp.Diff(want[i], files(t, dirs[c])); diff != "" {
			t.Errorf("claim %s (-want +got):\n%s", c, diff)
		}
	}

	// host-0's volume is gone: host-1 is still backed up, the run fails.
	before := strings.Count(out, `"host-1"`)
	args = []string{"run", "--work-dir", t.TempDir(), "-f", backup, "--volume", "data-db-0=" + filepath.Join(tmp, "gone"), "--volume", "data-db-1=" + dirs["data-db-1"]}
	if stdout, stderr, code := stashflow(context.Background(), t, args...); code != 1 {
		t.Errorf("backup with host-0's volume gone: exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	out, _, _ = stashflow(context.Background(), t, "snapshots", "-f", backup, "-o", "json")
	if after := strings.Count(out, `"host-1"`); after != before+1 {
		t.Errorf("host-1 snapshots %d → %d, want one more: a failed host must not keep the next from its backup\n%s", before, after, out)
	}

	bad := write(t, "bad.yaml", strings.Replace(string(mustRead(t, backup)), "name: db}}", "name: db}, paths: [/etc]}", 1))
	args = append([]string{"run", "--work-dir", t.TempDir(), "-f", bad}, vol("data-db-0", "data-db-1")...)
	stdout, stderr, code = stashflow(context.Background(), t, args...)
	if code == 0 || !strings.Contains(stdout+stderr, `spec.target.paths[0]: "/etc" is in none of the mounted volumes (data at /var/lib/db)`) {
		t.Errorf("a path outside the volumes: exit %d, want an error naming the field\n%s\n%s", code, stdout, stderr)
	}
}
