package elasticsearch

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
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
	applyMemoryLimit(env)
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
	out[step.OutputSnapshotID] = snap.ID
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
			pw.Close()
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
	out[step.OutputSize] = strconv.FormatInt(cr.n, 10)
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
	ld, err := newLoader(c, log, r.workers, r.flushBytes)
	if err != nil {
		return &restorer{}, err
	}
	rs := &restorer{r: r, c: c, log: log, ld: ld, state: map[string]*restoreIndex{}}
	err = rs.read(ctx, in)
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

// read parses the archive as it streams in and loads the documents.
func (rs *restorer) read(ctx context.Context, in io.Reader) error {
	tr := tar.NewReader(bufio.NewReaderSize(in, 1<<20))
	hdr, err := tr.Next()
	if err != nil {
		return corrupt("no first entry: %v", tarErr(err))
	}
	if hdr.Name != metaEntry {
		return fmt.Errorf("not an elasticsearch-backup archive: its first entry is %q, not %s", hdr.Name, metaEntry)
	}
	if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(&rs.meta); err != nil {
		return corrupt("%s: %v", metaEntry, err)
	}
	if rs.meta.Format != archiveFormat {
		return fmt.Errorf("not an elasticsearch-backup archive (format %q)", rs.meta.Format)
	}
	if rs.meta.Version > archiveVersion {
		return fmt.Errorf("the archive has format version %d; this stashflow reads up to %d", rs.meta.Version, archiveVersion)
	}
	if err := rs.plan(ctx); err != nil {
		return err
	}
	var (
		summary    *archiveSummary
		lines      = bufio.NewReaderSize(nil, 256<<10)
		slab       slab
		lastReport = time.Now()
	)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return corrupt("%v", tarErr(err))
		}
		if summary != nil {
			return corrupt("entry %s after %s", hdr.Name, summaryEntry)
		}
		if hdr.Name == summaryEntry {
			summary = &archiveSummary{}
			if err := json.NewDecoder(io.LimitReader(tr, 64<<20)).Decode(summary); err != nil {
				return corrupt("%s: %v", summaryEntry, err)
			}
			continue
		}
		index, file, ok := splitEntry(hdr.Name)
		if !ok {
			rs.log.Warn("ignoring an unknown archive entry", "entry", hdr.Name)
			continue
		}
		st := rs.state[index]
		if st == nil {
			return corrupt("entry %s belongs to no index of %s", hdr.Name, metaEntry)
		}
		switch {
		case file == settingsFile:
			if err := json.NewDecoder(tr).Decode(&st.settings); err != nil {
				return corrupt("%s: %v", hdr.Name, err)
			}
		case file == mappingsFile:
			if st.mappings, err = readAll(tr, hdr.Name); err != nil {
				return err
			}
		case file == aliasesFile:
			if st.aliases, err = readAll(tr, hdr.Name); err != nil {
				return err
			}
		case isDocChunk(file):
			if err := rs.ensureCreated(ctx, st); err != nil {
				return err
			}
			if st.skip {
				continue // tar skips the data
			}
			lines.Reset(tr)
			if err := rs.loadChunk(ctx, st, hdr.Name, lines, &slab); err != nil {
				return err
			}
			if time.Since(lastReport) > 10*time.Second {
				lastReport = time.Now()
				rs.log.Info("restore progress", "documentsRead", rs.ld.added.Load())
			}
		default:
			rs.log.Warn("ignoring an unknown archive entry", "entry", hdr.Name)
		}
	}
	if summary == nil || !summary.Complete {
		return corrupt("it ends without %s (the backup did not finish)", summaryEntry)
	}
	for _, name := range rs.order {
		st := rs.state[name]
		is, ok := summary.Indices[name]
		if !ok {
			return corrupt("%s does not list index %s", summaryEntry, name)
		}
		st.summaryDocuments = is.Documents
		if !st.skip && st.docs != is.Documents {
			return corrupt("index %s: %d documents read, %s says %d", name, st.docs, summaryEntry, is.Documents)
		}
		if err := rs.ensureCreated(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func tarErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of the archive")
	}
	return err
}

func readAll(r io.Reader, name string) (json.RawMessage, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, corrupt("%s: %v", name, tarErr(err))
	}
	if !json.Valid(b) {
		return nil, corrupt("%s is not JSON", name)
	}
	return b, nil
}

// plan checks the target names before anything is written: with
// --existing=fail one existing index fails the restore.
func (rs *restorer) plan(ctx context.Context) error {
	var existing []string
	seen := map[string]bool{}
	for _, name := range rs.meta.Indices {
		target := rs.rename(name)
		if seen[target] {
			return corrupt("index %s listed twice", name)
		}
		seen[target] = true
		if msg := indexNameProblem(target); msg != "" {
			return fmt.Errorf("cannot restore index %s as %q: %s", name, target, msg)
		}
		exists, err := rs.exists(ctx, target)
		if err != nil {
			return err
		}
		st := &restoreIndex{name: name, target: target, skip: exists}
		if exists {
			existing = append(existing, target)
		}
		rs.state[name] = st
		rs.order = append(rs.order, name)
	}
	if len(existing) > 0 {
		if rs.r.existing == ExistingFail {
			return fmt.Errorf("%d index(es) to restore already exist: %s; delete them, restore under other names with --rename-prefix/--rename-suffix, or pass --existing=skip", len(existing), strings.Join(existing, ", "))
		}
		rs.log.Warn("skipping indices that already exist (--existing=skip)", "indices", strings.Join(existing, ","))
	}
	return nil
}

func indexNameProblem(name string) string {
	switch {
	case name != strings.ToLower(name):
		return "index names must be lower case"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `index names cannot contain \ / * ? " < > | space , # :`
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return "index names cannot start with _, - or +"
	case len(name) > 255:
		return "index names are at most 255 bytes"
	}
	return ""
}

func (rs *restorer) exists(ctx context.Context, target string) (bool, error) {
	res, err := rs.c.do(ctx, http.MethodHead, "/"+pathEscape(target), nil, nil)
	if err == nil {
		res.Body.Close()
		return true, nil
	}
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
		return false, nil
	}
	return false, err
}

// ensureCreated creates the index with its settings (refresh off), mappings
// and aliases, once.
func (rs *restorer) ensureCreated(ctx context.Context, st *restoreIndex) error {
	if st.created || st.skip {
		return nil
	}
	st.created = true
	if st.settings == nil {
		st.settings = Settings{}
	}
	create, after := loadTimeSettings(st.settings)
	st.after = after
	mappings := st.mappings
	if len(bytes.TrimSpace(mappings)) == 0 {
		mappings = json.RawMessage("{}")
	}
	body, _ := json.Marshal(map[string]any{"settings": nest(create), "mappings": mappings})
	err := rs.c.getJSON(ctx, http.MethodPut, "/"+pathEscape(st.target), nil, body, nil)
	if ae, ok := asAPIError(err); ok && ae.Type == "resource_already_exists_exception" {
		if rs.r.existing == ExistingSkip {
			rs.log.Warn("index appeared meanwhile; skipping it", "index", st.target)
			st.skip = true
			return nil
		}
		return fmt.Errorf("index %s was created by someone else during the restore", st.target)
	}
	if err != nil {
		return fmt.Errorf("creating index %s: %w", st.target, err)
	}
	st.createdByUs = true
	rs.log.Info("index created", "index", st.target, "from", st.name)
	return nil
}

// nest turns flat settings into the nested form without the "index."
// prefix ({"number_of_shards":…,"refresh_interval":…}), the form of the
// reference's examples, which Elasticsearch and the API-compatible servers
// all accept.
func nest(flat Settings) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := strings.Split(strings.TrimPrefix(k, "index."), ".")
		m := root
		for i, p := range parts {
			if i == len(parts)-1 {
				m[p] = flat[k]
				break
			}
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
	}
	return root
}

// loadChunk reads the lines of one documents entry into the bulk indexer.
func (rs *restorer) loadChunk(ctx context.Context, st *restoreIndex, name string, lines *bufio.Reader, sl *slab) error {
	var long []byte
	lineNo := 0
	for {
		line, err := lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return corrupt("%s: %v", name, tarErr(err))
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		if len(line) > 0 {
			lineNo++
			if line[len(line)-1] != '\n' {
				return corrupt("%s: line %d does not end with a newline", name, lineNo)
			}
			d, perr := parseLine(line)
			if perr != nil {
				return corrupt("%s: line %d: %v", name, lineNo, perr)
			}
			id, uerr := unquote(d.id)
			if uerr != nil {
				return corrupt("%s: line %d: _id: %v", name, lineNo, uerr)
			}
			routing := ""
			if d.routing != nil {
				if routing, uerr = unquote(d.routing); uerr != nil {
					return corrupt("%s: line %d: _routing: %v", name, lineNo, uerr)
				}
			}
			if err := rs.ld.add(ctx, st.target, id, routing, sl.copy(d.source)); err != nil {
				return err
			}
			st.docs++
		}
		if err != nil { // io.EOF
			return nil
		}
	}
}

// slab hands out copies of documents from 1 MiB blocks.
type slab struct{ buf []byte }

func (s *slab) copy(b []byte) []byte {
	if len(b) > 256<<10 {
		return bytes.Clone(b)
	}
	if cap(s.buf)-len(s.buf) < len(b) {
		s.buf = make([]byte, 0, 1<<20)
	}
	start := len(s.buf)
	s.buf = append(s.buf, b...)
	return s.buf[start:len(s.buf):len(s.buf)]
}

// complete waits for the bulk indexer, applies the settings held back
// during the load, refreshes and checks every index's document count.
func (rs *restorer) complete(ctx context.Context) error {
	if err := rs.ld.finish(ctx); err != nil {
		return err
	}
	timeout := rs.r.verifyTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	var problems []string
	for _, name := range rs.order {
		st := rs.state[name]
		if st.skip {
			continue
		}
		if len(st.after) > 0 {
			body, _ := json.Marshal(nest(st.after))
			if err := rs.c.getJSON(ctx, http.MethodPut, "/"+pathEscape(st.target)+"/_settings", nil, body, nil); err != nil {
				return fmt.Errorf("index %s: restoring its refresh interval and blocks: %w", st.target, err)
			}
		}
		if err := rs.addAliases(ctx, st); err != nil {
			return err
		}
		if !rs.r.noRefresh {
			if err := rs.c.getJSON(ctx, http.MethodPost, "/"+pathEscape(st.target)+"/_refresh", nil, nil, nil); err != nil {
				return fmt.Errorf("index %s: refresh: %w", st.target, err)
			}
		}
		got, err := rs.waitCount(ctx, st.target, st.docs, timeout)
		if err != nil {
			return fmt.Errorf("index %s: counting documents: %w", st.target, err)
		}
		if got != st.docs {
			problems = append(problems, fmt.Sprintf("index %s holds %d documents, the archive %d", st.target, got, st.docs))
			continue
		}
		rs.restored++
		rs.documents += st.docs
		rs.log.Info("index restored", "index", st.target, "documents", got)
	}
	if len(problems) > 0 {
		return fmt.Errorf("verification failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// addAliases adds the index's aliases (renamed) once its documents are in,
// with one _aliases request: applications that read through an alias see
// the index only complete, and servers that ignore aliases in the create
// request still get them.
func (rs *restorer) addAliases(ctx context.Context, st *restoreIndex) error {
	if len(bytes.TrimSpace(st.aliases)) == 0 {
		return nil
	}
	var defs map[string]map[string]any
	if err := json.Unmarshal(st.aliases, &defs); err != nil {
		return corrupt("%s/%s: %v", st.name, aliasesFile, err)
	}
	if len(defs) == 0 {
		return nil
	}
	names := make([]string, 0, len(defs))
	for a := range defs {
		names = append(names, a)
	}
	sort.Strings(names)
	var actions []any
	for _, a := range names {
		add := map[string]any{}
		for k, v := range defs[a] {
			add[k] = v
		}
		add["index"], add["alias"] = st.target, rs.rename(a)
		actions = append(actions, map[string]any{"add": add})
	}
	body, _ := json.Marshal(map[string]any{"actions": actions})
	if err := rs.c.getJSON(ctx, http.MethodPost, "/_aliases", nil, body, nil); err != nil {
		return fmt.Errorf("index %s: adding aliases %s: %w", st.target, strings.Join(names, ","), err)
	}
	return nil
}

// waitCount counts an index's documents until the count reaches want or
// the timeout passes (for servers whose refresh is asynchronous).
func (rs *restorer) waitCount(ctx context.Context, index string, want int64, timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		got, err := rs.count(ctx, index)
		if err != nil || got == want || time.Now().After(deadline) {
			return got, err
		}
		wait := min(backoff(attempt, 100*time.Millisecond, 2*time.Second), time.Until(deadline))
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-time.After(max(wait, 10*time.Millisecond)):
		}
	}
}

// count uses _count, or a search's hits.total where _count is missing.
func (rs *restorer) count(ctx context.Context, index string) (int64, error) {
	var c struct {
		Count *int64 `json:"count"`
	}
	p := "/" + pathEscape(index)
	err := rs.c.getJSON(ctx, http.MethodGet, p+"/_count", nil, nil, &c)
	if err == nil && c.Count != nil {
		return *c.Count, nil
	}
	if ae, ok := asAPIError(err); err != nil && (!ok || !ae.missingAPI()) {
		return 0, err
	}
	res, err := rs.c.do(ctx, http.MethodPost, p+"/_search", url.Values{"size": {"0"}}, []byte(`{"size":0,"track_total_hits":true}`))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, err
	}
	pg, err := parsePage(b, &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if pg.total < 0 {
		return 0, errors.New("the server reports neither _count nor hits.total")
	}
	return pg.total, nil
}

// cleanup deletes the indices this run created, so that a retry finds the
// names free.
func (rs *restorer) cleanup(ctx context.Context) {
	// Documents still queued would re-create a deleted index.
	rs.ld.abort(ctx)
	for _, name := range rs.order {
		st := rs.state[name]
		if !st.createdByUs {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := rs.c.getJSON(cctx, http.MethodDelete, "/"+pathEscape(st.target), nil, nil, nil)
		cancel()
		if err != nil {
			rs.log.Warn("could not delete a partly restored index", "index", st.target, "err", err.Error())
			continue
		}
		rs.log.Info("deleted a partly restored index", "index", st.target)
	}
}
