package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/repo"
)

var binDir string

func TestMain(m *testing.M) {
	root, err := repo.Root()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = filepath.Join(root, "bin")
	if st, err := os.Stat(filepath.Join(binDir, "restic")); err != nil || st.IsDir() {
		fmt.Fprintf(os.Stderr, "restic missing from %s: run make tools (or hack/build-tools.sh restic)\n", binDir)
		os.Exit(1)
	}
	if err := os.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		// One repository is initialised (restic's key derivation makes that
		// take seconds) and copied for every test.
		dir, err := os.MkdirTemp("", "es-restic-template-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		defer func() {
			if fnBinDir != "" {
				os.RemoveAll(fnBinDir)
			}
		}()
		templateRepo = filepath.Join(dir, "repo")
		cmd := exec.Command(filepath.Join(binDir, "restic"), "init")
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+templateRepo, "RESTIC_PASSWORD="+testPassword)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "restic init: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

var templateRepo string

const testPassword = "correct horse battery staple"

// localRepo returns the environment of a new local restic repository (a
// copy of the template).
func localRepo(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dir, os.DirFS(templateRepo)); err != nil {
		t.Fatal(err)
	}
	return []string{"RESTIC_REPOSITORY=" + dir, "RESTIC_PASSWORD=" + testPassword}
}

func testEnv(t *testing.T, extra ...[]string) *step.Env { return fntest.Env(t, extra...) }

func runFn(t *testing.T, fn step.Function, env *step.Env, args ...string) (step.Outputs, error) {
	t.Helper()
	return fntest.Run(t, fn, env, args...)
}

func mustRun(t *testing.T, fn step.Function, env *step.Env, args ...string) step.Outputs {
	t.Helper()
	return fntest.MustRun(t, fn, env, args...)
}

// backupFn returns a Backup whose stderr lines are kept.
func backupFn() (*Backup, *syncBuffer) {
	var buf syncBuffer
	return &Backup{stderr: &buf}, &buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func snapshots(t *testing.T, env *step.Env) []restic.Snapshot {
	t.Helper()
	c, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := c.Snapshots(context.Background(), restic.Filter{})
	if err != nil {
		if restic.IsKind(err, restic.KindNoRepository) {
			return nil
		}
		t.Fatal(err)
	}
	return snaps
}

// fixture is the source cluster most tests back up:
//
//	logs-a   3 shards, 5000 documents, alias logs (write index)
//	logs-b   1 shard, 1200 documents (some routed), alias logs, custom settings
//	metrics  2 shards, 300 documents, filtered alias, refresh 30s, write block
//	.internal  hidden, 10 documents
//	events   a data stream
func fixture(t *testing.T, opts estest.Options) *estest.TestServer {
	t.Helper()
	s := estest.New(opts)
	t.Cleanup(s.Close)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateIndex("logs-a", `{"settings":{"index":{"number_of_shards":3,"number_of_replicas":0}},
		"mappings":{"properties":{"msg":{"type":"text"},"n":{"type":"long"},"tags":{"type":"keyword"}}},
		"aliases":{"logs":{"is_write_index":true}}}`))
	must(s.CreateIndex("logs-b", `{"settings":{"index.number_of_shards":"1","index.routing.allocation.require._name":"node-7","index.max_result_window":"20000","index.codec":"best_compression"},
		"mappings":{"dynamic":"strict","properties":{"msg":{"type":"text"},"n":{"type":"long"}}},
		"aliases":{"logs":{}}}`))
	must(s.CreateIndex("metrics", `{"settings":{"number_of_shards":2,"refresh_interval":"30s"},
		"mappings":{"properties":{"v":{"type":"double"}}},
		"aliases":{"metrics-high":{"filter":{"range":{"v":{"gte":100}}}}}}`))
	must(s.CreateIndex(".internal", `{"settings":{"index.hidden":true}}`))
	must(s.PutGenerated("logs-a", 5000, func(i int, buf []byte) (string, []byte) {
		return fmt.Sprintf("a-%d", i), fmt.Appendf(buf, `{"msg":"line %d \"quoted\" \\ back\u00e9","n":%d,"tags":["x","y"],"nested":{"k":[1,2,{"z":null}]}}`, i, i)
	}))
	must(s.PutGenerated("logs-b", 1200, func(i int, buf []byte) (string, []byte) {
		return fmt.Sprintf("b/%d é", i), fmt.Appendf(buf, `{"msg":"b %d","n":%d}`, i, i)
	}))
	must(s.PutGenerated("metrics", 300, func(i int, buf []byte) (string, []byte) {
		return fmt.Sprintf("m%d", i), fmt.Appendf(buf, `{"v":%d.5}`, i)
	}))
	must(s.PutGenerated(".internal", 10, func(i int, buf []byte) (string, []byte) {
		return fmt.Sprintf("i%d", i), fmt.Appendf(buf, `{"i":%d}`, i)
	}))
	// Routed documents and a write block are set through the API.
	for i := range 20 {
		req := fmt.Sprintf(`{"msg":"routed %d","n":%d}`, i, i)
		doRequest(t, s, "PUT", fmt.Sprintf("/logs-b/_doc/routed-%d?routing=user%d&refresh=true", i, i%3), req, 201)
	}
	doRequest(t, s, "PUT", "/metrics/_settings", `{"index":{"blocks":{"write":true}}}`, 200)
	s.AddDataStream("events", `{"@timestamp":"2025-01-01T00:00:00Z","e":1}`)
	return s
}

func doRequest(t *testing.T, s *estest.TestServer, method, path, body string, want int) []byte {
	t.Helper()
	status, b, err := s.Do(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, b)
	}
	return b
}
