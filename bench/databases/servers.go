package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/stashflow/stashflow/internal/testservers"
)

// restic's side of Stash's pipelines: the dump read from stdin, stored
// under the file name Stash's addons use.
func resticStdin(file string) string {
	return "restic backup --stdin --stdin-filename " + file + " --host bench --tag session=bench --json"
}

// rows is how many rows of about rowBytes dump bytes make size.
const rowBytes = 180

// startPostgres loads table bench.t: an id, an md5, three more md5s, a
// number and a timestamp a row (about 180 bytes of dump, half of it hex).
func startPostgres(ctx context.Context, size int64) (*server, error) {
	pg, err := testservers.StartPostgres()
	if err != nil {
		return nil, err
	}
	n := size / rowBytes
	if _, err := pg.Exec(ctx, "postgres", "CREATE DATABASE bench"); err != nil {
		pg.Stop()
		return nil, err
	}
	if _, err := pg.Exec(ctx, "bench", "CREATE TABLE t(id bigint, a text, b text, n numeric(14,2), ts timestamptz)"); err != nil {
		pg.Stop()
		return nil, err
	}
	const chunk = 1_000_000
	for lo := int64(1); lo <= n; lo += chunk {
		hi := min(n, lo+chunk-1)
		if _, err := pg.Exec(ctx, "bench", fmt.Sprintf(`INSERT INTO t SELECT g, md5(g::text), md5((g*31)::text) || md5((g*37)::text) || md5((g*41)::text), g*1.25, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(%d, %d) g`, lo, hi)); err != nil {
			pg.Stop()
			return nil, err
		}
	}
	dbSize, err := pg.Exec(ctx, "bench", "SELECT pg_size_pretty(pg_database_size('bench'))")
	if err != nil {
		pg.Stop()
		return nil, err
	}
	return &server{
		stash:  "pg_dumpall | " + resticStdin("dumpfile.sql"),
		ours:   []string{"postgres-backup", "--endpoint", pg.Endpoint()},
		env:    append(pg.Env(), "PATH="+pg.BinDir+string(os.PathListSeparator)+os.Getenv("PATH")),
		pid:    pg.Pid,
		stop:   pg.Stop,
		loaded: fmt.Sprintf("PostgreSQL 15, %d rows in one table, database %s", n, strings.TrimSpace(dbSize)),
	}, nil
}

// startMariaDB loads bench.t (InnoDB), rows as startPostgres's.
func startMariaDB(ctx context.Context, size int64) (*server, error) {
	m, err := testservers.StartMariaDB()
	if err != nil {
		return nil, err
	}
	n := size / rowBytes
	if _, err := m.Exec(ctx, "", "CREATE DATABASE bench; CREATE TABLE bench.t(id BIGINT, a CHAR(32), b VARCHAR(100), n DECIMAL(14,2), ts DATETIME) ENGINE=InnoDB"); err != nil {
		m.Stop()
		return nil, err
	}
	const chunk = 500_000
	for lo := int64(1); lo <= n; lo += chunk {
		hi := min(n, lo+chunk-1)
		if _, err := m.Exec(ctx, "bench", fmt.Sprintf(`INSERT INTO t SELECT seq, MD5(seq), CONCAT(MD5(seq*31), MD5(seq*37), MD5(seq*41)), seq*1.25, '2026-01-01' + INTERVAL seq SECOND FROM seq_%d_to_%d`, lo, hi)); err != nil {
			m.Stop()
			return nil, err
		}
	}
	dbSize, err := m.Exec(ctx, "", "SELECT ROUND(SUM(data_length+index_length)/1048576) FROM information_schema.tables WHERE table_schema='bench'")
	if err != nil {
		m.Stop()
		return nil, err
	}
	conn := fmt.Sprintf("-h 127.0.0.1 -P %d -u %s", m.Port, m.User)
	return &server{
		// Stash's MySQL addon: mysqldump of its args (default
		// --all-databases); --single-transaction as ours runs it.
		stash:  "mariadb-dump " + conn + " --single-transaction --all-databases | " + resticStdin("dumpfile.sql"),
		ours:   []string{"mariadb-backup", "--endpoint", m.Endpoint(), "--args", "--all-databases"},
		env:    append(m.Env(), "MYSQL_USER="+m.User, "MYSQL_PASSWORD="+m.Password),
		pid:    m.Pid,
		stop:   m.Stop,
		loaded: fmt.Sprintf("MariaDB 10.11, %d rows in one InnoDB table, %s MiB on disk", n, strings.TrimSpace(dbSize)),
	}, nil
}

// startRedis loads string keys of 1 KiB values (512 random bytes as hex),
// in 64 MiB batches through redis-cli --pipe.
func startRedis(ctx context.Context, size int64) (*server, error) {
	r, err := testservers.StartRedis()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	raw := make([]byte, 512)
	n := size / 1024
	var batch strings.Builder
	for i := range n {
		for j := range raw {
			raw[j] = byte(rng.Uint32())
		}
		k, v := fmt.Sprintf("k:%09d", i), hex.EncodeToString(raw)
		fmt.Fprintf(&batch, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
		if batch.Len() >= 64<<20 || i == n-1 {
			if err := r.Pipe(ctx, batch.String()); err != nil {
				r.Stop()
				return nil, err
			}
			batch.Reset()
		}
	}
	mem, err := r.Cmd(ctx, "INFO", "memory")
	if err != nil {
		r.Stop()
		return nil, err
	}
	used := ""
	for _, l := range strings.Split(mem, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory_human:"); ok {
			used = v
		}
	}
	return &server{
		stash:  "redis-cli -h 127.0.0.1 -p " + strconv.Itoa(r.Port) + " --rdb - | " + resticStdin("dump.rdb"),
		ours:   []string{"redis-backup", "--endpoint", r.Endpoint()},
		env:    []string{"REDISCLI_AUTH=" + r.Password, "REDIS_PASSWORD=" + r.Password},
		pid:    r.Pid,
		stop:   r.Stop,
		loaded: fmt.Sprintf("Redis 7.0, %d keys of 1 KiB values, used_memory %s", n, used),
	}, nil
}
