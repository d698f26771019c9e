package mysql

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
// the data, dst receives restores.
var src, dst *testservers.MariaDB

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := testservers.SetupPATH("restic"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	servers := make([]*testservers.MariaDB, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = testservers.StartMariaDB()
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
	src, dst = servers[0], servers[1]
	if _, err := src.Exec(context.Background(), "", shopSQL); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// shopSQL creates database shop: two tables (one referencing the other),
// a view, rows of many types.
const shopSQL = `CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE items(id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, price DECIMAL(10,2), data BLOB, created DATETIME(3), note TEXT, doc JSON) ENGINE=InnoDB;
INSERT INTO items SELECT seq, CONCAT('item ', seq, ' ☃ 🐘 ''q'' \t'), seq * 1.5, UNHEX(MD5(seq)), '2024-01-01 00:00:00.000' + INTERVAL seq MINUTE,
  IF(seq % 7 = 0, NULL, REPEAT('x', seq % 50)), JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', 'b')) FROM seq_1_to_3000;
CREATE TABLE orders(id INT AUTO_INCREMENT PRIMARY KEY, item INT NOT NULL, qty INT, FOREIGN KEY (item) REFERENCES items(id)) ENGINE=InnoDB;
INSERT INTO orders(item, qty) SELECT (seq % 3000) + 1, seq % 5 FROM seq_1_to_2000;
CREATE VIEW big_orders AS SELECT * FROM orders WHERE qty > 3;`

var shopQueries = []string{
	"SELECT id, name, price, HEX(data), created, note, doc FROM items ORDER BY id",
	"SELECT * FROM orders ORDER BY id",
	"SELECT count(*) FROM big_orders",
	"SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders'",
}

// rows returns the rows of every shop query on m's db.
func rows(t *testing.T, m *testservers.MariaDB, db string) []string {
	t.Helper()
	return fntest.Rows(t, m, db, shopQueries)
}

// sameRows fails the test when db on m differs from shop on src, row by row.
func sameRows(t *testing.T, m *testservers.MariaDB, db string) {
	t.Helper()
	want := rows(t, src, "shop")
	if len(want) < 5000 {
		t.Fatalf("source has only %d rows", len(want))
	}
	if diff := cmp.Diff(want, rows(t, m, db)); diff != "" {
		t.Errorf("%s on port %d differs from the source (-want +got):\n%s", db, m.Port, diff)
	}
}

func localRepo(t *testing.T) []string {
	return []string{"RESTIC_REPOSITORY=" + filepath.Join(t.TempDir(), "repo"), "RESTIC_PASSWORD=correct horse battery staple"}
}

// creds is the environment the catalog gives the steps from the
// AppBinding's Secret.
func creds(m *testservers.MariaDB) []string {
	return []string{EnvUser + "=" + m.User, EnvPassword + "=" + m.Password}
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

// testEnv is a step environment whose log is also kept in the buffer.
func testEnv(t *testing.T, extra ...[]string) (*step.Env, *syncBuffer) {
	env := fntest.Env(t, extra...)
	buf := &syncBuffer{t: t}
	env.Log = step.NewEnv(buf).Log
	return env, buf
}

func env(t *testing.T, extra ...[]string) *step.Env {
	e, _ := testEnv(t, extra...)
	return e
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
