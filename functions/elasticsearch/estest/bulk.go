package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

type bulkMeta struct {
	Index   string `json:"_index"`
	ID      string `json:"_id"`
	Routing string `json:"routing"`
}

// bulk is POST /_bulk and /<index>/_bulk: index, create and delete actions
// (update is refused), one response item per action.
func (s *TestServer) bulk(w http.ResponseWriter, r *http.Request, defaultIndex string) {
	s.count("bulk")
	start := time.Now()
	body, err := readBody(r)
	if err != nil {
		badRequest(w, "parse_exception", "cannot read body: %v", err)
		return
	}
	if len(body) > maxContentLength {
		writeError(w, http.StatusRequestEntityTooLarge, "content_too_long_exception", "entity content is too long", nil)
		return
	}
	if len(body) == 0 {
		writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: no requests added;", nil)
		return
	}
	if body[len(body)-1] != '\n' {
		badRequest(w, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
		return
	}
	type item struct {
		action string
		meta   bulkMeta
		source []byte
	}
	var items []item
	line := 0
	for rest := body; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		act := bytes.TrimSpace(rest[:i])
		rest = rest[i+1:]
		line++
		if len(act) == 0 {
			continue
		}
		var m struct {
			Index, Create, Delete, Update *bulkMeta
		}
		if err := json.Unmarshal(act, &m); err != nil {
			badRequest(w, "illegal_argument_exception", "Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]", line)
			return
		}
		var it item
		n := 0
		for _, a := range []struct {
			name string
			meta *bulkMeta
		}{{"index", m.Index}, {"create", m.Create}, {"delete", m.Delete}, {"update", m.Update}} {
			if a.meta != nil {
				it.action, it.meta = a.name, *a.meta
				n++
			}
		}
		if n != 1 {
			badRequest(w, "illegal_argument_exception", "Malformed action/metadata line [%d], expected field [create], [delete], [index] or [update] but found [%s]", line, string(act))
			return
		}
		switch it.action {
		case "index", "create":
			if len(rest) == 0 {
				badRequest(w, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
				return
			}
			j := bytes.IndexByte(rest, '\n')
			it.source = bytes.TrimSpace(rest[:j])
			rest = rest[j+1:]
			line++
		case "delete":
		case "update":
			badRequest(w, "illegal_argument_exception", "test server: bulk action [update] is not supported")
			return
		}
		if it.meta.Index == "" {
			it.meta.Index = defaultIndex
		}
		if it.meta.Index == "" {
			writeError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index is missing;", nil)
			return
		}
		items = append(items, it)
	}
	s.countN("bulk.items", int64(len(items)))

	var out bytes.Buffer
	out.Grow(64 + len(items)*160)
	hasErrors := false
	touched := map[*index]bool{}
	s.mu.Lock()
	out.WriteString(`{"errors":`)
	errPos := out.Len()
	out.WriteString(`false,"took":`)
	tookPos := out.Len()
	out.WriteString(`0000000,"items":[`)
	for n, it := range items {
		if n > 0 {
			out.WriteByte(',')
		}
		fail := func(status int, typ, reason string, ix *index) {
			hasErrors = true
			fmt.Fprintf(&out, `{%q:{"_index":`, it.action)
			writeString(&out, it.meta.Index)
			out.WriteString(`,"_id":`)
			writeString(&out, it.meta.ID)
			fmt.Fprintf(&out, `,"status":%d,"error":{"type":%q,"reason":`, status, typ)
			writeString(&out, reason)
			if ix != nil {
				fmt.Fprintf(&out, `,"index_uuid":%q,"shard":"0","index":`, ix.uuid)
				writeString(&out, ix.name)
			}
			out.WriteString(`}}}`)
		}
		if s.itemRejects.Load() > 0 && s.itemRejects.Add(-1) >= 0 {
			s.count("rejected")
			fail(http.StatusTooManyRequests, "es_rejected_execution_exception",
				"rejected execution of primary operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, primary_operation_bytes=0, max_coordinating_and_primary_bytes=0]", nil)
			continue
		}
		ix, ok := s.indices[it.meta.Index]
		if !ok {
			for _, cand := range s.indices {
				if _, isAlias := cand.aliases[it.meta.Index]; isAlias {
					ix, ok = cand, true
					break
				}
			}
		}
		if !ok {
			if it.action == "delete" {
				fail(http.StatusNotFound, "index_not_found_exception", "no such index ["+it.meta.Index+"]", nil)
				continue
			}
			if why := validIndexName(it.meta.Index); why != "" {
				fail(http.StatusBadRequest, "invalid_index_name_exception", "Invalid index name ["+it.meta.Index+"], "+why, nil)
				continue
			}
			ix = s.newIndexLocked(it.meta.Index, map[string]any{}, json.RawMessage("{}"))
		}
		if blk := ix.writeBlock(); blk != "" {
			fail(http.StatusForbidden, "cluster_block_exception", "index ["+ix.name+"] blocked by: ["+blk+"];", nil)
			continue
		}
		status, result := http.StatusOK, ""
		switch it.action {
		case "index", "create":
			if len(it.source) == 0 || it.source[0] != '{' || !json.Valid(it.source) {
				fail(http.StatusBadRequest, "document_parsing_exception", "[1:1] failed to parse: source is not a valid JSON object", ix)
				continue
			}
			if it.meta.ID == "" {
				it.meta.ID = autoID()
			}
			if it.action == "create" {
				if _, exists := ix.shardFor(it.meta.ID, it.meta.Routing).ids[it.meta.ID]; exists {
					fail(http.StatusConflict, "version_conflict_engine_exception",
						"["+it.meta.ID+"]: version conflict, document already exists (current version [1])", ix)
					continue
				}
			}
			// The source stays a slice of the request body: no copy.
			if ix.put(it.meta.ID, it.meta.Routing, it.source) {
				status, result = http.StatusCreated, "created"
			} else {
				result = "updated"
			}
		case "delete":
			if ix.remove(it.meta.ID, it.meta.Routing) {
				result = "deleted"
			} else {
				status, result = http.StatusNotFound, "not_found"
			}
		}
		touched[ix] = true
		fmt.Fprintf(&out, `{%q:{"_index":`, it.action)
		writeString(&out, ix.name)
		out.WriteString(`,"_id":`)
		writeString(&out, it.meta.ID)
		fmt.Fprintf(&out, `,"_version":1,"result":%q,"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1,"status":%d}}`, result, n, status)
	}
	refresh := r.URL.Query()["refresh"]
	for ix := range touched {
		if ix.autoRefresh() || (len(refresh) > 0 && refresh[0] != "false") {
			ix.refresh()
		}
	}
	s.mu.Unlock()
	out.WriteString(`]}`)
	b := out.Bytes()
	if hasErrors {
		// "false," and "true ," are the same length.
		copy(b[errPos:], "true ")
	}
	took := strconv.FormatInt(time.Since(start).Milliseconds(), 10)
	if len(took) > 7 {
		took = "9999999"
	}
	copy(b[tookPos:tookPos+7], fmt.Sprintf("%-7s", took))
	writeRaw(w, http.StatusOK, b)
}

func autoID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
