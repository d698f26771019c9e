package elasticsearch

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/stashflow/stashflow/functions/membudget"
	"github.com/stashflow/stashflow/functions/step"
)

func TestFilterSettings(t *testing.T) {
	in := Settings{
		"index.number_of_shards":                              "3",
		"index.number_of_replicas":                            "1",
		"index.uuid":                                          "u8FNjxh8Rfy_awN11oDKYQ",
		"index.creation_date":                                 "1735689600000",
		"index.provided_name":                                 "logs",
		"index.version.created":                               "8521000",
		"index.history.uuid":                                  "h",
		"index.resize.source.name":                            "old",
		"index.resize.source.uuid":                            "x",
		"index.routing.allocation.include._tier_preference":   "data_content",
		"index.routing.allocation.require._name":              "node-7",
		"index.routing.allocation.exclude._ip":                "10.0.0.1",
		"index.routing.allocation.include.zone":               "a",
		"index.routing.allocation.initial_recovery._id":       "n1",
		"index.routing.allocation.total_shards_per_node":      "2",
		"index.analysis.analyzer.my.tokenizer":                "standard",
		"index.analysis.filter.stop.stopwords":                []any{"a", "the"},
		"index.lifecycle.name":                                "logs-policy",
		"index.blocks.write":                                  "true",
		"number_of_routing_shards":                            "30",
		"index.store.snapshot.snapshot_name":                  "snap",
		"index.verified_before_close":                         "true",
		"index.sort.field":                                    "ts",
		"index.mapping.total_fields.limit":                    "2000",
		"index.routing.allocation.include._tier_preference.x": "y",
	}
	got, dropped := filterSettings(in)
	want := Settings{
		"index.number_of_shards":                            "3",
		"index.number_of_replicas":                          "1",
		"index.routing.allocation.include._tier_preference": "data_content",
		"index.routing.allocation.total_shards_per_node":    "2",
		"index.analysis.analyzer.my.tokenizer":              "standard",
		"index.analysis.filter.stop.stopwords":              []any{"a", "the"},
		"index.lifecycle.name":                              "logs-policy",
		"index.blocks.write":                                "true",
		"index.number_of_routing_shards":                    "30",
		"index.sort.field":                                  "ts",
		"index.mapping.total_fields.limit":                  "2000",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("kept (-want +got):\n%s", d)
	}
	wantDropped := []string{"index.creation_date", "index.history.uuid", "index.provided_name", "index.resize.source.name",
		"index.resize.source.uuid", "index.routing.allocation.exclude._ip", "index.routing.allocation.include._tier_preference.x",
		"index.routing.allocation.include.zone", "index.routing.allocation.initial_recovery._id", "index.routing.allocation.require._name",
		"index.store.snapshot.snapshot_name", "index.uuid", "index.verified_before_close", "index.version.created"}
	if d := cmp.Diff(wantDropped, dropped); d != "" {
		t.Errorf("dropped (-want +got):\n%s", d)
	}
}

func TestLoadTimeSettingsAndNest(t *testing.T) {
	create, after := loadTimeSettings(Settings{"index.number_of_shards": "2", "index.blocks.write": "true", "index.analysis.analyzer.a.type": "standard"})
	if d := cmp.Diff(map[string]any{"number_of_shards": "2", "refresh_interval": "-1", "analysis": map[string]any{"analyzer": map[string]any{"a": map[string]any{"type": "standard"}}}}, nest(create)); d != "" {
		t.Errorf("create (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"refresh_interval": nil, "blocks": map[string]any{"write": "true"}}, nest(after)); d != "" {
		t.Errorf("after (-want +got):\n%s", d)
	}
	_, after = loadTimeSettings(Settings{"index.refresh_interval": "30s"})
	if after["index.refresh_interval"] != "30s" {
		t.Errorf("after = %v", after)
	}
}

func TestWildcard(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "logs", true}, {"*", ".hidden", true}, {"logs-*", "logs-a", true}, {"logs-*", "logs", false},
		{"l*s-?", "logs-a", true}, {"l*s-?", "logs-ab", false}, {"*-a", "x-y-a", true}, {"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false}, {"logs", "logs", true}, {"logs", "logs2", false}, {"[a]", "[a]", true}, {"", "", true},
	} {
		if got := wildcard(c.p, c.s); got != c.want {
			t.Errorf("wildcard(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}

func TestParsePage(t *testing.T) {
	body := `{"pit_id":"p2","took":3,"timed_out":false,"_shards":{"total":2,"successful":2,"skipped":0,"failed":0},
	 "hits":{"total":{"value":2,"relation":"eq"},"max_score":null,"hits":[
	  {"_index":"i","_id":"a\"1","_score":null,"_routing":"r1","_source":{"s":"x}]\"","n":[1,{"y":null}]},"sort":[4294967297]},
	  {"_index":"i","_id":"b","_score":null,"_source" : { } ,"sort":[4294967298, "z"]}]}}`
	var out bytes.Buffer
	p, err := parsePage([]byte(body), &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"_id":"a\"1","_routing":"r1","_source":{"s":"x}]\"","n":[1,{"y":null}]}}` + "\n" + `{"_id":"b","_source":{ }}` + "\n"
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	if p.pitID != "p2" || p.total != 2 || p.hits != 2 || string(p.lastSort) != `[4294967298, "z"]` {
		t.Errorf("page %+v", p)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("invalid line %s", line)
		}
		d, err := parseLine([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := unquote(d.id); id != "a\"1" && id != "b" {
			t.Errorf("id %q", id)
		}
	}
	for _, c := range []struct{ name, body, want string }{
		{"failed shards", `{"_shards":{"total":2,"failed":1,"failures":[{"index":"i","reason":{"type":"x_exception","reason":"boom"}}]},"hits":{"hits":[]}}`, "1 shard(s) failed: x_exception: boom"},
		{"timed out", `{"timed_out":true,"hits":{"hits":[]}}`, "timed out"},
	} {
		p, err := parsePage([]byte(c.body), &bytes.Buffer{}, nil)
		if err == nil {
			err = checkPage(p)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	for _, bad := range []string{`{"hits":{"hits":[{"_id":"a","_source":{"x":1}`, `{"hits":{"hits":[{"_source":{}}]}}`, `{"hits":{"hits":[{"_id":"a"}]}}`, `[`} {
		if _, err := parsePage([]byte(bad), &bytes.Buffer{}, nil); err == nil {
			t.Errorf("parsePage(%s) succeeded", bad)
		}
	}
	// Integer totals (rest_total_hits_as_int) and duplicates.
	p, err = parsePage([]byte(`{"hits":{"total":7,"hits":[]}}`), &bytes.Buffer{}, nil)
	if err != nil || p.total != 7 {
		t.Errorf("integer total: %d, %v", p.total, err)
	}
	ids := map[string]bool{}
	_, err = parsePage([]byte(`{"hits":{"hits":[{"_id":"a","_source":{}},{"_id":"a","_source":{}}]}}`), &bytes.Buffer{}, func(id []byte) bool {
		if ids[string(id)] {
			return false
		}
		ids[string(id)] = true
		return true
	})
	if err == nil || !strings.Contains(err.Error(), "returned twice") {
		t.Errorf("duplicate ids: %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{{"", 0}, {"3", 3 * time.Second}, {"-1", 0}, {"soon", 0}, {now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second}} {
		if got := retryAfter(c.v, now); got != c.want {
			t.Errorf("retryAfter(%q) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestRetry429Transport(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	rt := &retry429{next: http.DefaultTransport}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("payload"))
	res, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "payload" || calls.Load() != 3 {
		t.Errorf("status %d body %q after %d calls", res.StatusCode, b, calls.Load())
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"5MB": 5e6, "10MiB": 10 << 20, "512kib": 512 << 10, "5000000": 5e6, "1.5m": 1.5e6, " 2 GB ": 2e9} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "five"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
}

func TestParseError(t *testing.T) {
	for _, c := range []struct {
		body string
		want string
	}{
		{`{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [x]"}],"type":"index_not_found_exception","reason":"no such index [x]"},"status":404}`, "GET /x: HTTP 404 index_not_found_exception: no such index [x]"},
		{`{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"bad"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}`, "GET /x: HTTP 404 illegal_argument_exception: bad"},
		{`{"error":"index x does not exists"}`, "GET /x: HTTP 404: index x does not exists"},
		{`{"auth":"Invalid credentials"}`, "GET /x: HTTP 404: Invalid credentials"},
		{`404 page not found`, "GET /x: HTTP 404: 404 page not found"},
	} {
		if got := parseError("GET", "/x", 404, []byte(c.body)).Error(); got != c.want {
			t.Errorf("parseError(%s) = %q, want %q", c.body, got, c.want)
		}
	}
}

// TestArchiveWriterBoundsBuffers: producers block when every buffer is in
// use, and a failed writer releases them.
func TestArchiveWriterBoundsBuffers(t *testing.T) {
	pr, pw := io.Pipe()
	aw := newArchiveWriter(pw, 1024, 2)
	ctx := context.Background()
	b1, _ := aw.buffer(ctx)
	b2, _ := aw.buffer(ctx)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := aw.buffer(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third buffer: %v, want to wait", err)
	}
	cancel()
	b1.WriteString("one")
	b2.WriteString("two")
	go func() {
		tr := tar.NewReader(pr)
		h, _ := tr.Next()
		if h == nil || h.Name != "a" {
			t.Errorf("first entry %v", h)
		}
		pr.CloseWithError(errors.New("reader gone"))
	}()
	_ = aw.put(ctx, "a", b1)
	_ = aw.put(ctx, "b", b2)
	for range 5 {
		b, err := aw.buffer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = aw.put(ctx, "c", b)
	}
	if err := aw.finish(true); err == nil || !strings.Contains(err.Error(), "reader gone") {
		t.Errorf("finish: %v", err)
	}
}

// TestOwnMemory: each Function declares what it holds (backup: the chunk
// pool; restore: per bulk worker, from --workers and --bulk-size), and
// under a 256 MiB limit restic gets the rest.
func TestOwnMemory(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name       string
		fn         step.Function
		args       []string
		want       int64
		wantRestic int64 // under a 256 MiB limit
	}{
		{name: "backup", fn: NewBackup(), want: 64 * mib, wantRestic: 256*mib - membudget.Overhead - 64*mib},
		{name: "restore, defaults", fn: NewRestore(), want: 48*mib + 4*5*5e6, wantRestic: 256*mib - membudget.Overhead - (48*mib + 4*5*5e6)},
		{name: "restore, 2 workers of 1MiB", fn: NewRestore(), args: []string{"--workers", "2", "--bulk-size", "1MiB"}, want: 58 * mib, wantRestic: 256*mib - membudget.Overhead - 58*mib},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := pflag.NewFlagSet(tc.name, pflag.ContinueOnError)
			tc.fn.Flags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			got := tc.fn.(step.MemoryDeclarer).OwnMemory()
			if got != tc.want {
				t.Errorf("OwnMemory() = %d, want %d", got, tc.want)
			}
			b := membudget.Split(membudget.Limit{Bytes: 256 * mib}, got)
			if d := cmp.Diff(membudget.Budget{Limit: membudget.Limit{Bytes: 256 * mib}, Self: tc.want, Restic: tc.wantRestic}, b); d != "" {
				t.Errorf("split of 256 MiB (-want +got):\n%s", d)
			}
		})
	}
}
