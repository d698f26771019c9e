package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/testservers"
)

// The servers of the package's tests, started once by TestMain: src holds
// the data; dst receives single-database restores; cluster receives
// pg_dumpall restores (which set its superuser's password to src's).
var src, dst, cluster *testservers.Postgres

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := testservers.SetupPATH("restic"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	servers := make([]*testservers.Postgres, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = testservers.StartPostgres()
		}()
	}
	wg.Wait()
	for _, s := range servers {
		if s != nil {
			defer s.Stop()
		}
	}
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	src, dst, cluster = servers[0], servers[1], servers[2]
	if err := loadShop(src); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The tools on the PATH of the steps: the server's own version.
	if err := os.Setenv("PATH", src.BinDir+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// loadShop creates role app and database shop (owned by app) with two
// tables, a view and a sequence in use.
func loadShop(pg *testservers.Postgres) error {
	ctx := context.Background()
	for _, s := range []struct{ db, sql string }{
		{"postgres", "CREATE ROLE app LOGIN PASSWORD 'app-pw'"},
		{"postgres", "CREATE DATABASE shop OWNER app"},
		{"shop", `SET ROLE app;
CREATE TABLE items(id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags text[], data bytea, created timestamptz, note text);
INSERT INTO items SELECT g, 'item ' || g || ' ☃ ''q'' \t', g * 1.5, ARRAY['a' || g, 'b'], decode(md5(g::text), 'hex'),
  '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('x', g % 50) END
  FROM generate_series(1, 3000) g;
CREATE TABLE orders(id serial PRIMARY KEY, item int NOT NULL REFERENCES items, qty int);
INSERT INTO orders(item, qty) SELECT (g % 3000) + 1, g % 5 FROM generate_series(1, 2000) g;
CREATE VIEW big_orders AS SELECT * FROM orders WHERE qty > 3;`},
	} {
		if _, err := pg.Exec(ctx, s.db, s.sql); err != nil {
			return err
		}
	}
	return nil
}

// shopQueries read everything loadShop wrote, in a stable order.
var shopQueries = []string{
	"SELECT * FROM items ORDER BY id",
	"SELECT * FROM orders ORDER BY id",
	"SELECT count(*) FROM big_orders",
	"SELECT last_value FROM orders_id_seq",
	"SELECT tableowner FROM pg_tables WHERE tablename = 'items'",
}

// rows returns the rows of every shop query on pg's db.
func rows(t *testing.T, pg *testservers.Postgres, db string) []string {
	t.Helper()
	return fntest.Rows(t, pg, db, shopQueries)
}

// sameRows fails the test when db on pg differs from shop on src, row by row.
func sameRows(t *testing.T, pg *testservers.Postgres, db string) {
	t.Helper()
	want := rows(t, src, "shop")
	if len(want) < 5000 {
		t.Fatalf("source has only %d rows", len(want))
	}
	if diff := cmp.Diff(want, rows(t, pg, db)); diff != "" {
		t.Errorf("%s on port %d differs from the source (-want +got):\n%s", db, pg.Port, diff)
	}
}

const repoPassword = "correct horse battery staple"

// localRepo returns the environment of a new local repository.
func localRepo(t *testing.T) []string {
	return []string{"RESTIC_REPOSITORY=" + filepath.Join(t.TempDir(), "repo"), "RESTIC_PASSWORD=" + repoPassword}
}

// creds is the environment the catalog gives the steps from the
// AppBinding's Secret (keys username and password).
func creds(pg *testservers.Postgres) []string {
	return []string{EnvUser + "=" + pg.User, EnvPassword + "=" + pg.Password}
}

// logged is a step environment whose log is kept (and sent to t).
type logged struct {
	*step.Env
	buf *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
	t  *testing.T
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t.Log(strings.TrimRight(string(p), "\n"))
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testEnv(t *testing.T, extra ...[]string) logged {
	env := fntest.Env(t, extra...)
	buf := &syncBuffer{t: t}
	env.Log = step.NewEnv(buf).Log
	return logged{env, buf}
}

func snapshots(t *testing.T, repoEnv []string) []restic.Snapshot {
	t.Helper()
	c, err := restic.NewClient(append(os.Environ(), repoEnv...), nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := c.Snapshots(context.Background(), restic.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}
