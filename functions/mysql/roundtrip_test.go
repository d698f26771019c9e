package mysql

import (
	"os"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/outputs"
)

// TestRoundTrip: mariadb-dump --single-transaction --databases shop into
// restic, restored into another server, row by row equal; restored again
// over a changed copy, every table of the dump is replaced (mysqldump's
// DROP TABLE IF EXISTS) and a table the dump does not have stays.
func TestRoundTrip(t *testing.T) {
	repo := localRepo(t)
	e, log := testEnv(t, repo, creds(src))
	out := fntest.MustRun(t, NewMariaDBBackup(), e, "--endpoint", src.Endpoint(), "--args", "--databases shop", "--session", "s1")
	if out[outputs.SnapshotID] == "" || out[outputs.Size] == "0" || out[outputs.Files] != "1" || out[OutputDumpCommand] != "mariadb-dump" {
		t.Fatalf("outputs %v", out)
	}
	if strings.Contains(log.String(), src.Password) {
		t.Error("the backup's log holds the password")
	}
	if left, _ := os.ReadDir(e.TempDir); len(left) != 0 {
		t.Errorf("the option file was left in %s: %v", e.TempDir, left)
	}
	snaps := snapshots(t, repo)
	if len(snaps) != 1 || strings.Join(snaps[0].Paths, ",") != DumpPath || snaps[0].Tag(TagDump) != "mariadb-dump" {
		t.Fatalf("snapshots %+v", snaps)
	}

	res := fntest.MustRun(t, NewMariaDBRestore(), env(t, repo, creds(dst)), "--endpoint", dst.Endpoint(), "--session", "s1")
	if res[outputs.SnapshotID] != out[outputs.SnapshotID] || res[outputs.Size] != out[outputs.Size] {
		t.Errorf("restore outputs %v, backup's %v", res, out)
	}
	sameRows(t, dst, "shop")

	fntest.MustExec(t, dst, "shop", "DELETE FROM orders WHERE id > 10; UPDATE items SET name = 'changed'; CREATE TABLE extra(i INT); INSERT INTO extra VALUES (7)")
	// The mysql flavour's names, KubeDB's tcp() endpoint form.
	fntest.MustRun(t, NewRestore(), env(t, repo, creds(dst)), "--endpoint", "tcp(127.0.0.1:"+strings.TrimPrefix(dst.Endpoint(), "mysql://127.0.0.1:")+")/")
	sameRows(t, dst, "shop")
	if got := fntest.MustExec(t, dst, "shop", "SELECT i FROM extra"); got != "7" {
		t.Errorf("extra: %q, want the table the dump lacks left as it was", got)
	}
}

// TestRestoreStopsAtFirstError: the client stops at the first failing
// statement, and the step fails with the server's message.
func TestRestoreStopsAtFirstError(t *testing.T) {
	repo := localRepo(t)
	fntest.MustRun(t, NewMariaDBBackup(), env(t, repo, creds(src)), "--endpoint", src.Endpoint(), "--args", "--databases shop --no-create-info")
	fntest.MustExec(t, dst, "", "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop")
	_, err := fntest.Run(t, NewMariaDBRestore(), env(t, repo, creds(dst)), "--endpoint", dst.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "doesn't exist") {
		t.Fatalf("restore of rows without their tables: err = %v", err)
	}
}

// TestWrongPassword: refused at once, with the server's reason, no
// snapshot, no password in the error.
func TestWrongPassword(t *testing.T) {
	repo := localRepo(t)
	fntest.MustRun(t, NewBackup(), env(t, repo, creds(src)), "--endpoint", src.Endpoint(), "--args", "--databases shop")
	wrong := []string{EnvUser + "=" + src.User, EnvPassword + "=not-" + src.Password}
	_, err := fntest.Run(t, NewBackup(), env(t, repo, wrong), "--endpoint", src.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), src.Password) {
		t.Error("the error holds the password")
	}
	if n := len(snapshots(t, repo)); n != 1 {
		t.Errorf("%d snapshots, want 1: the failed backup writes none", n)
	}
}
