package examples_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/internal/testservers"
)

// TestMariaDB runs examples/mariadb on the local engine against a real
// MariaDB: the backup through Stash's Task name mariadb-backup-10.5.8
// (mariadb-backup, then retention), rows changed, then the restore with its
// Task inferred from the AppBinding's type, which must bring every row back.
func TestMariaDB(t *testing.T) {
	m, err := testservers.StartMariaDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	ctx := context.Background()
	if _, err := m.Exec(ctx, "", `CREATE DATABASE wordpress; USE wordpress;
CREATE TABLE wp_posts(ID INT AUTO_INCREMENT PRIMARY KEY, post_title TEXT, post_status VARCHAR(20)) ENGINE=InnoDB;
INSERT INTO wp_posts(post_title, post_status) SELECT CONCAT('Post ', seq, ' é'), IF(seq % 3 = 0, 'draft', 'publish') FROM seq_1_to_500;
CREATE PROCEDURE published() SELECT count(*) FROM wp_posts WHERE post_status = 'publish';`); err != nil {
		t.Fatal(err)
	}
	posts := func() []string {
		out, err := m.Exec(ctx, "wordpress", "SELECT * FROM wp_posts ORDER BY ID; CALL published()")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	want := posts()
	tmp := t.TempDir()
	load := func(files ...string) *localrun.Inputs {
		t.Helper()
		paths := []string{filepath.Join("mariadb", "common.yaml")}
		for _, f := range files {
			paths = append(paths, filepath.Join("mariadb", f))
		}
		in, err := localrun.Load(paths...)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := manifest.Named[*v1alpha1.Repository](in.Set, "default", "mariadb-repo")
		ab, ok2 := manifest.Named[*v1alpha1.AppBinding](in.Set, "default", "mariadb")
		s, ok3 := manifest.Named[*corev1.Secret](in.Set, "default", "mariadb")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("common.yaml: Repository %v, AppBinding %v, Secret %v", ok, ok2, ok3)
		}
		r.Spec.Backend.Local.HostPath.Path = filepath.Join(tmp, "repo")
		url := m.Endpoint()
		ab.Spec.ClientConfig.URL = &url
		s.StringData["username"], s.StringData["password"] = m.User, m.Password
		return in
	}

	res := runOne(t, load("backup.yaml"), tmp)
	b := res.Session.(*v1alpha1.BackupSession)
	if b.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup phase = %s: %s (logs in %s)", b.Status.Phase, b.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"mariadb-backup/Succeeded", "retention/Succeeded"}, stepPhases(b.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("backup steps (-want +got):\n%s", diff)
	}
	stats := b.Status.Targets[0].Stats
	if len(stats) != 1 || len(stats[0].SnapshotID) != 64 || stats[0].Size == nil || *stats[0].Size == 0 {
		t.Fatalf("backup stats = %+v", stats)
	}
	if out := res.Outcome.Targets[0].Outputs; out["dumpCommand"] != "mariadb-dump" || out["snapshotCount"] != "1" {
		t.Errorf("backup outputs %v", out)
	}

	if _, err := m.Exec(ctx, "wordpress", "DELETE FROM wp_posts WHERE ID % 2 = 0; UPDATE wp_posts SET post_status = 'trash'; DROP PROCEDURE published"); err != nil {
		t.Fatal(err)
	}
	res = runOne(t, load("restore.yaml"), tmp)
	r := res.Session.(*v1alpha1.RestoreSession)
	if r.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore phase = %s: %s (logs in %s)", r.Status.Phase, r.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"mariadb-restore/Succeeded"}, stepPhases(r.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("restore steps (-want +got):\n%s", diff)
	}
	if out := res.Outcome.Targets[0].Outputs; out["snapshotID"] != stats[0].SnapshotID {
		t.Errorf("restore outputs %v", out)
	}
	if diff := cmp.Diff(want, posts()); diff != "" {
		t.Errorf("wordpress after the restore (-backed up +restored):\n%s", diff)
	}
}
