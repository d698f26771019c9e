package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// call sends a request and returns the status, headers and body.
func call(t *testing.T, s *TestServer, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if s.opts.Username != "" {
		req.SetBasicAuth(s.opts.Username, s.opts.Password)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

func mustCall(t *testing.T, s *TestServer, method, path, body string, wantStatus int) []byte {
	t.Helper()
	status, _, b := call(t, s, method, path, body)
	if status != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, wantStatus, b)
	}
	return b
}

// shape reduces a JSON value to its keys and value types.
func shape(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := map[string]any{}
		for k, vv := range t {
			m[k] = shape(vv)
		}
		return m
	case []any:
		if len(t) == 0 {
			return []any{}
		}
		return []any{shape(t[0])}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func shapeOf(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return shape(v)
}

func reference(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const myIndex = "my-index-000001"

// TestReferenceShapes compares every response with the reference's example
// of it, key by key.
func TestReferenceShapes(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.AddDataStream("my-data-stream", `{"@timestamp":"2099-03-07T00:00:00Z"}`)

	var pitID, scrollID string
	cases := []struct {
		name string
		run  func(t *testing.T) (int, []byte)
		ref  string
		want int
	}{
		{"info", get(s, "/"), "info.json", 200},
		{"create index", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPut, "/"+myIndex, `{"mappings":{"properties":{"user":{"properties":{"id":{"type":"keyword"}}}}},"aliases":{"alias1":{}}}`)
			return st, b
		}, "create_index.json", 200},
		{"bulk", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/_bulk", `{"index":{"_index":"my-index-000001","_id":"1"}}`+"\n"+`{"user":{"id":"kimchy"}}`+"\n")
			return st, b
		}, "bulk.json", 200},
		{"bulk item rejected", func(t *testing.T) (int, []byte) {
			s.RejectBulkItems(1)
			st, _, b := call(t, s, http.MethodPost, "/_bulk", `{"index":{"_index":"my-index-000001","_id":"1"}}`+"\n"+`{"user":{"id":"kimchy"}}`+"\n")
			return st, b
		}, "bulk_item_rejected.json", 200},
		{"refresh", func(t *testing.T) (int, []byte) {
			mustCall(t, s, http.MethodPut, "/"+myIndex+"/_doc/2", `{"user":{"id":"elkbee"}}`, 201)
			st, _, b := call(t, s, http.MethodPost, "/"+myIndex+"/_refresh", "")
			return st, b
		}, "refresh.json", 200},
		{"count", get(s, "/"+myIndex+"/_count"), "count.json", 200},
		{"cat indices", get(s, "/_cat/indices/"+myIndex+"?format=json"), "cat_indices.json", 200},
		{"get settings flat", get(s, "/"+myIndex+"/_settings?flat_settings=true"), "get_settings_flat.json", 200},
		{"get mapping", get(s, "/"+myIndex+"/_mapping"), "get_mapping.json", 200},
		{"get alias", get(s, "/"+myIndex+"/_alias"), "get_alias.json", 200},
		{"update aliases", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/_aliases", `{"actions":[{"add":{"index":"my-index-000001","alias":"alias2"}}]}`)
			return st, b
		}, "update_aliases.json", 200},
		{"data streams", get(s, "/_data_stream"), "data_streams.json", 200},
		{"open pit", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/"+myIndex+"/_pit?keep_alive=1m", "")
			var r struct{ ID string }
			_ = json.Unmarshal(b, &r)
			pitID = r.ID
			return st, b
		}, "open_pit.json", 200},
		{"search pit", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/_search", `{"size":1,"pit":{"id":"`+pitID+`","keep_alive":"1m"},"sort":[{"_shard_doc":"asc"}],"search_after":[-1],"track_total_hits":true}`)
			return st, b
		}, "search_pit.json", 200},
		{"close pit", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodDelete, "/_pit", `{"id":"`+pitID+`"}`)
			return st, b
		}, "close_pit.json", 200},
		{"search closed pit", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/_search", `{"size":1,"pit":{"id":"`+pitID+`"},"sort":[{"_shard_doc":"asc"}]}`)
			return st, b
		}, "search_context_missing.json", 404},
		{"scroll", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/"+myIndex+"/_search?scroll=1m", `{"size":1,"sort":["_doc"]}`)
			var r struct {
				ScrollID string `json:"_scroll_id"`
			}
			_ = json.Unmarshal(b, &r)
			scrollID = r.ScrollID
			return st, b
		}, "scroll.json", 200},
		{"scroll next", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodPost, "/_search/scroll", `{"scroll":"1m","scroll_id":"`+scrollID+`"}`)
			return st, b
		}, "scroll.json", 200},
		{"clear scroll", func(t *testing.T) (int, []byte) {
			st, _, b := call(t, s, http.MethodDelete, "/_search/scroll", `{"scroll_id":"`+scrollID+`"}`)
			return st, b
		}, "clear_scroll.json", 200},
		{"index not found", get(s, "/missing/_count"), "index_not_found.json", 404},
		{"rejected", func(t *testing.T) (int, []byte) {
			s.RejectRequests("/_count", 1, 0)
			st, _, b := call(t, s, http.MethodGet, "/"+myIndex+"/_count", "")
			return st, b
		}, "rejected_429.json", 429},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := c.run(t)
			if status != c.want {
				t.Fatalf("status %d, want %d; body %s", status, c.want, body)
			}
			if d := cmp.Diff(shapeOf(t, reference(t, c.ref)), shapeOf(t, body)); d != "" {
				t.Errorf("response differs from %s (-reference +test server):\n%s\nbody: %s", c.ref, d, body)
			}
		})
	}
}

func get(s *TestServer, path string) func(t *testing.T) (int, []byte) {
	return func(t *testing.T) (int, []byte) {
		st, _, b := call(t, s, http.MethodGet, path, "")
		return st, b
	}
}

func TestUnauthorized(t *testing.T) {
	s := New(Options{Username: "elastic", Password: "changeme", APIKeys: []string{"a2V5OnNlY3JldA=="}})
	defer s.Close()
	res, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("status %d, want 401", res.StatusCode)
	}
	if got := res.Header.Values("WWW-Authenticate"); len(got) != 2 {
		t.Errorf("WWW-Authenticate = %q, want Basic and ApiKey", got)
	}
	if d := cmp.Diff(shapeOf(t, reference(t, "unauthorized.json")), shapeOf(t, b)); d != "" {
		t.Errorf("(-reference +got):\n%s", d)
	}
	for _, c := range []struct {
		name string
		set  func(r *http.Request)
		want int
	}{
		{"basic", func(r *http.Request) { r.SetBasicAuth("elastic", "changeme") }, 200},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("elastic", "nope") }, 401},
		{"api key", func(r *http.Request) { r.Header.Set("Authorization", "ApiKey a2V5OnNlY3JldA==") }, 200},
		{"api key, scheme in other case", func(r *http.Request) { r.Header.Set("Authorization", "APIKey a2V5OnNlY3JldA==") }, 200},
		{"wrong api key", func(r *http.Request) { r.Header.Set("Authorization", "ApiKey bm9wZQ==") }, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
			c.set(req)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != c.want {
				t.Errorf("status %d, want %d", res.StatusCode, c.want)
			}
		})
	}
}

type hitsPage struct {
	PitID    string `json:"pit_id"`
	ScrollID string `json:"_scroll_id"`
	Hits     struct {
		Total *struct {
			Value    int    `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []struct {
			ID     string          `json:"_id"`
			Source json.RawMessage `json:"_source"`
			Sort   []int64         `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

func fill(t *testing.T, s *TestServer, name string, shards, n int) {
	t.Helper()
	mustCall(t, s, http.MethodPut, "/"+name, fmt.Sprintf(`{"settings":{"index":{"number_of_shards":%d}}}`, shards), 200)
	if err := s.PutGenerated(name, n, func(i int, buf []byte) (string, []byte) {
		return fmt.Sprintf("id-%d", i), fmt.Appendf(buf, `{"n":%d}`, i)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestPITSlices pages every slice of a point in time with search_after and
// checks that the slices partition the index.
func TestPITSlices(t *testing.T) {
	for _, c := range []struct{ shards, slices int }{{1, 1}, {3, 3}, {3, 2}, {2, 5}, {4, 1}} {
		t.Run(fmt.Sprintf("shards=%d,slices=%d", c.shards, c.slices), func(t *testing.T) {
			s := New(Options{})
			defer s.Close()
			const n = 1037
			fill(t, s, "logs", c.shards, n)
			var open struct{ ID string }
			_ = json.Unmarshal(mustCall(t, s, http.MethodPost, "/logs/_pit?keep_alive=1m", "", 200), &open)
			seen := map[string]int{}
			for slice := range c.slices {
				var after []int64
				pit := open.ID
				for page := 0; ; page++ {
					req := map[string]any{"size": 100, "pit": map[string]any{"id": pit, "keep_alive": "1m"},
						"sort": []any{map[string]any{"_shard_doc": "asc"}}, "track_total_hits": false}
					if c.slices > 1 {
						req["slice"] = map[string]any{"id": slice, "max": c.slices}
					}
					if after != nil {
						req["search_after"] = after
					}
					body, _ := json.Marshal(req)
					var p hitsPage
					if err := json.Unmarshal(mustCall(t, s, http.MethodPost, "/_search", string(body), 200), &p); err != nil {
						t.Fatal(err)
					}
					if p.Hits.Total != nil {
						t.Fatalf("track_total_hits false, got total %+v", p.Hits.Total)
					}
					if p.PitID == "" {
						t.Fatal("no pit_id in response")
					}
					pit = p.PitID
					if len(p.Hits.Hits) == 0 {
						break
					}
					for _, h := range p.Hits.Hits {
						seen[h.ID]++
						if len(h.Sort) != 1 {
							t.Fatalf("sort = %v, want one _shard_doc value", h.Sort)
						}
						if after != nil && h.Sort[0] <= after[0] {
							t.Fatalf("sort values not increasing: %d after %d", h.Sort[0], after[0])
						}
						after = h.Sort
					}
					if page > n {
						t.Fatal("paging does not end")
					}
				}
			}
			if len(seen) != n {
				t.Errorf("slices returned %d distinct documents, want %d", len(seen), n)
			}
			for id, k := range seen {
				if k != 1 {
					t.Errorf("document %s returned %d times", id, k)
				}
			}
			mustCall(t, s, http.MethodDelete, "/_pit", `{"id":"`+open.ID+`"}`, 200)
			if pits, _ := s.OpenContexts(); pits != 0 {
				t.Errorf("%d points in time still open", pits)
			}
		})
	}
}

// TestPITIsAPointInTime: documents written after the PIT opened are not
// returned by it.
func TestPITIsAPointInTime(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	fill(t, s, "logs", 1, 10)
	var open struct{ ID string }
	_ = json.Unmarshal(mustCall(t, s, http.MethodPost, "/logs/_pit?keep_alive=1m", "", 200), &open)
	mustCall(t, s, http.MethodPut, "/logs/_doc/late?refresh=true", `{"n":-1}`, 201)
	var p hitsPage
	_ = json.Unmarshal(mustCall(t, s, http.MethodPost, "/_search", `{"size":100,"pit":{"id":"`+open.ID+`"},"sort":["_shard_doc"],"track_total_hits":true}`, 200), &p)
	if p.Hits.Total.Value != 10 || len(p.Hits.Hits) != 10 {
		t.Errorf("PIT sees %d (total %d), want 10", len(p.Hits.Hits), p.Hits.Total.Value)
	}
	mustCall(t, s, http.MethodPost, "/logs/_search", `{"pit":{"id":"`+open.ID+`"}}`, 400)
}

func TestScroll(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	now := time.Now()
	s.SetNow(func() time.Time { return now })
	fill(t, s, "logs", 2, 250)
	var p hitsPage
	_ = json.Unmarshal(mustCall(t, s, http.MethodPost, "/logs/_search?scroll=1m", `{"size":100,"sort":["_doc"],"slice":{"id":0,"max":2}}`, 200), &p)
	got := len(p.Hits.Hits)
	if p.Hits.Total == nil || p.ScrollID == "" {
		t.Fatalf("first page: %+v", p)
	}
	total := p.Hits.Total.Value
	for len(p.Hits.Hits) > 0 {
		id := p.ScrollID
		p = hitsPage{}
		_ = json.Unmarshal(mustCall(t, s, http.MethodPost, "/_search/scroll", `{"scroll":"1m","scroll_id":"`+id+`"}`, 200), &p)
		got += len(p.Hits.Hits)
	}
	if got != total || total == 0 || total == 250 {
		t.Errorf("slice 0 of 2 returned %d of total %d", got, total)
	}
	// Expiry.
	now = now.Add(2 * time.Minute)
	status, _, b := call(t, s, http.MethodPost, "/_search/scroll", `{"scroll":"1m","scroll_id":"`+p.ScrollID+`"}`)
	if status != 404 || !bytes.Contains(b, []byte("search_context_missing_exception")) {
		t.Errorf("expired scroll: %d %s", status, b)
	}
	if _, scrolls := s.OpenContexts(); scrolls != 0 {
		t.Errorf("%d scrolls open after expiry", scrolls)
	}
	// Batch size above the window.
	status, _, b = call(t, s, http.MethodPost, "/logs/_search?scroll=1m", `{"size":10001}`)
	if status != 400 || !bytes.Contains(b, []byte("Batch size is too large")) {
		t.Errorf("size 10001: %d %s", status, b)
	}
}

func TestFromSizeWindowAndIDSort(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	fill(t, s, "logs", 1, 30)
	var p hitsPage
	_ = json.Unmarshal(mustCall(t, s, http.MethodPost, "/logs/_search", `{"from":25,"size":10,"sort":["_doc"]}`, 200), &p)
	if len(p.Hits.Hits) != 5 || p.Hits.Hits[0].ID != "id-25" {
		t.Errorf("from 25: %d hits, first %+v", len(p.Hits.Hits), p.Hits.Hits)
	}
	status, _, b := call(t, s, http.MethodPost, "/logs/_search", `{"from":9995,"size":10}`)
	if status != 400 || !bytes.Contains(b, []byte("Result window is too large, from + size must be less than or equal to: [10000] but was [10005]")) {
		t.Errorf("window: %d %s", status, b)
	}
	status, _, b = call(t, s, http.MethodPost, "/logs/_search", `{"sort":["_id"]}`)
	if status != 400 || !bytes.Contains(b, []byte("Fielddata access on the _id field is disallowed")) {
		t.Errorf("_id sort: %d %s", status, b)
	}
}

func TestRefreshVisibility(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	mustCall(t, s, http.MethodPut, "/logs", `{"settings":{"index":{"refresh_interval":"-1"}}}`, 200)
	mustCall(t, s, http.MethodPost, "/_bulk", `{"index":{"_index":"logs","_id":"a"}}`+"\n{}\n", 200)
	count := func() int {
		var c struct{ Count int }
		_ = json.Unmarshal(mustCall(t, s, http.MethodGet, "/logs/_count", "", 200), &c)
		return c.Count
	}
	if n := count(); n != 0 {
		t.Errorf("before refresh: count %d, want 0", n)
	}
	mustCall(t, s, http.MethodPost, "/logs/_refresh", "", 200)
	if n := count(); n != 1 {
		t.Errorf("after refresh: count %d, want 1", n)
	}
	mustCall(t, s, http.MethodPut, "/logs/_settings", `{"index":{"number_of_shards":2}}`, 400)
	mustCall(t, s, http.MethodPut, "/logs/_settings", `{"index":{"blocks.write":true}}`, 200)
	b := mustCall(t, s, http.MethodPost, "/_bulk", `{"index":{"_index":"logs","_id":"b"}}`+"\n{}\n", 200)
	if !bytes.Contains(b, []byte("cluster_block_exception")) || !bytes.Contains(b, []byte(`"errors":true`)) {
		t.Errorf("write to a blocked index: %s", b)
	}
}

func TestCreateIndexRefusesPrivateSettings(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	status, _, b := call(t, s, http.MethodPut, "/logs", `{"settings":{"index":{"uuid":"abc"}}}`)
	if status != 400 || !bytes.Contains(b, []byte("private index setting [index.uuid] can not be set explicitly")) {
		t.Errorf("%d %s", status, b)
	}
	mustCall(t, s, http.MethodPut, "/logs", `{}`, 200)
	status, _, b = call(t, s, http.MethodPut, "/logs", `{}`)
	if status != 400 || !bytes.Contains(b, []byte("resource_already_exists_exception")) {
		t.Errorf("%d %s", status, b)
	}
}

func TestRetryAfter(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.RejectRequests("/_bulk", 1, 1500*time.Millisecond)
	status, h, _ := call(t, s, http.MethodPost, "/_bulk", `{"index":{"_index":"x","_id":"1"}}`+"\n{}\n")
	if status != 429 || h.Get("Retry-After") != "2" {
		t.Errorf("status %d Retry-After %q, want 429 and 2", status, h.Get("Retry-After"))
	}
	mustCall(t, s, http.MethodPost, "/_bulk", `{"index":{"_index":"x","_id":"1"}}`+"\n{}\n", 200)
}

func TestCatIndicesHidden(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	mustCall(t, s, http.MethodPut, "/visible", `{}`, 200)
	mustCall(t, s, http.MethodPut, "/.hidden-one", `{"settings":{"index.hidden":true}}`, 200)
	names := func(expand string) []string {
		var rows []map[string]string
		_ = json.Unmarshal(mustCall(t, s, http.MethodGet, "/_cat/indices?format=json&h=index&expand_wildcards="+expand, "", 200), &rows)
		var out []string
		for _, r := range rows {
			out = append(out, r["index"])
		}
		sort.Strings(out)
		return out
	}
	if d := cmp.Diff([]string{"visible"}, names("open")); d != "" {
		t.Errorf("open: %s", d)
	}
	if d := cmp.Diff([]string{".hidden-one", "visible"}, names("all")); d != "" {
		t.Errorf("all: %s", d)
	}
}
