package restic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// EnvInitLockDir overrides where the lock that serialises the first use of
// a remote repository on this machine lives (default: the system's temp
// directory).
const EnvInitLockDir = "STASHFLOW_INIT_LOCK_DIR"

// restic's `init` is not atomic: two inits of one new repository started
// together both succeed, each writing a key with its own master key, and
// the last config written wins; the repository is then unreadable with the
// loser's key (`ciphertext verification failed`), and whatever the loser
// wrote with it is lost. initLock serialises the check-and-init of one
// repository location among the processes of this machine with flock(2):
//   - a local repository's lock lies beside it (<parent>/.<name>.stashflow-init),
//     so processes that share the directory through a hostPath or an NFS
//     mount agree on it too;
//   - a remote repository's lock is named for a hash of its location in
//     the lock directory (EnvInitLockDir).
//
// Across machines, initialisation belongs to one owner (docs/reliability.md).

// initLockPath returns the lock file for the repository location.
func (c *Client) initLockPath() string {
	if dir := localRepositoryPath(c.Location); dir != "" {
		dir = filepath.Clean(dir)
		return filepath.Join(filepath.Dir(dir), "."+filepath.Base(dir)+".stashflow-init")
	}
	dir := c.getenv(EnvInitLockDir)
	if dir == "" {
		dir = os.TempDir()
	}
	sum := sha256.Sum256([]byte(c.Location))
	return filepath.Join(dir, "stashflow-init-"+hex.EncodeToString(sum[:8])+".lock")
}

// localRepositoryPath returns the directory of a local repository location
// ("/path" or "local:/path"), or "" for another backend.
func localRepositoryPath(loc string) string {
	if p, ok := strings.CutPrefix(loc, "local:"); ok {
		return p
	}
	if filepath.IsAbs(loc) {
		return loc
	}
	return ""
}

// lockInit takes the init lock of the repository, waiting for another
// process that holds it, until ctx ends. unlock releases it.
func (c *Client) lockInit(ctx context.Context) (unlock func(), err error) {
	path := c.initLockPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("init lock: %w", err)
	}
	// Read-only is enough for flock, and lets another user take it too.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("init lock: %w", err)
	}
	fd := int(f.Fd())
	logged := false
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases it
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("init lock %s: %w", path, err)
		}
		if !logged {
			c.log().Info("waiting for another process initialising the repository", "repository", RedactLocation(c.Location), "lock", path)
			logged = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, &Error{Kind: KindInterrupted, Command: "init", ExitCode: -1, Message: "waiting for another process initialising the repository: " + ctx.Err().Error()}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Client) getenv(k string) string { return lookupEnv(c.Environ, k) }

// lookupEnv returns the last value of k in environ, as a child sees it.
func lookupEnv(environ []string, k string) string {
	v := ""
	for _, kv := range environ {
		if kk, vv, ok := strings.Cut(kv, "="); ok && kk == k {
			v = vv
		}
	}
	return v
}
