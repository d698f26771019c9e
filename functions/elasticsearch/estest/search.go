package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
)

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
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
		return
	}
	shards := snapshotLocked(ixs, false)
	servePage(w, shards, sliceFilter{shards: len(shards)}, sp, "")
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
	if sp.sortField == "" && sp.searchAfter != nil && !sp.explicitSortOn {
		sp.sortField = "_shard_doc"
	}
	servePage(w, c.shards, sliceFilter{id: sp.sliceID, max: sp.sliceMax, shards: len(c.shards)}, sp, c.id)
}

// servePage answers a from/size page of a search over shards (of a point
// in time when pitID is set): the slice f's hits, within the result window,
// and the total as tracked.
func servePage(w http.ResponseWriter, shards []ctxShard, f sliceFilter, sp *searchSpec, pitID string) {
	if win := minWindow(shards); sp.from+sp.size > win {
		windowError(w, false, win, sp.from+sp.size)
		return
	}
	hits, _ := collect(shards, f, startOf(shards, sp), sp.desc, sp.from, sp.size)
	total := 0
	if sp.trackTotal != 0 {
		total = countLive(shards, f, sp.trackTotal)
	}
	b := getBuffer(shards, hits)
	defer putBuffer(b)
	renderHits(b, shards, hits, sp, total, pitID, "", len(shards))
	writeRaw(w, http.StatusOK, b.Bytes())
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
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
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
