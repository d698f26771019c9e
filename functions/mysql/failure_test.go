package mysql

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

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

// TestDumpStopsEarly: a dump tool killed halfway, one that exits 0 after
// part of its output, and one that fails fail the backup; none writes a
// snapshot or leaves a lock.
func TestDumpStopsEarly(t *testing.T) {
	real, err := osexec.LookPath("mariadb-dump")
	if err != nil {
		t.Fatal(err)
	}
	repo := localRepo(t)
	fntest.MustRun(t, NewMariaDBBackup(), env(t, repo, creds(src)), "--endpoint", src.Endpoint(), "--args", "--databases shop")
	for name, tc := range map[string]struct{ script, want string }{
		"killed":      {`"` + real + `" "$@" | head -c 100000; kill -KILL $$`, "signal: killed"},
		"exits 0":     {`"` + real + `" "$@" | head -c 100000; exit 0`, "the dump is incomplete"},
		"fails first": {`echo "mariadb-dump: Got error: 1044: Access denied for user 'x' to database 'shop'" >&2; exit 2`, "Access denied for user 'x'"},
	} {
		t.Run(name, func(t *testing.T) {
			path := []string{"PATH=" + wrapper(t, "mariadb-dump", tc.script+"\n") + string(os.PathListSeparator) + os.Getenv("PATH")}
			_, err := fntest.Run(t, NewMariaDBBackup(), env(t, repo, creds(src), path), "--endpoint", src.Endpoint(), "--args", "--databases shop")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
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

// TestRestoreStopsEarly: restic dump failing after part of the file — the
// client is killed before its input ends (the statement it was reading is
// not run) and the step fails saying so.
func TestRestoreStopsEarly(t *testing.T) {
	repo := localRepo(t)
	fntest.MustRun(t, NewMariaDBBackup(), env(t, repo, creds(src)), "--endpoint", src.Endpoint(), "--args", "--databases shop")
	real, err := osexec.LookPath("restic")
	if err != nil {
		t.Fatal(err)
	}
	dir := wrapper(t, "restic", `for a; do if [ "$a" = dump ]; then "`+real+`" "$@" | head -c 200000; exit 1; fi; done
exec "`+real+`" "$@"
`)
	fntest.MustExec(t, dst, "", "DROP DATABASE IF EXISTS shop")
	_, err = fntest.Run(t, NewMariaDBRestore(), env(t, repo, creds(dst), []string{restic.EnvBinary + "=" + filepath.Join(dir, "restic")}), "--endpoint", dst.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "killed before the end of its input") {
		t.Fatalf("err = %v", err)
	}
}

// TestMissingTool: a step image without the client tools says which.
func TestMissingTool(t *testing.T) {
	repo := localRepo(t)
	path := []string{"PATH=" + t.TempDir()}
	_, err := fntest.Run(t, NewBackup(), env(t, repo, creds(src), path), "--endpoint", src.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "mysqldump not found on PATH") || !strings.Contains(err.Error(), "nor mariadb-dump") {
		t.Errorf("backup: err = %v", err)
	}
	_, err = fntest.Run(t, NewMariaDBRestore(), env(t, repo, creds(src), path), "--endpoint", src.Endpoint())
	if err == nil || !strings.Contains(err.Error(), "mariadb not found on PATH") || !strings.Contains(err.Error(), "nor mysql") {
		t.Errorf("restore: err = %v", err)
	}
}

// TestValidate: bad flags are refused before anything runs, naming the
// flag.
func TestValidate(t *testing.T) {
	ep := "mysql://db.default.svc:3306"
	for _, tc := range []struct {
		restore bool
		args    []string
		want    string
	}{
		{false, nil, "--endpoint: required"},
		{false, []string{"--endpoint", "postgres://db:5432"}, `scheme "postgres" is not mysql`},
		{false, []string{"--endpoint", "mysql://u:p@db:3306"}, "must not hold a user or password"},
		{false, []string{"--endpoint", "mysql://db:3306?tls=true"}, "query parameters"},
		{false, []string{"--endpoint", "tcp(db)/"}, "missing port"},
		{false, []string{"--endpoint", ep, "--args", "-psecret --all-databases"}, `--args: "-psecret" is not allowed`},
		{false, []string{"--endpoint", ep, "--args", "--password=secret"}, `"--password=secret" is not allowed`},
		{false, []string{"--endpoint", ep, "--args", "--result-file=/tmp/x"}, `"--result-file=/tmp/x" is not allowed`},
		{false, []string{"--endpoint", ep, "--args", "--compact"}, `"--compact" is not allowed`},
		{false, []string{"--endpoint", ep, "--args", "--skip-comments"}, `"--skip-comments" is not allowed`},
		{false, []string{"--endpoint", ep, "--session", "a,b"}, "--session"},
		{true, []string{"--endpoint", ep, "--args", "-e select"}, `"-e" is not allowed`},
		{true, []string{"--endpoint", ep, "--args", "--defaults-file=/x"}, `"--defaults-file=/x" is not allowed`},
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
		{"--endpoint", ep, "--args", "-P 3307 --databases shop --routines"},
		{"--endpoint", "tcp(mysql.demo.svc:3306)/"},
		{"--endpoint", "mariadb://db/shop"},
	} {
		fn := NewBackup()
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		fn.Flags(fs)
		if err := fs.Parse(ok); err != nil {
			t.Fatal(err)
		}
		if err := fn.Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestOptionFile: the credentials go to a 0600 file, quoted.
func TestOptionFile(t *testing.T) {
	c := connFlags{endpoint: "mysql://db.ns.svc:3306/shop"}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	e := fntest.Env(t, []string{EnvUser + "=app", EnvPassword + `=pa"ss\word`})
	f, err := c.optionFile(e, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(f)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("option file mode %v, %v", st.Mode(), err)
	}
	b, _ := os.ReadFile(f)
	want := "[client]\nprotocol=TCP\nhost=\"db.ns.svc\"\nport=\"3306\"\nuser=\"app\"\npassword=\"pa\\\"ss\\\\word\"\n"
	if string(b) != want {
		t.Errorf("option file:\n%s\nwant:\n%s", b, want)
	}
}
