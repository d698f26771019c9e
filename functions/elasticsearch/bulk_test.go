package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/functions/step"
)

// TestBulkIndexer: what the bulk indexer sends (JSON action lines, also
// for ids that Go's strconv.Quote would escape as \x01; requests cut at
// flushBytes) and how it reads answers: an item with an error or a status
// above 201 fails, the others succeed, an answer with another number of
// items than documents sent fails the request, one without items
// acknowledges none.
func TestBulkIndexer(t *testing.T) {
	docs := []*docBody{
		{index: "a", id: "plain", raw: []byte(`{"n":1}`)},
		{index: "a", id: "ctl\x01\"q", routing: "r/1", raw: []byte(`{"n":2}`)},
		{index: "b", id: "é", raw: []byte(`{"n":3}`)},
	}
	cases := []struct {
		name string
		// answer returns the bulk answer for the items of one request.
		answer      func(items []map[string]map[string]any) string
		flushBytes  int
		wantOK      []string
		wantFailed  []string
		wantErr     string
		wantBatches int
	}{
		{
			name: "all indexed, one request",
			answer: func(items []map[string]map[string]any) string {
				return answerOf(items, func(int) string { return `"status":201,"result":"created"` })
			},
			flushBytes: 1 << 20, wantOK: []string{"plain", "ctl\x01\"q", "é"}, wantBatches: 1,
		},
		{
			name: "one request per document under a small flushBytes",
			answer: func(items []map[string]map[string]any) string {
				return answerOf(items, func(int) string { return `"status":200` })
			},
			flushBytes: 10, wantOK: []string{"plain", "ctl\x01\"q", "é"}, wantBatches: 3,
		},
		{
			name: "items failed: an error, a 429, a status above 201",
			answer: func(items []map[string]map[string]any) string {
				return answerOf(items, func(i int) string {
					switch items[i]["index"]["_id"] {
					case "plain":
						return `"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}`
					case "é":
						return `"status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}`
					}
					return `"status":202`
				})
			},
			flushBytes: 1 << 20, wantFailed: []string{"plain 400 mapper_parsing_exception", "ctl\x01\"q 202 ", "é 429 es_rejected_execution_exception"}, wantBatches: 1,
		},
		{
			name: "fewer items than documents",
			answer: func(items []map[string]map[string]any) string {
				return answerOf(items[:1], func(int) string { return `"status":201` })
			},
			flushBytes: 1 << 20, wantErr: "POST /_bulk: the answer has 1 items for 3 documents sent", wantBatches: 1,
		},
		{
			name:       "an answer without items",
			answer:     func([]map[string]map[string]any) string { return `{"took":1,"errors":false}` },
			flushBytes: 1 << 20, wantBatches: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				batches int
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
					http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
					return
				}
				items, err := parseBulk(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				batches++
				mu.Unlock()
				_, _ = io.WriteString(w, tc.answer(items))
			}))
			defer srv.Close()
			env := step.NewEnv(io.Discard)
			c, err := connect([]string{srv.URL}, env, env.Logger())
			if err != nil {
				t.Fatal(err)
			}
			var (
				ok, failed []string
				errs       []string
			)
			bi := &bulkIndexer{
				c: c, ctx: context.Background(), flushBytes: tc.flushBytes, decoder: &bulkDecoder{},
				onSuccess: func(d *docBody) { mu.Lock(); ok = append(ok, d.id); mu.Unlock() },
				onFailure: func(d *docBody, r bulkResult, err error) {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s %d %s", d.id, r.Status, r.Error.Type))
					mu.Unlock()
				},
				onError: func(err error) { mu.Lock(); errs = append(errs, err.Error()); mu.Unlock() },
			}
			bi.start(1)
			for _, d := range docs {
				if err := bi.add(context.Background(), d); err != nil {
					t.Fatal(err)
				}
			}
			bi.close()
			var wantErrs []string
			if tc.wantErr != "" {
				wantErrs = []string{tc.wantErr}
			}
			if d := cmp.Diff(struct{ OK, Failed, Errs []string }{tc.wantOK, tc.wantFailed, wantErrs}, struct{ OK, Failed, Errs []string }{ok, failed, errs}); d != "" {
				t.Errorf("reported (-want +got):\n%s", d)
			}
			if batches != tc.wantBatches {
				t.Errorf("%d requests, want %d", batches, tc.wantBatches)
			}
		})
	}
}

// parseBulk reads a bulk body as the server does: an action line (JSON)
// and a source line per document.
func parseBulk(r io.Reader) ([]map[string]map[string]any, error) {
	var items []map[string]map[string]any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var action map[string]map[string]any
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			return nil, fmt.Errorf("action line %q: %w", sc.Text(), err)
		}
		if !sc.Scan() || !json.Valid(sc.Bytes()) {
			return nil, fmt.Errorf("no source after %q", sc.Text())
		}
		items = append(items, action)
	}
	return items, sc.Err()
}

// answerOf is a bulk answer with one item per action, its fields from
// fields(i).
func answerOf(items []map[string]map[string]any, fields func(i int) string) string {
	var b bytes.Buffer
	b.WriteString(`{"took":3,"errors":false,"items":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		id, _ := json.Marshal(it["index"]["_id"])
		fmt.Fprintf(&b, `{"index":{"_index":%q,"_id":%s,%s}}`, it["index"]["_index"], id, fields(i))
	}
	b.WriteString("]}")
	return strings.TrimSpace(b.String())
}
