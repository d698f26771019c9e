package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stashflow/stashflow/functions/step"
)

// zincSearch is a running ZincSearch (an independent search server with an
// Elasticsearch-compatible API under /es), built by hack/build-zincsearch.sh.
type zincSearch struct {
	base, user, password string
}

// startZincSearch starts bin/zincsearch on a free loopback port with a
// fresh data directory; it fails the test when the binary is missing.
func startZincSearch(t *testing.T) *zincSearch {
	t.Helper()
	bin := filepath.Join(binDir, "zincsearch")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run hack/build-zincsearch.sh (make tools)", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	z := &zincSearch{base: fmt.Sprintf("http://127.0.0.1:%d/es", port), user: "admin", password: "Zinc-test-pass#1"}
	logf, err := os.Create(filepath.Join(t.TempDir(), "zincsearch.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ZINC_FIRST_ADMIN_USER="+z.user, "ZINC_FIRST_ADMIN_PASSWORD="+z.password,
		"ZINC_DATA_PATH="+filepath.Join(t.TempDir(), "data"), "ZINC_SERVER_ADDRESS=127.0.0.1",
		fmt.Sprintf("ZINC_SERVER_PORT=%d", port), "ZINC_TELEMETRY=false", "GIN_MODE=release")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig fires when the thread that started the process exits, so
	// the process is started and waited for on one locked thread: it dies
	// with this test binary, not with some thread the runtime retires.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			var keep []string
			for _, l := range lines {
				if !strings.Contains(l, `"level":"debug"`) && !strings.Contains(l, "_count") {
					keep = append(keep, l)
				}
			}
			t.Logf("zincsearch log (last 40 non-debug lines):\n%s", strings.Join(keep[max(0, len(keep)-40):], "\n"))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _ := z.do(t, http.MethodGet, "/", ""); status == 200 {
			return z
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("zincsearch exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("zincsearch did not answer within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (z *zincSearch) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, z.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(z.user, z.password)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (z *zincSearch) must(t *testing.T, method, path, body string) []byte {
	t.Helper()
	status, b := z.do(t, method, path, body)
	if status != 200 {
		t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	return b
}

// count waits until the index's search total is want (ZincSearch refreshes
// asynchronously) and fails the test otherwise.
func (z *zincSearch) waitCount(t *testing.T, index string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var r struct {
			Hits struct {
				Total struct {
					Value int `json:"value"`
				} `json:"total"`
			} `json:"hits"`
		}
		_ = json.Unmarshal(z.must(t, http.MethodPost, "/"+index+"/_search", `{"size":0,"track_total_hits":true}`), &r)
		if r.Hits.Total.Value == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d documents, want %d", index, r.Hits.Total.Value, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// docs returns an index's documents (id → _source) by from/size.
func (z *zincSearch) docs(t *testing.T, index string, n int) map[string]map[string]any {
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
		if err := json.Unmarshal(z.must(t, http.MethodPost, "/"+index+"/_search", body), &r); err != nil {
			t.Fatal(err)
		}
		for _, h := range r.Hits.Hits {
			out[h.ID] = h.Source
		}
	}
	return out
}

// TestZincSearchRoundTrip backs up 5,500 documents in three indices with
// aliases from a real ZincSearch and restores them into it under other
// names. ZincSearch has neither point in time nor scroll nor _cat/indices,
// so this exercises the from/size path and explicit index names.
func TestZincSearchRoundTrip(t *testing.T) {
	zincRoundTrip(t, startZincSearch(t))
}

func zincRoundTrip(t *testing.T, z *zincSearch) {
	sizes := map[string]int{"zinc-a": 3000, "zinc-b": 2000, "zinc-c": 500}
	z.must(t, http.MethodPut, "/zinc-a", `{"settings":{"number_of_shards":2},"mappings":{"properties":{"title":{"type":"text"},"n":{"type":"long"},"tag":{"type":"keyword"}}}}`)
	z.must(t, http.MethodPut, "/zinc-b", `{"mappings":{"properties":{"title":{"type":"text"},"n":{"type":"long"}}}}`)
	z.must(t, http.MethodPut, "/zinc-c", `{}`)
	for name, n := range sizes {
		var bulk bytes.Buffer
		for i := range n {
			fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"%s-%05d"}}`+"\n", name, name, i)
			fmt.Fprintf(&bulk, `{"title":"document %d of %s \"q\"","n":%d,"tag":"t%d","nested":{"k":[1,2]}}`+"\n", i, name, i, i%7)
		}
		b := z.must(t, http.MethodPost, "/_bulk", bulk.String())
		if bytes.Contains(b, []byte(`"errors":true`)) {
			t.Fatalf("bulk into %s: %.300s", name, b)
		}
	}
	z.must(t, http.MethodPost, "/_aliases", `{"actions":[{"add":{"index":"zinc-a","alias":"zinc-all"}},{"add":{"index":"zinc-b","alias":"zinc-all"}},{"add":{"index":"zinc-c","alias":"zinc-all"}},{"add":{"index":"zinc-a","alias":"zinc-first"}}]}`)
	for name, n := range sizes {
		z.waitCount(t, name, n)
	}

	creds := []string{"ES_USERNAME=" + z.user, "ES_PASSWORD=" + z.password}
	env := testEnv(t, localRepo(t), creds)
	b, stderr := backupFn()
	out := mustRun(t, b, env, "--url", z.base, "--include", "zinc-a,zinc-b,zinc-c", "--page-size", "700")
	if out[OutputIndices] != "3" || out[OutputDocuments] != "5500" {
		t.Fatalf("outputs %v", out)
	}
	if !strings.Contains(stderr.String(), "neither point in time nor scroll") {
		t.Errorf("stderr %q does not say it pages with from/size", stderr.String())
	}

	// Wrong credentials: one clear line.
	b2, _ := backupFn()
	_, err := runFn(t, b2, testEnv(t, localRepo(t), []string{"ES_USERNAME=admin", "ES_PASSWORD=wrong"}), "--url", z.base, "--include", "zinc-a")
	if err == nil || !strings.Contains(err.Error(), "authentication failed (HTTP 401): Invalid credentials") || strings.Contains(err.Error(), "\n") {
		t.Errorf("wrong credentials: %v", err)
	}

	rout := mustRun(t, &Restore{}, env, "--url", z.base, "--rename-prefix", "r-", "--snapshot", out[step.OutputSnapshotID])
	if rout[OutputIndices] != "3" || rout[OutputDocuments] != "5500" {
		t.Fatalf("restore outputs %v", rout)
	}
	for name, n := range sizes {
		z.waitCount(t, "r-"+name, n)
		want, got := z.docs(t, name, n), z.docs(t, "r-"+name, n)
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
	_ = json.Unmarshal(z.must(t, http.MethodGet, "/_alias", ""), &aliases)
	for idx, want := range map[string][]string{"r-zinc-a": {"r-zinc-all", "r-zinc-first"}, "r-zinc-b": {"r-zinc-all"}, "r-zinc-c": {"r-zinc-all"}} {
		for _, a := range want {
			if _, ok := aliases[idx].Aliases[a]; !ok {
				t.Errorf("index %s lacks alias %s (aliases: %v)", idx, a, aliases[idx].Aliases)
			}
		}
	}
	// Restoring again over the same names fails before writing anything.
	_, err = runFn(t, &Restore{}, env, "--url", z.base, "--rename-prefix", "r-")
	if err == nil || !strings.Contains(err.Error(), "already exist: r-zinc-a, r-zinc-b, r-zinc-c") {
		t.Errorf("restore over existing indices: %v", err)
	}
}
