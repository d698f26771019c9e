package examples_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
	secret := map[string]string{"username": m.User, "password": m.Password}
	res, snap := backUp(t, loadDatabase(t, "mariadb", tmp, "backup.yaml", m.Endpoint(), secret), tmp,
		"mariadb-backup/Succeeded", "retention/Succeeded")
	if out := res.Outcome.Targets[0].Outputs; out["dumpCommand"] != "mariadb-dump" || out["snapshotCount"] != "1" {
		t.Errorf("backup outputs %v", out)
	}

	if _, err := m.Exec(ctx, "wordpress", "DELETE FROM wp_posts WHERE ID % 2 = 0; UPDATE wp_posts SET post_status = 'trash'; DROP PROCEDURE published"); err != nil {
		t.Fatal(err)
	}
	restore(t, loadDatabase(t, "mariadb", tmp, "restore.yaml", m.Endpoint(), secret), tmp, snap.SnapshotID,
		"mariadb-restore/Succeeded")
	if diff := cmp.Diff(want, posts()); diff != "" {
		t.Errorf("wordpress after the restore (-backed up +restored):\n%s", diff)
	}
}
