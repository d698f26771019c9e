package estest

import (
	"encoding/json"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

// AddDataStream creates a data stream with one hidden backing index holding
// docs (each a JSON object); for tests of what backups do with data streams.
func (s *TestServer) AddDataStream(name string, docs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	backing := ".ds-" + name + "-" + s.now().UTC().Format("2006.01.02") + "-000001"
	ix := s.newIndexLocked(backing, map[string]any{"index.hidden": "true"}, json.RawMessage(`{"properties":{"@timestamp":{"type":"date"}}}`))
	for i, d := range docs {
		ix.put(strconv.Itoa(i), "", []byte(d))
	}
	ix.refresh()
	s.dataStreams[name] = &dataStream{name: name, indices: []string{backing}}
}

func (s *TestServer) getDataStreams(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.dataStreams))
	for n := range s.dataStreams {
		if name == "" || name == "*" || name == "_all" || n == name {
			names = append(names, n)
		} else if ok, _ := path.Match(name, n); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if name != "" && !strings.ContainsAny(name, "*") && name != "_all" && len(names) == 0 {
		indexNotFound(w, name)
		return
	}
	list := []any{}
	for _, n := range names {
		ds := s.dataStreams[n]
		var backing []any
		for _, b := range ds.indices {
			uuid := ""
			if ix := s.indices[b]; ix != nil {
				uuid = ix.uuid
			}
			backing = append(backing, map[string]any{"index_name": b, "index_uuid": uuid, "prefer_ilm": true, "managed_by": "Unmanaged"})
		}
		list = append(list, map[string]any{
			"name":                 n,
			"timestamp_field":      map[string]any{"name": "@timestamp"},
			"indices":              backing,
			"generation":           len(ds.indices),
			"status":               "GREEN",
			"template":             n + "-template",
			"hidden":               false,
			"system":               false,
			"allow_custom_routing": false,
			"replicated":           false,
			"rollover_on_write":    false,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data_streams": list})
}
