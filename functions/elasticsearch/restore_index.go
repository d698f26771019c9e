package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// plan checks the target names before anything is written: with
// --existing=fail one existing index fails the restore.
func (rs *restorer) plan(ctx context.Context) error {
	var existing []string
	seen := map[string]bool{}
	for _, name := range rs.meta.Indices {
		target := rs.rename(name)
		if seen[target] {
			return corrupt("index %s listed twice", name)
		}
		seen[target] = true
		if msg := indexNameProblem(target); msg != "" {
			return fmt.Errorf("cannot restore index %s as %q: %s", name, target, msg)
		}
		exists, err := rs.exists(ctx, target)
		if err != nil {
			return err
		}
		st := &restoreIndex{name: name, target: target, skip: exists}
		if exists {
			existing = append(existing, target)
		}
		rs.state[name] = st
		rs.order = append(rs.order, name)
	}
	if len(existing) > 0 {
		if rs.r.existing == ExistingFail {
			return fmt.Errorf("%d index(es) to restore already exist: %s; delete them, restore under other names with --rename-prefix/--rename-suffix, or pass --existing=skip", len(existing), strings.Join(existing, ", "))
		}
		rs.log.Warn("skipping indices that already exist (--existing=skip)", "indices", strings.Join(existing, ","))
	}
	return nil
}

func indexNameProblem(name string) string {
	switch {
	case name != strings.ToLower(name):
		return "index names must be lower case"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `index names cannot contain \ / * ? " < > | space , # :`
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return "index names cannot start with _, - or +"
	case len(name) > 255:
		return "index names are at most 255 bytes"
	}
	return ""
}

func (rs *restorer) exists(ctx context.Context, target string) (bool, error) {
	res, err := rs.c.do(ctx, http.MethodHead, "/"+pathEscape(target), nil, nil)
	if err == nil {
		res.Body.Close()
		return true, nil
	}
	if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
		return false, nil
	}
	return false, err
}

// ensureCreated creates the index with its settings (refresh off), mappings
// and aliases, once.
func (rs *restorer) ensureCreated(ctx context.Context, st *restoreIndex) error {
	if st.created || st.skip {
		return nil
	}
	st.created = true
	if st.settings == nil {
		st.settings = Settings{}
	}
	create, after := loadTimeSettings(st.settings)
	st.after = after
	mappings := st.mappings
	if len(bytes.TrimSpace(mappings)) == 0 {
		mappings = json.RawMessage("{}")
	}
	body, _ := json.Marshal(map[string]any{"settings": nest(create), "mappings": mappings})
	err := rs.c.getJSON(ctx, http.MethodPut, "/"+pathEscape(st.target), nil, body, nil)
	if ae, ok := asAPIError(err); ok && ae.Type == "resource_already_exists_exception" {
		if rs.r.existing == ExistingSkip {
			rs.log.Warn("index appeared meanwhile; skipping it", "index", st.target)
			st.skip = true
			return nil
		}
		return fmt.Errorf("index %s was created by someone else during the restore", st.target)
	}
	if err != nil {
		return fmt.Errorf("creating index %s: %w", st.target, err)
	}
	st.createdByUs = true
	rs.log.Info("index created", "index", st.target, "from", st.name)
	return nil
}

// nest turns flat settings into the nested form without the "index."
// prefix ({"number_of_shards":…,"refresh_interval":…}), the form of the
// reference's examples, which Elasticsearch and the API-compatible servers
// all accept.
func nest(flat Settings) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts := strings.Split(strings.TrimPrefix(k, "index."), ".")
		m := root
		for i, p := range parts {
			if i == len(parts)-1 {
				m[p] = flat[k]
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

// addAliases adds the index's aliases (renamed) once its documents are in,
// with one _aliases request: applications that read through an alias see
// the index only complete, and servers that ignore aliases in the create
// request still get them.
func (rs *restorer) addAliases(ctx context.Context, st *restoreIndex) error {
	if len(bytes.TrimSpace(st.aliases)) == 0 {
		return nil
	}
	var defs map[string]map[string]any
	if err := json.Unmarshal(st.aliases, &defs); err != nil {
		return corrupt("%s/%s: %v", st.name, aliasesFile, err)
	}
	if len(defs) == 0 {
		return nil
	}
	names := make([]string, 0, len(defs))
	for a := range defs {
		names = append(names, a)
	}
	sort.Strings(names)
	var actions []any
	for _, a := range names {
		add := map[string]any{}
		for k, v := range defs[a] {
			add[k] = v
		}
		add["index"], add["alias"] = st.target, rs.rename(a)
		actions = append(actions, map[string]any{"add": add})
	}
	body, _ := json.Marshal(map[string]any{"actions": actions})
	if err := rs.c.getJSON(ctx, http.MethodPost, "/_aliases", nil, body, nil); err != nil {
		return fmt.Errorf("index %s: adding aliases %s: %w", st.target, strings.Join(names, ","), err)
	}
	return nil
}

// cleanup deletes the indices this run created, so that a retry finds the
// names free.
func (rs *restorer) cleanup(ctx context.Context) {
	// Documents still queued would re-create a deleted index.
	rs.ld.abort(ctx)
	for _, name := range rs.order {
		st := rs.state[name]
		if !st.createdByUs {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := rs.c.getJSON(cctx, http.MethodDelete, "/"+pathEscape(st.target), nil, nil, nil)
		cancel()
		if err != nil {
			rs.log.Warn("could not delete a partly restored index", "index", st.target, "err", err.Error())
			continue
		}
		rs.log.Info("deleted a partly restored index", "index", st.target)
	}
}
