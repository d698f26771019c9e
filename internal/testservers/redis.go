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

// Redis is a throwaway redis-server on 127.0.0.1 with a password, run as a
// non-root user (nobody when the tests run as root) on a data directory of
// its own; DEBUG is enabled so that tests can compare datasets.
type Redis struct {
	Port     int
	Password string
	// Dir is the server's data directory (dump.rdb).
	Dir string

	cred *syscall.Credential
	proc *deathsig.Process
}

// NewRedis prepares a data directory and a port; Start starts the server
// on it, Stop ends it (and StartRedis does both).
func NewRedis() (*Redis, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("redis-server is not installed: run hack/install-databases.sh (make test-tools)")
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stashflow-redis-")
	if err != nil {
		return nil, err
	}
	r := &Redis{Password: fmt.Sprintf("pw-%d", time.Now().UnixNano()), Dir: dir, cred: cred}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := chownTo(cred, dir); err != nil {
		return nil, err
	}
	if r.Port, err = testproc.FreePort(); err != nil {
		return nil, err
	}
	return r, nil
}

// StartRedis is NewRedis and Start.
func StartRedis() (*Redis, error) {
	r, err := NewRedis()
	if err != nil {
		return nil, err
	}
	if err := r.Start(); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// Start starts the server on its directory (loading a dump.rdb there) and
// waits until it answers.
func (r *Redis) Start() error {
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.Dir,
		"--requirepass", r.Password, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes",
		"--logfile", filepath.Join(r.Dir, "redis.log"), "--daemonize", "no")
	var err error
	if r.proc, err = startAs(cmd, r.cred, ""); err != nil { // redis-server writes its --logfile
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := r.Cmd(context.Background(), "PING")
		if err == nil && out == "PONG" {
			return nil
		}
		select {
		case <-r.proc.Exited:
			log, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
			return fmt.Errorf("redis-server exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d not ready: %w %q", r.Port, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Endpoint is the server's URL as an AppBinding gives it.
func (r *Redis) Endpoint() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.Port) }

// Cmd runs one command with redis-cli and returns its raw output, trimmed.
func (r *Redis) Cmd(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(r.Port), "--no-raw"}, args...)...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+r.Password)
	out, err := cmd.CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err == nil && strings.HasPrefix(s, "(error)") {
		err = errors.New(s)
	}
	return s, err
}

// Script runs commands, one a line, in database db with one redis-cli and
// returns its replies, one a line.
func (r *Redis) Script(ctx context.Context, db, commands string) (string, error) {
	cmd := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(r.Port), "-n", db)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+r.Password)
	cmd.Stdin = strings.NewReader(commands)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// Pipe sends raw Redis protocol (redis-cli --pipe).
func (r *Redis) Pipe(ctx context.Context, resp string) error {
	cmd := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(r.Port), "--pipe")
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+r.Password)
	cmd.Stdin = strings.NewReader(resp)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "errors: 0") {
		return fmt.Errorf("redis-cli --pipe: %w: %s", err, out)
	}
	return nil
}

// Stop stops the server (SIGTERM, no save; SIGKILL after 10s) and
// removes its directory.
func (r *Redis) Stop() {
	r.Halt()
	if r.Dir != "" {
		_ = os.RemoveAll(r.Dir)
	}
}

// Halt stops the server and keeps its directory.
func (r *Redis) Halt() {
	if r.proc == nil {
		return
	}
	stopProcess(r.proc, syscall.SIGTERM, 10*time.Second)
	r.proc = nil
}

// Pid is the server's process id, 0 when it is not running.
func (r *Redis) Pid() int {
	if r.proc == nil {
		return 0
	}
	return r.proc.Cmd.Process.Pid
}
