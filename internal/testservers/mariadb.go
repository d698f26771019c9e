package testservers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/internal/testproc"
)

// MariaDB is a throwaway MariaDB server on 127.0.0.1, installed into a
// fresh directory and run as a non-root user (nobody when the tests run as
// root), with a password-protected administrator admin@127.0.0.1 for TCP
// clients.
type MariaDB struct {
	// Port is the server's TCP port on 127.0.0.1.
	Port int
	// User and Password are the administrator's (admin@127.0.0.1).
	User, Password string
	// Dir holds the data directory, the socket and the log.
	Dir string

	cred *syscall.Credential
	proc *deathsig.Process
}

// mariadbd is the server binary: Debian installs it in /usr/sbin.
func mariadbd() (string, error) {
	for _, p := range []string{"/usr/sbin/mariadbd", "/usr/sbin/mysqld"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("mariadbd"); err == nil {
		return p, nil
	}
	return "", errors.New("MariaDB's server (mariadbd) is not installed: run hack/install-databases.sh (make test-tools)")
}

// StartMariaDB installs a new data directory and starts a server on it;
// Stop ends it.
func StartMariaDB() (*MariaDB, error) {
	bin, err := mariadbd()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stashflow-mariadb-")
	if err != nil {
		return nil, err
	}
	m := &MariaDB{User: "admin", Password: fmt.Sprintf("pw-%d", time.Now().UnixNano()), Dir: dir, cred: cred}
	if err := m.start(bin); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

func (m *MariaDB) socket() string { return filepath.Join(m.Dir, "mysqld.sock") }

func (m *MariaDB) start(bin string) error {
	if err := os.Chmod(m.Dir, 0o755); err != nil {
		return err
	}
	if err := chownTo(m.cred, m.Dir); err != nil {
		return err
	}
	data, tmp := filepath.Join(m.Dir, "data"), filepath.Join(m.Dir, "tmp")
	// A temporary directory of its own: two servers installed at once in
	// the shared /tmp can collide on their temporary tables' names.
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	if err := chownTo(m.cred, tmp); err != nil {
		return err
	}
	install := exec.Command("mariadb-install-db", "--no-defaults", "--datadir="+data, "--tmpdir="+tmp, "--auth-root-authentication-method=normal", "--skip-test-db")
	install.SysProcAttr = &syscall.SysProcAttr{Credential: m.cred}
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db: %w: %s", err, out)
	}
	port, err := testproc.FreePort()
	if err != nil {
		return err
	}
	m.Port = port
	cmd := exec.Command(bin, "--no-defaults", "--datadir="+data, "--tmpdir="+tmp, "--socket="+m.socket(), "--port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1", "--skip-name-resolve", "--pid-file="+filepath.Join(m.Dir, "mariadb.pid"),
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M", "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin")
	if m.proc, err = startAs(cmd, m.cred, filepath.Join(m.Dir, "mariadb.log")); err != nil {
		return err
	}
	if err := m.waitSocket(); err != nil {
		return err
	}
	// root@localhost over the socket (no password yet) creates the TCP
	// administrator.
	grant := fmt.Sprintf("CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; GRANT ALL ON *.* TO '%[1]s'@'127.0.0.1' WITH GRANT OPTION;", m.User, m.Password)
	sock := exec.Command("mariadb", "--no-defaults", "--socket="+m.socket(), "-u", "root", "-e", grant)
	if out, err := sock.CombinedOutput(); err != nil {
		return fmt.Errorf("create the administrator: %w: %s", err, out)
	}
	_, err = m.Exec(context.Background(), "", "SELECT 1")
	return err
}

func (m *MariaDB) waitSocket() error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := exec.Command("mariadb", "--no-defaults", "--socket="+m.socket(), "-u", "root", "-e", "SELECT 1")
		if err := cmd.Run(); err == nil {
			return nil
		}
		select {
		case <-m.proc.Exited:
			log, _ := os.ReadFile(filepath.Join(m.Dir, "mariadb.log"))
			return fmt.Errorf("mariadbd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbd on port %d not ready after 60s", m.Port)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Env is the MYSQL_PWD the tests' own client calls use.
func (m *MariaDB) Env() []string { return []string{"MYSQL_PWD=" + m.Password} }

// Endpoint is the server's URL as an AppBinding gives it.
func (m *MariaDB) Endpoint() string { return fmt.Sprintf("mysql://127.0.0.1:%d", m.Port) }

// Exec runs SQL (in database db, "" for none) with the mariadb client over
// TCP and returns its batch output: tab-separated rows, no column names.
func (m *MariaDB) Exec(ctx context.Context, db, sql string) (string, error) {
	args := []string{"--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", strconv.Itoa(m.Port), "-u", m.User, "--default-character-set=utf8mb4", "--batch", "--skip-column-names", "-e", sql}
	if db != "" {
		args = append(args, db)
	}
	cmd := exec.CommandContext(ctx, "mariadb", args...)
	cmd.Env = append(os.Environ(), m.Env()...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("mariadb %q: %w: %s", sql, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Stop stops the server (SIGTERM; SIGKILL after 20s) and removes its
// directory.
func (m *MariaDB) Stop() {
	if m.proc != nil {
		stopProcess(m.proc, syscall.SIGTERM, 20*time.Second)
		m.proc = nil
	}
	if m.Dir != "" {
		_ = os.RemoveAll(m.Dir)
	}
}

// Pid is the server's process id, 0 when it is not running.
func (m *MariaDB) Pid() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.Cmd.Process.Pid
}
