package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

var validIndexName = func(name string) string {
	switch {
	case name == "" || name == "." || name == "..":
		return "must not be '.' or '..'"
	case strings.ToLower(name) != name:
		return "must be lowercase"
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return "must not start with '_', '-', or '+'"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`
	case len(name) > 255:
		return "index name is too long"
	}
	return ""
}

type createBody struct {
	Settings json.RawMessage            `json:"settings"`
	Mappings json.RawMessage            `json:"mappings"`
	Aliases  map[string]json.RawMessage `json:"aliases"`
}

func (s *TestServer) createIndex(w http.ResponseWriter, r *http.Request, name string) {
	s.count("create")
	body, err := readBody(r)
	if err != nil {
		badRequest(w, "parse_exception", "cannot read body: %v", err)
		return
	}
	var cb createBody
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cb); err != nil {
			badRequest(w, "x_content_parse_exception", "[1:2] [create_index] failed to parse: %v", err)
			return
		}
	}
	settings, err := flattenSettings(cb.Settings)
	if err != nil {
		badRequest(w, "settings_exception", "%v", err)
		return
	}
	for _, p := range privateSettings {
		if _, ok := settings[p]; ok {
			badRequest(w, "illegal_argument_exception", "private index setting [%s] can not be set explicitly", p)
			return
		}
	}
	mappings := cb.Mappings
	if len(bytes.TrimSpace(mappings)) == 0 || string(bytes.TrimSpace(mappings)) == "null" {
		mappings = json.RawMessage("{}")
	}
	if !json.Valid(mappings) || bytes.TrimSpace(mappings)[0] != '{' {
		badRequest(w, "mapper_parsing_exception", "Failed to parse mapping: mappings must be an object")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if why := validIndexName(name); why != "" {
		badRequest(w, "invalid_index_name_exception", "Invalid index name [%s], %s", name, why)
		return
	}
	if ix, ok := s.indices[name]; ok {
		writeError(w, http.StatusBadRequest, "resource_already_exists_exception",
			"index ["+name+"/"+ix.uuid+"] already exists", map[string]any{"index_uuid": ix.uuid, "index": name})
		return
	}
	if s.aliasExistsLocked(name) {
		badRequest(w, "invalid_index_name_exception", "Invalid index name [%s], already exists as alias", name)
		return
	}
	for a := range cb.Aliases {
		if _, ok := s.indices[a]; ok || a == name {
			badRequest(w, "invalid_alias_name_exception", "Invalid alias name [%s]: an index or data stream exists with the same name as the alias", a)
			return
		}
	}
	ix := s.newIndexLocked(name, settings, mappings)
	for a, def := range cb.Aliases {
		ix.aliases[a] = normAlias(def)
	}
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name})
}

// newIndexLocked creates an index with Elasticsearch's defaults and
// system-managed settings; s.mu must be held.
func (s *TestServer) newIndexLocked(name string, settings map[string]any, mappings json.RawMessage) *index {
	s.nextCtxID++
	ix := &index{
		name:     name,
		uuid:     newUUID(),
		settings: settings,
		mappings: mappings,
		aliases:  map[string]json.RawMessage{},
	}
	if _, ok := settings["index.number_of_shards"]; !ok {
		settings["index.number_of_shards"] = strconv.Itoa(s.opts.DefaultShards)
	}
	if _, ok := settings["index.number_of_replicas"]; !ok {
		settings["index.number_of_replicas"] = "1"
	}
	if _, ok := settings["index.routing.allocation.include._tier_preference"]; !ok {
		settings["index.routing.allocation.include._tier_preference"] = "data_content"
	}
	settings["index.uuid"] = ix.uuid
	settings["index.creation_date"] = strconv.FormatInt(s.now().UnixMilli(), 10)
	settings["index.provided_name"] = name
	settings["index.version.created"] = "8521000"
	n := ix.intSetting("index.number_of_shards", 1)
	if n < 1 {
		n = 1
	}
	for range n {
		ix.shards = append(ix.shards, &shard{ids: map[string]int{}})
	}
	s.indices[name] = ix
	return ix
}

// newUUID returns a random index UUID shaped like Elasticsearch's (22
// URL-safe base64 characters).
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *TestServer) indexExists(w http.ResponseWriter, name string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.resolveLocked(name, "open", false, false); err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *TestServer) getIndex(w http.ResponseWriter, r *http.Request, target string) {
	s.perIndex(w, r, target, func(ix *index) any {
		return map[string]any{
			"aliases":  aliasMap(ix),
			"mappings": ix.mappings,
			"settings": renderSettings(ix, r),
		}
	})
}

func (s *TestServer) deleteIndex(w http.ResponseWriter, r *http.Request, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
		return
	}
	for _, ix := range ixs {
		delete(s.indices, ix.name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
}

func (s *TestServer) getMappings(w http.ResponseWriter, r *http.Request, target string) {
	s.perIndex(w, r, target, func(ix *index) any { return map[string]any{"mappings": ix.mappings} })
}

// refresh makes every written document visible.
func (s *TestServer) refresh(w http.ResponseWriter, r *http.Request, target string) {
	s.count("refresh")
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
		return
	}
	total := 0
	for _, ix := range ixs {
		ix.refresh()
		total += len(ix.shards) * (1 + ix.intSetting("index.number_of_replicas", 1))
	}
	primaries := 0
	for _, ix := range ixs {
		primaries += len(ix.shards)
	}
	writeJSON(w, http.StatusOK, map[string]any{"_shards": map[string]any{"total": total, "successful": primaries, "failed": 0}})
}

func (s *TestServer) catIndices(w http.ResponseWriter, r *http.Request, target string) {
	s.count("cat.indices")
	s.mu.RLock()
	defer s.mu.RUnlock()
	// _cat/indices expands wildcards to all indices (hidden too) by default.
	ixs, err := s.resolveLocked(target, expandParam(r, "all"), false, true)
	if err != nil {
		err.write(w)
		return
	}
	rows := make([]map[string]any, 0, len(ixs))
	for _, ix := range ixs {
		size := 0
		for _, sh := range ix.shards {
			for _, d := range sh.docs {
				if d != nil {
					size += len(d.source)
				}
			}
		}
		health := "green"
		if ix.intSetting("index.number_of_replicas", 1) > 0 {
			health = "yellow"
		}
		rows = append(rows, map[string]any{
			"health":         health,
			"status":         "open",
			"index":          ix.name,
			"uuid":           ix.uuid,
			"pri":            strconv.Itoa(len(ix.shards)),
			"rep":            ix.setting("index.number_of_replicas", "1"),
			"docs.count":     strconv.Itoa(ix.docCount(true)),
			"docs.deleted":   "0",
			"store.size":     humanBytes(size),
			"pri.store.size": humanBytes(size),
			"dataset.size":   humanBytes(size),
		})
	}
	if r.URL.Query().Get("format") != "json" {
		var b strings.Builder
		for _, row := range rows {
			fmt.Fprintf(&b, "%s %s %s %s %s %s %s %s %s %s\n", row["health"], row["status"], row["index"], row["uuid"],
				row["pri"], row["rep"], row["docs.count"], row["docs.deleted"], row["store.size"], row["pri.store.size"])
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write([]byte(b.String()))
		return
	}
	if h := r.URL.Query().Get("h"); h != "" {
		cols := strings.Split(h, ",")
		for i, row := range rows {
			sel := map[string]any{}
			for _, c := range cols {
				if v, ok := row[c]; ok {
					sel[c] = v
				}
			}
			rows[i] = sel
		}
	}
	writeJSON(w, http.StatusOK, rows)
}

// humanBytes prints a size as Elasticsearch's _cat APIs do: lower-case
// binary units and no space ("512b", "1.5kb", "3.0mb"). go-humanize has no
// such format, and a fake server should answer as the real one does.
func humanBytes(n int) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fgb", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fmb", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkb", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%db", n)
}
