package etcd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// RestoreName is the registered name of the restore Function.
const RestoreName = "etcd-restore"

// Restore modes.
const (
	ModeDataDir = "datadir"
	ModeLive    = "live"
)

// Restore is the etcd-restore Function.
type Restore struct {
	fs *pflag.FlagSet

	mode       string
	snapshot   string
	session    string
	target     string
	host       string
	interimDir string
	keepInterm bool
	recheck    bool

	dataDir dataDirFlags
	live    liveFlags
}

// NewRestore returns a fresh etcd-restore Function.
func NewRestore() *Restore { return &Restore{} }

// Description implements step.Describer.
func (*Restore) Description() string {
	return "restore an etcd snapshot from a restic repository into member data directories (--mode=datadir) or a running cluster (--mode=live)"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (r *Restore) DeclaredOutputs() []string {
	return []string{OutputKeysWritten, OutputKeysDeleted, OutputMembers}
}

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	r.fs = fs
	fs.StringVar(&r.mode, "mode", "", "datadir: write member data directories (etcdutl snapshot restore); live: replay the snapshot's keys into a running cluster")
	fs.StringVar(&r.snapshot, "snapshot", "latest", "restic snapshot id (or unique prefix), or latest")
	fs.StringVar(&r.session, "session", "", "only snapshots tagged session=NAME (latest picks among them; an id must be one of them)")
	fs.StringVar(&r.target, "target", "", "only snapshots tagged target=NAME (as --session)")
	fs.StringVar(&r.host, "host", "", "only snapshots of this restic host (as --session)")
	fs.StringVar(&r.interimDir, "interim-dir", "", "directory for the dumped snapshot file (default: the temporary directory)")
	fs.BoolVar(&r.keepInterm, "keep-interim", false, "keep the dumped snapshot file in --interim-dir")
	fs.BoolVar(&r.recheck, "recheck-sha256", false, "hash the snapshot file against its sha256 trailer even when its backup verified the stream (tag "+TagVerified+"="+VerifiedValue+")")
	r.dataDir.addFlags(fs)
	r.live.addFlags(fs)
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	if r.snapshot == "" {
		return errors.New("--snapshot: must be a snapshot id or latest")
	}
	for flag, v := range map[string]string{"session": r.session, "target": r.target} {
		if strings.ContainsAny(v, ",\n") {
			return fmt.Errorf("--%s: %q must not contain commas or newlines", flag, v)
		}
	}
	switch r.mode {
	case ModeDataDir:
		// The connection flags are ignored rather than refused: the
		// catalog passes the AppBinding's endpoint in both modes.
		if f := r.setToNonDefault(liveOnlyFlagNames); f != "" {
			return fmt.Errorf("--%s: only for --mode=%s", f, ModeLive)
		}
		return r.dataDir.validate(r.fs)
	case ModeLive:
		if f := r.setToNonDefault(dataDirFlagNames); f != "" {
			return fmt.Errorf("--%s: only for --mode=%s", f, ModeDataDir)
		}
		return r.live.validate()
	case "":
		return fmt.Errorf("--mode: required, %s or %s", ModeDataDir, ModeLive)
	default:
		return fmt.Errorf("--mode: %q is neither %s nor %s", r.mode, ModeDataDir, ModeLive)
	}
}

// setToNonDefault returns the first of names whose value differs from its
// default: a flag of the other mode given with an empty or default value
// (as the catalog does, passing every flag) is fine.
func (r *Restore) setToNonDefault(names []string) string {
	if r.fs == nil {
		return ""
	}
	for _, n := range names {
		if f := r.fs.Lookup(n); f != nil && f.Changed && f.Value.String() != f.DefValue {
			return n
		}
	}
	return ""
}

// Run implements step.Function.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	dir := r.interimDir
	if dir == "" {
		dir = env.TempDir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--interim-dir: %w", err)
	}
	// No `restic cat config` first: a restore has nothing to initialise,
	// and listing the snapshots reports a missing repository, a wrong
	// password or an unreachable backend just as well.
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return nil, err
	}
	filter := restic.Filter{Host: r.host, Paths: []string{SnapshotPath}}
	if r.session != "" {
		filter.Tags = append(filter.Tags, TagSession+"="+r.session)
	}
	if r.target != "" {
		filter.Tags = append(filter.Tags, TagTarget+"="+r.target)
	}
	// A full snapshot ID needs no lookup to start fetching: the check that
	// it exists and matches the filter (`restic snapshots`, a second
	// restic process with its own key derivation) runs beside the fetch,
	// and its verdict is awaited before anything reads the interim file.
	// Anything shorter is resolved first.
	fetchCtx, cancelFetch := context.WithCancel(ctx)
	defer cancelFetch()
	id := r.snapshot
	type resolution struct {
		snap restic.Snapshot
		err  error
	}
	resolved := make(chan resolution, 1)
	if fullSnapshotID(id) {
		go func() {
			snap, err := repo.Resolve(fetchCtx, id, filter)
			if err != nil {
				cancelFetch() // the fetch is pointless: stop it
			}
			resolved <- resolution{snap, err}
		}()
	} else {
		snap, err := repo.Resolve(ctx, id, filter)
		if err != nil {
			return nil, err
		}
		id = snap.ID
		resolved <- resolution{snap: snap}
	}
	out := step.Outputs{outputs.SnapshotID: id, outputs.Files: "1"}

	interim := filepath.Join(dir, "etcd-"+id[:min(12, len(id))]+".snapshot")
	// fetch has restic write the snapshot file (nothing passes through
	// this process); the resolve's verdict comes before anything reads it,
	// and its error explains a cancelled fetch.
	fetch := func(file string) (fetched, error) {
		log.Info("fetching etcd snapshot", "snapshot", id, "file", file)
		f, err := restoreToFile(fetchCtx, repo, id, file)
		res := <-resolved
		if res.err != nil {
			return fetched{}, res.err
		}
		f.verified = !r.recheck && res.snap.Tag(TagVerified) == VerifiedValue
		if err == nil && f.verified {
			log.Info("not hashing the snapshot file again: its backup verified the stream", "snapshot", id, "tag", TagVerified+"="+VerifiedValue)
		}
		return f, err
	}

	if r.mode == ModeDataDir {
		if r.keepInterm {
			// The kept file is the interim one; the data directory gets a
			// copy of it.
			inner := fetch
			fetch = func(file string) (fetched, error) {
				f, err := inner(interim)
				if err == nil {
					err = copyFileSync(interim, file)
				}
				return f, err
			}
		}
		res, err := r.dataDir.restore(ctx, env, fetch)
		if res.size > 0 {
			out[outputs.Size] = strconv.FormatInt(res.size, 10)
			out[OutputSHA256] = res.sha256
			out[OutputRevision] = strconv.FormatInt(res.revision, 10)
		}
		out[OutputKeysWritten], out[OutputKeysDeleted] = "0", "0" // live mode's
		out[OutputMembers] = strings.Join(res.members, ",")
		return out, err
	}

	if !r.keepInterm {
		defer os.Remove(interim)
	}
	f, err := fetch(interim)
	if err != nil {
		return out, err
	}
	out[outputs.Size] = strconv.FormatInt(f.size, 10)
	out[OutputSHA256] = f.trailer
	// The trailer is checked beside the reading of the keys (unless the
	// backup checked it); nothing is written to the cluster before the
	// check has passed.
	verified := checkBeside(f.verified, func() error { return verifySnapshotFile(ctx, interim, f) })
	res, err := r.live.restore(ctx, env, interim, verified)
	out[OutputRevision] = strconv.FormatInt(res.revision, 10)
	out[OutputKeysWritten] = strconv.FormatInt(res.written, 10)
	out[OutputKeysDeleted] = strconv.FormatInt(res.deleted, 10)
	return out, err
}

// fullSnapshotID reports whether id is a whole restic snapshot ID (64 hex
// digits), not a prefix or "latest".
func fullSnapshotID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// fetched is the snapshot file restic wrote.
type fetched struct {
	size    int64
	trailer string // sha256 trailer, hex
	// verified: the snapshot's backup checked the stream against the
	// trailer (TagVerified), and --recheck-sha256 was not given: the file
	// is not hashed again.
	verified bool
}

// restoreToFile lets restic write the snapshot's etcd.snapshot into file
// with `restic restore` (which fetches packs in parallel, unlike `restic
// dump`) and checks that it is shaped like a database plus a sha256
// trailer (verifySnapshotFile checks the hash); it returns the size and
// the trailer.
func restoreToFile(ctx context.Context, repo *restic.Client, snapshotID, file string) (fetched, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(file), ".restore-")
	if err != nil {
		return fetched{}, fmt.Errorf("--interim-dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := repo.Restore(ctx, restic.RestoreOptions{SnapshotID: snapshotID, Target: tmp, Include: []string{SnapshotPath}}); err != nil {
		return fetched{}, err
	}
	if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(SnapshotPath)), file); err != nil {
		return fetched{}, fmt.Errorf("snapshot %.8s: restic restored no %s: %w", snapshotID, SnapshotPath, err)
	}
	f, err := os.Open(file)
	if err != nil {
		return fetched{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fetched{}, err
	}
	size := st.Size()
	if err := checkTrailedSize(size); err != nil {
		return fetched{size: size}, fmt.Errorf("snapshot %.8s: %w", snapshotID, err)
	}
	trailer := make([]byte, trailerSize)
	if _, err := f.ReadAt(trailer, size-trailerSize); err != nil {
		return fetched{size: size}, err
	}
	return fetched{size: size, trailer: hex.EncodeToString(trailer)}, nil
}

// snapshotRevision returns the last revision stored in a snapshot file.
func snapshotRevision(file string) (int64, error) {
	db, err := openSnapshotDB(file)
	if err != nil {
		return 0, err
	}
	defer func() { _ = db.Close() }() // read-only: nothing to lose on close
	return db.lastRevision()
}
