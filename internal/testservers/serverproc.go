package testservers

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/stashflow/stashflow/internal/deathsig"
)

// serverCredential is nobody's when running as root (database servers
// refuse root), else nil: the server runs as the current user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root, the database server needs a non-root user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// chownTo gives paths to cred's user (nothing to do when cred is nil).
func chownTo(cred *syscall.Credential, paths ...string) error {
	if cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	return nil
}

// startAs starts a server as cred's user (nil: this one), its output in
// logPath when given, killed with this process.
func startAs(cmd *exec.Cmd, cred *syscall.Credential, logPath string) (*deathsig.Process, error) {
	if logPath != "" {
		logf, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	p, err := deathsig.Start(cmd, syscall.SIGKILL)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return p, nil
}

// stopProcess asks p to stop with sig, kills it after grace, and reaps it.
func stopProcess(p *deathsig.Process, sig syscall.Signal, grace time.Duration) {
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.Exited:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
	}
	_ = p.Wait()
}
