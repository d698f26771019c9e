package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/functions/elasticsearch/estest"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/internal/testenv"
)

// TestElasticsearch runs examples/elasticsearch on the local engine against
// a real ZincSearch (an independent server with an Elasticsearch-compatible
// API): the BackupConfiguration through the catalog Task
// elasticsearch-backup (elasticsearch-backup, then retention), then the
// RestoreSession through elasticsearch-restore, which must put every index
// and alias back beside the originals, under the suffix, with the same
// documents.
func TestElasticsearch(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	z := estest.StartZincSearch(t, filepath.Join(root, "bin"))
	sizes := map[string]int{"orders": 300, "customers": 200}
	seedZincSearch(t, z, sizes)
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "repo")

	// load reads the example as a user runs it and points its machine
	// paths, URL and credentials at this test's.
	load := func(files ...string) *localrun.Inputs {
		t.Helper()
		paths := []string{filepath.Join("elasticsearch", "common.yaml")}
		for _, f := range files {
			paths = append(paths, filepath.Join("elasticsearch", f))
		}
		in, err := localrun.Load(paths...)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := manifest.Named[*v1alpha1.Repository](in.Set, "default", "elasticsearch-repo")
		ab, ok2 := manifest.Named[*v1alpha1.AppBinding](in.Set, "default", "elasticsearch")
		s, ok3 := manifest.Named[*corev1.Secret](in.Set, "default", "elasticsearch")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("common.yaml: Repository %v, AppBinding %v, Secret %v", ok, ok2, ok3)
		}
		r.Spec.Backend.Local.HostPath.Path = repo
		ab.Spec.ClientConfig.URL = &z.URL
		s.StringData["username"], s.StringData["password"] = z.User, z.Password
		return in
	}

	// Backup.
	in := load("backup.yaml")
	c, _ := manifest.Named[*v1alpha1.BackupConfiguration](in.Set, "default", "elasticsearch")
	// ZincSearch has no _cat/indices to match patterns against: name the indices.
	setParam(t, c.Spec.Task, "INCLUDE_INDICES", "orders,customers")
	res := runOne(t, in, tmp)
	b := res.Session.(*v1alpha1.BackupSession)
	if b.Status.Phase != v1alpha1.BackupSessionSucceeded {
		t.Fatalf("backup phase = %s: %s (logs in %s)", b.Status.Phase, b.Status.Message, res.WorkDir)
	}
	target := b.Status.Targets[0]
	if diff := cmp.Diff([]string{"elasticsearch-backup/Succeeded", "retention/Succeeded"}, stepPhases(target.Steps)); diff != "" {
		t.Fatalf("backup steps (-want +got):\n%s", diff)
	}
	if len(target.Stats) != 1 {
		t.Fatalf("backup stats = %+v", target.Stats)
	}
	stats := target.Stats[0]
	if len(stats.SnapshotID) != 64 || stats.Size == nil || *stats.Size == 0 || stats.Hostname != "elasticsearch" {
		t.Fatalf("backup stats = %+v", stats)
	}
	outputs := res.Outcome.Targets[0].Outputs
	for k, want := range map[string]string{"indices": "2", "documents": "500", "snapshotCount": "1"} {
		if outputs[k] != want {
			t.Errorf("backup output %s = %q, want %q (outputs %v)", k, outputs[k], want, outputs)
		}
	}

	// Restore, beside the originals.
	res = runOne(t, load("restore.yaml"), tmp)
	r := res.Session.(*v1alpha1.RestoreSession)
	if r.Status.Phase != v1alpha1.RestoreSucceeded {
		t.Fatalf("restore phase = %s: %s (logs in %s)", r.Status.Phase, r.Status.Message, res.WorkDir)
	}
	if diff := cmp.Diff([]string{"elasticsearch-restore/Succeeded"}, stepPhases(r.Status.Targets[0].Steps)); diff != "" {
		t.Fatalf("restore steps (-want +got):\n%s", diff)
	}
	if rs := r.Status.Targets[0].Stats; len(rs) != 1 || rs[0].SnapshotID != stats.SnapshotID || rs[0].Size == nil || *rs[0].Size == 0 {
		t.Errorf("restore stats = %+v, want snapshot %s and the archive's size", rs, stats.SnapshotID)
	}
	outputs = res.Outcome.Targets[0].Outputs
	for k, want := range map[string]string{"snapshotID": stats.SnapshotID, "indices": "2", "documents": "500"} {
		if outputs[k] != want {
			t.Errorf("restore output %s = %q, want %q (outputs %v)", k, outputs[k], want, outputs)
		}
	}
	for name, n := range sizes {
		z.WaitCount(t, name+"-restored", n)
		want, got := z.Docs(t, name, n), z.Docs(t, name+"-restored", n)
		if len(want) != n {
			t.Fatalf("%s: read %d documents, want %d", name, len(want), n)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s-restored documents (-original +restored):\n%s", name, diff)
		}
	}
	var aliases map[string]struct {
		Aliases map[string]any `json:"aliases"`
	}
	if err := json.Unmarshal(z.Must(t, http.MethodGet, "/_alias", ""), &aliases); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []string{"orders-restored", "customers-restored"} {
		if _, ok := aliases[idx].Aliases["shop-restored"]; !ok {
			t.Errorf("index %s lacks alias shop-restored (aliases: %v)", idx, aliases[idx].Aliases)
		}
	}
}

// seedZincSearch creates the indices with mappings and an alias (shop) over
// all of them, loads n documents into each with the bulk API and waits
// until they are searchable.
func seedZincSearch(t *testing.T, z *estest.ZincSearch, sizes map[string]int) {
	t.Helper()
	var actions []string
	for name, n := range sizes {
		z.Must(t, http.MethodPut, "/"+name, `{"settings":{"number_of_shards":1},"mappings":{"properties":{"title":{"type":"text"},"n":{"type":"long"},"tag":{"type":"keyword"},"paid":{"type":"bool"}}}}`)
		var bulk bytes.Buffer
		for i := range n {
			fmt.Fprintf(&bulk, `{"index":{"_index":%q,"_id":"%s-%04d"}}`+"\n", name, name, i)
			fmt.Fprintf(&bulk, `{"title":"%s %d, \"quoted\" é","n":%d,"tag":"t%d","paid":%t,"lines":[{"sku":"a%d","qty":%d}]}`+"\n", name, i, i, i%5, i%2 == 0, i, i%3+1)
		}
		if b := z.Must(t, http.MethodPost, "/_bulk", bulk.String()); bytes.Contains(b, []byte(`"errors":true`)) {
			t.Fatalf("bulk into %s: %.300s", name, b)
		}
		actions = append(actions, fmt.Sprintf(`{"add":{"index":%q,"alias":"shop"}}`, name))
	}
	z.Must(t, http.MethodPost, "/_aliases", `{"actions":[`+strings.Join(actions, ",")+`]}`)
	for name, n := range sizes {
		z.WaitCount(t, name, n)
	}
}

// setParam sets a Task parameter the example already names.
func setParam(t *testing.T, task *v1alpha1.TaskRef, name, value string) {
	t.Helper()
	for i := range task.Params {
		if task.Params[i].Name == name {
			task.Params[i].Value = value
			return
		}
	}
	t.Fatalf("the example's task has no param %s", name)
}

func stepPhases(steps []v1alpha1.StepStatus) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name + "/" + string(s.Phase)
	}
	return out
}
