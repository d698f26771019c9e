package fntest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/step"
)

// Timeout bounds one Run.
const Timeout = 2 * time.Minute

// Env returns a step environment whose log goes to t and whose temp dir is
// t's, with extra environment variables appended.
func Env(t testing.TB, extra ...[]string) *step.Env {
	env := step.NewEnv(Log{t})
	env.TempDir = t.TempDir()
	for _, e := range extra {
		env.Environ = append(env.Environ, e...)
	}
	return env
}

// Log sends a Function's log lines to t.Log.
type Log struct{ T testing.TB }

func (l Log) Write(p []byte) (int, error) {
	l.T.Helper()
	l.T.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Run parses args into fn's flags, validates and runs it. A flag or
// validation error is returned as the Function's error, as the runtime
// reports it.
func Run(t testing.TB, fn step.Function, env *step.Env, args ...string) (step.Outputs, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fn.Flags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := fn.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	return fn.Run(ctx, env)
}

// MustRun is Run, failing the test on an error.
func MustRun(t testing.TB, fn step.Function, env *step.Env, args ...string) step.Outputs {
	t.Helper()
	out, err := Run(t, fn, env, args...)
	if err != nil {
		t.Fatalf("%T %v: %v", fn, args, err)
	}
	return out
}

// SQL is a test database server (internal/testservers' Postgres and
// MariaDB): Exec runs sql in database db and returns its rows as text.
type SQL interface {
	Exec(ctx context.Context, db, sql string) (string, error)
}

// Rows runs each query in db and returns its rows, one line per row, each
// query's headed by "# <query>".
func Rows(t testing.TB, s SQL, db string, queries []string) []string {
	t.Helper()
	var all []string
	for _, q := range queries {
		out, err := s.Exec(context.Background(), db, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, "# "+q)
		all = append(all, strings.Split(strings.TrimRight(out, "\n"), "\n")...)
	}
	return all
}

// MustExec runs sql in db and returns its output, trimmed; an error fails t.
func MustExec(t testing.TB, s SQL, db, sql string) string {
	t.Helper()
	out, err := s.Exec(context.Background(), db, sql)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}
