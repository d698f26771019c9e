package examples_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	secret := map[string]string{"username": pg.User, "password": pg.Password}
	res, snap := backUp(t, loadDatabase(t, "postgres", tmp, "backup.yaml", pg.Endpoint(), secret), tmp,
		"postgres-backup/Succeeded", "retention/Succeeded")
	if out := res.Outcome.Targets[0].Outputs; out["dumpCommand"] != "pg_dumpall" || out["snapshotCount"] != "1" {
		t.Errorf("backup outputs %v", out)
	}

	if _, err := pg.Exec(ctx, "shop", "DELETE FROM items WHERE id % 2 = 0; UPDATE items SET name = 'changed'"); err != nil {
		t.Fatal(err)
	}
	res = restore(t, loadDatabase(t, "postgres", tmp, "restore.yaml", pg.Endpoint(), secret), tmp, snap.SnapshotID,
		"postgres-restore/Succeeded")
	if out := res.Outcome.Targets[0].Outputs; out["kind"] != "cluster" {
		t.Errorf("restore outputs %v", out)
	}
	if diff := cmp.Diff(want, items()); diff != "" {
		t.Errorf("items after the restore (-backed up +restored):\n%s", diff)
	}
}
