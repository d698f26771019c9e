package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Registry names.
const (
	BackupName  = "volume-backup"
	RestoreName = "volume-restore"
)

// Backup is volume-backup.
type Backup struct {
	paths, exclude, tags []string
	volumeFlags          []string
	volumes              []namedVolume
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
	fs.StringSliceVar(&b.volumeFlags, "volumes", nil, "a workload's volumes as NAME=PATH, where this step mounts them; recorded in the snapshot's tags so that a restore maps each path back onto its volume")
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
	var err error
	if b.volumes, err = parseVolumes("--volumes", b.volumeFlags); err != nil {
		return err
	}
	for _, p := range b.paths {
		if len(b.volumes) > 0 && !slices.ContainsFunc(b.volumes, func(v namedVolume) bool { return under(p, v.path) }) {
			return fmt.Errorf("--paths: %s is in none of the mounted volumes (--volumes)", p)
		}
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
	for _, v := range b.volumes {
		tags = append(tags, volumeTag(v.name, v.path))
	}
	env.Logger().Info("backing up", "paths", strings.Join(b.paths, ","), "host", b.hostname)
	sum, err := c.BackupPaths(ctx, restic.PathsBackupOptions{Paths: b.paths, Exclude: b.exclude, Tags: tags, Host: b.hostname})
	if err != nil {
		return nil, err
	}
	return step.Outputs(sum.Outputs()), nil
}

// Restore is volume-restore.
type Restore struct {
	host, targetDir, mapTo  string
	snapshots               []string
	paths, include, exclude []string
	volumeFlags             []string
	volumes                 []namedVolume
}

// NewRestore returns a fresh volume-restore.
func NewRestore() step.Function { return &Restore{} }

// Description implements step.Describer.
func (r *Restore) Description() string {
	return "restore files from a restic snapshot to where they came from (or --target-dir)"
}

// DeclaredOutputs implements step.OutputDeclarer: the snapshots restored,
// which the catalog declares so that a rule may list several.
func (r *Restore) DeclaredOutputs() []string { return []string{outputs.SnapshotIDs} }

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&r.snapshots, "snapshot", []string{"latest"}, "snapshot id, or latest; several (comma-separated) are restored in turn, each over the last, as Stash restores a rule's snapshots")
	fs.StringVar(&r.host, "host", "", "with latest: the newest snapshot of this host")
	fs.StringSliceVar(&r.paths, "paths", nil, "restore only these paths of the snapshot")
	fs.StringSliceVar(&r.include, "include", nil, "restic include patterns")
	fs.StringSliceVar(&r.exclude, "exclude", nil, "restic exclude patterns")
	fs.StringVar(&r.targetDir, "target-dir", "/", "directory to restore into; / puts files back where they were")
	fs.StringSliceVar(&r.volumeFlags, "volumes", nil, "the target workload's volumes as NAME=PATH, where this step mounts them: every path of the snapshot is restored into the volume it was backed up from, and a restore that cannot map a path is refused before anything is written")
	fs.StringVar(&r.mapTo, "map-to", "", "the target volume's directory: the snapshot's path is restored into it (its contents, not the path), and a restore that cannot map is refused before anything is written")
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	r.paths, r.include, r.exclude = nonEmpty(r.paths), nonEmpty(r.include), nonEmpty(r.exclude)
	r.snapshots = nonEmpty(r.snapshots)
	if len(r.snapshots) == 0 {
		return errors.New("--snapshot: required (an id or latest)")
	}
	if !filepath.IsAbs(r.targetDir) {
		return fmt.Errorf("--target-dir: %q is not an absolute path", r.targetDir)
	}
	if r.mapTo != "" && !filepath.IsAbs(r.mapTo) {
		return fmt.Errorf("--map-to: %q is not an absolute path", r.mapTo)
	}
	var err error
	if r.volumes, err = parseVolumes("--volumes", r.volumeFlags); err != nil {
		return err
	}
	if r.mapTo != "" && len(r.volumes) > 0 {
		return errors.New("--map-to and --volumes: set one (a volume target maps onto one directory, a workload onto its volumes)")
	}
	for _, p := range r.paths {
		if (r.mapTo != "" || len(r.volumes) > 0) && !filepath.IsAbs(p) {
			return fmt.Errorf("--paths: %q is not an absolute path of the snapshot", p)
		}
	}
	return nil
}

// Run implements step.Function. Every snapshot is found and its restore
// planned (mapped onto the target) before the first is written; then each
// is restored in the order given, each over the last.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	c, err := restic.NewClient(env.Environ, env.Logger())
	if err != nil {
		return nil, err
	}
	var plans [][]restoreCall
	var snaps []restic.Snapshot
	for _, id := range r.snapshots {
		snap, err := c.Resolve(ctx, id, restic.Filter{Host: r.host})
		if err != nil {
			return nil, err
		}
		parts, err := r.plan(snap)
		if err != nil {
			if len(r.snapshots) > 1 {
				err = fmt.Errorf("snapshot %s: %w", snap.ShortID, err)
			}
			return nil, err
		}
		snaps, plans = append(snaps, snap), append(plans, parts)
	}
	if r.mapTo == "" && len(r.volumes) == 0 {
		if err := os.MkdirAll(r.targetDir, 0o755); err != nil {
			return nil, fmt.Errorf("--target-dir: %w", err)
		}
	}
	var files, size uint64
	ids := make([]string, len(snaps))
	for i, snap := range snaps {
		for _, p := range plans[i] {
			env.Logger().Info("restoring", "snapshot", snap.ShortID, "host", snap.Hostname, "source", p.opts.SnapshotID, "target", p.opts.Target)
			sum, err := c.Restore(ctx, p.opts)
			if err != nil {
				if p.what != "" {
					err = fmt.Errorf("restoring %s: %w", p.what, err)
				}
				if i > 0 {
					err = fmt.Errorf("%w (snapshots %s were restored before it)", err, strings.Join(shortIDs(snaps[:i]), ","))
				}
				return nil, err
			}
			files, size = files+sum.FilesRestored, size+sum.BytesRestored
		}
		ids[i] = snap.ID
	}
	return step.Outputs{
		outputs.SnapshotID:  snaps[len(snaps)-1].ID,
		outputs.SnapshotIDs: strings.Join(ids, ","),
		outputs.Files:       strconv.FormatUint(files, 10),
		outputs.Size:        strconv.FormatUint(size, 10),
	}, nil
}

// restoreCall is one restic restore of a planned restore; what names it
// in errors (a workload's volume), empty for a whole snapshot.
type restoreCall struct {
	opts restic.RestoreOptions
	what string
}

// plan is how snap is restored: into the workload's volumes (--volumes),
// onto the target volume (--map-to), or to --target-dir. What cannot be
// mapped is refused here, before anything is written.
func (r *Restore) plan(snap restic.Snapshot) ([]restoreCall, error) {
	switch {
	case len(r.volumes) > 0:
		parts, err := planVolumes(snap, r.volumes, r.paths)
		if err != nil {
			return nil, err
		}
		out := make([]restoreCall, 0, len(parts))
		for _, p := range parts {
			out = append(out, restoreCall{what: p.root + " into " + p.into, opts: restic.RestoreOptions{
				SnapshotID: snap.ID + ":" + p.root, Target: p.into,
				Include: append(slices.Clone(p.include), r.include...), Exclude: r.exclude,
			}})
		}
		return out, nil
	case r.mapTo != "":
		opts, err := r.mapped(snap)
		if err != nil {
			return nil, err
		}
		return []restoreCall{{opts: opts}}, nil
	}
	return []restoreCall{{opts: restic.RestoreOptions{
		SnapshotID: snap.ID, Target: r.targetDir,
		Include: append(append([]string{}, r.paths...), r.include...), Exclude: r.exclude,
	}}}, nil
}

func shortIDs(snaps []restic.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ShortID
	}
	return out
}

// mapped plans a restore into the target volume's directory: the one path
// of the snapshot the restore draws from (the source volume's directory)
// is restored as the target's root, so nothing is written outside it. What
// cannot be mapped is refused here, before restic writes anything.
func (r *Restore) mapped(snap restic.Snapshot) (restic.RestoreOptions, error) {
	st, err := os.Stat(r.mapTo)
	if err != nil || !st.IsDir() {
		return restic.RestoreOptions{}, fmt.Errorf("--map-to: the target volume is not mounted at %s (nothing was restored)", r.mapTo)
	}
	root, err := sourceRoot(snap, r.paths)
	if err != nil {
		return restic.RestoreOptions{}, err
	}
	var include []string
	for _, p := range r.paths {
		rel, _ := filepath.Rel(root, filepath.Clean(p))
		include = append(include, "/"+filepath.ToSlash(rel))
	}
	return restic.RestoreOptions{
		SnapshotID: snap.ID + ":" + root, Target: r.mapTo,
		Include: append(include, r.include...), Exclude: r.exclude,
	}, nil
}

// sourceRoot is the snapshot path every one of paths lies in: the snapshot's
// only path, or the one the paths name.
func sourceRoot(snap restic.Snapshot, paths []string) (string, error) {
	candidates := snap.Paths
	if len(paths) > 0 {
		candidates = nil
		for _, root := range snap.Paths {
			all := true
			for _, p := range paths {
				all = all && under(p, root)
			}
			if all {
				candidates = append(candidates, root)
			}
		}
		if len(candidates) == 0 {
			return "", fmt.Errorf("--paths: %s not within one path of snapshot %s (%s); nothing was restored",
				strings.Join(paths, ","), snap.ShortID, strings.Join(snap.Paths, ","))
		}
	}
	if len(candidates) != 1 {
		return "", fmt.Errorf("snapshot %s holds %d paths (%s): a restore into one volume maps exactly one of them onto it; name it in the rule's paths (nothing was restored)",
			snap.ShortID, len(snap.Paths), strings.Join(snap.Paths, ","))
	}
	return candidates[0], nil
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
