package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// indexOne is PUT /<index>/_doc/<id>, for tests that set up data.
func (s *TestServer) indexOne(w http.ResponseWriter, r *http.Request, name, id string) {
	body, err := readBody(r)
	if err != nil || !json.Valid(body) || len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
		writeError(w, http.StatusBadRequest, "document_parsing_exception", "[1:1] failed to parse: source is not a JSON object", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		ix = s.newIndexLocked(name, map[string]any{}, json.RawMessage("{}"))
	}
	created := ix.put(id, r.URL.Query().Get("routing"), bytes.Clone(bytes.TrimSpace(body)))
	if ix.autoRefresh() || r.URL.Query().Get("refresh") != "" {
		ix.refresh()
	}
	status, result := http.StatusOK, "updated"
	if created {
		status, result = http.StatusCreated, "created"
	}
	writeJSON(w, status, map[string]any{"_index": name, "_id": id, "_version": 1, "result": result,
		"_shards": map[string]any{"total": 2, "successful": 1, "failed": 0}, "_seq_no": 0, "_primary_term": 1})
}

func (s *TestServer) getDoc(w http.ResponseWriter, name, id string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ix, ok := s.indices[name]
	if !ok {
		indexNotFound(w, name)
		return
	}
	for _, sh := range ix.shards {
		if pos, ok := sh.ids[id]; ok {
			d := sh.docs[pos]
			writeJSON(w, http.StatusOK, map[string]any{"_index": name, "_id": id, "_version": 1, "_seq_no": 0,
				"_primary_term": 1, "found": true, "_source": json.RawMessage(d.source)})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"_index": name, "_id": id, "found": false})
}
