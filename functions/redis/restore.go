package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/internal/dumpstream"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Restore is the redis-restore Function.
type Restore struct {
	snapshot string
	session  string
	target   string
	host     string
	dataDir  string
	file     string
	force    bool
}

// NewRestore returns a fresh redis-restore Function.
func NewRestore() step.Function { return &Restore{} }

// Description implements step.Describer.
func (*Restore) Description() string {
	return "write a Redis RDB snapshot from a restic repository as the dump.rdb of a stopped server's data directory, checking its CRC64"
}

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&r.snapshot, "snapshot", "latest", "restic snapshot id (or unique prefix), or latest")
	fs.StringVar(&r.session, "session", "", "only snapshots tagged session=NAME")
	fs.StringVar(&r.target, "target", "", "only snapshots tagged target=NAME")
	fs.StringVar(&r.host, "host", "", "only snapshots of this restic host")
	fs.StringVar(&r.dataDir, "data-dir", "", "the server's data directory (its dir setting); the server must be stopped")
	fs.StringVar(&r.file, "file", "dump.rdb", "the RDB file's name in it (the server's dbfilename)")
	fs.BoolVar(&r.force, "force", false, "replace an existing RDB file")
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	if r.dataDir == "" {
		return errors.New("--data-dir: required (the stopped server's data directory)")
	}
	if r.file == "" || strings.ContainsRune(r.file, '/') {
		return fmt.Errorf("--file: %q must be a file name", r.file)
	}
	if r.snapshot == "" {
		return errors.New("--snapshot: must be a snapshot id or latest")
	}
	return nil
}

// Run implements step.Function.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	dst := filepath.Join(r.dataDir, r.file)
	if _, err := os.Stat(dst); err == nil && !r.force {
		return nil, fmt.Errorf("--data-dir: %s exists; set --force (FORCE) to replace it", dst)
	}
	if _, err := os.Stat(filepath.Join(r.dataDir, "appendonlydir")); err == nil {
		return nil, fmt.Errorf("--data-dir: %s has an appendonlydir: Redis would load it instead of %s; remove it (and start the server with appendonly no)", r.dataDir, r.file)
	}
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return nil, err
	}
	snap, err := dumpstream.SnapshotQuery{ID: r.snapshot, Host: r.host, Path: DumpPath, Session: r.session, Target: r.target}.Resolve(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := step.Outputs{outputs.SnapshotID: snap.ID, outputs.Files: "1"}
	// Into a temporary file beside the target, renamed over it only once
	// the whole file was written and its checksum matched.
	tmp, err := os.CreateTemp(r.dataDir, ".restore-*.rdb")
	if err != nil {
		return out, fmt.Errorf("--data-dir: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := ownLikeDir(tmp, r.dataDir); err != nil {
		_ = tmp.Close()
		return out, fmt.Errorf("--data-dir: %w", err)
	}
	check := newRDBStream(tmp, false)
	err = repo.Dump(ctx, snap.ID, DumpPath, check)
	if err == nil {
		err = check.Close()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return out, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return out, err
	}
	out[outputs.Size] = strconv.FormatInt(check.n, 10)
	log.Info("redis RDB restored", "snapshot", snap.ID, "file", dst, "bytes", check.n)
	return out, nil
}

// ownLikeDir gives a root step's file the data directory's owner, the
// server's user: redis-server cannot read a root-owned 0600 dump.rdb. A
// step that is not root writes as itself.
func ownLikeDir(f *os.File, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return f.Chown(int(sys.Uid), int(sys.Gid))
}
