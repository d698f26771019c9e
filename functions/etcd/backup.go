package etcd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// BackupName is the registered name of the backup Function.
const BackupName = "etcd-backup"

// SnapshotFilename is the name the stream gets inside restic snapshots;
// restic stores it as /etcd.snapshot.
const SnapshotFilename = "etcd.snapshot"

// SnapshotPath is SnapshotFilename's path inside a restic snapshot.
const SnapshotPath = "/" + SnapshotFilename

// Outputs of the etcd Functions beyond the common ones.
const (
	OutputRevision    = "revision"    // etcd revision of the snapshot
	OutputSHA256      = "sha256"      // sha256 of the database (etcd's trailer)
	OutputMember      = "member"      // name (or hex id) of the member that served the snapshot
	OutputEndpoint    = "endpoint"    // its endpoint
	OutputKeysWritten = "keysWritten" // live restore: keys put
	OutputKeysDeleted = "keysDeleted" // live restore: keys deleted (--delete-absent)
	OutputMembers     = "members"     // datadir restore: members restored, comma separated
)

// Tag keys put on every snapshot.
const (
	TagSession  = "session"
	TagTarget   = "target"
	TagRevision = "etcd-revision"
	// TagVerified=VerifiedValue marks a snapshot whose stream etcd-backup
	// checked against etcd's sha256 trailer before restic committed it (a
	// stream that fails the check leaves no snapshot). restic's content
	// addressing returns those bytes unchanged, so etcd-restore need not
	// hash them again (--recheck-sha256 makes it).
	TagVerified   = "etcd-sha256"
	VerifiedValue = "verified"
)

// Backup is the etcd-backup Function.
type Backup struct {
	conn     connFlags
	tags     []string
	session  string
	target   string
	hostname string
	pipeSize int
}

// NewBackup returns a fresh etcd-backup Function.
func NewBackup() *Backup { return &Backup{} }

// Description implements step.Describer.
func (*Backup) Description() string {
	return "stream a snapshot of a healthy etcd member into a restic repository, verifying its sha256"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (b *Backup) DeclaredOutputs() []string {
	return []string{OutputRevision, OutputSHA256, OutputMember, OutputEndpoint}
}

// Flags implements step.Function.
func (b *Backup) Flags(fs *pflag.FlagSet) {
	b.conn.addFlags(fs)
	fs.StringSliceVar(&b.tags, "tags", nil, "extra restic tags for the snapshot, comma separated")
	fs.StringVar(&b.session, "session", "", "the BackupSession's name (tag session=NAME)")
	fs.StringVar(&b.target, "target", "", "the backup target's name (tag target=NAME)")
	fs.StringVar(&b.hostname, "hostname", "", "hostname recorded in the restic snapshot (default: restic's, the host name)")
	fs.IntVar(&b.pipeSize, "pipe-size", restic.DefaultPipeSize, "bytes of pipe buffer asked for between the snapshot stream and restic")
}

// Validate implements step.Function.
func (b *Backup) Validate() error {
	if err := b.conn.validate(); err != nil {
		return err
	}
	for _, t := range b.tags {
		if err := validateTag(t); err != nil {
			return fmt.Errorf("--tags: %w", err)
		}
	}
	for flag, v := range map[string]string{"session": b.session, "target": b.target, "hostname": b.hostname} {
		if strings.ContainsAny(v, ",\n") {
			return fmt.Errorf("--%s: %q must not contain commas or newlines", flag, v)
		}
	}
	if b.pipeSize < 4096 {
		return fmt.Errorf("--pipe-size: %d is below 4096", b.pipeSize)
	}
	return nil
}

func validateTag(t string) error {
	if t == "" {
		return errors.New("empty tag")
	}
	if strings.ContainsAny(t, ",\n") {
		return fmt.Errorf("tag %q must not contain commas or newlines", t)
	}
	return nil
}

// Run implements step.Function.
//
// restic starts at once, without a `restic cat config` first (a second key
// derivation on every backup), and before the snapshot's first message
// arrives. A missing repository stops it before it reads its input: the
// repository is initialised and the snapshot taken again. If the stream
// fails before or after restic started, restic is killed before its stdin
// is closed, so no snapshot is written.
func (b *Backup) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return nil, err
	}
	cli, mem, err := b.conn.pickMember(ctx, env)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	out := step.Outputs{OutputMember: mem.label(), OutputEndpoint: mem.endpoint, OutputRevision: strconv.FormatInt(mem.revision, 10)}
	log.Info("snapshotting etcd member", "member", mem.label(), "endpoint", mem.endpoint, "revision", mem.revision, "dbSize", mem.dbSize)

	tags := append([]string(nil), b.tags...)
	if b.session != "" {
		tags = append(tags, TagSession+"="+b.session)
	}
	if b.target != "" {
		tags = append(tags, TagTarget+"="+b.target)
	}
	tags = append(tags, TagRevision+"="+strconv.FormatInt(mem.revision, 10), TagVerified+"="+VerifiedValue)
	opts := restic.BackupOptions{Filename: SnapshotFilename, Tags: tags, Host: b.hostname, PipeSize: b.pipeSize}

	sum, summary, err := b.backup(ctx, repo, cli, mem, opts)
	if restic.IsKind(err, restic.KindNoRepository) {
		if _, ierr := repo.EnsureRepository(ctx); ierr != nil {
			return out, ierr
		}
		log.Info("repository initialised; taking the snapshot again")
		sum, summary, err = b.backup(ctx, repo, cli, mem, opts)
	}
	if retry, rerr := repo.ResolveLocked(ctx, err); retry {
		// A lock left by a process that is gone blocked restic; it has
		// been removed. The stream is gone too: take a new snapshot.
		log.Info("retrying after removing a stale restic lock")
		sum, summary, err = b.backup(ctx, repo, cli, mem, opts)
	} else {
		err = rerr
	}
	if err != nil {
		return out, err
	}
	out[OutputSHA256] = sum
	maps.Copy(out, summary.Outputs())
	log.Info("etcd snapshot stored", "snapshot", summary.SnapshotID, "bytes", summary.TotalBytesProcessed, "uploaded", summary.DataAddedPacked, "sha256", sum)
	return out, nil
}

// backup runs one restic backup of one snapshot stream.
func (b *Backup) backup(ctx context.Context, repo *restic.Client, cli *clientv3.Client, mem member, opts restic.BackupOptions) (string, *restic.BackupSummary, error) {
	bk, err := repo.BackupStdin(ctx, opts)
	if err != nil {
		return "", nil, err
	}
	sum, err := b.stream(ctx, cli, mem, bk)
	if err != nil {
		// Kill restic before its stdin can reach EOF: no snapshot.
		if rerr := bk.Abort(ctx); rerr != nil {
			if errors.Is(err, errResticStopped) {
				err = rerr // restic's own reason is the real one
			} else {
				err = errors.Join(err, rerr)
			}
		}
		return "", nil, err
	}
	summary, err := bk.Finish(ctx)
	if err != nil {
		return "", nil, err
	}
	return sum, summary, nil
}

// stream copies the member's snapshot into w, verified.
func (b *Backup) stream(ctx context.Context, cli *clientv3.Client, mem member, w io.Writer) (string, error) {
	s, err := openSnapshot(ctx, cli)
	if err != nil {
		return "", fmt.Errorf("etcd snapshot from %s: %w", mem.endpoint, describeStreamError(err))
	}
	first, err := s.Next()
	if err != nil {
		return "", fmt.Errorf("etcd snapshot from %s: %w", mem.endpoint, describeStreamError(err))
	}
	return copyVerified(ctx, s, first, w)
}

// writeBatch is the size of the writes to restic's stdin.
const writeBatch = 256 << 10

var errResticStopped = errors.New("restic stopped reading the stream")

// copyVerified writes the stream (first blob, then the rest) to w while
// hashing it; it returns the database's sha256 once the trailer matched.
// Any error means the caller must not let w see a clean EOF.
func copyVerified(ctx context.Context, s *snapshotStream, first []byte, w io.Writer) (string, error) {
	th := newTrailerHash()
	// 32 KiB messages coalesced into larger writes: fewer wake-ups and
	// read calls in restic.
	bw := bufio.NewWriterSize(w, writeBatch)
	blob := first
	for {
		if len(blob) > 0 {
			if _, err := bw.Write(blob); err != nil {
				return "", fmt.Errorf("%w: %w", errResticStopped, err)
			}
			_, _ = th.Write(blob) // hashing: never fails
		}
		var err error
		blob, err = s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("etcd snapshot stream broke after %d bytes: %w", th.total, describeStreamError(err))
		}
	}
	if want := s.total + trailerSize; th.total != want {
		return "", fmt.Errorf("etcd snapshot stream ended after %d bytes, want %d", th.total, want)
	}
	sum, err := th.Verify()
	if err != nil {
		return "", fmt.Errorf("etcd snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("%w: %w", errResticStopped, err)
	}
	return sum, nil
}
