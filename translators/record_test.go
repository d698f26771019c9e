package translators_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

// TestRecord checks the run record of every golden case: the graph's steps
// and edges in graph order, the layout as translated, and nothing of what a
// step runs (no image, command, argument or environment value).
func TestRecord(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "cases", "*.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			plan, err := mustLoad(t, filepath.Base(path)).translate(translators.Options{Image: testImage})
			if err != nil {
				t.Fatal(err)
			}
			rec := plan.Record()
			var want, got []string
			for _, s := range plan.Graph.Steps {
				line := s.Name + " <"
				for _, d := range s.Dependencies {
					line += " " + d.Step + ":" + string(d.When)
				}
				line += " | anyOf"
				for _, d := range s.AnyOf {
					line += " " + d.Step + ":" + string(d.When)
				}
				want = append(want, line+" "+s.Title())
			}
			for _, s := range rec.Steps {
				line := s.Name + " <"
				for _, d := range s.Dependencies {
					line += " " + d.Step + ":" + d.When
				}
				line += " | anyOf"
				for _, d := range s.AnyOf {
					line += " " + d.Step + ":" + d.When
				}
				got = append(got, line+" "+s.Title())
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("record steps (-graph +record):\n%s", diff)
			}
			if diff := cmp.Diff(plan.Layout, rec.Layout); diff != "" {
				t.Errorf("record layout (-plan +record):\n%s", diff)
			}
			admitRecord(t, mustLoad(t, filepath.Base(path)), rec)
			if rec.RunTimeout() != plan.Graph.Timeout {
				t.Errorf("record timeout %s, graph %s", rec.RunTimeout(), plan.Graph.Timeout)
			}
			b, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range plan.Graph.Steps {
				for _, v := range append(append([]string{s.Process.Image}, s.Process.Command...), s.Process.Args...) {
					if strings.ContainsAny(v, "=/:") && len(v) > 8 && strings.Contains(string(b), v) {
						t.Errorf("the record holds %q of step %s's process", v, s.Name)
					}
				}
				for _, e := range s.Process.Env {
					if len(e.Value) > 12 && strings.Contains(string(b), e.Value) {
						t.Errorf("the record holds the value of %s of step %s", e.Name, s.Name)
					}
				}
			}
		})
	}
}

// bigBatch is a Sequential BackupBatch of n members with global and
// per-member hooks, each member's Task repeating etcd-backup k times.
func bigBatch(t *testing.T, n, k int) *input {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: stashflow.dev/v1alpha1
kind: BackupBatch
metadata: {name: big, namespace: demo}
spec:
  repository: {name: local-repo}
  executionOrder: Sequential
  retentionPolicy: {name: keep-5, keepLast: 5}
  hooks:
    preBackup: {exec: {command: ["/bin/sh", "-c", "echo freezing writes"]}}
    postBackup: {exec: {command: ["/bin/sh", "-c", "echo thawing writes"]}, executionPolicy: Always}
  members:
`)
	task := "apiVersion: stashflow.dev/v1alpha1\nkind: Task\nmetadata: {name: big-task}\nspec:\n  steps:\n"
	for range k {
		task += "  - name: etcd-backup\n"
	}
	extra := []string{task, `apiVersion: stashflow.dev/v1alpha1
kind: Repository
metadata: {name: local-repo, namespace: demo}
spec:
  backend:
    storageSecretName: repo-secret
    local: {mountPath: /safe/data, hostPath: {path: /var/backups/stashflow}}
`}
	for i := range n {
		fmt.Fprintf(&b, `  - target: {ref: {apiVersion: stashflow.dev/v1alpha1, kind: AppBinding, name: etcd-%02d}}
    task: {name: big-task}
    hooks:
      preBackup: {exec: {command: ["etcdctl", "endpoint", "health"]}}
      postBackup: {exec: {command: ["/bin/sh", "-c", "echo done"]}, executionPolicy: OnFailure}
`, i)
		extra = append(extra, fmt.Sprintf(`apiVersion: stashflow.dev/v1alpha1
kind: AppBinding
metadata: {name: etcd-%02d, namespace: demo}
spec:
  type: etcd
  clientConfig: {url: "http://etcd-%02d.demo.svc:2379"}
`, i, i))
	}
	extra = append(extra, b.String(), `apiVersion: stashflow.dev/v1alpha1
kind: BackupSession
metadata: {name: big-1, namespace: demo}
spec:
  invoker: {apiGroup: stashflow.dev, kind: BackupBatch, name: big}
`)
	objs, err := manifest.Decode("big", []byte(strings.Join(extra, "---\n")))
	if err != nil {
		t.Fatal(err)
	}
	return newInput(t, objs)
}

// TestRecordSize measures the record of a 20-member BackupBatch with global
// and per-member hooks against etcd's 1.5 MiB request limit: the record is
// stored in the session's status.
func TestRecordSize(t *testing.T) {
	in := bigBatch(t, 20, 2)
	plan, err := in.translate(translators.Options{Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	s := &v1alpha1.BackupSession{Status: v1alpha1.BackupSessionStatus{Plan: plan.Record()}}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("20 members with hooks: %d steps, record %d bytes", len(plan.Graph.Steps), len(out))
	if len(plan.Graph.Steps) < 80 {
		t.Errorf("%d steps, want at least 80 (4 per member)", len(plan.Graph.Steps))
	}
	if len(out) > 256<<10 {
		t.Errorf("the record of 20 members is %d bytes, more than 256 KiB of etcd's 1.5 MiB", len(out))
	}
}

// TestRecordLimit: a run larger than a record holds is refused before it
// is submitted, naming the limit.
func TestRecordLimit(t *testing.T) {
	_, err := bigBatch(t, 64, 16).translate(translators.Options{Image: testImage})
	if err == nil || !strings.Contains(err.Error(), "status.plan") {
		t.Fatalf("translate() error = %v, want one naming the run record's limit", err)
	}
}

// admitRecord writes the record into the case's session object, as the
// controller's status patch does, and validates it with the CRD's own
// schema: a record the apiserver refuses leaves a submitted run unrecorded.
func admitRecord(t *testing.T, in *input, rec *v1alpha1.RunPlan) {
	t.Helper()
	var obj any
	switch {
	case len(manifest.Of[*v1alpha1.BackupSession](in.set)) == 1:
		s := manifest.Of[*v1alpha1.BackupSession](in.set)[0]
		s.Status.Plan = rec
		obj = s
	case len(manifest.Of[*v1alpha1.RestoreSession](in.set)) == 1:
		s := manifest.Of[*v1alpha1.RestoreSession](in.set)[0]
		s.Status.Plan = rec
		obj = s
	case len(manifest.Of[*v1alpha1.RestoreBatch](in.set)) == 1:
		s := manifest.Of[*v1alpha1.RestoreBatch](in.set)[0]
		s.Status.Plan = rec
		obj = s
	default:
		t.Fatal("the case has no session")
	}
	adm, err := manifest.CRDAdmission()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var u map[string]any
	if err := json.Unmarshal(raw, &u); err != nil {
		t.Fatal(err)
	}
	if errs := adm.AdmitStatus(u); len(errs) > 0 {
		t.Errorf("the apiserver would refuse the run record: %v", errs.ToAggregate())
	}
}
