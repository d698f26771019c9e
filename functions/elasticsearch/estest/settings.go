package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// privateSettings cannot be set by users (Elasticsearch answers 400).
var privateSettings = []string{
	"index.uuid", "index.version.created", "index.version.upgraded", "index.provided_name",
	"index.creation_date", "index.history.uuid", "index.resize.source.name", "index.resize.source.uuid",
}

// staticSettings cannot change on an open index.
var staticSettings = []string{"index.number_of_shards", "index.routing_partition_size", "index.codec", "index.mode"}

// flattenSettings turns {"index":{"a":{"b":1}}}, {"a.b":1} or
// {"index.a.b":"1"} into {"index.a.b":"1"}.
func flattenSettings(raw json.RawMessage) (map[string]any, error) {
	out := map[string]any{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return out, nil
	}
	var tree map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("failed to parse settings: %w", err)
	}
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		switch t := v.(type) {
		case map[string]any:
			for k, vv := range t {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				if err := walk(key, vv); err != nil {
					return err
				}
			}
		case []any:
			list := make([]string, 0, len(t))
			for _, e := range t {
				list = append(list, scalarString(e))
			}
			out[prefix] = list
		case nil:
			out[prefix] = nil
		default:
			out[prefix] = scalarString(t)
		}
		return nil
	}
	if err := walk("", tree); err != nil {
		return nil, err
	}
	norm := map[string]any{}
	for k, v := range out {
		if !strings.HasPrefix(k, "index.") {
			k = "index." + k
		}
		norm[k] = v
	}
	return norm, nil
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// nestSettings renders flat settings as Elasticsearch's nested form.
func nestSettings(flat map[string]any) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := strings.Split(k, ".")
		m := root
		for i, p := range parts {
			if i == len(parts)-1 {
				if _, isMap := m[p].(map[string]any); !isMap {
					m[p] = flat[k]
				}
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

func renderSettings(ix *index, r *http.Request) any {
	flat := map[string]any{}
	for k, v := range ix.settings {
		if v != nil {
			flat[k] = v
		}
	}
	if boolParam(r, "flat_settings") {
		return flat
	}
	return nestSettings(flat)
}

func (s *TestServer) getSettings(w http.ResponseWriter, r *http.Request, target string) {
	s.perIndex(w, r, target, func(ix *index) any { return map[string]any{"settings": renderSettings(ix, r)} })
}

func (s *TestServer) putSettings(w http.ResponseWriter, r *http.Request, target string) {
	body, rerr := readBody(r)
	if rerr != nil {
		badRequest(w, "parse_exception", "cannot read body: %v", rerr)
		return
	}
	var wrapped struct {
		Settings json.RawMessage `json:"settings"`
	}
	raw := json.RawMessage(body)
	if json.Unmarshal(body, &wrapped) == nil && len(wrapped.Settings) > 0 {
		raw = wrapped.Settings
	}
	settings, ferr := flattenSettings(raw)
	if ferr != nil {
		badRequest(w, "settings_exception", "%v", ferr)
		return
	}
	if len(settings) == 0 {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: no settings to update;", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
		return
	}
	for k := range settings {
		if slices.Contains(privateSettings, k) {
			badRequest(w, "illegal_argument_exception", "private index setting [%s] can not be set explicitly", k)
			return
		}
		if slices.Contains(staticSettings, k) {
			var names []string
			for _, ix := range ixs {
				names = append(names, "["+ix.name+"/"+ix.uuid+"]")
			}
			badRequest(w, "illegal_argument_exception", "Can't update non dynamic settings [[%s]] for open indices [%s]", k, strings.Join(names, ", "))
			return
		}
	}
	for _, ix := range ixs {
		wasManual := !ix.autoRefresh()
		for k, v := range settings {
			if v == nil {
				delete(ix.settings, k)
			} else {
				ix.settings[k] = v
			}
		}
		if wasManual && ix.autoRefresh() {
			ix.refresh()
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
}
