package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// writeRun writes a local-engine run directory as the engine leaves it:
// step name → file name → content.
func writeRun(t *testing.T, dir string, files map[string]map[string]string) {
	t.Helper()
	for step, fs := range files {
		for name, content := range fs {
			path := filepath.Join(dir, step, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRunFiles reads the fixture session's steps from a local run
// directory, and says why there is nothing to read in the other cases.
func TestRunFiles(t *testing.T) {
	objs := typed(t, "objects.yaml")
	session := objs["BackupSession/nightly-1"].(*v1alpha1.BackupSession).DeepCopy()
	session.Namespace = "ns"
	workDir := t.TempDir()
	session.Status.Workflow = &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: "backupsession-nightly-1-0a1b2c3d"}
	writeRun(t, filepath.Join(workDir, "ns", "backupsession-nightly-1-0a1b2c3d"), map[string]map[string]string{
		"a-uitest-backup": {"tail.log": "backing up\n", "outputs.json": `{"snapshotID":"1a2b3c4d","size":"2048"}`},
		"a-uitest-check":  {"tail.log": "checking\nerror: 3 packs missing\n"},
		"b-uitest-check":  {"tail.log": ""},
		// A status cannot make the UI read outside the run directory.
		"../escape": {"tail.log": "outside\n"},
	})
	rec := sessionKinds[0].record(session)
	files, note := runFiles(workDir, rec, sessionDAG(rec))
	if note != "" {
		t.Errorf("note = %q", note)
	}
	type summary struct {
		Name, Log string
		Lines     int
		Note      string
		Outputs   []outputRow
		Open      bool
	}
	var got []summary
	for _, f := range files {
		got = append(got, summary{f.Name, f.Log, f.Lines, f.LogNote, f.Outputs, f.Open})
	}
	want := []summary{
		{Name: "a-uitest-backup", Log: "backing up\n", Lines: 1, Outputs: []outputRow{{Name: "snapshotID", Value: "1a2b3c4d"}, {Name: "size", Value: "2048"}}},
		{Name: "a-uitest-check", Log: "checking\nerror: 3 packs missing\n", Lines: 2, Open: true},
		{Name: "b-uitest-backup", Outputs: []outputRow{{Name: "snapshotID", Missing: true}, {Name: "size", Missing: true}}},
		{Name: "b-uitest-check", Note: "The step printed nothing.", Open: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	notes := []struct {
		name    string
		workDir string
		wf      *v1alpha1.WorkflowRef
		want    string
	}{
		{"not submitted", workDir, nil, "not been submitted"},
		{"argo (its outputs come from the Workflow)", workDir, &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineArgo, Name: "wf"}, "ran on argo"},
		{"no work directory", "", session.Status.Workflow, "without the local engine's work directory"},
		{"a name with a path", workDir, &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: "../ns"}, "not a plain name"},
		{"another replica", workDir, &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: "elsewhere"}, "not on this replica"},
	}
	for _, tt := range notes {
		t.Run(tt.name, func(t *testing.T) {
			s := session.DeepCopy()
			s.Status.Workflow = tt.wf
			rec := sessionKinds[0].record(s)
			files, note := runFiles(tt.workDir, rec, sessionDAG(rec))
			if len(files) != 0 || !strings.Contains(note, tt.want) {
				t.Errorf("%d files, note %q; want none and a note saying %q", len(files), note, tt.want)
			}
		})
	}
}
