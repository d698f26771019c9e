package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Helpers for tests that set up or inspect data directly.

// CreateIndex creates an index as PUT /<name> with body would (body may be
// empty).
func (s *TestServer) CreateIndex(name, body string) error {
	req, _ := http.NewRequest(http.MethodPut, "/"+name, strings.NewReader(body))
	rec := newRecorder()
	s.route(rec, req)
	if rec.status >= 300 {
		return fmt.Errorf("create index %s: %d %s", name, rec.status, rec.body.String())
	}
	return nil
}

// Put stores documents (id → JSON source) in an existing index and refreshes
// it.
func (s *TestServer) Put(name string, docs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		return fmt.Errorf("no index %s", name)
	}
	for id, src := range docs {
		if !json.Valid([]byte(src)) {
			return fmt.Errorf("document %s: invalid JSON", id)
		}
		ix.put(id, "", []byte(src))
	}
	ix.refresh()
	return nil
}

// PutGenerated stores n documents with ids id-0 … id-(n-1) made by gen and
// refreshes the index; for large fixtures and benchmarks.
func (s *TestServer) PutGenerated(name string, n int, gen func(i int, buf []byte) (id string, source []byte)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		return fmt.Errorf("no index %s", name)
	}
	var buf []byte
	for i := range n {
		id, src := gen(i, buf[:0])
		buf = src
		ix.put(id, "", bytes.Clone(src))
	}
	ix.refresh()
	return nil
}

// Documents returns an index's live documents (id → source), refreshed or
// not.
func (s *TestServer) Documents(name string) (map[string]json.RawMessage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, ok := s.indices[name]
	if !ok {
		return nil, fmt.Errorf("no index %s", name)
	}
	out := map[string]json.RawMessage{}
	for _, sh := range ix.shards {
		for _, d := range sh.docs {
			if d != nil {
				out[d.id] = d.source
			}
		}
	}
	return out, nil
}

// IndexInfo is what the server holds about one index.
type IndexInfo struct {
	Settings map[string]any
	Mappings json.RawMessage
	Aliases  map[string]json.RawMessage
	Docs     int
}

// Index returns a copy of what the server holds about an index.
func (s *TestServer) Index(name string) (IndexInfo, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, ok := s.indices[name]
	if !ok {
		return IndexInfo{}, false
	}
	info := IndexInfo{Settings: map[string]any{}, Mappings: ix.mappings, Aliases: aliasMap(ix), Docs: ix.docCount(false)}
	for k, v := range ix.settings {
		info.Settings[k] = v
	}
	return info, true
}

// Indices returns the names of all indices, sorted.
func (s *TestServer) Indices() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var names []string
	for n := range s.indices {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SetNow replaces the server's clock (for scroll and point-in-time expiry).
func (s *TestServer) SetNow(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}, status: 200} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) WriteHeader(code int)        { r.status = code }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
