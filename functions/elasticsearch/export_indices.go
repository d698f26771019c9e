package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// listIndices returns the indices to back up, sorted, and the data streams
// the patterns match (reported, not backed up).
func (x *exporter) listIndices(ctx context.Context) ([]string, []string, error) {
	expand := "open"
	if x.o.includeHidden {
		expand = "all"
	}
	var rows []struct {
		Index  string `json:"index"`
		Status string `json:"status"`
	}
	q := url.Values{"format": {"json"}, "h": {"index,status"}, "expand_wildcards": {expand}}
	err := x.c.getJSON(ctx, http.MethodGet, "/_cat/indices", q, nil, &rows)
	if ae, ok := asAPIError(err); ok && ae.missingAPI() {
		x.log.Info("the server has no _cat/indices: taking --include as index names")
		names, err := x.literalIndices(ctx)
		return names, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing indices: %w", err)
	}
	streams, backing, err := x.dataStreams(ctx, expand)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, r := range rows {
		switch {
		case backing[r.Index]:
			continue
		case !x.o.includeHidden && strings.HasPrefix(r.Index, "."):
			continue
		case !x.selected(r.Index):
			continue
		case r.Status == "close":
			x.log.Warn("skipping a closed index (open it to back it up)", "index", r.Index)
			continue
		}
		names = append(names, r.Index)
	}
	sort.Strings(names)
	var matched []string
	for _, s := range streams {
		if x.selected(s) {
			matched = append(matched, s)
		}
	}
	return names, matched, nil
}

func (x *exporter) selected(name string) bool {
	return matchAny(x.o.include, name) && !matchAny(x.o.exclude, name)
}

// literalIndices checks that each --include entry names an existing index;
// for servers that cannot list indices.
func (x *exporter) literalIndices(ctx context.Context) ([]string, error) {
	var names []string
	for _, p := range x.o.include {
		if strings.ContainsAny(p, "*?") {
			return nil, fmt.Errorf("--include=%s: this server cannot list indices (no _cat/indices API), so patterns cannot be expanded; name the indices", strings.Join(x.o.include, ","))
		}
		if matchAny(x.o.exclude, p) {
			continue
		}
		if err := x.c.getJSON(ctx, http.MethodGet, "/"+pathEscape(p)+"/_mapping", nil, nil, nil); err != nil {
			if ae, ok := asAPIError(err); ok && ae.Status < 500 {
				return nil, fmt.Errorf("--include: index %s: %w", p, err)
			}
			return nil, err
		}
		names = append(names, p)
	}
	sort.Strings(names)
	return names, nil
}

// dataStreams returns the data streams and the set of their backing indices.
func (x *exporter) dataStreams(ctx context.Context, expand string) ([]string, map[string]bool, error) {
	var ds struct {
		DataStreams []struct {
			Name    string `json:"name"`
			Indices []struct {
				IndexName string `json:"index_name"`
			} `json:"indices"`
		} `json:"data_streams"`
	}
	backing := map[string]bool{}
	err := x.c.getJSON(ctx, http.MethodGet, "/_data_stream", url.Values{"expand_wildcards": {expand}}, nil, &ds)
	if ae, ok := asAPIError(err); ok && (ae.missingAPI() || ae.Status == http.StatusBadRequest) {
		return nil, backing, nil // no data streams before 7.9
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing data streams: %w", err)
	}
	var names []string
	for _, d := range ds.DataStreams {
		names = append(names, d.Name)
		for _, i := range d.Indices {
			backing[i.IndexName] = true
		}
	}
	sort.Strings(names)
	return names, backing, nil
}

// matchAny reports whether name matches one of the patterns ('*' any run,
// '?' one character).
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if p = strings.TrimSpace(p); p != "" && wildcard(p, name) {
			return true
		}
	}
	return false
}

func wildcard(p, s string) bool {
	// Iterative matching with backtracking to the last '*'.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// indexDefinition reads an index's settings, mappings and aliases.
func (x *exporter) indexDefinition(ctx context.Context, name string) (Settings, json.RawMessage, json.RawMessage, error) {
	p := "/" + pathEscape(name)
	var settings map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	if err := x.c.getJSON(ctx, http.MethodGet, p+"/_settings", url.Values{"flat_settings": {"true"}}, nil, &settings); err != nil {
		return nil, nil, nil, fmt.Errorf("settings: %w", err)
	}
	var mappings map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := x.c.getJSON(ctx, http.MethodGet, p+"/_mapping", nil, nil, &mappings); err != nil {
		return nil, nil, nil, fmt.Errorf("mappings: %w", err)
	}
	var aliases map[string]struct {
		Aliases json.RawMessage `json:"aliases"`
	}
	err := x.c.getJSON(ctx, http.MethodGet, p+"/_alias", nil, nil, &aliases)
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound && ae.Type != "index_not_found_exception" {
		err = nil // some servers answer 404 when an index has no alias
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("aliases: %w", err)
	}
	s := settings[name].Settings
	m := mappings[name].Mappings
	a := aliases[name].Aliases
	if s == nil && len(settings) == 1 {
		for _, v := range settings {
			s = v.Settings
		}
	}
	if m == nil && len(mappings) == 1 {
		for _, v := range mappings {
			m = v.Mappings
		}
	}
	if len(bytes.TrimSpace(m)) == 0 || string(m) == "null" {
		m = json.RawMessage("{}")
	}
	if len(bytes.TrimSpace(a)) == 0 || string(a) == "null" {
		a = json.RawMessage("{}")
	}
	return flatten(s), m, a, nil
}
