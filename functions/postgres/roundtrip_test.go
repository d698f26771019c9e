package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/outputs"
)

// TestDatabaseRoundTrip: pg_dump of one database into restic, restored
// into another server's new database, row by row equal; restored again
// over it, the restore fails and — one transaction — changes nothing; a
// dump taken with --clean --if-exists replaces it.
func TestDatabaseRoundTrip(t *testing.T) {
	repo := localRepo(t)
	env := testEnv(t, repo, creds(src))
	out := fntest.MustRun(t, NewBackup(), env.Env, "--endpoint", src.Endpoint(), "--cmd", "pg_dump", "--args", "-d shop", "--session", "s1", "--target", "AppBinding/shop")
	if out[outputs.SnapshotID] == "" || out[outputs.Size] == "0" || out[outputs.Files] != "1" || out[OutputDumpCommand] != "pg_dump" {
		t.Fatalf("outputs %v", out)
	}
	if strings.Contains(env.buf.String(), src.Password) {
		t.Error("the backup's log holds the password")
	}
	snaps := snapshots(t, repo)
	if len(snaps) != 1 || strings.Join(snaps[0].Paths, ",") != DumpPath || snaps[0].Tag(TagDump) != "pg_dump" {
		t.Fatalf("snapshots %+v", snaps)
	}

	fntest.MustExec(t, dst, "postgres", "CREATE ROLE app")
	fntest.MustExec(t, dst, "postgres", "CREATE DATABASE shop OWNER app")
	dstURL := strings.Replace(dst.Endpoint(), "?", "/shop?", 1)
	res := fntest.MustRun(t, NewRestore(), testEnv(t, repo, creds(dst)).Env, "--endpoint", dstURL, "--session", "s1")
	if res[OutputKind] != KindDatabase || res[outputs.SnapshotID] != out[outputs.SnapshotID] || res[outputs.Size] != out[outputs.Size] {
		t.Errorf("restore outputs %v, backup's %v", res, out)
	}
	sameRows(t, dst, "shop")

	// Again into the database that now has the tables: CREATE TABLE
	// fails, and the rows inserted before it are rolled back with it.
	fntest.MustExec(t, dst, "shop", "DELETE FROM orders WHERE id > 10")
	_, err := fntest.Run(t, NewRestore(), testEnv(t, repo, creds(dst)).Env, "--endpoint", dstURL)
	if err == nil || !strings.Contains(err.Error(), `already exists`) || !strings.Contains(err.Error(), "nothing of it was committed") {
		t.Fatalf("restore over an existing database: err = %v", err)
	}
	if got := fntest.MustExec(t, dst, "shop", "SELECT count(*) FROM orders"); got != "10" {
		t.Errorf("after the failed restore orders has %s rows, want the 10 left before it", got)
	}

	// --clean --if-exists at backup: the restore replaces the objects.
	fntest.MustRun(t, NewBackup(), testEnv(t, repo, creds(src)).Env, "--endpoint", src.Endpoint(), "--cmd", "pg_dump", "--args", "--clean --if-exists -d shop", "--session", "s2")
	fntest.MustRun(t, NewRestore(), testEnv(t, repo, creds(dst)).Env, "--endpoint", dstURL, "--session", "s2")
	sameRows(t, dst, "shop")
}

// TestClusterRoundTrip: pg_dumpall into restic, restored into a fresh
// server: roles (app, and the superuser that already exists there) and
// database shop row by row. Restored again, CREATE DATABASE shop stops it;
// a dump taken with --clean --if-exists restores over it.
func TestClusterRoundTrip(t *testing.T) {
	repo := localRepo(t)
	out := fntest.MustRun(t, NewBackup(), testEnv(t, repo, creds(src)).Env, "--endpoint", src.Endpoint(), "--session", "all")
	if out[OutputDumpCommand] != "pg_dumpall" {
		t.Fatalf("outputs %v", out)
	}
	superuser := "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'"
	before := fntest.MustExec(t, cluster, "postgres", superuser)
	res := fntest.MustRun(t, NewRestore(), testEnv(t, repo, creds(cluster)).Env, "--endpoint", cluster.Endpoint())
	if res[OutputKind] != KindCluster {
		t.Errorf("kind = %q", res[OutputKind])
	}
	// The role the restore connects as keeps its own password; the others
	// get the dump's.
	sameRows(t, cluster, "shop")
	if got := fntest.MustExec(t, cluster, "postgres", superuser); got != before || got == fntest.MustExec(t, src, "postgres", superuser) {
		t.Errorf("the superuser's password hash changed to %q (was %q)", got, before)
	}
	srcApp := fntest.MustExec(t, src, "postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")
	if got := fntest.MustExec(t, cluster, "postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'"); got != srcApp {
		t.Errorf("app's password hash = %q, want the source's %q", got, srcApp)
	}
	if got := fntest.MustExec(t, cluster, "postgres", "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app'"); got != "t" {
		t.Errorf("role app: rolcanlogin = %q", got)
	}

	// The database exists now: psql stops at CREATE DATABASE.
	_, err := fntest.Run(t, NewRestore(), testEnv(t, repo, creds(cluster)).Env, "--endpoint", cluster.Endpoint())
	if err == nil || !strings.Contains(err.Error(), `database "shop" already exists`) {
		t.Fatalf("second restore: err = %v", err)
	}
	// single-transaction true is refused for a cluster dump before psql
	// runs anything.
	_, err = fntest.Run(t, NewRestore(), testEnv(t, repo, creds(cluster)).Env, "--endpoint", cluster.Endpoint(), "--single-transaction", "true")
	if err == nil || !strings.Contains(err.Error(), "cannot be restored in a single transaction") {
		t.Fatalf("single-transaction true: err = %v", err)
	}

	fntest.MustExec(t, cluster, "shop", "DELETE FROM orders")
	fntest.MustRun(t, NewBackup(), testEnv(t, repo, creds(src)).Env, "--endpoint", src.Endpoint(), "--args", "--clean --if-exists", "--session", "clean")
	fntest.MustRun(t, NewRestore(), testEnv(t, repo, creds(cluster)).Env, "--endpoint", cluster.Endpoint(), "--session", "clean")
	sameRows(t, cluster, "shop")
}

// TestStashSecretKeys: KubeDB's older Secret keys (POSTGRES_USER,
// POSTGRES_PASSWORD) work as Stash's addon reads them; a wrong password
// fails at once with the server's reason and no snapshot.
func TestStashSecretKeys(t *testing.T) {
	repo := localRepo(t)
	legacy := []string{EnvLegacyUser + "=" + src.User, EnvLegacyPassword + "=" + src.Password}
	fntest.MustRun(t, NewBackup(), testEnv(t, repo, legacy).Env, "--endpoint", src.Endpoint(), "--cmd", "pg_dump", "--args", "-d shop")
	wrong := []string{EnvUser + "=" + src.User, EnvPassword + "=not-" + src.Password}
	_, err := fntest.Run(t, NewBackup(), testEnv(t, repo, wrong).Env, "--endpoint", src.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: err = %v", err)
	}
	if strings.Contains(err.Error(), src.Password) {
		t.Error("the error holds the password")
	}
	if n := len(snapshots(t, repo)); n != 1 {
		t.Errorf("%d snapshots, want 1 (the failed backup writes none)", n)
	}
	_ = fmt.Sprint()
}
