package elasticsearch

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// compareIndex checks that dst's index to holds what src's index from
// holds: documents, mappings, aliases (renamed) and the settings that
// survive a backup.
func compareIndex(t *testing.T, src *estest.TestServer, from string, dst *estest.TestServer, to string, rename ...string) {
	t.Helper()
	want, err := src.Documents(from)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.Documents(to)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d documents, want %d", to, len(got), len(want))
	}
	for id, src := range want {
		if string(got[id]) != string(src) {
			t.Errorf("%s: document %q = %s, want %s", to, id, got[id], src)
			break
		}
	}
	si, _ := src.Index(from)
	di, ok := dst.Index(to)
	if !ok {
		t.Fatalf("index %s missing", to)
	}
	if d := cmp.Diff(normJSON(t, si.Mappings), normJSON(t, di.Mappings)); d != "" {
		t.Errorf("%s mappings (-want +got):\n%s", to, d)
	}
	wantAliases := map[string]any{}
	for a, def := range si.Aliases {
		if len(rename) == 2 {
			a = rename[0] + a + rename[1]
		}
		wantAliases[a] = normJSON(t, def)
	}
	gotAliases := map[string]any{}
	for a, def := range di.Aliases {
		gotAliases[a] = normJSON(t, def)
	}
	if d := cmp.Diff(wantAliases, gotAliases); d != "" {
		t.Errorf("%s aliases (-want +got):\n%s", to, d)
	}
	for k, v := range si.Settings {
		drop, _ := droppedSetting(k)
		switch {
		case drop && k != "index.uuid" && k != "index.creation_date" && k != "index.provided_name" && !strings.HasPrefix(k, "index.version."):
			if _, has := di.Settings[k]; has {
				t.Errorf("%s: setting %s was carried over", to, k)
			}
		case !drop:
			if d := cmp.Diff(v, di.Settings[k]); d != "" {
				t.Errorf("%s: setting %s (-want +got): %s", to, k, d)
			}
		}
	}
	if di.Settings["index.uuid"] == si.Settings["index.uuid"] {
		t.Errorf("%s: index.uuid carried over", to)
	}
}

func normJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// TestRoundTripPIT backs the fixture up through points in time and slices
// and restores it into an empty cluster, then into the same one renamed.
func TestRoundTripPIT(t *testing.T) {
	src := fixture(t, estest.Options{})
	repo := localRepo(t)
	env := testEnv(t, repo)
	b, stderr := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--session", "s1", "--target", "AppBinding/es", "--hostname", "es-host", "--page-size", "333")
	want := step.Outputs{OutputIndices: "3", OutputDocuments: "6520", OutputDataStreams: "events"}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	if len(out[outputs.SnapshotID]) != 64 || out[OutputBytes] == "" || out[OutputBytes] != out[outputs.Size] {
		t.Errorf("outputs %v: want a 64-hex snapshot id and bytes == size", out)
	}
	if !strings.Contains(stderr.String(), "data streams are not backed up: events") {
		t.Errorf("stderr %q does not report the data stream", stderr.String())
	}
	if src.Count("search.pit") == 0 || src.Count("search.scroll") != 0 {
		t.Errorf("searches: pit %d scroll %d; want point in time only", src.Count("search.pit"), src.Count("search.scroll"))
	}
	if pits, scrolls := src.OpenContexts(); pits != 0 || scrolls != 0 {
		t.Errorf("left open: %d points in time, %d scrolls", pits, scrolls)
	}
	snaps := snapshots(t, env)
	if len(snaps) != 1 || snaps[0].Hostname != "es-host" || snaps[0].Tag(TagSession) != "s1" || snaps[0].Tag(TagTarget) != "AppBinding/es" {
		t.Fatalf("snapshots %+v", snaps)
	}

	dst := estest.New(estest.Options{})
	defer dst.Close()
	rout := mustRun(t, &Restore{}, env, "--url", dst.URL, "--host", "es-host", "--session", "s1", "--workers", "3", "--bulk-size", "256KiB")
	if rout[OutputIndices] != "3" || rout[OutputDocuments] != "6520" || rout[outputs.SnapshotID] != out[outputs.SnapshotID] {
		t.Errorf("restore outputs %v", rout)
	}
	if got := dst.Indices(); !slices.Equal(got, []string{"logs-a", "logs-b", "metrics"}) {
		t.Errorf("indices %v", got)
	}
	for _, n := range []string{"logs-a", "logs-b", "metrics"} {
		compareIndex(t, src, n, dst, n)
	}
	mi, _ := dst.Index("metrics")
	if mi.Settings["index.refresh_interval"] != "30s" || mi.Settings["index.blocks.write"] != "true" {
		t.Errorf("metrics: refresh_interval %v, blocks.write %v; want 30s and true back after the load", mi.Settings["index.refresh_interval"], mi.Settings["index.blocks.write"])
	}
	if li, _ := dst.Index("logs-a"); li.Settings["index.refresh_interval"] != nil {
		t.Errorf("logs-a: refresh_interval %v, want the default back", li.Settings["index.refresh_interval"])
	}
	if dst.Count("count") == 0 || dst.Count("refresh") == 0 {
		t.Errorf("restore did not refresh and count")
	}

	// Again into the source cluster: the names exist.
	_, err := runFn(t, &Restore{}, env, "--url", src.URL)
	if err == nil || !strings.Contains(err.Error(), "3 index(es) to restore already exist: logs-a, logs-b, metrics") {
		t.Fatalf("restore over existing indices: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	skip := mustRun(t, &Restore{}, env, "--url", src.URL, "--existing", "skip")
	if skip[OutputIndices] != "0" {
		t.Errorf("--existing=skip restored %s indices", skip[OutputIndices])
	}
	// Renamed beside the originals, aliases too.
	mustRun(t, &Restore{}, env, "--url", src.URL, "--rename-prefix", "restored-", "--rename-suffix", "-1", "--snapshot", out[outputs.SnapshotID][:8])
	for _, n := range []string{"logs-a", "logs-b", "metrics"} {
		compareIndex(t, src, n, src, "restored-"+n+"-1", "restored-", "-1")
	}
}

// TestInterimDir writes the archive to a file first.
func TestInterimDir(t *testing.T) {
	src := fixture(t, estest.Options{})
	env := testEnv(t, localRepo(t))
	dir := t.TempDir()
	b, _ := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--include", "logs-*", "--exclude", "logs-b", "--interim-dir", dir, "--slices", "5")
	if out[OutputIndices] != "1" || out[OutputDocuments] != "5000" {
		t.Errorf("outputs %v", out)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("interim files left: %v", left)
	}
	dst := estest.New(estest.Options{})
	defer dst.Close()
	mustRun(t, &Restore{}, env, "--url", dst.URL)
	compareIndex(t, src, "logs-a", dst, "logs-a")
}

// TestIncludeHidden takes the hidden index too, and never data streams'
// backing indices.
func TestIncludeHidden(t *testing.T) {
	src := fixture(t, estest.Options{})
	env := testEnv(t, localRepo(t))
	b, _ := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--include-hidden", "--include", "*,.*")
	if out[OutputIndices] != "4" || out[OutputDocuments] != "6530" {
		t.Errorf("outputs %v", out)
	}
	dst := estest.New(estest.Options{})
	defer dst.Close()
	mustRun(t, &Restore{}, env, "--url", dst.URL)
	if got := dst.Indices(); !slices.Equal(got, []string{".internal", "logs-a", "logs-b", "metrics"}) {
		t.Errorf("indices %v", got)
	}
	compareIndex(t, src, ".internal", dst, ".internal")
}

// TestScrollFallback: a server without point in time is paged by scroll.
func TestScrollFallback(t *testing.T) {
	src := fixture(t, estest.Options{NoPIT: true})
	env := testEnv(t, localRepo(t))
	b, _ := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--page-size", "500")
	if out[OutputDocuments] != "6520" {
		t.Errorf("outputs %v", out)
	}
	if src.Count("search.scroll") == 0 || src.Count("search.pit") != 0 {
		t.Errorf("searches: pit %d scroll %d; want scroll only", src.Count("search.pit"), src.Count("search.scroll"))
	}
	if _, scrolls := src.OpenContexts(); scrolls != 0 {
		t.Errorf("%d scrolls left open", scrolls)
	}
	dst := estest.New(estest.Options{})
	defer dst.Close()
	mustRun(t, &Restore{}, env, "--url", dst.URL)
	for _, n := range []string{"logs-a", "logs-b", "metrics"} {
		compareIndex(t, src, n, dst, n)
	}
}

// TestFromSizeFallback: neither point in time nor scroll; an index over the
// result window cannot be exported and no snapshot is written.
func TestFromSizeFallback(t *testing.T) {
	src := fixture(t, estest.Options{NoPIT: true, NoScroll: true})
	env := testEnv(t, localRepo(t))
	b, stderr := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--include", "logs-b,metrics")
	if out[OutputDocuments] != "1520" {
		t.Errorf("outputs %v", out)
	}
	if !strings.Contains(stderr.String(), "supports neither point in time nor scroll") {
		t.Errorf("stderr %q does not say it pages with from/size", stderr.String())
	}
	dst := estest.New(estest.Options{})
	defer dst.Close()
	mustRun(t, &Restore{}, env, "--url", dst.URL)
	compareIndex(t, src, "logs-b", dst, "logs-b")

	// 12000 documents, window 10000.
	if err := src.CreateIndex("big", ""); err != nil {
		t.Fatal(err)
	}
	if err := src.PutGenerated("big", 12000, func(i int, buf []byte) (string, []byte) { return fmt.Sprintf("big-%d", i), append(buf, `{}`...) }); err != nil {
		t.Fatal(err)
	}
	env2 := testEnv(t, localRepo(t))
	b2, _ := backupFn()
	_, err := runFn(t, b2, env2, "--url", src.URL, "--include", "big")
	if err == nil || !strings.Contains(err.Error(), "index big: holds 12000 documents, more than its result window (index.max_result_window = 10000)") {
		t.Fatalf("backup of an index over the window: %v", err)
	}
	if snaps := snapshots(t, env2); len(snaps) != 0 {
		t.Errorf("a failed backup wrote %d snapshot(s)", len(snaps))
	}
}

// TestBackupInitialisesRepository: the first backup into a location with
// no repository initialises it (restic refuses at once, the export starts
// over); a wrong repository password is reported as such.
func TestBackupInitialisesRepository(t *testing.T) {
	src := fixture(t, estest.Options{})
	env := testEnv(t, []string{"RESTIC_REPOSITORY=" + t.TempDir() + "/new-repo", "RESTIC_PASSWORD=" + testPassword})
	b, _ := backupFn()
	out := mustRun(t, b, env, "--url", src.URL, "--include", "metrics")
	if out[OutputDocuments] != "300" {
		t.Errorf("outputs %v", out)
	}
	if snaps := snapshots(t, env); len(snaps) != 1 {
		t.Errorf("%d snapshots, want 1", len(snaps))
	}
	wrong := testEnv(t, []string{"RESTIC_REPOSITORY=" + strings.TrimPrefix(env.Environ[len(env.Environ)-2], "RESTIC_REPOSITORY="), "RESTIC_PASSWORD=wrong"})
	b2, _ := backupFn()
	_, err := runFn(t, b2, wrong, "--url", src.URL, "--include", "metrics")
	if err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Errorf("wrong repository password: %v", err)
	}
}
