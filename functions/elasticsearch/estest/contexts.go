package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
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
	spec  *searchSpec
	next  position
	total int
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
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
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
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
		s.mu.Unlock()
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
