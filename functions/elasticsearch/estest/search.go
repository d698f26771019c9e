package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// searchContext is an open point in time or scroll: a copy of the visible
// documents of the shards it covers, taken when it was opened.
type searchContext struct {
	id        string
	scroll    bool
	shards    []ctxShard
	keepAlive time.Duration
	expires   time.Time

	mu sync.Mutex
	// Scroll state: the request it was opened with and where the next page
	// starts.
	spec   *searchSpec
	next   position
	total  int
	closed bool
}

// ctxShard is one shard's documents as a search sees them.
type ctxShard struct {
	index     string
	docs      []*doc
	maxWindow int
}

// position is a shard ordinal and a document position in it.
type position struct{ ord, pos int }

// shardDoc is the _shard_doc sort value of a position.
func (p position) shardDoc() int64 { return int64(p.ord)<<32 | int64(p.pos) }

func positionOf(v int64) position { return position{ord: int(v >> 32), pos: int(v & 0xffffffff)} }

// searchSpec is a parsed search request.
type searchSpec struct {
	from, size     int
	sortField      string // "" (score), "_doc" or "_shard_doc"
	desc           bool
	searchAfter    *int64
	sliceID        int
	sliceMax       int
	trackTotal     int // -1: exact; 0: not tracked; n: up to n
	totalAsInt     bool
	noSource       bool
	pitID          string
	pitKeepAlive   string
	explicitSortOn bool
}

type searchBody struct {
	Size           *int              `json:"size"`
	From           *int              `json:"from"`
	Query          json.RawMessage   `json:"query"`
	Sort           json.RawMessage   `json:"sort"`
	SearchAfter    []json.RawMessage `json:"search_after"`
	TrackTotalHits json.RawMessage   `json:"track_total_hits"`
	Source         json.RawMessage   `json:"_source"`
	Version        *bool             `json:"version"`
	SeqNoPrimTerm  *bool             `json:"seq_no_primary_term"`
	Timeout        string            `json:"timeout"`
	StoredFields   json.RawMessage   `json:"stored_fields"`
	DocvalueFields json.RawMessage   `json:"docvalue_fields"`
	Explain        *bool             `json:"explain"`
	PIT            *struct {
		ID        string `json:"id"`
		KeepAlive string `json:"keep_alive"`
	} `json:"pit"`
	Slice *struct {
		ID    *int   `json:"id"`
		Max   *int   `json:"max"`
		Field string `json:"field"`
	} `json:"slice"`
}

// specError is a request the test server refuses; status 400 unless set.
type specError struct {
	status int
	typ    string
	reason string
}

func (e *specError) Error() string { return e.reason }

func (e *specError) write(w http.ResponseWriter) {
	status := e.status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeError(w, status, e.typ, e.reason, nil)
}

func parseSearch(r *http.Request, body []byte) (*searchSpec, *specError) {
	q := r.URL.Query()
	sp := &searchSpec{size: 10, trackTotal: 10000, sliceMax: 1}
	var sb searchBody
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sb); err != nil {
			msg := err.Error()
			if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
				return nil, &specError{typ: "parsing_exception", reason: "Unknown key for a START_OBJECT in [" + strings.Trim(f, `"`) + "]."}
			}
			return nil, &specError{typ: "x_content_parse_exception", reason: "[1:1] [search] failed to parse: " + msg}
		}
	}
	if sb.Size != nil {
		sp.size = *sb.Size
	} else if v := q.Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, &specError{typ: "illegal_argument_exception", reason: "Failed to parse int parameter [size] with value [" + v + "]"}
		}
		sp.size = n
	}
	if sb.From != nil {
		sp.from = *sb.From
	} else if v := q.Get("from"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, &specError{typ: "illegal_argument_exception", reason: "Failed to parse int parameter [from] with value [" + v + "]"}
		}
		sp.from = n
	}
	if sp.size < 0 {
		return nil, &specError{typ: "illegal_argument_exception", reason: "[size] parameter cannot be negative, found [" + strconv.Itoa(sp.size) + "]"}
	}
	if sp.from < 0 {
		return nil, &specError{typ: "illegal_argument_exception", reason: "[from] parameter cannot be negative, found [" + strconv.Itoa(sp.from) + "]"}
	}
	if err := checkQuery(sb.Query); err != nil {
		return nil, err
	}
	sorts, err := parseSort(sb.Sort, q.Get("sort"))
	if err != nil {
		return nil, err
	}
	if len(sorts) > 0 {
		sp.explicitSortOn = true
		sp.sortField, sp.desc = sorts[0].field, sorts[0].desc
	}
	if len(sb.SearchAfter) > 0 {
		if len(sorts) == 0 && sb.PIT == nil {
			return nil, &specError{typ: "action_request_validation_exception", reason: "Validation Failed: 1: [search_after] cannot be used without [sort];"}
		}
		var v int64
		if err := json.Unmarshal(sb.SearchAfter[len(sb.SearchAfter)-1], &v); err != nil {
			return nil, &specError{typ: "illegal_argument_exception", reason: "Failed to parse search_after value for field [_shard_doc]."}
		}
		sp.searchAfter = &v
		if sp.from != 0 {
			return nil, &specError{typ: "action_request_validation_exception", reason: "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;"}
		}
	}
	switch t := strings.TrimSpace(string(sb.TrackTotalHits)); {
	case t == "":
		if v := q.Get("track_total_hits"); v == "true" {
			sp.trackTotal = -1
		} else if v == "false" {
			sp.trackTotal = 0
		}
	case t == "true":
		sp.trackTotal = -1
	case t == "false":
		sp.trackTotal = 0
	default:
		n, err := strconv.Atoi(t)
		if err != nil {
			return nil, &specError{typ: "x_content_parse_exception", reason: "[track_total_hits] must be a boolean or an integer"}
		}
		sp.trackTotal = n
	}
	sp.totalAsInt = q.Get("rest_total_hits_as_int") == "true"
	if sp.totalAsInt && sp.trackTotal > 0 {
		sp.trackTotal = -1
	}
	sp.noSource = strings.TrimSpace(string(sb.Source)) == "false" || q.Get("_source") == "false"
	if sb.PIT != nil {
		sp.pitID, sp.pitKeepAlive = sb.PIT.ID, sb.PIT.KeepAlive
		if sp.pitID == "" {
			return nil, &specError{typ: "action_request_validation_exception", reason: "Validation Failed: 1: [pit] id must be specified;"}
		}
	}
	if sb.Slice != nil {
		if sb.Slice.Field != "" && sb.Slice.Field != "_id" && sb.Slice.Field != "_shard_doc" {
			return nil, &specError{typ: "illegal_argument_exception", reason: "test server: slicing on field [" + sb.Slice.Field + "] is not supported"}
		}
		if sb.Slice.ID == nil || sb.Slice.Max == nil {
			return nil, &specError{typ: "x_content_parse_exception", reason: "[slice] requires [id] and [max]"}
		}
		if *sb.Slice.Max <= 1 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "max must be greater than 1"}
		}
		if *sb.Slice.ID < 0 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "id must be greater than or equal to 0"}
		}
		if *sb.Slice.ID >= *sb.Slice.Max {
			return nil, &specError{typ: "illegal_argument_exception", reason: "max must be greater than id"}
		}
		if *sb.Slice.Max > 1024 {
			return nil, &specError{typ: "illegal_argument_exception", reason: "The number of slices [" + strconv.Itoa(*sb.Slice.Max) + "] is too large. It must be less than [1024]. This limit can be set by changing the [index.max_slices_per_scroll] index level setting."}
		}
		sp.sliceID, sp.sliceMax = *sb.Slice.ID, *sb.Slice.Max
	}
	return sp, nil
}

// checkQuery accepts no query or match_all.
func checkQuery(q json.RawMessage) *specError {
	t := bytes.TrimSpace(q)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return &specError{typ: "parsing_exception", reason: "[_na] query malformed, must start with start_object"}
	}
	for k := range m {
		if k != "match_all" {
			return &specError{typ: "parsing_exception", reason: "test server: query [" + k + "] is not supported (match_all only)"}
		}
	}
	return nil
}

type sortKey struct {
	field string
	desc  bool
}

// parseSort reads the sort clauses the test server supports: _shard_doc,
// _doc and _score; _id is refused as Elasticsearch 8 refuses it.
func parseSort(raw json.RawMessage, param string) ([]sortKey, *specError) {
	var items []json.RawMessage
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 && param != "":
		for _, p := range strings.Split(param, ",") {
			b, _ := json.Marshal(p)
			items = append(items, b)
		}
	case len(t) == 0:
		return nil, nil
	case t[0] == '[':
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, &specError{typ: "parsing_exception", reason: "malformed sort format"}
		}
	default:
		items = []json.RawMessage{t}
	}
	var keys []sortKey
	for _, it := range items {
		var k sortKey
		var name string
		if json.Unmarshal(it, &name) == nil {
			f, order, _ := strings.Cut(name, ":")
			k = sortKey{field: f, desc: order == "desc"}
		} else {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(it, &m); err != nil || len(m) != 1 {
				return nil, &specError{typ: "parsing_exception", reason: "malformed sort format"}
			}
			for f, v := range m {
				k.field = f
				var order string
				if json.Unmarshal(v, &order) != nil {
					var o struct {
						Order string `json:"order"`
					}
					_ = json.Unmarshal(v, &o)
					order = o.Order
				}
				k.desc = order == "desc"
			}
		}
		switch k.field {
		case "_shard_doc", "_doc":
		case "_score":
			k.desc = !k.desc // _score sorts descending by default
			k.field = ""
		case "_id":
			return nil, &specError{typ: "illegal_argument_exception", reason: "Fielddata access on the _id field is disallowed, you can re-enable it by updating the dynamic cluster setting: indices.id_field_data.enabled"}
		default:
			return nil, &specError{typ: "illegal_argument_exception", reason: "test server: sorting on [" + k.field + "] is not supported"}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// sliceFilter says which positions of which shards a slice holds.
type sliceFilter struct {
	id, max, shards int
}

// shard reports whether shard ord belongs to the slice, and which
// sub-slice of its documents (every n-th from off).
func (f sliceFilter) shard(ord int) (ok bool, n, off int) {
	if f.max <= 1 {
		return true, 1, 0
	}
	if f.max <= f.shards {
		return ord%f.max == f.id, 1, 0
	}
	// More slices than shards: slice id targets shard id % shards, whose
	// documents are split among the slices that target it.
	target := f.id % f.shards
	if ord != target {
		return false, 0, 0
	}
	n = f.max / f.shards
	if f.max%f.shards > target {
		n++
	}
	return true, n, f.id / f.shards
}

// collect gathers up to size live documents from start on, in order, and
// returns them with the position after the last one (asc) or before it
// (desc).
func collect(shards []ctxShard, f sliceFilter, start position, desc bool, skip, size int) ([]position, position) {
	var out []position
	if desc {
		for ord := start.ord; ord >= 0 && len(out) < size; ord-- {
			ok, n, off := f.shard(ord)
			if !ok {
				continue
			}
			docs := shards[ord].docs
			pos := len(docs) - 1
			if ord == start.ord && start.pos < pos {
				pos = start.pos
			}
			for ; pos >= 0 && len(out) < size; pos-- {
				if pos%n != off || docs[pos] == nil {
					continue
				}
				if skip > 0 {
					skip--
					continue
				}
				out = append(out, position{ord, pos})
			}
		}
		return out, position{}
	}
	last := position{ord: len(shards)}
	for ord := start.ord; ord < len(shards); ord++ {
		ok, n, off := f.shard(ord)
		if !ok {
			continue
		}
		docs := shards[ord].docs
		pos := 0
		if ord == start.ord {
			pos = start.pos
		}
		if r := pos % n; r != off {
			pos += (off - r + n) % n
		}
		for ; pos < len(docs); pos += n {
			if docs[pos] == nil {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) == size {
				return out, position{ord, pos}
			}
			out = append(out, position{ord, pos})
		}
	}
	return out, last
}

// countLive counts the slice's live documents, stopping above limit (>0).
func countLive(shards []ctxShard, f sliceFilter, limit int) int {
	total := 0
	for ord := range shards {
		ok, n, off := f.shard(ord)
		if !ok {
			continue
		}
		if n == 1 {
			for _, d := range shards[ord].docs {
				if d != nil {
					total++
				}
			}
		} else {
			for pos := off; pos < len(shards[ord].docs); pos += n {
				if shards[ord].docs[pos] != nil {
					total++
				}
			}
		}
		if limit > 0 && total > limit {
			return total
		}
	}
	return total
}

func startOf(shards []ctxShard, sp *searchSpec) position {
	if sp.searchAfter != nil && *sp.searchAfter < 0 {
		if sp.desc {
			return position{ord: -1}
		}
		return position{}
	}
	if sp.searchAfter != nil {
		p := positionOf(*sp.searchAfter)
		if sp.desc {
			p.pos--
			if p.pos < 0 {
				p.ord--
				p.pos = 1<<31 - 1
			}
			return p
		}
		p.pos++
		return p
	}
	if sp.desc {
		return position{ord: len(shards) - 1, pos: 1<<31 - 1}
	}
	return position{}
}

var responses sync.Pool

// getBuffer returns a buffer with room for a response holding hits.
func getBuffer(shards []ctxShard, hits []position) *bytes.Buffer {
	n := 512
	for _, p := range hits {
		d := shards[p.ord].docs[p.pos]
		n += len(d.head) + len(d.source) + 64
	}
	b, _ := responses.Get().(*bytes.Buffer)
	if b == nil {
		b = &bytes.Buffer{}
	}
	b.Reset()
	b.Grow(n)
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 32<<20 {
		responses.Put(b)
	}
}

// renderHits writes a search response.
func renderHits(b *bytes.Buffer, shards []ctxShard, hits []position, sp *searchSpec, total int, pitID, scrollID string, nshards int) {
	b.WriteByte('{')
	if pitID != "" {
		b.WriteString(`"pit_id":`)
		writeString(b, pitID)
		b.WriteByte(',')
	}
	if scrollID != "" {
		b.WriteString(`"_scroll_id":`)
		writeString(b, scrollID)
		b.WriteByte(',')
	}
	fmt.Fprintf(b, `"took":1,"timed_out":false,"_shards":{"total":%d,"successful":%d,"skipped":0,"failed":0},"hits":{`, nshards, nshards)
	switch {
	case sp.totalAsInt:
		fmt.Fprintf(b, `"total":%d,`, total)
	case sp.trackTotal == 0:
	case sp.trackTotal > 0 && total > sp.trackTotal:
		fmt.Fprintf(b, `"total":{"value":%d,"relation":"gte"},`, sp.trackTotal)
	default:
		fmt.Fprintf(b, `"total":{"value":%d,"relation":"eq"},`, total)
	}
	scored := sp.sortField == "" && !sp.explicitSortOn
	if scored && len(hits) > 0 {
		b.WriteString(`"max_score":1.0,"hits":[`)
	} else {
		b.WriteString(`"max_score":null,"hits":[`)
	}
	var num []byte
	for i, p := range hits {
		if i > 0 {
			b.WriteByte(',')
		}
		d := shards[p.ord].docs[p.pos]
		b.Write(d.head)
		if scored {
			b.WriteString(`,"_score":1.0`)
		} else {
			b.WriteString(`,"_score":null`)
		}
		if !sp.noSource {
			b.WriteString(`,"_source":`)
			b.Write(d.source)
		}
		if !scored || pitID != "" {
			b.WriteString(`,"sort":[`)
			switch {
			case sp.sortField == "_doc" && pitID != "":
				num = strconv.AppendInt(num[:0], int64(p.pos), 10)
				b.Write(num)
				b.WriteByte(',')
				num = strconv.AppendInt(num[:0], p.shardDoc(), 10)
			case sp.sortField == "_doc":
				num = strconv.AppendInt(num[:0], int64(p.pos), 10)
			case sp.sortField == "" && pitID != "":
				b.WriteString(`1.0,`)
				num = strconv.AppendInt(num[:0], p.shardDoc(), 10)
			default:
				num = strconv.AppendInt(num[:0], p.shardDoc(), 10)
			}
			b.Write(num)
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}}`)
}

func searchPhaseError(w http.ResponseWriter, status int, causeType, causeReason string) {
	cause := map[string]any{"type": causeType, "reason": causeReason}
	writeJSON(w, status, map[string]any{
		"error": map[string]any{
			"root_cause":    []any{cause},
			"type":          "search_phase_execution_exception",
			"reason":        "all shards failed",
			"phase":         "query",
			"grouped":       true,
			"failed_shards": []any{map[string]any{"shard": 0, "index": nil, "reason": cause}},
			"caused_by":     cause,
		},
		"status": status,
	})
}

func windowError(w http.ResponseWriter, scroll bool, window, asked int) {
	if scroll {
		searchPhaseError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf(
			"Batch size is too large, size must be less than or equal to: [%d] but was [%d]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.", window, asked))
		return
	}
	searchPhaseError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf(
		"Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", window, asked))
}

func contextMissing(w http.ResponseWriter, id string) {
	searchPhaseError(w, http.StatusNotFound, "search_context_missing_exception", "No search context found for id ["+id+"]")
}

func minWindow(shards []ctxShard) int {
	m := 10000
	for i, sh := range shards {
		if i == 0 || sh.maxWindow < m {
			m = sh.maxWindow
		}
	}
	return m
}

// snapshotLocked copies the visible documents of indices; s.mu must be held.
func snapshotLocked(ixs []*index, copyDocs bool) []ctxShard {
	var out []ctxShard
	for _, ix := range ixs {
		for _, sh := range ix.shards {
			docs := sh.docs[:sh.visible]
			if copyDocs {
				docs = append([]*doc(nil), docs...)
			}
			out = append(out, ctxShard{index: ix.name, docs: docs, maxWindow: ix.maxResultWindow()})
		}
	}
	return out
}

func (s *TestServer) expireLocked() {
	now := s.now()
	for id, c := range s.pits {
		if now.After(c.expires) {
			delete(s.pits, id)
		}
	}
	for id, c := range s.scrolls {
		if now.After(c.expires) {
			delete(s.scrolls, id)
		}
	}
}

func (s *TestServer) openPIT(w http.ResponseWriter, r *http.Request, target string) {
	if s.opts.NoPIT {
		noHandler(w, r)
		return
	}
	s.count("pit.open")
	ka := r.URL.Query().Get("keep_alive")
	if ka == "" {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not specified;", nil)
		return
	}
	d, err := parseTimeValue(ka)
	if err != nil {
		badRequest(w, "illegal_argument_exception", "%v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, rerr := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if rerr != nil {
		rerr.write(w)
		return
	}
	s.expireLocked()
	s.nextCtxID++
	c := &searchContext{id: newContextID(s.nextCtxID), shards: snapshotLocked(ixs, true), keepAlive: d, expires: s.now().Add(d)}
	s.pits[c.id] = c
	n := len(c.shards)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      c.id,
		"_shards": map[string]any{"total": n, "successful": n, "skipped": 0, "failed": 0},
	})
}

func (s *TestServer) closePIT(w http.ResponseWriter, r *http.Request) {
	if s.opts.NoPIT {
		noHandler(w, r)
		return
	}
	s.count("pit.close")
	body, _ := readBody(r)
	var req struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.ID == "" {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: [id] is required;", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	c, ok := s.pits[req.ID]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"succeeded": true, "num_freed": 0})
		return
	}
	delete(s.pits, req.ID)
	writeJSON(w, http.StatusOK, map[string]any{"succeeded": true, "num_freed": len(c.shards)})
}

func (s *TestServer) search(w http.ResponseWriter, r *http.Request, target string) {
	s.count("search")
	body, err := readBody(r)
	if err != nil {
		badRequest(w, "parse_exception", "cannot read body: %v", err)
		return
	}
	sp, serr := parseSearch(r, body)
	if serr != nil {
		serr.write(w)
		return
	}
	scroll := r.URL.Query().Get("scroll")
	switch {
	case sp.pitID != "" && target != "":
		writeError(w, http.StatusBadRequest, "action_request_validation_exception",
			"Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;", nil)
		return
	case sp.pitID != "" && scroll != "":
		writeError(w, http.StatusBadRequest, "action_request_validation_exception",
			"Validation Failed: 1: using [point in time] is not allowed in a scroll context;", nil)
		return
	case sp.pitID != "":
		s.searchPIT(w, sp)
		return
	case scroll != "":
		s.openScroll(w, r, target, sp, scroll)
		return
	}
	if sp.searchAfter != nil && sp.sortField == "_doc" {
		badRequest(w, "illegal_argument_exception", "test server: search_after without a point in time needs sort [_shard_doc]")
		return
	}
	if sp.sliceMax > 1 {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception",
			"Validation Failed: 1: [slice] can only be used with [scroll] or [point-in-time] requests;", nil)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ixs, rerr := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if rerr != nil {
		rerr.write(w)
		return
	}
	shards := snapshotLocked(ixs, false)
	if win := minWindow(shards); sp.from+sp.size > win {
		windowError(w, false, win, sp.from+sp.size)
		return
	}
	f := sliceFilter{shards: len(shards)}
	hits, _ := collect(shards, f, startOf(shards, sp), sp.desc, sp.from, sp.size)
	total := 0
	if sp.trackTotal != 0 {
		total = countLive(shards, f, sp.trackTotal)
	}
	b := getBuffer(shards, hits)
	defer putBuffer(b)
	renderHits(b, shards, hits, sp, total, "", "", len(shards))
	writeRaw(w, http.StatusOK, b.Bytes())
}

func (s *TestServer) searchPIT(w http.ResponseWriter, sp *searchSpec) {
	s.count("search.pit")
	s.mu.Lock()
	s.expireLocked()
	c, ok := s.pits[sp.pitID]
	if ok && sp.pitKeepAlive != "" {
		d, err := parseTimeValue(sp.pitKeepAlive)
		if err != nil {
			s.mu.Unlock()
			badRequest(w, "illegal_argument_exception", "%v", err)
			return
		}
		c.keepAlive = d
		c.expires = s.now().Add(d)
	}
	s.mu.Unlock()
	if !ok {
		contextMissing(w, sp.pitID)
		return
	}
	if win := minWindow(c.shards); sp.from+sp.size > win {
		windowError(w, false, win, sp.from+sp.size)
		return
	}
	if sp.sortField == "" && sp.searchAfter != nil && !sp.explicitSortOn {
		sp.sortField = "_shard_doc"
	}
	f := sliceFilter{id: sp.sliceID, max: sp.sliceMax, shards: len(c.shards)}
	hits, _ := collect(c.shards, f, startOf(c.shards, sp), sp.desc, sp.from, sp.size)
	total := 0
	if sp.trackTotal != 0 {
		total = countLive(c.shards, f, sp.trackTotal)
	}
	b := getBuffer(c.shards, hits)
	defer putBuffer(b)
	renderHits(b, c.shards, hits, sp, total, c.id, "", len(c.shards))
	writeRaw(w, http.StatusOK, b.Bytes())
}

func (s *TestServer) openScroll(w http.ResponseWriter, r *http.Request, target string, sp *searchSpec, keepAlive string) {
	if s.opts.NoScroll {
		badRequest(w, "illegal_argument_exception", "request [%s] contains unrecognized parameter: [scroll]", r.URL.Path)
		return
	}
	s.count("search.scroll")
	d, err := parseTimeValue(keepAlive)
	if err != nil {
		badRequest(w, "illegal_argument_exception", "%v", err)
		return
	}
	if sp.searchAfter != nil {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: [search_after] cannot be used in a scroll context;", nil)
		return
	}
	if sp.from > 0 {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: using [from] is not allowed in a scroll context;", nil)
		return
	}
	s.mu.Lock()
	ixs, rerr := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if rerr != nil {
		s.mu.Unlock()
		rerr.write(w)
		return
	}
	s.expireLocked()
	s.nextCtxID++
	c := &searchContext{id: newContextID(s.nextCtxID), scroll: true, shards: snapshotLocked(ixs, true), keepAlive: d, expires: s.now().Add(d), spec: sp}
	s.scrolls[c.id] = c
	s.mu.Unlock()
	if win := minWindow(c.shards); sp.size > win {
		s.mu.Lock()
		delete(s.scrolls, c.id)
		s.mu.Unlock()
		windowError(w, true, win, sp.size)
		return
	}
	c.next = startOf(c.shards, sp)
	f := sliceFilter{id: sp.sliceID, max: sp.sliceMax, shards: len(c.shards)}
	if sp.trackTotal != 0 {
		c.total = countLive(c.shards, f, -1)
	}
	s.scrollPage(w, c)
}

// scrollPage serves the next page of a scroll.
func (s *TestServer) scrollPage(w http.ResponseWriter, c *searchContext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sp := c.spec
	f := sliceFilter{id: sp.sliceID, max: sp.sliceMax, shards: len(c.shards)}
	hits, next := collect(c.shards, f, c.next, sp.desc, 0, sp.size)
	if sp.desc && len(hits) > 0 {
		last := hits[len(hits)-1]
		next = position{last.ord, last.pos - 1}
		if next.pos < 0 {
			next = position{last.ord - 1, 1<<31 - 1}
		}
	}
	c.next = next
	b := getBuffer(c.shards, hits)
	defer putBuffer(b)
	spec := *sp
	if spec.trackTotal > 0 {
		spec.trackTotal = -1
	}
	renderHits(b, c.shards, hits, &spec, c.total, "", c.id, len(c.shards))
	writeRaw(w, http.StatusOK, b.Bytes())
}

func (s *TestServer) scrollNext(w http.ResponseWriter, r *http.Request, pathID string) {
	s.count("search.scroll")
	body, _ := readBody(r)
	var req struct {
		Scroll   string `json:"scroll"`
		ScrollID string `json:"scroll_id"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			badRequest(w, "x_content_parse_exception", "[1:1] [scroll] failed to parse: %v", err)
			return
		}
	}
	if req.ScrollID == "" {
		req.ScrollID = r.URL.Query().Get("scroll_id")
	}
	if req.ScrollID == "" {
		req.ScrollID = pathID
	}
	if req.Scroll == "" {
		req.Scroll = r.URL.Query().Get("scroll")
	}
	if req.ScrollID == "" {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;", nil)
		return
	}
	s.mu.Lock()
	s.expireLocked()
	c, ok := s.scrolls[req.ScrollID]
	if ok && req.Scroll != "" {
		if d, err := parseTimeValue(req.Scroll); err == nil {
			c.keepAlive = d
		}
	}
	if ok {
		c.expires = s.now().Add(c.keepAlive)
	}
	s.mu.Unlock()
	if !ok {
		contextMissing(w, req.ScrollID)
		return
	}
	s.scrollPage(w, c)
}

func (s *TestServer) clearScroll(w http.ResponseWriter, r *http.Request, pathID string) {
	s.count("scroll.clear")
	body, _ := readBody(r)
	var ids []string
	if len(bytes.TrimSpace(body)) > 0 {
		var req struct {
			ScrollID json.RawMessage `json:"scroll_id"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			badRequest(w, "x_content_parse_exception", "[1:1] [clear_scroll] failed to parse: %v", err)
			return
		}
		var one string
		if json.Unmarshal(req.ScrollID, &one) == nil {
			ids = strings.Split(one, ",")
		} else {
			_ = json.Unmarshal(req.ScrollID, &ids)
		}
	}
	if pathID != "" {
		ids = append(ids, strings.Split(pathID, ",")...)
	}
	if len(ids) == 0 {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: no scroll ids specified;", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	freed := 0
	for _, id := range ids {
		if id == "_all" {
			for k, c := range s.scrolls {
				freed += len(c.shards)
				delete(s.scrolls, k)
			}
			continue
		}
		if c, ok := s.scrolls[id]; ok {
			freed += len(c.shards)
			delete(s.scrolls, id)
		}
	}
	status := http.StatusOK
	if freed == 0 {
		status = http.StatusNotFound
	}
	writeJSON(w, status, map[string]any{"succeeded": true, "num_freed": freed})
}

func (s *TestServer) countDocs(w http.ResponseWriter, r *http.Request, target string) {
	s.count("count")
	body, _ := readBody(r)
	if len(bytes.TrimSpace(body)) > 0 {
		var req struct {
			Query json.RawMessage `json:"query"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			badRequest(w, "x_content_parse_exception", "[1:1] [count] failed to parse: %v", err)
			return
		}
		if err := checkQuery(req.Query); err != nil {
			err.write(w)
			return
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ixs, rerr := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if rerr != nil {
		rerr.write(w)
		return
	}
	n, shards := 0, 0
	for _, ix := range ixs {
		n += ix.docCount(true)
		shards += len(ix.shards)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"count":   n,
		"_shards": map[string]any{"total": shards, "successful": shards, "skipped": 0, "failed": 0},
	})
}
