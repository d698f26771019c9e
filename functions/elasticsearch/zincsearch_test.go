package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/outputs"
)

// TestZincSearchRoundTrip backs up 5,500 documents in three indices with
// aliases from a real ZincSearch and restores them into it under other
// names. ZincSearch has neither point in time nor scroll nor _cat/indices,
// so this exercises the from/size path and explicit index names.
func TestZincSearchRoundTrip(t *testing.T) {
	zincRoundTrip(t, estest.StartZincSearch(t, binDir), inProcess)
}

// TestZincSearchRoundTripInStashflowFn is TestZincSearchRoundTrip with the
// Functions run by the lean binary stashflow-fn, as steps run them.
func TestZincSearchRoundTripInStashflowFn(t *testing.T) {
	zincRoundTrip(t, estest.StartZincSearch(t, binDir), inStashflowFn)
}

func zincRoundTrip(t *testing.T, z *estest.ZincSearch, run runner) {
	sizes := map[string]int{"zinc-a": 3000, "zinc-b": 2000, "zinc-c": 500}
	z.Must(t, http.MethodPut, "/zinc-a", `{"settings":{"number_of_shards":2},"mappings":{"properties":{"title":{"type":"text"},"n":{"type":"long"},"tag":{"type":"keyword"}}}}`)
	z.Must(t, http.MethodPut, "/zinc-b", `{"mappings":{"properties":{"title":{"type":"text"},"n":{"type":"long"}}}}`)
	z.Must(t, http.MethodPut, "/zinc-c", `{}`)
	for name, n := range sizes {
		var bulk bytes.Buffer
		for i := range n {
			fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"%s-%05d"}}`+"\n", name, name, i)
			fmt.Fprintf(&bulk, `{"title":"document %d of %s \"q\"","n":%d,"tag":"t%d","nested":{"k":[1,2]}}`+"\n", i, name, i, i%7)
		}
		b := z.Must(t, http.MethodPost, "/_bulk", bulk.String())
		if bytes.Contains(b, []byte(`"errors":true`)) {
			t.Fatalf("bulk into %s: %.300s", name, b)
		}
	}
	z.Must(t, http.MethodPost, "/_aliases", `{"actions":[{"add":{"index":"zinc-a","alias":"zinc-all"}},{"add":{"index":"zinc-b","alias":"zinc-all"}},{"add":{"index":"zinc-c","alias":"zinc-all"}},{"add":{"index":"zinc-a","alias":"zinc-first"}}]}`)
	for name, n := range sizes {
		z.WaitCount(t, name, n)
	}

	creds := []string{"ES_USERNAME=" + z.User, "ES_PASSWORD=" + z.Password}
	env := testEnv(t, localRepo(t), creds)
	out, stderr, err := run(t, env, BackupName, "--url", z.URL, "--include", "zinc-a,zinc-b,zinc-c", "--page-size", "700")
	if err != nil {
		t.Fatal(err)
	}
	if out[OutputIndices] != "3" || out[OutputDocuments] != "5500" {
		t.Fatalf("outputs %v", out)
	}
	if !strings.Contains(stderr, "neither point in time nor scroll") {
		t.Errorf("stderr %q does not say it pages with from/size", stderr)
	}

	// Wrong credentials: one clear line.
	_, _, err = run(t, testEnv(t, localRepo(t), []string{"ES_USERNAME=admin", "ES_PASSWORD=wrong"}), BackupName, "--url", z.URL, "--include", "zinc-a")
	if err == nil || !strings.Contains(err.Error(), "authentication failed (HTTP 401): Invalid credentials") || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong credentials: %v", err)
	}

	rout, _, err := run(t, env, RestoreName, "--url", z.URL, "--rename-prefix", "r-", "--snapshot", out[outputs.SnapshotID])
	if err != nil {
		t.Fatal(err)
	}
	if rout[OutputIndices] != "3" || rout[OutputDocuments] != "5500" {
		t.Fatalf("restore outputs %v", rout)
	}
	for name, n := range sizes {
		z.WaitCount(t, "r-"+name, n)
		want, got := z.Docs(t, name, n), z.Docs(t, "r-"+name, n)
		if len(got) != n {
			t.Errorf("r-%s: %d documents, want %d", name, len(got), n)
		}
		for id, w := range want {
			g := got[id]
			if fmt.Sprint(g["title"], g["n"], g["tag"], g["nested"]) != fmt.Sprint(w["title"], w["n"], w["tag"], w["nested"]) {
				t.Errorf("r-%s/%s = %v, want %v", name, id, g, w)
				break
			}
		}
	}
	var aliases map[string]struct {
		Aliases map[string]any `json:"aliases"`
	}
	_ = json.Unmarshal(z.Must(t, http.MethodGet, "/_alias", ""), &aliases)
	for idx, want := range map[string][]string{"r-zinc-a": {"r-zinc-all", "r-zinc-first"}, "r-zinc-b": {"r-zinc-all"}, "r-zinc-c": {"r-zinc-all"}} {
		for _, a := range want {
			if _, ok := aliases[idx].Aliases[a]; !ok {
				t.Errorf("index %s lacks alias %s (aliases: %v)", idx, a, aliases[idx].Aliases)
			}
		}
	}
	// Restoring again over the same names fails before writing anything.
	_, _, err = run(t, env, RestoreName, "--url", z.URL, "--rename-prefix", "r-")
	if err == nil || !strings.Contains(err.Error(), "already exist: r-zinc-a, r-zinc-b, r-zinc-c") {
		t.Errorf("restore over existing indices: %v", err)
	}
}
