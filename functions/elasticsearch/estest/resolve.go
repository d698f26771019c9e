package estest

import (
	"net/http"
	"path"
	"sort"
	"strings"
)

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
	// mark adds an index to the result, or takes it out ("-name").
	mark := func(name string, ix *index, exclude bool) {
		if exclude {
			delete(seen, name)
		} else {
			seen[name] = ix
		}
	}
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
				if ix.hidden() && !hidden && (!strings.HasPrefix(pat, ".") || !strings.HasPrefix(n, ".")) {
					continue
				}
				mark(n, ix, exclude)
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
			mark(part, ix, exclude)
		}
		for n, ix := range s.indices {
			if _, ok := ix.aliases[part]; ok {
				found = true
				mark(n, ix, exclude)
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

// resolveRequestLocked resolves a request's target as most APIs do
// (expand_wildcards defaulting to expand, ignore_unavailable, no match is
// no error); it writes the error and reports false when that fails. s.mu
// must be held.
func (s *TestServer) resolveRequestLocked(w http.ResponseWriter, r *http.Request, target, expand string) ([]*index, bool) {
	ixs, err := s.resolveLocked(target, expandParam(r, expand), boolParam(r, "ignore_unavailable"), true)
	if err != nil {
		err.write(w)
		return nil, false
	}
	return ixs, true
}

// perIndex answers {"<index>": render(index)} for the open indices a GET
// request's target names.
func (s *TestServer) perIndex(w http.ResponseWriter, r *http.Request, target string, render func(*index) any) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ixs, ok := s.resolveRequestLocked(w, r, target, "open")
	if !ok {
		return
	}
	out := map[string]any{}
	for _, ix := range ixs {
		out[ix.name] = render(ix)
	}
	writeJSON(w, http.StatusOK, out)
}
