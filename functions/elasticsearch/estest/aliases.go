package estest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path"
)

func normAlias(def json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(def)) == 0 || string(bytes.TrimSpace(def)) == "null" {
		return json.RawMessage("{}")
	}
	return def
}

func (s *TestServer) aliasExistsLocked(name string) bool {
	for _, ix := range s.indices {
		if _, ok := ix.aliases[name]; ok {
			return true
		}
	}
	return false
}

func aliasMap(ix *index) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for a, def := range ix.aliases {
		out[a] = def
	}
	return out
}

func (s *TestServer) getAliases(w http.ResponseWriter, r *http.Request, target, name string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if target == "" {
		target = "_all"
	}
	ixs, ok := s.resolveRequestLocked(w, r, target, "all")
	if !ok {
		return
	}
	out := map[string]any{}
	for _, ix := range ixs {
		if name == "" {
			out[ix.name] = map[string]any{"aliases": aliasMap(ix)}
			continue
		}
		sel := map[string]json.RawMessage{}
		for a, def := range ix.aliases {
			if ok, _ := path.Match(name, a); ok || a == name {
				sel[a] = def
			}
		}
		if len(sel) > 0 {
			out[ix.name] = map[string]any{"aliases": sel}
		}
	}
	if name != "" && len(out) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "alias [" + name + "] missing", "status": 404})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

type aliasAction struct {
	Index         string          `json:"index,omitempty"`
	Indices       []string        `json:"indices,omitempty"`
	Alias         string          `json:"alias,omitempty"`
	Aliases       []string        `json:"aliases,omitempty"`
	Filter        json.RawMessage `json:"filter,omitempty"`
	Routing       string          `json:"routing,omitempty"`
	IndexRouting  string          `json:"index_routing,omitempty"`
	SearchRouting string          `json:"search_routing,omitempty"`
	IsWriteIndex  *bool           `json:"is_write_index,omitempty"`
	IsHidden      *bool           `json:"is_hidden,omitempty"`
	MustExist     *bool           `json:"must_exist,omitempty"`
}

func (s *TestServer) updateAliases(w http.ResponseWriter, r *http.Request) {
	body, rerr := readBody(r)
	if rerr != nil {
		badRequest(w, "parse_exception", "cannot read body: %v", rerr)
		return
	}
	var req struct {
		Actions []map[string]aliasAction `json:"actions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		badRequest(w, "x_content_parse_exception", "[1:2] [aliases] failed to parse: %v", err)
		return
	}
	if len(req.Actions) == 0 {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: Must specify at least one alias action;", nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type op struct {
		kind  string
		ix    *index
		alias string
		def   json.RawMessage
	}
	var ops []op
	for _, m := range req.Actions {
		for kind, a := range m {
			targets := a.Indices
			if a.Index != "" {
				targets = append(targets, a.Index)
			}
			names := a.Aliases
			if a.Alias != "" {
				names = append(names, a.Alias)
			}
			for _, t := range targets {
				ixs, err := s.resolveLocked(t, "open", false, true)
				if err != nil {
					err.write(w)
					return
				}
				for _, ix := range ixs {
					if kind == "remove_index" {
						ops = append(ops, op{kind: kind, ix: ix})
						continue
					}
					for _, n := range names {
						if _, clash := s.indices[n]; clash && kind == "add" {
							badRequest(w, "invalid_alias_name_exception", "Invalid alias name [%s]: an index or data stream exists with the same name as the alias", n)
							return
						}
						def := a
						def.Index, def.Indices, def.Alias, def.Aliases, def.MustExist = "", nil, "", nil, nil
						raw, _ := json.Marshal(def)
						ops = append(ops, op{kind: kind, ix: ix, alias: n, def: raw})
					}
				}
			}
			switch kind {
			case "add", "remove", "remove_index":
			default:
				badRequest(w, "x_content_parse_exception", "[1:13] [alias_action] unknown field [%s]", kind)
				return
			}
		}
	}
	for _, o := range ops {
		switch o.kind {
		case "add":
			o.ix.aliases[o.alias] = o.def
		case "remove":
			if _, ok := o.ix.aliases[o.alias]; !ok {
				writeError(w, http.StatusNotFound, "aliases_not_found_exception", "aliases ["+o.alias+"] missing", nil)
				return
			}
			delete(o.ix.aliases, o.alias)
		case "remove_index":
			delete(s.indices, o.ix.name)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true, "errors": false})
}
