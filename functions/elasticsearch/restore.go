package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Values of --existing.
const (
	ExistingFail = "fail"
	ExistingSkip = "skip"
)

// Restore is the elasticsearch-restore Function.
type Restore struct {
	urls         []string
	snapshot     string
	host         string
	tags         []string
	session      string
	target       string
	renamePrefix string
	renameSuffix string
	existing     string
	workers      int
	bulkSize     string

	flushBytes int
	noRefresh  bool
	// verifyTimeout bounds how long the count check waits for servers that
	// refresh asynchronously.
	verifyTimeout time.Duration
}

// NewRestore returns a fresh elasticsearch-restore Function.
func NewRestore() step.Function { return &Restore{} }

// Description implements step.Describer.
func (*Restore) Description() string {
	return "restore indices from an elasticsearch-backup archive in restic with the bulk API, then verify every index's document count"
}

// OwnMemory implements step.MemoryDeclarer: restoreMemoryBase plus, per
// bulk worker, restoreMemoryPerBulk times --bulk-size (the request being
// filled or sent, the copies of its documents, the answer; Go's heap goal
// above them), so that restic dump gets the rest of a memory limit.
// Measured with the defaults (4 workers, 5MB) on 300,000 documents:
// docs/benchmarks.md.
func (r *Restore) OwnMemory() int64 {
	bulk, err := parseSize(r.bulkSize)
	if err != nil || bulk <= 0 {
		bulk = 5e6
	}
	return restoreMemoryBase + int64(max(r.workers, 1))*restoreMemoryPerBulk*bulk
}

// The restore's declared memory: see OwnMemory.
const (
	restoreMemoryBase    = 48 << 20
	restoreMemoryPerBulk = 5
)

// DeclaredOutputs implements step.OutputDeclarer.
func (r *Restore) DeclaredOutputs() []string {
	return []string{OutputIndices, OutputDocuments}
}

// Flags implements step.Function.
func (r *Restore) Flags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&r.urls, "url", nil, "Elasticsearch node URLs, comma separated; credentials come from $ES_USERNAME/$ES_PASSWORD or $ES_API_KEY, a CA from $ES_CA_CERT")
	fs.StringVar(&r.snapshot, "snapshot", "latest", "restic snapshot id (or unique prefix), or latest")
	fs.StringVar(&r.host, "host", "", "only snapshots of this restic host")
	fs.StringSliceVar(&r.tags, "tags", nil, "only snapshots with all these restic tags, comma separated")
	fs.StringVar(&r.session, "session", "", "only snapshots tagged session=NAME")
	fs.StringVar(&r.target, "target", "", "only snapshots tagged target=NAME")
	fs.StringVar(&r.renamePrefix, "rename-prefix", "", "prefix put before every restored index and alias name")
	fs.StringVar(&r.renameSuffix, "rename-suffix", "", "suffix put after every restored index and alias name")
	fs.StringVar(&r.existing, "existing", ExistingFail, "what to do when an index to restore exists: fail (before anything is written) or skip it")
	fs.IntVar(&r.workers, "workers", 4, "bulk indexer workers (concurrent bulk requests)")
	fs.StringVar(&r.bulkSize, "bulk-size", "5MB", "bytes per bulk request (e.g. 5MB, 10MiB, 5000000)")
}

// Validate implements step.Function.
func (r *Restore) Validate() error {
	if err := validateURLs(r.urls); err != nil {
		return err
	}
	if r.snapshot == "" {
		r.snapshot = "latest"
	}
	switch r.existing {
	case ExistingFail, ExistingSkip:
	default:
		return fmt.Errorf("--existing: %q is neither %s nor %s", r.existing, ExistingFail, ExistingSkip)
	}
	if r.workers < 1 || r.workers > 64 {
		return fmt.Errorf("--workers: %d is not between 1 and 64", r.workers)
	}
	n, err := parseSize(r.bulkSize)
	if err != nil || n < 1024 || n > 100<<20 {
		return fmt.Errorf("--bulk-size: %q is not a size between 1KiB and 100MiB", r.bulkSize)
	}
	r.flushBytes = int(n)
	for _, p := range []struct{ flag, v string }{{"rename-prefix", r.renamePrefix}, {"rename-suffix", r.renameSuffix}} {
		if p.v != strings.ToLower(p.v) || strings.ContainsAny(p.v, `/\*?"<>| ,#:`) {
			return fmt.Errorf("--%s: %q cannot be part of an index name (lower case, none of \\/*?\"<>| ,#:)", p.flag, p.v)
		}
	}
	if strings.HasPrefix(r.renamePrefix, "_") || strings.HasPrefix(r.renamePrefix, "-") || strings.HasPrefix(r.renamePrefix, "+") {
		return fmt.Errorf("--rename-prefix: %q: index names cannot start with _, - or +", r.renamePrefix)
	}
	for _, t := range r.tags {
		if t == "" || strings.ContainsAny(t, ",\n") {
			return fmt.Errorf("--tags: %q is not a valid tag", t)
		}
	}
	return nil
}

// parseSize reads 5000000, 5MB, 5M, 10MiB, 512KiB, 512kb.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return int64(n * float64(mult)), nil
}

// Run implements step.Function.
func (r *Restore) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	out := step.Outputs{}
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return out, err
	}
	filter := restic.Filter{Host: r.host, Paths: []string{ArchivePath}, Tags: append([]string(nil), r.tags...)}
	if r.session != "" {
		filter.Tags = append(filter.Tags, TagSession+"="+r.session)
	}
	if r.target != "" {
		filter.Tags = append(filter.Tags, TagTarget+"="+r.target)
	}
	snap, err := r.resolve(ctx, repo, filter)
	if err != nil {
		return out, err
	}
	out[outputs.SnapshotID] = snap.ID
	c, err := connect(cleanList(r.urls), env, log)
	if err != nil {
		return out, err
	}
	info, err := c.info(ctx)
	if err != nil {
		return out, err
	}
	if info.ZincSearch {
		// ZincSearch v0.4.10 drops the documents still in its write-ahead
		// log when _refresh is called (bulk 3,000 documents, _refresh: 0
		// left); it indexes asynchronously anyway.
		log.Info("the server is ZincSearch: not calling _refresh (it drops documents not yet indexed); waiting for its asynchronous indexing")
		r.noRefresh = true
	}
	if snap.Time.IsZero() {
		log.Info("restoring", "snapshot", snap.ID[:8])
	} else {
		log.Info("restoring", "snapshot", snap.ID[:8], "time", snap.Time.Format(time.RFC3339), "host", snap.Hostname)
	}

	dctx, cancelDump := context.WithCancel(ctx)
	defer cancelDump()
	pr, pw := io.Pipe()
	dumpDone := make(chan error, 1)
	go func() {
		err := repo.Dump(dctx, snap.ID, ArchivePath, pw)
		if err != nil {
			pw.CloseWithError(err)
		} else {
			_ = pw.Close() // EOF for the reader; (*io.PipeWriter).Close never fails
		}
		dumpDone <- err
	}()
	cr := &countingReader{r: pr}
	rs, err := r.restoreStream(ctx, c, log, cr, func(readErr error) error {
		if readErr == nil {
			return <-dumpDone
		}
		// Stop restic, and report its own failure if it failed first.
		cancelDump()
		pr.CloseWithError(readErr)
		if derr := <-dumpDone; derr != nil && !restic.IsKind(derr, restic.KindInterrupted) {
			return derr
		}
		return nil
	})
	out[OutputIndices] = strconv.Itoa(rs.restored)
	out[OutputDocuments] = strconv.FormatInt(rs.documents, 10)
	out[outputs.Size] = strconv.FormatInt(cr.n, 10)
	if err != nil {
		return out, err
	}
	log.Info("elasticsearch restore verified", "snapshot", snap.ID[:8], "indices", rs.restored, "documents", rs.documents)
	return out, nil
}

// resolve finds the snapshot; a full id is taken as it is (restic dump
// fails clearly if it does not exist), which saves listing snapshots.
func (r *Restore) resolve(ctx context.Context, repo *restic.Client, filter restic.Filter) (restic.Snapshot, error) {
	if len(r.snapshot) == 64 && strings.Trim(r.snapshot, "0123456789abcdef") == "" {
		return restic.Snapshot{ID: r.snapshot}, nil
	}
	return repo.Resolve(ctx, r.snapshot, filter)
}

// restoreStream restores the archive read from in. readDone is called
// once the archive is read (with the read error, if any) and returns the
// producer's error; when reading failed because the producer failed, that
// error is the one reported. A failed restore deletes the indices it
// created.
func (r *Restore) restoreStream(ctx context.Context, c *conn, log *slog.Logger, in io.Reader, readDone func(error) error) (*restorer, error) {
	ld := newLoader(ctx, c, log, r.workers, r.flushBytes)
	rs := &restorer{r: r, c: c, log: log, ld: ld, state: map[string]*restoreIndex{}}
	err := rs.read(ctx, in)
	if perr := readDone(err); perr != nil {
		err = perr
	}
	if err == nil {
		err = rs.complete(ctx)
	}
	if err != nil {
		rs.cleanup(context.WithoutCancel(ctx))
	}
	return rs, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// restoreIndex is what the restore knows of one index of the archive.
type restoreIndex struct {
	name, target     string
	skip             bool
	settings         Settings
	mappings         json.RawMessage
	aliases          json.RawMessage
	after            Settings
	created          bool
	createdByUs      bool
	docs             int64
	summaryDocuments int64
}

type restorer struct {
	r     *Restore
	c     *conn
	log   *slog.Logger
	ld    *loader
	meta  archiveMeta
	order []string
	state map[string]*restoreIndex

	restored  int
	documents int64
}

// corrupt wraps an archive problem.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("the archive is corrupted or truncated: "+format, args...)
}

func (rs *restorer) rename(name string) string { return rs.r.renamePrefix + name + rs.r.renameSuffix }
