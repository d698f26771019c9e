package elasticsearch

import (
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
	"sync"
	"sync/atomic"
	"time"
)

// Paging methods, best first.
const (
	methodPIT      = "pit"
	methodScroll   = "scroll"
	methodFromSize = "from-size"
)

// Export tuning.
const (
	// maxParallelSlices bounds the slices fetched at once (more slices run
	// one after another): each holds a response and a chunk in memory.
	maxParallelSlices = 8
	// keepAlive is how long a point in time or scroll lives between pages.
	keepAlive = "5m"
	// targetPageBytes: with a point in time the page size shrinks when
	// responses grow past this (large documents), to bound memory.
	targetPageBytes = 4 << 20
	// defaultMaxResultWindow is index.max_result_window's default.
	defaultMaxResultWindow = 10000
)

type exportOptions struct {
	include, exclude []string
	includeHidden    bool
	slices           int // 0: one per shard
	pageSize         int
	chunkSize        int
	parallel         int
}

// exporter writes indices as an archive.
type exporter struct {
	c      *conn
	o      exportOptions
	log    *slog.Logger
	stderr io.Writer

	// Learned from the server, once for all indices.
	noPIT, noScroll atomic.Bool
	docs            atomic.Int64
}

type exportResult struct {
	indices     []string
	dataStreams []string
	documents   int64
	bytes       int64
	perIndex    map[string]indexSummary
}

// errUnsupported says the server lacks a paging method.
var errUnsupported = errors.New("not supported by the server")

// run lists the indices and writes the archive to w. On error the archive
// is left unfinished (no end blocks, no summary).
func (x *exporter) run(ctx context.Context, w io.Writer) (exportResult, error) {
	var res exportResult
	info, err := x.c.info(ctx)
	if err != nil {
		return res, err
	}
	x.log.Info("connected", "cluster", info.ClusterName, "version", info.Version.Number, "distribution", info.Version.Distribution)
	names, streams, err := x.listIndices(ctx)
	if err != nil {
		return res, err
	}
	res.dataStreams = streams
	if len(streams) > 0 {
		msg := fmt.Sprintf("data streams are not backed up: %s", strings.Join(streams, ", "))
		x.log.Warn(msg)
		if x.stderr != nil {
			fmt.Fprintf(x.stderr, "elasticsearch-backup: %s\n", msg)
		}
	}
	if len(names) == 0 {
		return res, fmt.Errorf("no index matches --include=%s --exclude=%s", strings.Join(x.o.include, ","), strings.Join(x.o.exclude, ","))
	}
	res.indices = names
	x.log.Info("exporting indices", "count", len(names), "indices", strings.Join(names, ","))

	aw := newArchiveWriter(w, x.o.chunkSize, x.o.parallel+2)
	stop := x.progress()
	defer stop()
	err = x.write(ctx, aw, info, names, streams, &res)
	if ferr := aw.finish(err == nil); err == nil && ferr != nil {
		err = fmt.Errorf("writing the archive: %w", ferr)
	}
	res.bytes = aw.written()
	return res, err
}

func (x *exporter) write(ctx context.Context, aw *archiveWriter, info clusterInfo, names, streams []string, res *exportResult) error {
	meta := archiveMeta{
		Format: archiveFormat, Version: archiveVersion, Created: time.Now().UTC(),
		Source:  sourceInfo{Cluster: info.ClusterName, UUID: info.ClusterUUID, Version: info.Version.Number, Distribution: info.Version.Distribution},
		Indices: names, DataStreamsNotBackedUp: streams,
	}
	b, _ := json.Marshal(meta)
	if err := aw.file(ctx, metaEntry, b); err != nil {
		return err
	}
	sum := archiveSummary{Indices: map[string]indexSummary{}}
	for _, name := range names {
		is, err := x.exportIndex(ctx, aw, name)
		if err != nil {
			return fmt.Errorf("index %s: %w", name, err)
		}
		sum.Indices[name] = is
		sum.Documents += is.Documents
		x.log.Info("index exported", "index", name, "documents", is.Documents, "method", is.Method, "slices", is.Slices)
	}
	sum.Complete = true
	b, _ = json.Marshal(sum)
	if err := aw.file(ctx, summaryEntry, b); err != nil {
		return err
	}
	res.documents = sum.Documents
	res.perIndex = sum.Indices
	return nil
}

// progress logs the documents exported every 10 seconds until stopped.
func (x *exporter) progress() func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				x.log.Info("export progress", "documents", x.docs.Load())
			}
		}
	}()
	return func() { close(done) }
}

// listIndices returns the indices to back up, sorted, and the data streams
// the patterns match (reported, not backed up).
func (x *exporter) listIndices(ctx context.Context) ([]string, []string, error) {
	expand := "open"
	if x.o.includeHidden {
		expand = "all"
	}
	var rows []struct {
		Index  string `json:"index"`
		Status string `json:"status"`
	}
	q := url.Values{"format": {"json"}, "h": {"index,status"}, "expand_wildcards": {expand}}
	err := x.c.getJSON(ctx, http.MethodGet, "/_cat/indices", q, nil, &rows)
	if ae, ok := asAPIError(err); ok && ae.missingAPI() {
		x.log.Info("the server has no _cat/indices: taking --include as index names")
		names, err := x.literalIndices(ctx)
		return names, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing indices: %w", err)
	}
	streams, backing, err := x.dataStreams(ctx, expand)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, r := range rows {
		switch {
		case backing[r.Index]:
			continue
		case !x.o.includeHidden && strings.HasPrefix(r.Index, "."):
			continue
		case !x.selected(r.Index):
			continue
		case r.Status == "close":
			x.log.Warn("skipping a closed index (open it to back it up)", "index", r.Index)
			continue
		}
		names = append(names, r.Index)
	}
	sort.Strings(names)
	var matched []string
	for _, s := range streams {
		if x.selected(s) {
			matched = append(matched, s)
		}
	}
	return names, matched, nil
}

func (x *exporter) selected(name string) bool {
	return matchAny(x.o.include, name) && !matchAny(x.o.exclude, name)
}

// literalIndices checks that each --include entry names an existing index;
// for servers that cannot list indices.
func (x *exporter) literalIndices(ctx context.Context) ([]string, error) {
	var names []string
	for _, p := range x.o.include {
		if strings.ContainsAny(p, "*?") {
			return nil, fmt.Errorf("--include=%s: this server cannot list indices (no _cat/indices API), so patterns cannot be expanded; name the indices", strings.Join(x.o.include, ","))
		}
		if matchAny(x.o.exclude, p) {
			continue
		}
		if err := x.c.getJSON(ctx, http.MethodGet, "/"+pathEscape(p)+"/_mapping", nil, nil, nil); err != nil {
			if ae, ok := asAPIError(err); ok && ae.Status < 500 {
				return nil, fmt.Errorf("--include: index %s: %w", p, err)
			}
			return nil, err
		}
		names = append(names, p)
	}
	sort.Strings(names)
	return names, nil
}

// dataStreams returns the data streams and the set of their backing indices.
func (x *exporter) dataStreams(ctx context.Context, expand string) ([]string, map[string]bool, error) {
	var ds struct {
		DataStreams []struct {
			Name    string `json:"name"`
			Indices []struct {
				IndexName string `json:"index_name"`
			} `json:"indices"`
		} `json:"data_streams"`
	}
	backing := map[string]bool{}
	err := x.c.getJSON(ctx, http.MethodGet, "/_data_stream", url.Values{"expand_wildcards": {expand}}, nil, &ds)
	if ae, ok := asAPIError(err); ok && (ae.missingAPI() || ae.Status == http.StatusBadRequest) {
		return nil, backing, nil // no data streams before 7.9
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing data streams: %w", err)
	}
	var names []string
	for _, d := range ds.DataStreams {
		names = append(names, d.Name)
		for _, i := range d.Indices {
			backing[i.IndexName] = true
		}
	}
	sort.Strings(names)
	return names, backing, nil
}

// matchAny reports whether name matches one of the patterns ('*' any run,
// '?' one character).
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if p = strings.TrimSpace(p); p != "" && wildcard(p, name) {
			return true
		}
	}
	return false
}

func wildcard(p, s string) bool {
	// Iterative matching with backtracking to the last '*'.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// indexDefinition reads an index's settings, mappings and aliases.
func (x *exporter) indexDefinition(ctx context.Context, name string) (Settings, json.RawMessage, json.RawMessage, error) {
	p := "/" + pathEscape(name)
	var settings map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := x.c.getJSON(ctx, http.MethodGet, p+"/_settings", url.Values{"flat_settings": {"true"}}, nil, &settings); err != nil {
		return nil, nil, nil, fmt.Errorf("settings: %w", err)
	}
	var mappings map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := x.c.getJSON(ctx, http.MethodGet, p+"/_mapping", nil, nil, &mappings); err != nil {
		return nil, nil, nil, fmt.Errorf("mappings: %w", err)
	}
	var aliases map[string]struct {
		Aliases json.RawMessage `json:"aliases"`
	}
	err := x.c.getJSON(ctx, http.MethodGet, p+"/_alias", nil, nil, &aliases)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound && ae.Type != "index_not_found_exception" {
		err = nil // some servers answer 404 when an index has no alias
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("aliases: %w", err)
	}
	s := settings[name].Settings
	m := mappings[name].Mappings
	a := aliases[name].Aliases
	if s == nil && len(settings) == 1 {
		for _, v := range settings {
			s = v.Settings
		}
	}
	if m == nil && len(mappings) == 1 {
		for _, v := range mappings {
			m = v.Mappings
		}
	}
	if len(bytes.TrimSpace(m)) == 0 || string(m) == "null" {
		m = json.RawMessage("{}")
	}
	if len(bytes.TrimSpace(a)) == 0 || string(a) == "null" {
		a = json.RawMessage("{}")
	}
	return flatten(s), m, a, nil
}

func (x *exporter) exportIndex(ctx context.Context, aw *archiveWriter, name string) (indexSummary, error) {
	raw, mappings, aliases, err := x.indexDefinition(ctx, name)
	if err != nil {
		return indexSummary{}, err
	}
	settings, dropped := filterSettings(raw)
	if len(dropped) > 0 {
		x.log.Info("settings left out (set by the cluster or bound to its nodes)", "index", name, "settings", strings.Join(dropped, ","))
	}
	sb, _ := json.Marshal(settings)
	for _, f := range []struct {
		file string
		data []byte
	}{{settingsFile, sb}, {mappingsFile, mappings}, {aliasesFile, aliases}} {
		if err := aw.file(ctx, name+"/"+f.file, f.data); err != nil {
			return indexSummary{}, err
		}
	}
	shards := 1
	if n, err := strconv.Atoi(fmt.Sprint(settings["index.number_of_shards"])); err == nil && n > 0 {
		shards = n
	}
	slices := x.o.slices
	if slices <= 0 {
		slices = shards
	}
	window := defaultMaxResultWindow
	if n, err := strconv.Atoi(fmt.Sprint(settings["index.max_result_window"])); err == nil && n > 0 {
		window = n
	}
	d := &docExport{x: x, aw: aw, index: name, slices: slices, window: window}
	return d.run(ctx)
}

// docExport pages through one index's documents.
type docExport struct {
	x      *exporter
	aw     *archiveWriter
	index  string
	slices int
	window int
}

func (d *docExport) run(ctx context.Context) (indexSummary, error) {
	x := d.x
	if !x.noPIT.Load() {
		n, err := d.viaPIT(ctx)
		if !errors.Is(err, errUnsupported) {
			return indexSummary{Documents: n, Method: methodPIT, Slices: d.slices}, err
		}
		x.noPIT.Store(true)
		x.log.Warn("the server has no point in time with _shard_doc sort (Elasticsearch ≥ 7.12): falling back to scroll", "reason", err.Error())
	}
	if !x.noScroll.Load() {
		n, err := d.viaScroll(ctx)
		if !errors.Is(err, errUnsupported) {
			return indexSummary{Documents: n, Method: methodScroll, Slices: d.slices}, err
		}
		x.noScroll.Store(true)
		x.log.Warn("the server has neither point in time nor scroll: falling back to from/size paging, which sees no consistent snapshot and stops at index.max_result_window", "reason", err.Error())
		if x.stderr != nil {
			fmt.Fprintf(x.stderr, "elasticsearch-backup: the server supports neither point in time nor scroll; paging with from/size (no consistent snapshot, at most index.max_result_window documents per index)\n")
		}
	}
	n, err := d.viaFromSize(ctx)
	return indexSummary{Documents: n, Method: methodFromSize, Slices: 1}, err
}

// unsupported wraps err as errUnsupported when it says the server lacks
// the API.
func unsupported(err error) error {
	if ae, ok := asAPIError(err); ok && ae.missingAPI() {
		return fmt.Errorf("%w: %v", errUnsupported, err)
	}
	return err
}

// post sends a JSON body and reads the whole answer into buf.
func (d *docExport) post(ctx context.Context, path string, q url.Values, body any, buf *bytes.Buffer) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	res, err := d.x.c.do(ctx, http.MethodPost, path, q, b)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if buf.Cap() > 4*targetPageBytes {
		*buf = bytes.Buffer{}
	}
	buf.Reset()
	if _, err := buf.ReadFrom(res.Body); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	return nil
}

func checkPage(p page) error {
	if p.timedOut {
		return errors.New("the search timed out: the page may be incomplete")
	}
	if p.failed > 0 {
		return fmt.Errorf("%d shard(s) failed: %s", p.failed, p.failure)
	}
	return nil
}

// slicePager fetches one slice; next appends a page to out and reports the
// hits.
type slicePager interface {
	next(ctx context.Context, out *bytes.Buffer) (int, error)
	close(ctx context.Context)
}

// runSlices runs newPager for each slice, at most parallel at once, and
// writes their documents as chunks. It returns the documents written.
func (d *docExport) runSlices(ctx context.Context, slices int, newPager func(slice int) slicePager) (int64, error) {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int, slices)
	for i := range slices {
		jobs <- i
	}
	close(jobs)
	var (
		total    atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range min(slices, d.x.o.parallel) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for slice := range jobs {
				n, err := d.runSlice(ctx, slice, newPager(slice))
				total.Add(n)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return total.Load(), err
	}
	return total.Load(), firstErr
}

func (d *docExport) runSlice(ctx context.Context, slice int, pg slicePager) (int64, error) {
	defer pg.close(context.WithoutCancel(ctx))
	chunk, err := d.aw.buffer(ctx)
	if err != nil {
		return 0, err
	}
	var n int64
	seq := 0
	for {
		hits, err := pg.next(ctx, chunk)
		if err != nil {
			d.aw.release(chunk)
			return n, err
		}
		n += int64(hits)
		d.x.docs.Add(int64(hits))
		if hits == 0 || chunk.Len() >= d.aw.chunkSize {
			if chunk.Len() > 0 {
				if err := d.aw.put(ctx, docChunkName(d.index, slice, seq), chunk); err != nil {
					return n, err
				}
				seq++
				if hits != 0 {
					if chunk, err = d.aw.buffer(ctx); err != nil {
						return n, err
					}
				}
			} else if hits == 0 {
				d.aw.release(chunk)
			}
		}
		if hits == 0 {
			return n, nil
		}
	}
}

// viaPIT opens a point in time on the index, checks with one probe that
// the server sorts on _shard_doc and counts the documents, then pages every
// slice with search_after.
func (d *docExport) viaPIT(ctx context.Context) (int64, error) {
	var open struct {
		ID string `json:"id"`
	}
	p := "/" + pathEscape(d.index) + "/_pit"
	if err := d.x.c.getJSON(ctx, http.MethodPost, p, url.Values{"keep_alive": {keepAlive}}, nil, &open); err != nil {
		return 0, unsupported(err)
	}
	if open.ID == "" {
		return 0, fmt.Errorf("%w: POST %s answered no id", errUnsupported, p)
	}
	var (
		mu     sync.Mutex
		latest = open.ID
	)
	defer func() {
		mu.Lock()
		id := latest
		mu.Unlock()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]string{"id": id})
		if err := d.x.c.getJSON(cctx, http.MethodDelete, "/_pit", nil, body, nil); err != nil {
			d.x.log.Warn("could not close the point in time (it expires by itself)", "index", d.index, "err", err.Error())
		}
	}()
	// Probe: sorted on _shard_doc, exact total.
	var buf bytes.Buffer
	probe := map[string]any{"size": 0, "pit": map[string]any{"id": open.ID, "keep_alive": keepAlive},
		"sort": []any{map[string]any{"_shard_doc": "asc"}}, "track_total_hits": true}
	if err := d.post(ctx, "/_search", nil, probe, &buf); err != nil {
		if ae, ok := asAPIError(err); ok && ae.Status == http.StatusBadRequest && strings.Contains(ae.Reason, "_shard_doc") {
			return 0, fmt.Errorf("%w: %v", errUnsupported, err)
		}
		return 0, unsupported(err)
	}
	pg, err := parsePage(buf.Bytes(), &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	if pg.pitID != "" {
		latest = pg.pitID
	}
	want := pg.total
	n, err := d.runSlices(ctx, d.slices, func(slice int) slicePager {
		mu.Lock()
		pit := latest
		mu.Unlock()
		return &pitPager{d: d, slice: slice, pit: pit, size: d.x.o.pageSize, setLatest: func(id string) {
			mu.Lock()
			latest = id
			mu.Unlock()
		}}
	})
	if err != nil {
		return n, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("exported %d documents but the point in time holds %d", n, want)
	}
	return n, nil
}

type pitPager struct {
	d         *docExport
	slice     int
	pit       string
	size      int
	after     []byte
	buf       bytes.Buffer
	done      bool
	setLatest func(string)
}

func (p *pitPager) next(ctx context.Context, out *bytes.Buffer) (int, error) {
	if p.done {
		return 0, nil
	}
	req := map[string]any{
		"size":             p.size,
		"pit":              map[string]any{"id": p.pit, "keep_alive": keepAlive},
		"sort":             []any{map[string]any{"_shard_doc": "asc"}},
		"track_total_hits": false,
	}
	if p.d.slices > 1 {
		req["slice"] = map[string]any{"id": p.slice, "max": p.d.slices}
	}
	if p.after != nil {
		req["search_after"] = json.RawMessage(p.after)
	}
	if err := p.d.post(ctx, "/_search", nil, req, &p.buf); err != nil {
		return 0, err
	}
	pg, err := parsePage(p.buf.Bytes(), out, nil)
	if err != nil {
		return 0, err
	}
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	if pg.pitID != "" && pg.pitID != p.pit {
		p.pit = pg.pitID
		p.setLatest(pg.pitID)
	}
	if pg.hits > 0 {
		if len(pg.lastSort) == 0 {
			return 0, errors.New("search_after paging: the hits carry no sort values")
		}
		p.after = append(p.after[:0], pg.lastSort...)
	}
	if pg.hits < p.size {
		p.done = true
	}
	// Large documents: fewer per page, to bound memory.
	if l := p.buf.Len(); l > targetPageBytes && p.size > 10 {
		p.size = max(10, int(int64(p.size)*targetPageBytes/int64(l)))
	}
	return pg.hits, nil
}

func (p *pitPager) close(context.Context) {}

// viaScroll checks with a probe that the server keeps scroll contexts and
// counts the documents, then scrolls every slice.
func (d *docExport) viaScroll(ctx context.Context) (int64, error) {
	p := "/" + pathEscape(d.index) + "/_search"
	var buf bytes.Buffer
	probe := map[string]any{"size": 1, "sort": []any{"_doc"}, "track_total_hits": true}
	if err := d.post(ctx, p, url.Values{"scroll": {"1m"}}, probe, &buf); err != nil {
		return 0, unsupported(err)
	}
	pg, err := parsePage(buf.Bytes(), &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if pg.scrollID == "" {
		return 0, fmt.Errorf("%w: a search with ?scroll= answered no _scroll_id", errUnsupported)
	}
	clearScroll(ctx, d.x, pg.scrollID)
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	want := pg.total
	n, err := d.runSlices(ctx, d.slices, func(slice int) slicePager {
		return &scrollPager{d: d, slice: slice}
	})
	if err != nil {
		return n, err
	}
	if want >= 0 && n != want {
		return n, fmt.Errorf("exported %d documents but the scroll counted %d", n, want)
	}
	return n, nil
}

type scrollPager struct {
	d     *docExport
	slice int
	id    string
	buf   bytes.Buffer
	done  bool
}

func (s *scrollPager) next(ctx context.Context, out *bytes.Buffer) (int, error) {
	if s.done {
		return 0, nil
	}
	var err error
	if s.id == "" {
		req := map[string]any{"size": s.d.x.o.pageSize, "sort": []any{"_doc"}}
		if s.d.slices > 1 {
			req["slice"] = map[string]any{"id": s.slice, "max": s.d.slices}
		}
		err = s.d.post(ctx, "/"+pathEscape(s.d.index)+"/_search", url.Values{"scroll": {keepAlive}}, req, &s.buf)
	} else {
		err = s.d.post(ctx, "/_search/scroll", nil, map[string]any{"scroll": keepAlive, "scroll_id": s.id}, &s.buf)
	}
	if err != nil {
		return 0, err
	}
	pg, err := parsePage(s.buf.Bytes(), out, nil)
	if err != nil {
		return 0, err
	}
	if pg.scrollID != "" {
		s.id = pg.scrollID
	}
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	if s.id == "" {
		return 0, errors.New("the scroll answered no _scroll_id")
	}
	if pg.hits == 0 {
		s.done = true
	}
	return pg.hits, nil
}

func (s *scrollPager) close(ctx context.Context) {
	if s.id != "" {
		clearScroll(ctx, s.d.x, s.id)
	}
}

func clearScroll(ctx context.Context, x *exporter, id string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"scroll_id": []string{id}})
	if err := x.c.getJSON(cctx, http.MethodDelete, "/_search/scroll", nil, body, nil); err != nil {
		x.log.Warn("could not clear a scroll (it expires by itself)", "err", err.Error())
	}
}

// viaFromSize pages with from/size, for servers with neither point in time
// nor scroll; an index with more documents than its result window cannot
// be exported this way.
func (d *docExport) viaFromSize(ctx context.Context) (int64, error) {
	p := "/" + pathEscape(d.index) + "/_search"
	var buf bytes.Buffer
	if err := d.post(ctx, p, nil, map[string]any{"size": 0, "track_total_hits": true}, &buf); err != nil {
		return 0, err
	}
	pg, err := parsePage(buf.Bytes(), &bytes.Buffer{}, nil)
	if err != nil {
		return 0, err
	}
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	total := pg.total
	if total < 0 {
		return 0, errors.New("the server reports no hits.total: cannot page with from/size")
	}
	if total > int64(d.window) {
		return 0, fmt.Errorf("holds %d documents, more than its result window (index.max_result_window = %d), and the server supports neither point in time nor scroll: it cannot be exported in full", total, d.window)
	}
	seen := make(map[string]struct{}, total)
	fp := &fromSizePager{d: d, path: p, total: total, size: min(d.x.o.pageSize, d.window), seen: func(id []byte) bool {
		if _, dup := seen[string(id)]; dup {
			return false
		}
		seen[string(id)] = struct{}{}
		return true
	}}
	n, err := d.runSlices(ctx, 1, func(int) slicePager { return fp })
	if err != nil {
		return n, err
	}
	if n != total {
		return n, fmt.Errorf("exported %d documents but the index counted %d (did it change during the backup?)", n, total)
	}
	return n, nil
}

type fromSizePager struct {
	d     *docExport
	path  string
	total int64
	from  int64
	size  int
	sort  []any
	byDoc bool
	buf   bytes.Buffer
	seen  func([]byte) bool
}

func (f *fromSizePager) next(ctx context.Context, out *bytes.Buffer) (int, error) {
	if f.from >= f.total {
		return 0, nil
	}
	size := int(min(int64(f.size), int64(f.d.window)-f.from))
	if f.sort == nil {
		// A total order makes from/size pages stable: _id where the server
		// sorts on it (Elasticsearch 8 refuses), else index order.
		f.sort = []any{map[string]any{"_id": "asc"}}
	}
	req := map[string]any{"from": f.from, "size": size, "sort": f.sort, "track_total_hits": false}
	err := f.d.post(ctx, f.path, nil, req, &f.buf)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusBadRequest && f.from == 0 && !f.byDoc {
		f.sort, f.byDoc = []any{"_doc"}, true
		req["sort"] = f.sort
		err = f.d.post(ctx, f.path, nil, req, &f.buf)
	}
	if err != nil {
		return 0, err
	}
	pg, err := parsePage(f.buf.Bytes(), out, f.seen)
	if err != nil {
		return 0, err
	}
	if err := checkPage(pg); err != nil {
		return 0, err
	}
	f.from += int64(pg.hits)
	if pg.hits == 0 && f.from < f.total {
		return 0, fmt.Errorf("the index counted %d documents but paging ended after %d", f.total, f.from)
	}
	return pg.hits, nil
}

func (f *fromSizePager) close(context.Context) {}
