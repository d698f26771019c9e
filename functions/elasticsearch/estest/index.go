package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// index is one index: settings (flat, "index."-prefixed, values as
// Elasticsearch returns them: strings or lists of strings), mappings as
// given, aliases and shards of documents.
type index struct {
	name     string
	uuid     string
	settings map[string]any
	mappings json.RawMessage
	aliases  map[string]json.RawMessage
	shards   []*shard
}

// shard holds documents in insertion order; a deleted document leaves a nil.
// Documents at positions below visible have been refreshed.
type shard struct {
	docs    []*doc
	ids     map[string]int
	live    int
	visible int
	// visibleLive counts live documents below visible.
	visibleLive int
}

// doc is a stored document; head is the start of its search hit,
// `{"_index":"name","_id":"id"` (plus "_routing"), rendered once.
type doc struct {
	id      string
	routing string
	head    []byte
	source  []byte
}

// dataStream is a data stream and its backing indices.
type dataStream struct {
	name    string
	indices []string
}

func (ix *index) hidden() bool {
	return ix.settings["index.hidden"] == "true"
}

func (ix *index) setting(key, def string) string {
	if v, ok := ix.settings[key].(string); ok {
		return v
	}
	return def
}

func (ix *index) intSetting(key string, def int) int {
	if n, err := strconv.Atoi(ix.setting(key, "")); err == nil {
		return n
	}
	return def
}

func (ix *index) autoRefresh() bool { return ix.setting("index.refresh_interval", "1s") != "-1" }

func (ix *index) maxResultWindow() int { return ix.intSetting("index.max_result_window", 10000) }

// writeBlock returns the block that forbids writes, or "".
func (ix *index) writeBlock() string {
	switch {
	case ix.settings["index.blocks.read_only"] == "true":
		return "FORBIDDEN/5/index read-only (api)"
	case ix.settings["index.blocks.write"] == "true":
		return "FORBIDDEN/8/index write (api)"
	}
	return ""
}

func (ix *index) docCount(visibleOnly bool) int {
	n := 0
	for _, sh := range ix.shards {
		if visibleOnly {
			n += sh.visibleLive
		} else {
			n += sh.live
		}
	}
	return n
}

func (ix *index) refresh() {
	for _, sh := range ix.shards {
		sh.visible = len(sh.docs)
		sh.visibleLive = sh.live
	}
}

func (ix *index) shardFor(id, routing string) *shard {
	key := id
	if routing != "" {
		key = routing
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return ix.shards[int(h.Sum32()%uint32(len(ix.shards)))]
}

// put stores a document; it reports whether it was created (not updated).
func (ix *index) put(id, routing string, source []byte) bool {
	sh := ix.shardFor(id, routing)
	d := &doc{id: id, routing: routing, source: source}
	head := make([]byte, 0, 24+len(ix.name)+len(id)+len(routing))
	head = append(head, `{"_index":`...)
	head = appendString(head, ix.name)
	head = append(head, `,"_id":`...)
	head = appendString(head, id)
	if routing != "" {
		head = append(head, `,"_routing":`...)
		head = appendString(head, routing)
	}
	d.head = head
	if pos, ok := sh.ids[id]; ok {
		sh.docs[pos] = d
		return false
	}
	sh.ids[id] = len(sh.docs)
	sh.docs = append(sh.docs, d)
	sh.live++
	return true
}

// remove deletes a document; it reports whether it existed.
func (ix *index) remove(id, routing string) bool {
	sh := ix.shardFor(id, routing)
	pos, ok := sh.ids[id]
	if !ok {
		return false
	}
	delete(sh.ids, id)
	sh.docs[pos] = nil
	sh.live--
	if pos < sh.visible {
		sh.visibleLive--
	}
	return true
}

func writeString(b *bytes.Buffer, s string) {
	var tmp [128]byte
	b.Write(appendString(tmp[:0], s))
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, everything else as it is (UTF-8).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

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
		return nil, fmt.Errorf("failed to parse settings: %v", err)
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	ixs, err := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
		return
	}
	out := map[string]any{}
	for _, ix := range ixs {
		out[ix.name] = map[string]any{
			"aliases":  aliasMap(ix),
			"mappings": ix.mappings,
			"settings": renderSettings(ix, r),
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *TestServer) deleteIndex(w http.ResponseWriter, r *http.Request, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, err := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
		return
	}
	for _, ix := range ixs {
		delete(s.indices, ix.name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
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

func aliasMap(ix *index) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for a, def := range ix.aliases {
		out[a] = def
	}
	return out
}

func (s *TestServer) getSettings(w http.ResponseWriter, r *http.Request, target string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ixs, err := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
		return
	}
	out := map[string]any{}
	for _, ix := range ixs {
		out[ix.name] = map[string]any{"settings": renderSettings(ix, r)}
	}
	writeJSON(w, http.StatusOK, out)
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
	ixs, err := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
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

func (s *TestServer) getMappings(w http.ResponseWriter, r *http.Request, target string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ixs, err := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
		return
	}
	out := map[string]any{}
	for _, ix := range ixs {
		out[ix.name] = map[string]any{"mappings": ix.mappings}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *TestServer) getAliases(w http.ResponseWriter, r *http.Request, target, name string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if target == "" {
		target = "_all"
	}
	ixs, err := s.resolveLocked(target, expandParam(r, "all"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
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

// resolveError is an index resolution failure.
type resolveError struct{ name string }

func (e *resolveError) write(w http.ResponseWriter) { indexNotFound(w, e.name) }

func expandParam(r *http.Request, def string) string {
	if v := r.URL.Query().Get("expand_wildcards"); v != "" {
		return v
	}
	return def
}

// resolveLocked expands a target (comma-separated names, aliases, data
// streams and wildcards; "_all" and "*") into indices, sorted by name.
// expand is expand_wildcards (open, hidden, all, none; closed indices do not
// exist here). s.mu must be held.
func (s *TestServer) resolveLocked(target, expand string, ignoreUnavailable, allowNoIndices bool) ([]*index, *resolveError) {
	hidden := strings.Contains(expand, "hidden") || strings.Contains(expand, "all")
	none := expand == "none"
	seen := map[string]*index{}
	if target == "" {
		target = "_all"
	}
	for _, part := range strings.Split(target, ",") {
		part = strings.TrimSpace(part)
		exclude := false
		if strings.HasPrefix(part, "-") && len(part) > 1 {
			exclude, part = true, part[1:]
		}
		if part == "_all" || strings.ContainsAny(part, "*?") {
			if none {
				continue
			}
			pat := part
			if pat == "_all" {
				pat = "*"
			}
			for n, ix := range s.indices {
				if ok, _ := path.Match(pat, n); !ok {
					continue
				}
				if ix.hidden() && !hidden && !(strings.HasPrefix(pat, ".") && strings.HasPrefix(n, ".")) {
					continue
				}
				if exclude {
					delete(seen, n)
				} else {
					seen[n] = ix
				}
			}
			for n, ds := range s.dataStreams {
				if ok, _ := path.Match(pat, n); ok && !exclude {
					for _, b := range ds.indices {
						if ix := s.indices[b]; ix != nil {
							seen[b] = ix
						}
					}
				}
			}
			continue
		}
		found := false
		if ix, ok := s.indices[part]; ok {
			found = true
			if exclude {
				delete(seen, part)
			} else {
				seen[part] = ix
			}
		}
		for n, ix := range s.indices {
			if _, ok := ix.aliases[part]; ok {
				found = true
				if exclude {
					delete(seen, n)
				} else {
					seen[n] = ix
				}
			}
		}
		if ds, ok := s.dataStreams[part]; ok {
			found = true
			for _, b := range ds.indices {
				if ix := s.indices[b]; ix != nil && !exclude {
					seen[b] = ix
				}
			}
		}
		if !found && !exclude && !ignoreUnavailable {
			return nil, &resolveError{name: part}
		}
	}
	if len(seen) == 0 && !allowNoIndices {
		return nil, &resolveError{name: target}
	}
	out := make([]*index, 0, len(seen))
	for _, ix := range seen {
		out = append(out, ix)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// refresh makes every written document visible.
func (s *TestServer) refresh(w http.ResponseWriter, r *http.Request, target string) {
	s.count("refresh")
	s.mu.Lock()
	defer s.mu.Unlock()
	ixs, err := s.resolveLocked(target, expandParam(r, "open"), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
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
