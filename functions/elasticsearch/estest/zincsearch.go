package estest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stashflow/stashflow/internal/testproc"
)

// ZincSearch is a running ZincSearch: a real, independent search server with
// an Elasticsearch-compatible API under /es, built into bin/zincsearch by
// hack/build-zincsearch.sh. Unlike TestServer it is not a test double, and it
// has neither point in time, scroll, _cat/indices nor _count.
type ZincSearch struct {
	// URL is the base of the Elasticsearch-compatible API
	// (http://127.0.0.1:PORT/es), what an AppBinding or --url names.
	URL string
	// User and Password are the first admin user's basic-auth credentials.
	User, Password string
}

// StartZincSearch starts binDir/zincsearch on a free loopback port with a
// fresh data directory and waits until it answers. The server is stopped
// when the test ends (and killed if the test binary dies); when the test
// failed, the tail of its log is logged. The test fails at once when the
// binary is missing.
func StartZincSearch(t testing.TB, binDir string) *ZincSearch {
	t.Helper()
	bin := filepath.Join(binDir, "zincsearch")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run hack/build-zincsearch.sh (make tools)", bin)
	}
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	z := &ZincSearch{URL: fmt.Sprintf("http://127.0.0.1:%d/es", port), User: "admin", Password: "Zinc-test-pass#1"}
	logFile := filepath.Join(t.TempDir(), "zincsearch.log")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ZINC_FIRST_ADMIN_USER="+z.User, "ZINC_FIRST_ADMIN_PASSWORD="+z.Password,
		"ZINC_DATA_PATH="+filepath.Join(t.TempDir(), "data"), "ZINC_SERVER_ADDRESS=127.0.0.1",
		fmt.Sprintf("ZINC_SERVER_PORT=%d", port), "ZINC_TELEMETRY=false", "GIN_MODE=release")
	done := testproc.StartProcess(t, cmd, logFile)
	// Registered after StartProcess's stop, so it runs before it.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		b, _ := os.ReadFile(logFile)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var keep []string
		for _, l := range lines {
			if !strings.Contains(l, `"level":"debug"`) && !strings.Contains(l, "_count") {
				keep = append(keep, l)
			}
		}
		t.Logf("zincsearch log (last 40 non-debug lines):\n%s", strings.Join(keep[max(0, len(keep)-40):], "\n"))
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _ := z.Do(t, http.MethodGet, "/", ""); status == http.StatusOK {
			return z
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logFile)
			t.Fatalf("zincsearch exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("zincsearch did not answer within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Do sends a request with a JSON body (none when body is empty) to path
// under URL, with the admin's credentials. A request that cannot be sent
// returns status 0.
func (z *ZincSearch) Do(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, z.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(z.User, z.Password)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// Must is Do that fails the test unless the answer is 200 OK.
func (z *ZincSearch) Must(t testing.TB, method, path, body string) []byte {
	t.Helper()
	status, b := z.Do(t, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	return b
}

// WaitCount waits until the index's search total is want (ZincSearch
// indexes asynchronously) and fails the test if the total stops short.
func (z *ZincSearch) WaitCount(t testing.TB, index string, want int) {
	t.Helper()
	// ZincSearch indexes in the background, slowly on a loaded machine: wait
	// while the count moves, and give up only once it has stood still for
	// 30 s.
	last, moved := -1, time.Now()
	for {
		var r struct {
			Hits struct {
				Total struct {
					Value int `json:"value"`
				} `json:"total"`
			} `json:"hits"`
		}
		_ = json.Unmarshal(z.Must(t, http.MethodPost, "/"+index+"/_search", `{"size":0,"track_total_hits":true}`), &r)
		got := r.Hits.Total.Value
		if got == want {
			return
		}
		if got != last {
			last, moved = got, time.Now()
		}
		if time.Since(moved) > 30*time.Second {
			t.Fatalf("%s: %d documents, want %d (no change for 30s)", index, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Docs returns the first n documents of an index (id → _source), paged
// with from/size in _id order.
func (z *ZincSearch) Docs(t testing.TB, index string, n int) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for from := 0; from < n; from += 1000 {
		var r struct {
			Hits struct {
				Hits []struct {
					ID     string         `json:"_id"`
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		body := fmt.Sprintf(`{"from":%d,"size":1000,"sort":[{"_id":"asc"}]}`, from)
		if err := json.Unmarshal(z.Must(t, http.MethodPost, "/"+index+"/_search", body), &r); err != nil {
			t.Fatal(err)
		}
		for _, h := range r.Hits.Hits {
			out[h.ID] = h.Source
		}
	}
	return out
}
