package elasticsearch

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/functions/restic"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// TestRestoreRetries429: whole bulk requests answered 429 with Retry-After,
// and single items rejected with 429, are all sent again.
func TestRestoreRetries429(t *testing.T) {
	src := fixture(t, estest.Options{})
	env := testEnv(t, localRepo(t))
	b, _ := backupFn()
	mustRun(t, b, env, "--url", src.URL, "--include", "logs-b,metrics")

	dst := estest.New(estest.Options{})
	defer dst.Close()
	dst.RejectRequests("/_bulk", 2, time.Second)
	dst.RejectBulkItems(40)
	start := time.Now()
	out := mustRun(t, &Restore{}, env, "--url", dst.URL, "--workers", "2", "--bulk-size", "64KiB")
	if out[OutputDocuments] != "1520" {
		t.Errorf("outputs %v", out)
	}
	if got := dst.Count("rejected"); got != 42 {
		t.Errorf("%d rejections, want 42", got)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("restore took %s: Retry-After (1s) was not honoured", d)
	}
	compareIndex(t, src, "logs-b", dst, "logs-b")
	compareIndex(t, src, "metrics", dst, "metrics")
}

// TestSearch429: searches answered 429 are retried too.
func TestSearch429(t *testing.T) {
	src := fixture(t, estest.Options{})
	src.RejectRequests("/_search", 3, 0)
	env := testEnv(t, localRepo(t))
	b, _ := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--include", "metrics")
	if out[OutputDocuments] != "300" || src.Count("rejected") != 3 {
		t.Errorf("outputs %v, rejections %d", out, src.Count("rejected"))
	}
}

// TestCredentials: basic authentication, API key and a private CA work;
// wrong credentials fail with one clear line.
func TestCredentials(t *testing.T) {
	const apiKey = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
	src := fixture(t, estest.Options{Username: "elastic", Password: "s3cret-pass", APIKeys: []string{apiKey}, TLS: true})
	ca := "ES_CA_CERT=" + string(src.CACertPEM())
	repo := localRepo(t)
	for _, c := range []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"basic", []string{"ES_USERNAME=elastic", "ES_PASSWORD=s3cret-pass", ca}, ""},
		{"api key", []string{"ES_API_KEY=" + apiKey, ca}, ""},
		{"wrong password", []string{"ES_USERNAME=elastic", "ES_PASSWORD=nope-nope", ca}, "authentication failed (HTTP 401): unable to authenticate user [elastic]"},
		{"no credentials", []string{ca}, "authentication failed (HTTP 401): missing authentication credentials"},
		{"wrong api key", []string{"ES_API_KEY=bm9wZTpub3Bl", ca}, "authentication failed (HTTP 401)"},
		{"unknown CA", []string{"ES_USERNAME=elastic", "ES_PASSWORD=s3cret-pass"}, "certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := testEnv(t, repo, c.env)
			b, _ := backupFn()
			out, err := runFn(t, b, env, "--url", src.URL, "--include", "metrics")
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if out[OutputDocuments] != "300" {
					t.Errorf("outputs %v", out)
				}
				dst := estest.New(estest.Options{APIKeys: []string{apiKey}})
				defer dst.Close()
				mustRun(t, &Restore{}, testEnv(t, repo, []string{"ES_API_KEY=" + apiKey}), "--url", dst.URL, "--snapshot", out[outputs.SnapshotID])
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, c.wantErr)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "s3cret-pass") {
				t.Errorf("error %q: want one line without the password", err)
			}
			// Restore fails the same way, before dumping anything.
			_, rerr := runFn(t, &Restore{}, env, "--url", src.URL)
			if rerr == nil || (c.name != "unknown CA" && !strings.Contains(rerr.Error(), "HTTP 401")) {
				t.Errorf("restore with %s: %v", c.name, rerr)
			}
		})
	}
}

// TestExportFailureWritesNoSnapshot: searches break in the middle of the
// export; restic is killed before EOF, so there is no snapshot and no lock.
func TestExportFailureWritesNoSnapshot(t *testing.T) {
	for _, c := range []struct {
		name string
		hook func(n int64, w http.ResponseWriter, r *http.Request) bool
		want string
	}{
		{"server error", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n < 6 {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"error":{"root_cause":[{"type":"node_not_connected_exception","reason":"[es-2] Node not connected"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":500}`))
			return true
		}, "node_not_connected_exception: [es-2] Node not connected"},
		{"connection cut", func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n < 6 {
				return false
			}
			hj, _ := w.(http.Hijacker)
			conn, buf, err := hj.Hijack()
			if err == nil {
				fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"pit_id\":\"x\",\"hits\":{\"hits\":[")
				// The cut is the point: errors on the way are irrelevant.
				_ = buf.Flush()
				_ = conn.Close()
			}
			return true
		}, "reading the answer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := fixture(t, estest.Options{})
			var searches atomic.Int64
			src.Hook(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, "/_search") {
					return false
				}
				return c.hook(searches.Add(1), w, r)
			})
			env := testEnv(t, localRepo(t))
			b, _ := backupFn()
			_, err := runFn(t, b, env, "--url", src.URL, "--page-size", "100")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if snaps := snapshots(t, env); len(snaps) != 0 {
				t.Fatalf("a failed export left %d snapshot(s)", len(snaps))
			}
			rc, _ := restic.NewClient(env.Environ, nil)
			if locks, err := rc.Locks(context.Background()); err != nil || len(locks) != 0 {
				t.Errorf("locks left: %v %v", locks, err)
			}
		})
	}
}

// archiveOf backs up the metrics index of a fixture and returns the
// environment and the archive's bytes.
func archiveOf(t *testing.T) (*step.Env, []byte) {
	t.Helper()
	src := fixture(t, estest.Options{})
	env := testEnv(t, localRepo(t))
	b, _ := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--include", "metrics,logs-b")
	rc, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rc.Dump(context.Background(), out[outputs.SnapshotID], ArchivePath, &buf); err != nil {
		t.Fatal(err)
	}
	return env, buf.Bytes()
}

// storeArchive stores data as an archive snapshot and returns its id.
func storeArchive(t *testing.T, env *step.Env, data []byte) string {
	t.Helper()
	rc, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := rc.BackupStdin(context.Background(), restic.BackupOptions{Filename: ArchiveFilename})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bk.Write(data); err != nil {
		t.Fatal(err)
	}
	sum, err := bk.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sum.SnapshotID
}

// rewrite copies an archive's entries through keep (which may change the
// data or drop the entry), ending the tar properly.
func rewrite(t *testing.T, data []byte, keep func(name string, b []byte) ([]byte, bool)) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		nb, ok := keep(h.Name, b)
		if !ok {
			continue
		}
		h.Size = int64(len(nb))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(nb)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestCorruptArchive: a truncated or damaged archive fails the restore
// with a clear error and leaves no index behind. Two cases go through
// restic; the others feed the bytes to the same reader directly.
func TestCorruptArchive(t *testing.T) {
	env, good := archiveOf(t)
	half := good[:len(good)/2]
	flipped := bytes.Clone(good)
	for i := len(flipped) / 3; i < len(flipped)/3+700; i++ {
		flipped[i] ^= 0x5a
	}
	for _, c := range []struct {
		name      string
		data      []byte
		want      string
		viaRestic bool
	}{
		{"truncated", half, "the archive is corrupted or truncated", true},
		{"not a tar", []byte("this is not an archive\n"), "the archive is corrupted or truncated", true},
		{"truncated in memory", good[:len(good)-3000], "unexpected end of the archive", false},
		{"no summary", rewrite(t, good, func(n string, b []byte) ([]byte, bool) { return b, n != summaryEntry }), "ends without summary.json (the backup did not finish)", false},
		{"chunk dropped", func() []byte {
			dropped := false
			return rewrite(t, good, func(n string, b []byte) ([]byte, bool) {
				if !dropped && strings.Contains(n, "/documents-") {
					dropped = true
					return nil, false
				}
				return b, true
			})
		}(), "documents read, summary.json says", false},
		{"bad line", rewrite(t, good, func(n string, b []byte) ([]byte, bool) {
			if strings.Contains(n, "/documents-") {
				return append([]byte(`{"_id":"x","_source":`+"\n"), b...), true
			}
			return b, true
		}), "line 1", false},
		{"damaged bytes", flipped, "the archive is corrupted or truncated", false},
		{"other tar", rewrite(t, good, func(n string, b []byte) ([]byte, bool) {
			if n == metaEntry {
				return []byte(`{"format":"something-else"}`), true
			}
			return b, true
		}), "not an elasticsearch-backup archive", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := estest.New(estest.Options{})
			defer dst.Close()
			var err error
			if c.viaRestic {
				id := storeArchive(t, env, c.data)
				var out step.Outputs
				out, err = runFn(t, &Restore{}, env, "--url", dst.URL, "--snapshot", id)
				if out[OutputIndices] != "" && out[OutputIndices] != "0" {
					t.Errorf("outputs %v", out)
				}
			} else {
				r := &Restore{existing: ExistingFail, workers: 2, flushBytes: 1 << 20}
				conn, cerr := connect([]string{dst.URL}, env, env.Logger())
				if cerr != nil {
					t.Fatal(cerr)
				}
				_, err = r.restoreStream(context.Background(), conn, env.Logger(), bytes.NewReader(c.data), func(error) error { return nil })
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if left := dst.Indices(); len(left) != 0 {
				t.Errorf("indices left behind: %v", left)
			}
		})
	}
}

// TestRestoreMissingSnapshotPath: a snapshot that is not an archive fails
// with restic's reason, not as a corrupted archive.
func TestRestoreMissingSnapshotPath(t *testing.T) {
	env := testEnv(t, localRepo(t))
	rc, err := restic.NewClient(env.Environ, nil)
	if err != nil {
		t.Fatal(err)
	}
	bk, err := rc.BackupStdin(context.Background(), restic.BackupOptions{Filename: "other.txt"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bk.Write([]byte("x"))
	sum, err := bk.Finish(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dst := estest.New(estest.Options{})
	defer dst.Close()
	_, err = runFn(t, &Restore{}, env, "--url", dst.URL, "--snapshot", sum.SnapshotID)
	if err == nil || !strings.HasPrefix(err.Error(), "restic dump:") {
		t.Fatalf("error %v, want restic dump's", err)
	}
	_, err = runFn(t, &Restore{}, env, "--url", dst.URL)
	if err == nil || !strings.Contains(err.Error(), "no snapshot matches") {
		t.Fatalf("latest without an archive: %v", err)
	}
}
