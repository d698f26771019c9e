package estest

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

var responses sync.Pool

// getBuffer returns a buffer with room for a response holding hits.
func getBuffer(shards []ctxShard, hits []position) *bytes.Buffer {
	n := 512
	for _, p := range hits {
		d := shards[p.ord].docs[p.pos]
		n += len(d.head) + len(d.source) + 64
	}
	b, _ := responses.Get().(*bytes.Buffer)
	if b == nil {
		b = &bytes.Buffer{}
	}
	b.Reset()
	b.Grow(n)
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 32<<20 {
		responses.Put(b)
	}
}

// renderHits writes a search response.
func renderHits(b *bytes.Buffer, shards []ctxShard, hits []position, sp *searchSpec, total int, pitID, scrollID string, nshards int) {
	b.WriteByte('{')
	if pitID != "" {
		b.WriteString(`"pit_id":`)
		writeString(b, pitID)
		b.WriteByte(',')
	}
	if scrollID != "" {
		b.WriteString(`"_scroll_id":`)
		writeString(b, scrollID)
		b.WriteByte(',')
	}
	fmt.Fprintf(b, `"took":1,"timed_out":false,"_shards":{"total":%d,"successful":%d,"skipped":0,"failed":0},"hits":{`, nshards, nshards)
	switch {
	case sp.totalAsInt:
		fmt.Fprintf(b, `"total":%d,`, total)
	case sp.trackTotal == 0:
	case sp.trackTotal > 0 && total > sp.trackTotal:
		fmt.Fprintf(b, `"total":{"value":%d,"relation":"gte"},`, sp.trackTotal)
	default:
		fmt.Fprintf(b, `"total":{"value":%d,"relation":"eq"},`, total)
	}
	scored := sp.sortField == "" && !sp.explicitSortOn
	if scored && len(hits) > 0 {
		b.WriteString(`"max_score":1.0,"hits":[`)
	} else {
		b.WriteString(`"max_score":null,"hits":[`)
	}
	var num []byte
	for i, p := range hits {
		if i > 0 {
			b.WriteByte(',')
		}
		d := shards[p.ord].docs[p.pos]
		b.Write(d.head)
		if scored {
			b.WriteString(`,"_score":1.0`)
		} else {
			b.WriteString(`,"_score":null`)
		}
		if !sp.noSource {
			b.WriteString(`,"_source":`)
			b.Write(d.source)
		}
		if !scored || pitID != "" {
			b.WriteString(`,"sort":[`)
			switch {
			case sp.sortField == "_doc" && pitID != "":
				num = strconv.AppendInt(num[:0], int64(p.pos), 10)
				b.Write(num)
				b.WriteByte(',')
				num = strconv.AppendInt(num[:0], p.shardDoc(), 10)
			case sp.sortField == "_doc":
				num = strconv.AppendInt(num[:0], int64(p.pos), 10)
			case sp.sortField == "" && pitID != "":
				b.WriteString(`1.0,`)
				num = strconv.AppendInt(num[:0], p.shardDoc(), 10)
			default:
				num = strconv.AppendInt(num[:0], p.shardDoc(), 10)
			}
			b.Write(num)
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}}`)
}

func searchPhaseError(w http.ResponseWriter, status int, causeType, causeReason string) {
	cause := map[string]any{"type": causeType, "reason": causeReason}
	writeJSON(w, status, map[string]any{
		"error": map[string]any{
			"root_cause":    []any{cause},
			"type":          "search_phase_execution_exception",
			"reason":        "all shards failed",
			"phase":         "query",
			"grouped":       true,
			"failed_shards": []any{map[string]any{"shard": 0, "index": nil, "reason": cause}},
			"caused_by":     cause,
		},
		"status": status,
	})
}

func windowError(w http.ResponseWriter, scroll bool, window, asked int) {
	if scroll {
		searchPhaseError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf(
			"Batch size is too large, size must be less than or equal to: [%d] but was [%d]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.", window, asked))
		return
	}
	searchPhaseError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf(
		"Result window is too large, from + size must be less than or equal to: [%d] but was [%d]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.", window, asked))
}

func contextMissing(w http.ResponseWriter, id string) {
	searchPhaseError(w, http.StatusNotFound, "search_context_missing_exception", "No search context found for id ["+id+"]")
}
