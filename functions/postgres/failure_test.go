package postgres

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
)

// wrapper writes an executable shell script named name into a new
// directory and returns the directory.
func wrapper(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDumpStopsEarly: a dump tool killed halfway, and one that exits 0
// after half its output, fail the backup, and neither writes a snapshot
// (nor leaves a lock).
func TestDumpStopsEarly(t *testing.T) {
	real := filepath.Join(src.BinDir, "pg_dump")
	for name, script := range map[string]string{
		"killed":      `"` + real + `" "$@" | head -c 100000; kill -KILL $$` + "\n",
		"exits 0":     `"` + real + `" "$@" | head -c 100000; exit 0` + "\n",
		"fails first": `echo 'pg_dump: error: query failed: ERROR:  permission denied for table items' >&2; exit 1` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			repo := localRepo(t)
			fntest.MustRun(t, NewBackup(), testEnv(t, repo, creds(src)).Env, "--endpoint", src.Endpoint(), "--cmd", "pg_dump", "--args", "-d shop")
			path := []string{"PATH=" + wrapper(t, "pg_dump", script) + string(os.PathListSeparator) + os.Getenv("PATH")}
			_, err := fntest.Run(t, NewBackup(), testEnv(t, repo, creds(src), path).Env, "--endpoint", src.Endpoint(), "--cmd", "pg_dump", "--args", "-d shop")
			t.Logf("err = %v", err)
			want := map[string]string{"killed": "signal: killed", "exits 0": "the dump is incomplete", "fails first": "permission denied for table items"}[name]
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
			if n := len(snapshots(t, repo)); n != 1 {
				t.Errorf("%d snapshots, want only the good one", n)
			}
			c, cerr := restic.NewClient(append(os.Environ(), repo...), nil)
			if cerr != nil {
				t.Fatal(cerr)
			}
			if locks, lerr := c.Locks(t.Context()); lerr != nil || len(locks) != 0 {
				t.Errorf("locks left: %v %v", locks, lerr)
			}
		})
	}
}

// TestRestoreStopsEarly: restic dump failing after part of the file —
// psql is killed before its input ends and nothing reaches the database.
func TestRestoreStopsEarly(t *testing.T) {
	repo := localRepo(t)
	fntest.MustRun(t, NewBackup(), testEnv(t, repo, creds(src)).Env, "--endpoint", src.Endpoint(), "--cmd", "pg_dump", "--args", "-d shop")
	real, err := osexec.LookPath("restic")
	if err != nil {
		t.Fatal(err)
	}
	dir := wrapper(t, "restic", `for a; do if [ "$a" = dump ]; then "`+real+`" "$@" | head -c 200000; exit 1; fi; done
exec "`+real+`" "$@"
`)
	fntest.MustExec(t, dst, "postgres", "CREATE DATABASE partial")
	t.Cleanup(func() { fntest.MustExec(t, dst, "postgres", "DROP DATABASE partial") })
	url := strings.Replace(dst.Endpoint(), "?", "/partial?", 1)
	_, err = fntest.Run(t, NewRestore(), testEnv(t, repo, creds(dst), []string{restic.EnvBinary + "=" + filepath.Join(dir, "restic")}).Env, "--endpoint", url)
	if err == nil || !strings.Contains(err.Error(), "nothing of it was committed") {
		t.Fatalf("err = %v", err)
	}
	if got := fntest.MustExec(t, dst, "partial", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); got != "0" {
		t.Errorf("%s tables in the target after a failed restore, want 0", got)
	}
}

// TestMissingTool: a step image without the client tools says which.
func TestMissingTool(t *testing.T) {
	repo := localRepo(t)
	path := []string{"PATH=" + t.TempDir()}
	_, err := fntest.Run(t, NewBackup(), testEnv(t, repo, creds(src), path).Env, "--endpoint", src.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "pg_dumpall not found on PATH") || !strings.Contains(err.Error(), "postgresql-client") {
		t.Errorf("backup: err = %v", err)
	}
	_, err = fntest.Run(t, NewRestore(), testEnv(t, repo, creds(src), path).Env, "--endpoint", src.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "psql not found on PATH") {
		t.Errorf("restore: err = %v", err)
	}
}

// TestValidate: bad flags are refused before anything runs, naming the
// flag.
func TestValidate(t *testing.T) {
	ep := "postgresql://db.default.svc:5432?sslmode=disable"
	for _, tc := range []struct {
		restore bool
		args    []string
		want    string
	}{
		{false, nil, "--endpoint: required"},
		{false, []string{"--endpoint", "mysql://db:3306"}, `scheme "mysql" is not postgres`},
		{false, []string{"--endpoint", "postgres://u:p@db:5432"}, "must not hold a user or password"},
		{false, []string{"--endpoint", "postgres://db?sslcert=/x"}, `query parameter "sslcert" is not supported`},
		{false, []string{"--endpoint", ep, "--cmd", "pg_basebackup"}, `--cmd: "pg_basebackup" is neither`},
		{false, []string{"--endpoint", ep, "--args", "-f /tmp/x"}, `--args: "-f" is not allowed`},
		{false, []string{"--endpoint", ep, "--args", "--file=/tmp/x"}, `--args: "--file=/tmp/x" is not allowed`},
		{false, []string{"--endpoint", ep, "--cmd", "pg_dump", "--args", "-Fc"}, "only the plain format"},
		{false, []string{"--endpoint", ep, "--cmd", "pg_dump", "--args", "--format custom"}, "only the plain format"},
		{false, []string{"--endpoint", ep, "--session", "a,b"}, "--session"},
		{true, []string{"--endpoint", ep, "--args", "-c select"}, `--args: "-c" is not allowed`},
		{true, []string{"--endpoint", ep, "--args", "-1"}, `--args: "-1" is not allowed`},
		{true, []string{"--endpoint", ep, "--single-transaction", "maybe"}, `--single-transaction: "maybe"`},
	} {
		fn := NewBackup()
		if tc.restore {
			fn = NewRestore()
		}
		_, err := fntest.Run(t, fn, fntest.Env(t), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T %q: err = %v, want %q", fn, tc.args, err, tc.want)
		}
	}
	for _, ok := range [][]string{
		{"--endpoint", ep, "--cmd", "pg_dump", "--args", "-Fp -d shop --clean"},
		{"--endpoint", "postgres://db:5432/shop?sslmode=require&connect_timeout=5"},
	} {
		fn := NewBackup()
		fs := newFlagSet(fn)
		if err := fs.Parse(ok); err != nil {
			t.Fatal(err)
		}
		if err := fn.Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
