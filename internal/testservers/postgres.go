package testservers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/testproc"
)

// Postgres is a throwaway PostgreSQL server on 127.0.0.1: initdb'd into a
// fresh directory and run as a non-root user (nobody when the tests run as
// root: postgres refuses root), with password authentication over TCP.
type Postgres struct {
	// Port is the server's TCP port on 127.0.0.1.
	Port int
	// User and Password are the superuser's.
	User, Password string
	// Dir holds the data directory, the socket and the log.
	Dir string
	// BinDir holds initdb, postgres and the client tools.
	BinDir string

	cred *syscall.Credential
	proc *deathsig.Process
}

// PostgresBinDir is the directory of the newest Debian PostgreSQL
// (/usr/lib/postgresql/<version>/bin), else the one holding initdb on PATH.
func PostgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) < pgVersion(dirs[j]) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL's server (initdb, postgres) is not installed: run hack/install-databases.sh (make test-tools)")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// StartPostgres initdb's a new cluster and starts it; Stop ends it.
func StartPostgres() (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	// Not under a test's TempDir: the server's user must reach it.
	dir, err := os.MkdirTemp("", "stashflow-pg-")
	if err != nil {
		return nil, err
	}
	pg := &Postgres{User: "postgres", Password: fmt.Sprintf("pw-%d", time.Now().UnixNano()), Dir: dir, BinDir: bin, cred: cred}
	if err := pg.start(); err != nil {
		pg.Stop()
		return nil, err
	}
	return pg, nil
}

func (pg *Postgres) start() error {
	if err := os.Chmod(pg.Dir, 0o755); err != nil {
		return err
	}
	pwfile := filepath.Join(pg.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(pg.Password+"\n"), 0o600); err != nil {
		return err
	}
	if err := chownTo(pg.cred, pg.Dir, pwfile); err != nil {
		return err
	}
	data := filepath.Join(pg.Dir, "data")
	initdb := exec.Command(filepath.Join(pg.BinDir, "initdb"), "-D", data, "-U", pg.User, "--pwfile", pwfile,
		"-A", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	port, err := testproc.FreePort()
	if err != nil {
		return err
	}
	pg.Port = port
	cmd := exec.Command(filepath.Join(pg.BinDir, "postgres"), "-D", data, "-k", pg.Dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	if pg.proc, err = startAs(cmd, pg.cred, filepath.Join(pg.Dir, "postgres.log")); err != nil {
		return err
	}
	return pg.waitReady()
}

func (pg *Postgres) waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := pg.Exec(context.Background(), "postgres", "SELECT 1")
		if err == nil {
			return nil
		}
		select {
		case <-pg.proc.Exited:
			log, _ := os.ReadFile(filepath.Join(pg.Dir, "postgres.log"))
			return fmt.Errorf("postgres exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres on port %d not ready after 30s: %w", pg.Port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Env is the libpq environment reaching the server as its superuser.
func (pg *Postgres) Env() []string {
	return []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(pg.Port), "PGUSER=" + pg.User, "PGPASSWORD=" + pg.Password}
}

// Endpoint is the server's URL as an AppBinding gives it.
func (pg *Postgres) Endpoint() string {
	return fmt.Sprintf("postgresql://127.0.0.1:%d?sslmode=disable", pg.Port)
}

// Exec runs SQL in database db with psql and returns its unaligned,
// tuples-only output (fields separated by tabs, one row a line).
func (pg *Postgres) Exec(ctx context.Context, db, sql string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.BinDir, "psql"), "-X", "-q", "-A", "-t", "-F", "\t",
		"-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql)
	cmd.Env = append(os.Environ(), pg.Env()...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("psql %q: %w: %s", sql, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Pid is the postmaster's process id, 0 when it is not running.
func (pg *Postgres) Pid() int {
	if pg.proc == nil {
		return 0
	}
	return pg.proc.Cmd.Process.Pid
}

// Stop stops the server (SIGINT: fast shutdown; SIGKILL after 10s) and
// removes its directory.
func (pg *Postgres) Stop() {
	if pg.proc != nil {
		stopProcess(pg.proc, syscall.SIGINT, 10*time.Second)
		pg.proc = nil
	}
	if pg.Dir != "" {
		_ = os.RemoveAll(pg.Dir)
	}
}
