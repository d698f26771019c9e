package examples_test

import (
	"context"
	"os"
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

// TestPostgres runs examples/postgres on the local engine against a real
// PostgreSQL: the backup through Stash's Task name postgres-backup-15.1
// (postgres-backup, then retention), rows deleted, then the restore with
// its Task inferred from the AppBinding's type, which must bring every row
// back.
func TestPostgres(t *testing.T) {
	pg, err := testservers.StartPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	t.Setenv("PATH", pg.BinDir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	ctx := context.Background()
	for _, s := range []struct{ db, sql string }{
		{"postgres", "CREATE DATABASE shop"},
		{"shop", "CREATE TABLE items(id int PRIMARY KEY, name text, price numeric(8,2)); INSERT INTO items SELECT g, 'item ' || g, g / 3.0 FROM generate_series(1, 500) g"},
	} {
		if _, err := pg.Exec(ctx, s.db, s.sql); err != nil {
			t.Fatal(err)
		}
	}
	items := func() []string {
		out, err := pg.Exec(ctx, "shop", "SELECT * FROM items ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	want := items()
	tmp := t.TempDir()
	load := func(files ...string) *localrun.Inputs {
		t.Helper()
		paths := []string{filepath.Join("postgres", "common.yaml")}
		for _, f := range files {
			paths = append(paths, filepath.Join("postgres", f))
		}
		in, err := localrun.Load(paths...)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := manifest.Named[*v1alpha1.Repository](in.Set, "default", "postgres-repo")
		ab, ok2 := manifest.Named[*v1alpha1.AppBinding](in.Set, "default", "postgres")
		s, ok3 := manifest.Named[*corev1.Secret](in.Set, "default", "postgres")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("common.yaml: Repository %v, AppBinding %v, Secret %v", ok, ok2, ok3)
		}
		r.Spec.Backend.Local.HostPath.Path = filepath.Join(tmp, "repo")
		url := pg.Endpoint()
		ab.Spec.ClientConfig.URL = &url
		s.StringData["username"], s.StringData["password"] = pg.User, pg.Password
		return in
	}

	res := runOne(t, load("backup.yaml"), tmp)
	b := res.Session.(*v1alpha1.BackupSession)
	if b.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup phase = %s: %s (logs in %s)", b.Status.Phase, b.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"postgres-backup/Succeeded", "retention/Succeeded"}, stepPhases(b.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("backup steps (-want +got):\n%s", diff)
	}
	stats := b.Status.Targets[0].Stats
	if len(stats) != 1 || len(stats[0].SnapshotID) != 64 || stats[0].Size == nil || *stats[0].Size == 0 {
		t.Fatalf("backup stats = %+v", stats)
	}
	if out := res.Outcome.Targets[0].Outputs; out["dumpCommand"] != "pg_dumpall" || out["snapshotCount"] != "1" {
		t.Errorf("backup outputs %v", out)
	}

	if _, err := pg.Exec(ctx, "shop", "DELETE FROM items WHERE id % 2 = 0; UPDATE items SET name = 'changed'"); err != nil {
		t.Fatal(err)
	}
	res = runOne(t, load("restore.yaml"), tmp)
	r := res.Session.(*v1alpha1.RestoreSession)
	if r.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore phase = %s: %s (logs in %s)", r.Status.Phase, r.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"postgres-restore/Succeeded"}, stepPhases(r.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("restore steps (-want +got):\n%s", diff)
	}
	if out := res.Outcome.Targets[0].Outputs; out["snapshotID"] != stats[0].SnapshotID || out["kind"] != "cluster" {
		t.Errorf("restore outputs %v", out)
	}
	if diff := cmp.Diff(want, items()); diff != "" {
		t.Errorf("items after the restore (-backed up +restored):\n%s", diff)
	}
}
