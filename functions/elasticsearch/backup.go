package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
)

// Registered names of the Functions.
const (
	BackupName  = "elasticsearch-backup"
	RestoreName = "elasticsearch-restore"
)

// Outputs beyond the common ones.
const (
	OutputIndices     = "indices"     // number of indices exported or restored
	OutputDocuments   = "documents"   // number of documents
	OutputBytes       = "bytes"       // size of the archive
	OutputDataStreams = "dataStreams" // data streams matched but not backed up, comma separated
)

// Tag keys put on every snapshot (the same as the other Functions').
const (
	TagSession = "session"
	TagTarget  = "target"
)

// Backup is the elasticsearch-backup Function.
type Backup struct {
	urls          []string
	include       []string
	exclude       []string
	includeHidden bool
	slices        int
	pageSize      int
	session       string
	target        string
	hostname      string
	tags          []string
	interimDir    string

	// stderr receives the lines the step reports beside its log (data
	// streams not backed up); nil is os.Stderr.
	stderr    io.Writer
	chunkSize int
}

// NewBackup returns a fresh elasticsearch-backup Function.
func NewBackup() step.Function { return &Backup{} }

// Description implements step.Describer.
func (*Backup) Description() string {
	return "export Elasticsearch indices (settings, mappings, aliases, documents by point-in-time slices) as one archive streamed into restic"
}

// DeclaredOutputs implements step.OutputDeclarer.
func (b *Backup) DeclaredOutputs() []string {
	return []string{OutputIndices, OutputDocuments, OutputBytes, OutputDataStreams}
}

// Flags implements step.Function.
func (b *Backup) Flags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&b.urls, "url", nil, "Elasticsearch node URLs, comma separated (the AppBinding's endpoint); credentials come from $ES_USERNAME/$ES_PASSWORD or $ES_API_KEY, a CA from $ES_CA_CERT")
	fs.StringSliceVar(&b.include, "include", []string{"*"}, "index name patterns to back up, comma separated ('*' wildcards)")
	fs.StringSliceVar(&b.exclude, "exclude", nil, "index name patterns to leave out, comma separated")
	fs.BoolVar(&b.includeHidden, "include-hidden", false, "also back up hidden and system (dot-prefixed) indices")
	fs.IntVar(&b.slices, "slices", 0, "parallel slices per index (0: one per primary shard); at most 8 run at once")
	fs.IntVar(&b.pageSize, "page-size", 1000, "documents per search request")
	fs.StringVar(&b.session, "session", "", "the BackupSession's name (tag session=NAME)")
	fs.StringVar(&b.target, "target", "", "the backup target (tag target=NAME)")
	fs.StringVar(&b.hostname, "hostname", "", "hostname recorded in the restic snapshot (default: restic's, the host name)")
	fs.StringSliceVar(&b.tags, "tags", nil, "extra restic tags for the snapshot, comma separated")
	fs.StringVar(&b.interimDir, "interim-dir", "", "write the archive to a file in this directory first, then hand it to restic (default: stream, no file)")
}

// Validate implements step.Function.
func (b *Backup) Validate() error {
	if err := validateURLs(b.urls); err != nil {
		return err
	}
	b.include = cleanList(b.include)
	b.exclude = cleanList(b.exclude)
	if len(b.include) == 0 {
		b.include = []string{"*"}
	}
	for _, p := range append(append([]string(nil), b.include...), b.exclude...) {
		if strings.ContainsAny(p, `/\ "<>|#`) {
			return fmt.Errorf("--include/--exclude: %q is not an index name pattern", p)
		}
	}
	if b.slices < 0 || b.slices > 1024 {
		return fmt.Errorf("--slices: %d is not between 0 and 1024", b.slices)
	}
	if b.pageSize < 1 || b.pageSize > 10000 {
		return fmt.Errorf("--page-size: %d is not between 1 and 10000", b.pageSize)
	}
	for _, t := range b.tags {
		if t == "" || strings.ContainsAny(t, ",\n") {
			return fmt.Errorf("--tags: %q is not a valid tag", t)
		}
	}
	for flag, v := range map[string]string{"session": b.session, "target": b.target, "hostname": b.hostname} {
		if strings.ContainsAny(v, ",\n") {
			return fmt.Errorf("--%s: %q must not contain commas or newlines", flag, v)
		}
	}
	if b.interimDir != "" {
		st, err := os.Stat(b.interimDir)
		if err != nil || !st.IsDir() {
			return fmt.Errorf("--interim-dir: %s is not a directory", b.interimDir)
		}
	}
	return nil
}

func validateURLs(urls []string) error {
	urls = cleanList(urls)
	if len(urls) == 0 {
		return errors.New("--url: at least one Elasticsearch URL is required")
	}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("--url: %q is not an http(s) URL", redactURL(u))
		}
		if pu.User != nil {
			return fmt.Errorf("--url: %q carries credentials; put them in %s/%s or %s", redactURL(u), EnvUsername, EnvPassword, EnvAPIKey)
		}
	}
	return nil
}

// redactURL hides a password in a URL.
func redactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.User == nil {
		return u
	}
	if _, has := pu.User.Password(); has {
		pu.User = url.UserPassword(pu.User.Username(), "***")
	}
	return pu.String()
}

func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// backupMemory is the soft limit the runtime puts on the backup's Go memory
// (unless GOMEMLIMIT is set; step.MemoryDeclarer); under a memory limit
// restic gets what it leaves (package membudget). The live part is the
// chunk pool, at most (maxParallelSlices+2) buffers of chunkSize+1/8
// (45 MiB), and a page of hits per slice being fetched; measured on 300,000
// documents, the process peaked at 48 MiB of anonymous memory with 2
// slices and 49 MiB with 8 (docs/benchmarks.md).
const backupMemory = 64 << 20

// OwnMemory implements step.MemoryDeclarer.
func (b *Backup) OwnMemory() int64 { return backupMemory }

// Run implements step.Function.
func (b *Backup) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	log := env.Logger()
	out := step.Outputs{}
	repo, err := restic.NewClient(env.Environ, log)
	if err != nil {
		return out, err
	}
	c, err := connect(cleanList(b.urls), env, log)
	if err != nil {
		return out, err
	}
	stderr := b.stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	chunk := b.chunkSize
	if chunk <= 0 {
		chunk = defaultChunkSize
	}
	newExporter := func() *exporter {
		return &exporter{c: c, log: log, stderr: stderr, o: exportOptions{
			include: b.include, exclude: b.exclude, includeHidden: b.includeHidden,
			slices: b.slices, pageSize: b.pageSize, chunkSize: chunk, parallel: maxParallelSlices,
		}}
	}
	tags := append([]string(nil), b.tags...)
	if b.session != "" {
		tags = append(tags, TagSession+"="+b.session)
	}
	if b.target != "" {
		tags = append(tags, TagTarget+"="+b.target)
	}
	opts := restic.BackupOptions{Filename: ArchiveFilename, Tags: tags, Host: b.hostname}

	var (
		res exportResult
		sum *restic.BackupSummary
	)
	if b.interimDir != "" {
		if _, err := repo.EnsureRepository(ctx); err != nil {
			return out, err
		}
		res, sum, err = b.viaFile(ctx, newExporter(), repo, opts)
	} else {
		res, sum, err = streamBackup(ctx, newExporter(), repo, opts)
		if restic.IsKind(err, restic.KindNoRepository) {
			// restic stops at once, before reading its input, when there is
			// no repository: initialise one and start over. Checking first
			// would cost every backup a restic run (a key derivation).
			if _, ierr := repo.EnsureRepository(ctx); ierr != nil {
				return out, ierr
			}
			res, sum, err = streamBackup(ctx, newExporter(), repo, opts)
		}
	}
	out[OutputIndices] = strconv.Itoa(len(res.indices))
	out[OutputDocuments] = strconv.FormatInt(res.documents, 10)
	out[OutputBytes] = strconv.FormatInt(res.bytes, 10)
	out[OutputDataStreams] = strings.Join(res.dataStreams, ",")
	if err != nil {
		return out, err
	}
	maps.Copy(out, sum.Outputs())
	log.Info("elasticsearch backup stored", "snapshot", sum.SnapshotID, "indices", len(res.indices),
		"documents", res.documents, "bytes", res.bytes, "uploaded", sum.DataAddedPacked)
	return out, nil
}

// streamBackup exports straight into `restic backup --stdin`. If the export
// fails, restic is killed before its input ends, so no snapshot is written.
func streamBackup(ctx context.Context, x *exporter, repo *restic.Client, opts restic.BackupOptions) (exportResult, *restic.BackupSummary, error) {
	bk, err := repo.BackupStdin(ctx, opts)
	if err != nil {
		return exportResult{}, nil, err
	}
	res, err := x.run(ctx, bk)
	if err != nil {
		if aerr := bk.Abort(ctx); aerr != nil {
			// restic had stopped on its own (its exit code says why); the
			// export only failed to write to it.
			return res, nil, aerr
		}
		return res, nil, err
	}
	sum, err := bk.Finish(ctx)
	return res, sum, err
}

// viaFile exports into a file in --interim-dir, then backs the file up.
func (b *Backup) viaFile(ctx context.Context, x *exporter, repo *restic.Client, opts restic.BackupOptions) (exportResult, *restic.BackupSummary, error) {
	f, err := os.CreateTemp(b.interimDir, "elasticsearch-*.tar")
	if err != nil {
		return exportResult{}, nil, fmt.Errorf("--interim-dir: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	res, err := x.run(ctx, f)
	if err != nil {
		return res, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return res, nil, err
	}
	x.log.Info("archive written, handing it to restic", "file", filepath.Base(f.Name()), "bytes", res.bytes)
	bk, err := repo.BackupStdin(ctx, opts)
	if err != nil {
		return res, nil, err
	}
	if _, err := io.Copy(bk, f); err != nil {
		if aerr := bk.Abort(ctx); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return res, nil, fmt.Errorf("reading the interim archive: %w", err)
	}
	sum, err := bk.Finish(ctx)
	return res, sum, err
}
