package restic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"
)

// Lock is a restic lock file (`restic cat lock <id>`).
type Lock struct {
	ID        string    `json:"-"`
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
}

func (l Lock) String() string {
	kind := "shared"
	if l.Exclusive {
		kind = "exclusive"
	}
	return fmt.Sprintf("PID %d on host %s (user %s, %s lock %.8s, since %s)",
		l.PID, l.Hostname, l.Username, kind, l.ID, l.Time.UTC().Format(time.RFC3339))
}

// Locks lists the repository's locks.
func (c *Client) Locks(ctx context.Context) ([]Lock, error) {
	out, err := c.run(ctx, runOptions{}, "list", "locks", "--no-lock")
	if err != nil {
		return nil, err
	}
	var locks []Lock
	for _, id := range strings.Fields(string(out)) {
		if !isHexID(id) {
			continue
		}
		raw, err := c.run(ctx, runOptions{}, "cat", "lock", id, "--no-lock")
		if err != nil {
			// A lock removed meanwhile is fine.
			continue
		}
		var l Lock
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("lock %.8s: %w", id, err)
		}
		l.ID = id
		locks = append(locks, l)
	}
	return locks, nil
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// Stale reports whether the lock's holder is provably gone: it was taken on
// this host and its PID no longer exists.
func (c *Client) Stale(l Lock) bool {
	return c.Hostname != "" && l.Hostname == c.Hostname && !pidExists(l.PID)
}

// pidExists probes pid with signal 0 (EPERM means it exists).
func pidExists(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// RemoveStaleLocks runs `restic unlock` when some lock's holder is provably
// gone, and returns the number of such locks and the locks still held by
// live (or unprovable) holders.
func (c *Client) RemoveStaleLocks(ctx context.Context) (int, []Lock, error) {
	locks, err := c.Locks(ctx)
	if err != nil {
		return 0, nil, err
	}
	var stale int
	var held []Lock
	for _, l := range locks {
		if c.Stale(l) {
			stale++
		} else {
			held = append(held, l)
		}
	}
	if stale > 0 {
		c.log().Info("removing stale restic locks", "count", stale)
		if _, err := c.run(ctx, runOptions{}, "unlock"); err != nil {
			return 0, held, err
		}
	}
	return stale, held, nil
}

// runLocking runs a command that takes a repository lock: when restic
// reports the repository locked, stale locks are removed and the command is
// tried once more; a lock held by a live or unprovable holder is reported.
func (c *Client) runLocking(ctx context.Context, opts runOptions, args ...string) ([]byte, error) {
	out, err := c.run(ctx, opts, args...)
	if !IsKind(err, KindLocked) {
		return out, err
	}
	removed, held, lerr := c.RemoveStaleLocks(ctx)
	if lerr != nil {
		return out, err
	}
	if removed > 0 {
		out, err = c.run(ctx, opts, args...)
		if !IsKind(err, KindLocked) {
			return out, err
		}
		_, held, _ = c.RemoveStaleLocks(ctx)
	}
	return out, c.lockedError(args[0], held, err)
}

// ResolveLocked is for commands run outside runLocking (a backup from a
// stream cannot simply be run again): when err says the repository is
// locked, it removes the locks whose holders are provably gone and reports
// whether the caller should try once more; otherwise it returns err, made
// to say who holds the lock.
func (c *Client) ResolveLocked(ctx context.Context, err error) (bool, error) {
	if !IsKind(err, KindLocked) {
		return false, err
	}
	removed, held, lerr := c.RemoveStaleLocks(ctx)
	if lerr != nil {
		return false, err
	}
	if removed > 0 {
		return true, nil
	}
	return false, c.lockedError("backup", held, err)
}

func (c *Client) lockedError(command string, held []Lock, orig error) error {
	if len(held) == 0 {
		return orig
	}
	var parts []string
	for _, l := range held {
		why := "its holder is still running"
		if l.Hostname != c.Hostname {
			why = "it was taken on another host, so its holder cannot be proven gone"
		}
		parts = append(parts, l.String()+" — "+why)
	}
	return &Error{Kind: KindLocked, Command: command, ExitCode: 11,
		Message: "repository is locked by " + strings.Join(parts, "; ") + "; once its holder is known to be gone, remove it with `restic unlock --remove-all` (plain `restic unlock` removes only locks older than 30 minutes or of a dead process on the same host)"}
}
