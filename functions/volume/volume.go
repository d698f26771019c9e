package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// Registry names.
const (
	BackupName  = "volume-backup"
	RestoreName = "volume-restore"
)

// Backup is volume-backup.
type Backup struct {
	paths, exclude, tags []string
	session, target      string
	hostname             string
}

// NewBackup returns a fresh volume-backup.
func NewBackup() step.Function { return &Backup{} }

// Description implements step.Describer.
func (b *Backup) Description() string { return "back up files and directories with restic" }

// Flags implements step.Function.
func (b *Backup) Flags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&b.paths, "paths", nil, "absolute paths to back up (comma-separated or repeated)")
	fs.StringSliceVar(&b.exclude, "exclude", nil, "restic exclude patterns")
	fs.StringSliceVar(&b.tags, "tags", nil, "extra snapshot tags")
	fs.StringVar(&b.session, "session", "", "the BackupSession (tag session=...)")
	fs.StringVar(&b.target, "target", "", "the target as Kind/Name (tag target=...)")
	fs.StringVar(&b.hostname, "hostname", "", "the snapshot's host")
}

// Validate implements step.Function.
func (b *Backup) Validate() error {
	b.paths, b.exclude, b.tags = nonEmpty(b.paths), nonEmpty(b.exclude), nonEmpty(b.tags)
	if len(b.paths) == 0 {
		return errors.New("--paths: nothing to back up")
	}
	for _, p := range b.paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("--paths: %q is not an absolute path", p)
		}
	}
	if b.hostname == "" {
		return errors.New("--hostname: required (the target's host in the repository)")
	}
	return nil
}

// Run implements step.Function.
func (b *Backup) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	for _, p := range b.paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("--paths: %w", err)
		}
	}
	c, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	if _, err := c.EnsureRepository(ctx); err != nil {
		return nil, err
	}
	tags := append([]string{}, b.tags...)
	if b.session != "" {
		tags = append(tags, "session="+b.session)
	}
	if b.target != "" {
		tags = append(tags, "target="+b.target)
	}
	env.Logger().Info("backing up", "paths", strings.Join(b.paths, ","), "host", b.hostname)
	sum, err := c.BackupPaths(ctx, restic.PathsBackupOptions{Paths: b.paths, Exclude: b.exclude, Tags: tags, Host: b.hostname})
	if err != nil {
		return nil, err
	}
	return step.Outputs{
		step.OutputSnapshotID: sum.SnapshotID,
		step.OutputSize:       strconv.FormatUint(sum.TotalBytesProcessed, 10),
		step.OutputUploaded:   strconv.FormatUint(sum.DataAddedPacked, 10),
		step.OutputFiles:      strconv.FormatUint(uint64(sum.TotalFilesProcessed), 10),
	}, nil
}

// Restore is volume-restore.
type Restore struct {
	snapshot, host, targetDir string
	paths, include, exclude   []string
}

// NewRestore returns a fresh volume-restore.
func NewRestore() step.Function { return &Restore{} }

// Description implements step.Describer.
func (r *Restore) Description() string {
	return "restore files from a restic snapshot to where they came from (or --target-dir)"
}

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	fs.StringVar(&r.snapshot, "snapshot", "latest", "snapshot id, or latest")
	fs.StringVar(&r.host, "host", "", "with latest: the newest snapshot of this host")
	fs.StringSliceVar(&r.paths, "paths", nil, "restore only these paths of the snapshot")
	fs.StringSliceVar(&r.include, "include", nil, "restic include patterns")
	fs.StringSliceVar(&r.exclude, "exclude", nil, "restic exclude patterns")
	fs.StringVar(&r.targetDir, "target-dir", "/", "directory to restore into; / puts files back where they were")
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	r.paths, r.include, r.exclude = nonEmpty(r.paths), nonEmpty(r.include), nonEmpty(r.exclude)
	if r.snapshot == "" {
		return errors.New("--snapshot: required (an id or latest)")
	}
	if !filepath.IsAbs(r.targetDir) {
		return fmt.Errorf("--target-dir: %q is not an absolute path", r.targetDir)
	}
	return nil
}

// Run implements step.Function.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	c, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	snap, err := c.Resolve(ctx, r.snapshot, restic.Filter{Host: r.host})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.targetDir, 0o755); err != nil {
		return nil, fmt.Errorf("--target-dir: %w", err)
	}
	env.Logger().Info("restoring", "snapshot", snap.ShortID, "host", snap.Hostname, "target", r.targetDir)
	sum, err := c.Restore(ctx, restic.RestoreOptions{
		SnapshotID: snap.ID, Target: r.targetDir,
		Include: append(append([]string{}, r.paths...), r.include...), Exclude: r.exclude,
	})
	if err != nil {
		return nil, err
	}
	return step.Outputs{
		step.OutputSnapshotID: snap.ID,
		step.OutputFiles:      strconv.FormatUint(sum.FilesRestored, 10),
		step.OutputSize:       strconv.FormatUint(sum.BytesRestored, 10),
	}, nil
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
