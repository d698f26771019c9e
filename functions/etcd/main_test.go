package etcd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/stashflow/stashflow/functions/internal/fntest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/internal/repo"
	"github.com/stashflow/stashflow/internal/testservers"
)

func TestMain(m *testing.M) {
	if err := testservers.SetupPATH("etcd", "restic", "rest-server"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binErr    error
)

// stashflow returns the stashflow binary, built once per test run.
func stashflow(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "stashflow-bin-")
		if binErr == nil {
			binPath, binErr = repo.BuildStashflow(binDir)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

const testPassword = "correct horse battery staple"

// localRepo returns the environment of a new local repository.
func localRepo(t *testing.T) []string {
	return []string{"RESTIC_REPOSITORY=" + filepath.Join(t.TempDir(), "repo"), "RESTIC_PASSWORD=" + testPassword}
}

// restRepo returns the environment of a new repository on a rest-server.
func restRepo(t *testing.T, base, name string) []string {
	return []string{"RESTIC_REPOSITORY=" + base + name, "RESTIC_PASSWORD=" + testPassword}
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

// binResult is one run of `stashflow fn`.
type binResult struct {
	code    int
	stdout  string
	stderr  string
	outputs map[string]string
}

// runBin execs `stashflow fn <args>` with extra environment.
func runBin(t *testing.T, env []string, args ...string) binResult {
	t.Helper()
	outDir := t.TempDir()
	cmd := exec.Command(stashflow(t), append([]string{"fn"}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), "STASHFLOW_OUTPUT_DIR="+outDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := binResult{stdout: stdout.String(), stderr: stderr.String(), outputs: map[string]string{}}
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(outDir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(outDir, e.Name()))
		res.outputs[e.Name()] = string(b)
	}
	return res
}

// resticClient returns a restic client for a repository environment.
func resticClient(t *testing.T, repoEnv []string) *restic.Client {
	t.Helper()
	c, err := restic.NewClient(append(os.Environ(), repoEnv...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func snapshots(t *testing.T, repoEnv []string) []restic.Snapshot {
	t.Helper()
	snaps, err := resticClient(t, repoEnv).Snapshots(context.Background(), restic.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return snaps
}

// dataset describes generated etcd content.
type dataset struct {
	keys      int // keys put first
	bigEvery  int // every n-th value is big (10–100 KiB)
	overwrite int // keys overwritten afterwards
	deletes   int // keys deleted afterwards
	prefixes  []string
	seed      uint64
}

// load writes the dataset into the cluster with bounded transactions and
// returns what the cluster should hold.
func (d dataset) load(t *testing.T, cli *clientv3.Client) map[string]string {
	t.Helper()
	r := rand.New(rand.NewPCG(d.seed, 7))
	prefixes := d.prefixes
	if len(prefixes) == 0 {
		prefixes = []string{"/k/"}
	}
	want := map[string]string{}
	keyOf := func(i int) string { return fmt.Sprintf("%s%07d", prefixes[i%len(prefixes)], i) }
	value := func(i int) string {
		if d.bigEvery > 0 && i%d.bigEvery == 0 {
			n := 10<<10 + r.IntN(90<<10)
			b := make([]byte, n)
			if i%2 == 0 {
				for j := range b {
					b[j] = byte(r.Uint32())
				}
			} else {
				copy(b, strings.Repeat(fmt.Sprintf("value-%d-", i), n/10+1))
			}
			return string(b)
		}
		return fmt.Sprintf("v%d-%x-%s", i, r.Uint64(), strings.Repeat("z", r.IntN(150)))
	}
	var puts []clientv3.Op
	var batches [][]clientv3.Op
	size := 0
	flush := func() {
		if len(puts) > 0 {
			batches = append(batches, puts)
			puts, size = nil, 0
		}
	}
	add := func(op clientv3.Op, n int) {
		if len(puts) >= 128 || size+n > 1<<20 {
			flush()
		}
		puts = append(puts, op)
		size += n
	}
	for i := range d.keys {
		k, v := keyOf(i), value(i)
		want[k] = v
		add(clientv3.OpPut(k, v), len(k)+len(v))
	}
	flush()
	commit(t, cli, batches)
	// Overwrites, then deletions, of distinct keys (a key may appear once
	// per transaction).
	batches = nil
	perm := r.Perm(d.keys)
	for _, i := range perm[:d.overwrite] {
		k, v := keyOf(i), value(i+1)
		want[k] = v
		add(clientv3.OpPut(k, v), len(k)+len(v))
	}
	flush()
	commit(t, cli, batches)
	batches = nil
	for _, i := range perm[d.overwrite/2 : d.overwrite/2+d.deletes] {
		k := keyOf(i)
		delete(want, k)
		add(clientv3.OpDelete(k), len(k))
	}
	flush()
	commit(t, cli, batches)
	return want
}

// commit runs txns (of disjoint keys) four at a time.
func commit(t *testing.T, cli *clientv3.Client, batches [][]clientv3.Op) {
	t.Helper()
	var g errgroup.Group
	g.SetLimit(4)
	for _, ops := range batches {
		g.Go(func() error {
			_, err := cli.Txn(context.Background()).Then(ops...).Commit()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// readAll returns every key under prefix ("" for all) with its value.
func readAll(t *testing.T, cli *clientv3.Client, prefix string) map[string]string {
	t.Helper()
	got := map[string]string{}
	start, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	if prefix == "" {
		start, end = "\x00", "\x00"
	}
	for {
		resp, err := cli.Get(context.Background(), start, clientv3.WithRange(end), clientv3.WithLimit(2000))
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range resp.Kvs {
			got[string(kv.Key)] = string(kv.Value)
		}
		if !resp.More {
			return got
		}
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// diffData compares two key spaces without printing megabytes.
func diffData(want, got map[string]string) string {
	var b strings.Builder
	n := 0
	for k, v := range want {
		g, ok := got[k]
		switch {
		case !ok:
			fmt.Fprintf(&b, "missing %q\n", k)
		case g != v:
			fmt.Fprintf(&b, "%q: value differs (len %d vs %d)\n", k, len(g), len(v))
		default:
			continue
		}
		if n++; n > 10 {
			break
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "unexpected %q\n", k)
			if n++; n > 20 {
				break
			}
		}
	}
	if b.Len() > 0 {
		return fmt.Sprintf("want %d keys, got %d:\n%s", len(want), len(got), b.String())
	}
	return ""
}

// wipe deletes every key.
func wipe(t *testing.T, cli *clientv3.Client) {
	t.Helper()
	if _, err := cli.Delete(context.Background(), "\x00", clientv3.WithFromKey()); err != nil {
		t.Fatal(err)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
