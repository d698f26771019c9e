package etcd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
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

// restore writes every planned member's data directory from file.
//
// etcdutl's restore copies the file into the data directory and only then
// reads the copy again to check the sha256 trailer, one after the other.
// Here the trailer is checked on the interim file beside the first copy
// (the copy is the kernel's copy_file_range, the hash is this process's:
// they run on different cores), etcdutl is told to skip its own check,
// and a mismatch empties the data directories written before it fails.
func (d *dataDirFlags) restore(ctx context.Context, env *step.Env, file string) ([]string, error) {
	// Refuse before touching anything.
	for _, m := range d.plan {
		empty, err := dirEmpty(m.dataDir)
		if err != nil {
			return nil, fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		if !empty && !d.force {
			return nil, fmt.Errorf("data directory %s of member %s is not empty; pass --force to replace it", m.dataDir, m.name)
		}
	}
	verified := make(chan error, 1)
	go func() { verified <- verifySnapshotFile(ctx, file) }()
	done, err := d.restoreMembers(ctx, env, file)
	if verr := <-verified; verr != nil {
		// What was written came from a damaged snapshot: take it back.
		for _, m := range d.plan {
			if rerr := emptyDir(m.dataDir); rerr != nil {
				verr = errors.Join(verr, fmt.Errorf("emptying data directory %s of %s again: %w", m.dataDir, m.name, rerr))
			}
		}
		return nil, verr
	}
	return done, err
}

// restoreMembers runs etcdutl's restore (without its hash check) into
// every planned member's data directory.
func (d *dataDirFlags) restoreMembers(ctx context.Context, env *step.Env, file string) ([]string, error) {
	var done []string
	for _, m := range d.plan {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if err := emptyDir(m.dataDir); err != nil {
			return done, fmt.Errorf("data directory of %s: %w", m.name, err)
		}
		env.Logger().Info("restoring etcd member data directory", "member", m.name, "dataDir", m.dataDir, "peerURLs", strings.Join(m.peerURLs, ","))
		err := snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
			SnapshotPath:        file,
			Name:                m.name,
			OutputDataDir:       m.dataDir,
			PeerURLs:            m.peerURLs,
			InitialCluster:      d.initialCluster,
			InitialClusterToken: d.clusterToken,
			SkipHashCheck:       true, // verifySnapshotFile's job
			RevisionBump:        d.bumpRevision,
			MarkCompacted:       d.markCompacted,
		})
		if err != nil {
			return done, fmt.Errorf("restore member %s into %s: %w", m.name, m.dataDir, err)
		}
		done = append(done, m.name)
	}
	return done, nil
}

// verifySnapshotFile checks an etcd snapshot file's sha256 trailer.
func verifySnapshotFile(ctx context.Context, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	th := newTrailerHash()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(buf)
		_, _ = th.Write(buf[:n]) // hashing: never fails
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
	}
	if _, err := th.Verify(); err != nil {
		return fmt.Errorf("snapshot file %s: %w", filepath.Base(file), err)
	}
	return nil
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

// emptyDir removes dir's entries but keeps dir (it may be a mount point).
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
