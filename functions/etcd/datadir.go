package etcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/verify"
	"go.uber.org/zap"

	"github.com/stashflow/stashflow/functions/step"
)

// Defaults of etcdutl snapshot restore.
const (
	defaultMemberName   = "default"
	defaultPeerURL      = "http://localhost:2380"
	defaultClusterToken = "etcd-cluster"
)

var dataDirFlagNames = []string{
	"name", "data-dir", "initial-cluster", "initial-cluster-token", "initial-advertise-peer-urls",
	"member", "force", "bump-revision", "mark-compacted",
}

// dataDirFlags are the flags of --mode=datadir.
type dataDirFlags struct {
	name           string
	dataDir        string
	initialCluster string
	clusterToken   string
	peerURLs       []string
	members        []string // NAME=DATA-DIR
	force          bool
	bumpRevision   uint64
	markCompacted  bool

	// resolved by validate
	plan []memberPlan
}

type memberPlan struct {
	name     string
	dataDir  string
	peerURLs []string
}

func (d *dataDirFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&d.name, "name", defaultMemberName, "datadir: the member's name (as in --initial-cluster)")
	fs.StringVar(&d.dataDir, "data-dir", "", "datadir: the member's data directory to create")
	fs.StringVar(&d.initialCluster, "initial-cluster", "", "datadir: NAME=PEER-URL,... of every member of the restored cluster (default NAME=http://localhost:2380)")
	fs.StringVar(&d.clusterToken, "initial-cluster-token", defaultClusterToken, "datadir: the restored cluster's token")
	fs.StringSliceVar(&d.peerURLs, "initial-advertise-peer-urls", nil, "datadir: the member's peer URLs (default: its entry in --initial-cluster)")
	fs.StringArrayVar(&d.members, "member", nil, "datadir: NAME=DATA-DIR, repeatable: restore several members' data directories in one run (instead of --name/--data-dir; peer URLs from --initial-cluster)")
	fs.BoolVar(&d.force, "force", false, "datadir: empty a non-empty data directory instead of refusing")
	fs.Uint64Var(&d.bumpRevision, "bump-revision", 0, "datadir: raise the restored revision by this much (with --mark-compacted), so that watchers see revisions never go back")
	fs.BoolVar(&d.markCompacted, "mark-compacted", false, "datadir: mark the restored revision compacted (needs --bump-revision)")
}

func (d *dataDirFlags) validate(fs *pflag.FlagSet) error {
	changed := func(n string) bool { return fs != nil && fs.Changed(n) }
	if d.markCompacted != (d.bumpRevision > 0) {
		if d.markCompacted {
			return errors.New("--mark-compacted: needs --bump-revision")
		}
		return errors.New("--bump-revision: needs --mark-compacted")
	}
	if d.clusterToken == "" {
		return errors.New("--initial-cluster-token: must not be empty")
	}
	d.plan = nil
	if len(d.members) > 0 {
		for _, f := range []string{"name", "data-dir", "initial-advertise-peer-urls"} {
			if changed(f) {
				return fmt.Errorf("--%s: not with --member (each member's peer URLs come from --initial-cluster)", f)
			}
		}
		if d.initialCluster == "" {
			return errors.New("--initial-cluster: required with --member")
		}
		urls, err := types.NewURLsMap(d.initialCluster)
		if err != nil {
			return fmt.Errorf("--initial-cluster: %w", err)
		}
		seenName, seenDir := map[string]bool{}, map[string]bool{}
		for _, m := range d.members {
			name, dir, ok := strings.Cut(m, "=")
			if !ok || name == "" || dir == "" {
				return fmt.Errorf("--member: %q is not NAME=DATA-DIR", m)
			}
			if _, in := urls[name]; !in {
				return fmt.Errorf("--member: %q is not in --initial-cluster", name)
			}
			abs := filepath.Clean(dir)
			if seenName[name] || seenDir[abs] {
				return fmt.Errorf("--member: %q repeats a name or data directory", m)
			}
			seenName[name], seenDir[abs] = true, true
			d.plan = append(d.plan, memberPlan{name: name, dataDir: dir, peerURLs: urls[name].StringSlice()})
		}
		return nil
	}
	if d.dataDir == "" {
		return errors.New("--data-dir: required (or --member NAME=DATA-DIR)")
	}
	if d.name == "" {
		return errors.New("--name: must not be empty")
	}
	cluster := d.initialCluster
	if cluster == "" {
		peer := defaultPeerURL
		if len(d.peerURLs) > 0 {
			peer = strings.Join(d.peerURLs, ","+d.name+"=")
		}
		cluster = d.name + "=" + peer
	}
	urls, err := types.NewURLsMap(cluster)
	if err != nil {
		return fmt.Errorf("--initial-cluster: %w", err)
	}
	own, in := urls[d.name]
	if !in {
		return fmt.Errorf("--initial-cluster: has no member named %q (--name)", d.name)
	}
	peers := own.StringSlice()
	if len(d.peerURLs) > 0 {
		given, err := types.NewURLs(d.peerURLs)
		if err != nil {
			return fmt.Errorf("--initial-advertise-peer-urls: %w", err)
		}
		if !slices.Equal(given.StringSlice(), peers) {
			return fmt.Errorf("--initial-advertise-peer-urls: %v differ from %s's entry in --initial-cluster %v", given.StringSlice(), d.name, peers)
		}
	}
	d.initialCluster = cluster
	d.plan = []memberPlan{{name: d.name, dataDir: d.dataDir, peerURLs: peers}}
	return nil
}

// stagePrefix names the directory inside each data directory where its
// member directory is built before it is renamed into place.
const stagePrefix = ".stashflow-restore-"

// fetchFunc has restic write the snapshot file at path.
type fetchFunc func(path string) (fetched, error)

// dataDirResult is what a datadir restore reports.
type dataDirResult struct {
	members  []string
	size     int64
	sha256   string
	revision int64
}

// stage is one member's staging directory.
type stage struct {
	m   memberPlan
	dir string // inside m.dataDir
}

// restore writes every planned member's data directory from the snapshot
// that fetch writes.
//
// restic writes the snapshot file straight into a staging directory
// inside the first member's data directory (same file system: no copy);
// the file becomes that member's member/snap/db by a rename. Its sha256
// trailer is checked while bbolt opens the database (which maps and reads
// it; nothing is written to the file) and the WAL and raft snapshot are
// written; the database is edited once the check has passed, and each
// further member gets a copy of the finished database. Only when every
// member is complete is each member directory renamed into its data
// directory. Any failure before that removes the staging directories (and
// a data directory this run created), so a data directory is either as it
// was or fully restored.
func (d *dataDirFlags) restore(ctx context.Context, env *step.Env, fetch fetchFunc) (res dataDirResult, err error) {
	locks, err := lockDataDirs(env, d.plan)
	defer func() { locks.release(err != nil) }()
	if err != nil {
		return res, err
	}
	if err := d.refuseNonEmpty(); err != nil {
		return res, err
	}
	var stages []stage
	defer func() {
		if err == nil {
			return
		}
		for _, s := range stages {
			if rerr := os.RemoveAll(s.dir); rerr != nil {
				err = errors.Join(err, fmt.Errorf("removing staging directory %s of %s: %w", s.dir, s.m.name, rerr))
			}
		}
	}()
	for _, m := range d.plan {
		dir, err := os.MkdirTemp(m.dataDir, stagePrefix)
		if err != nil {
			return res, fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		stages = append(stages, stage{m: m, dir: dir})
	}
	lg := zap.NewNop()
	res, dbPath, cl, err := d.buildFirst(ctx, env, lg, stages[0], fetch)
	if err != nil {
		return res, err
	}
	// Every member's database is the same; the WAL names the member.
	for _, s := range stages[1:] {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		env.Logger().Info("restoring etcd member data directory", "member", s.m.name, "dataDir", s.m.dataDir, "peerURLs", strings.Join(s.m.peerURLs, ","))
		md, p, err := memberDirs(lg, s.dir)
		if err == nil {
			err = copyFileSync(dbPath, p)
		}
		if err == nil {
			err = writeRaftState(lg, cl, s.m.name, md)
		}
		if err != nil {
			return res, fmt.Errorf("restore member %s into %s: %w", s.m.name, s.m.dataDir, err)
		}
	}
	for _, s := range stages {
		if err := d.install(lg, s); err != nil {
			return res, fmt.Errorf("data directory of %s: %w", s.m.name, err)
		}
		res.members = append(res.members, s.m.name)
	}
	return res, nil
}

// refuseNonEmpty fails on a non-empty data directory without --force.
func (d *dataDirFlags) refuseNonEmpty() error {
	for _, m := range d.plan {
		empty, err := dirEmpty(m.dataDir)
		if err != nil {
			return fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		if !empty && !d.force {
			return fmt.Errorf("data directory %s of member %s is not empty; pass --force to replace it", m.dataDir, m.name)
		}
	}
	return nil
}

// dataDirLock is an exclusive flock(2) on a data directory, held for the
// whole restore: two restores into one data directory would remove each
// other's staging directories and race to rename their members into
// place. The kernel releases it when the step dies, however it dies.
type dataDirLock struct {
	dir     string
	f       *os.File
	created bool // this run made the directory
}

type dataDirLocks []dataDirLock

// lockDataDirs makes every planned data directory that is missing and
// locks each. A staging directory found under the lock was left by a
// restore that was killed before it could clean up (a running one would
// hold the lock): it is removed, so the next restore needs no --force.
func lockDataDirs(env *step.Env, plan []memberPlan) (dataDirLocks, error) {
	var locks dataDirLocks
	for _, m := range plan {
		_, statErr := os.Stat(m.dataDir)
		created := errors.Is(statErr, os.ErrNotExist)
		if err := os.MkdirAll(m.dataDir, 0o700); err != nil {
			return locks, fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		f, err := os.Open(m.dataDir)
		if err != nil {
			return locks, fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		locks = append(locks, dataDirLock{dir: m.dataDir, f: f, created: created})
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return locks, fmt.Errorf("data directory %s of member %s is being restored by another process (it holds the directory's lock)", m.dataDir, m.name)
			}
			return locks, fmt.Errorf("data directory %s of member %s: lock: %w", m.dataDir, m.name, err)
		}
		entries, err := f.ReadDir(-1)
		if err != nil {
			return locks, fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), stagePrefix) {
				continue
			}
			left := filepath.Join(m.dataDir, e.Name())
			env.Logger().Info("removing the staging directory of a restore that did not finish", "member", m.name, "dir", left)
			if err := os.RemoveAll(left); err != nil {
				return locks, fmt.Errorf("data directory of %s: removing %s, left by a restore that did not finish: %w", m.name, left, err)
			}
		}
	}
	return locks, nil
}

// release unlocks; after a failure it also removes the data directories
// this run made, if they are still empty.
func (ls dataDirLocks) release(failed bool) {
	for _, l := range ls {
		if failed && l.created {
			_ = os.Remove(l.dir) // only if still empty
		}
		_ = l.f.Close() // closing the descriptor drops the lock
	}
}

// buildFirst fetches the snapshot into the first member's staging
// directory and builds its member directory there; it returns the
// finished database's path and the restored cluster.
func (d *dataDirFlags) buildFirst(ctx context.Context, env *step.Env, lg *zap.Logger, first stage, fetch fetchFunc) (res dataDirResult, dbPath string, cl *membership.RaftCluster, err error) {
	log := env.Logger()
	file := filepath.Join(first.dir, "etcd.snapshot")
	log.Info("fetching etcd snapshot into the data directory", "member", first.m.name, "file", file)
	f, err := fetch(file)
	if err != nil {
		return res, "", nil, err
	}
	res.size, res.sha256 = f.size, f.trailer
	if res.revision, err = snapshotRevision(file); err != nil {
		// A damaged file: say so rather than what bbolt saw.
		if verr := verifySnapshotFile(ctx, file, f); verr != nil {
			return res, "", nil, verr
		}
		return res, "", nil, err
	}
	if err := ctx.Err(); err != nil {
		return res, "", nil, err
	}
	memberDir, dbPath, err := placeDB(lg, first.dir, file, res.size-trailerSize)
	if err != nil {
		return res, "", nil, fmt.Errorf("data directory of %s: %w", first.m.name, err)
	}
	if cl, err = newCluster(lg, d.clusterToken, d.initialCluster); err != nil {
		return res, "", nil, err
	}

	// The disk writes the file, the hash reads it on one core and bbolt
	// maps it on the other, all at once.
	go startWriteback(dbPath)
	verified := checkBeside(f.verified, func() error { return verifyPrefix(ctx, dbPath, res.size-trailerSize, res.sha256) })
	log.Info("restoring etcd member data directory", "member", first.m.name, "dataDir", first.m.dataDir, "peerURLs", strings.Join(first.m.peerURLs, ","))
	// The WAL and raft snapshot are written beside bbolt's open: the
	// WAL's first fdatasync waits for the file system's journal, which in
	// ext4's data=ordered mode first writes the database's pages restic
	// left dirty (≈ 0.7 s for 1 GiB), while the open scans the database
	// on a core (≈ 0.6 s).
	raftState := make(chan error, 1)
	go func() { raftState <- writeRaftState(lg, cl, first.m.name, memberDir) }()
	db, err := openDB(lg, dbPath)
	err = errors.Join(err, <-raftState)
	// The edit commits (etcd's backend commits at once after a delete):
	// it waits for the hash.
	verr := <-verified
	if verr == nil && err == nil {
		err = db.edit(lg, dbEdit{cluster: cl, latest: res.revision, bump: int64(d.bumpRevision)})
	}
	if verr != nil || err != nil {
		if db != nil {
			// Nothing of a damaged database may reach a data directory:
			// remove the file before the close commits into it.
			_ = os.RemoveAll(first.dir)
			_ = db.commit()
		}
		if verr != nil {
			return res, "", nil, verr
		}
		return res, "", nil, fmt.Errorf("restore member %s into %s: %w", first.m.name, first.m.dataDir, err)
	}
	if err := db.commit(); err != nil {
		return res, "", nil, fmt.Errorf("restore member %s into %s: commit: %w", first.m.name, first.m.dataDir, err)
	}
	return res, dbPath, cl, nil
}

// placeDB makes file, cut to size (without the sha256 trailer), the
// database of a member directory in root.
func placeDB(lg *zap.Logger, root, file string, size int64) (memberDir, dbPath string, err error) {
	if memberDir, dbPath, err = memberDirs(lg, root); err != nil {
		return "", "", err
	}
	if err := os.Truncate(file, size); err != nil {
		return "", "", err
	}
	if err := os.Rename(file, dbPath); err != nil {
		return "", "", err
	}
	// restic gives the file the mode it was backed up with; etcd's is 0600.
	return memberDir, dbPath, os.Chmod(dbPath, 0o600)
}

// install renames s's member directory into its data directory (with
// --force, after removing what else the data directory holds).
func (d *dataDirFlags) install(lg *zap.Logger, s stage) error {
	if d.force {
		if err := emptyDirExcept(s.m.dataDir, filepath.Base(s.dir)); err != nil {
			return err
		}
	}
	if err := os.Rename(filepath.Join(s.dir, "member"), filepath.Join(s.m.dataDir, "member")); err != nil {
		return err
	}
	if err := os.Remove(s.dir); err != nil {
		return err
	}
	if err := fsyncDir(s.m.dataDir); err != nil {
		return err
	}
	return verify.VerifyIfEnabled(verify.Config{ExactIndex: true, Logger: lg, DataDir: s.m.dataDir})
}

// verifySnapshotFile checks a fetched etcd snapshot file against its
// sha256 trailer: restoreToFile has checked its size and read the trailer
// (f), so only the database before it is read.
func verifySnapshotFile(ctx context.Context, file string, f fetched) error {
	if err := verifyPrefix(ctx, file, f.size-trailerSize, f.trailer); err != nil {
		return fmt.Errorf("snapshot file %s: %w", filepath.Base(file), err)
	}
	return nil
}

// checkBeside runs check on a goroutine of its own and delivers its
// verdict; with skip (the snapshot's backup checked the trailer) it
// delivers nil at once.
func checkBeside(skip bool, check func() error) <-chan error {
	verdict := make(chan error, 1)
	if skip {
		verdict <- nil
		return verdict
	}
	go func() { verdict <- check() }()
	return verdict
}

// verifyPrefix checks that the sha256 of file's first n bytes is trailer
// (hex), the trailer cut off the snapshot.
func verifyPrefix(ctx context.Context, file string, n int64, trailer string) error {
	want, err := hex.DecodeString(trailer)
	if err != nil || len(want) != sha256.Size {
		return fmt.Errorf("snapshot sha256 trailer %q is not a sha256", trailer)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := n; left > 0; {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := f.Read(buf[:min(int64(len(buf)), left)])
		_, _ = h.Write(buf[:k]) // hashing: never fails
		left -= int64(k)
		if left > 0 && err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Base(file), err)
		}
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, want) {
		return fmt.Errorf("snapshot sha256 mismatch: computed %x, trailer says %x", sum, want)
	}
	return nil
}

// fsyncDir makes a rename in dir durable.
func fsyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return fileutil.Fsync(f)
}

// copyFileSync copies src to a new file dst and fsyncs it.
func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil { // copy_file_range
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// dirEmpty reports whether dir is absent or empty.
func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) || (err == nil && len(names) == 0) {
		return true, nil
	}
	return false, err
}

// emptyDirExcept removes dir's entries but keep and keeps dir (it may be a
// mount point).
func emptyDirExcept(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
