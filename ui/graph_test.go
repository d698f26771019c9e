package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// typed converts the fixtures of file to typed objects, by kind and name.
func typed(t *testing.T, file string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, u := range mustParse(t, file) {
		var obj any
		switch u.GetKind() {
		case "Function":
			obj = &v1alpha1.Function{}
		case "Task":
			obj = &v1alpha1.Task{}
		case "Repository":
			obj = &v1alpha1.Repository{}
		case "AppBinding":
			obj = &v1alpha1.AppBinding{}
		case "BackupBatch":
			obj = &v1alpha1.BackupBatch{}
		case "BackupConfiguration":
			obj = &v1alpha1.BackupConfiguration{}
		case "BackupSession":
			obj = &v1alpha1.BackupSession{}
		case "RestoreSession":
			obj = &v1alpha1.RestoreSession{}
		case "Snapshot":
			obj = &v1alpha1.Snapshot{}
		default:
			t.Fatalf("no type for kind %s", u.GetKind())
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		out[u.GetKind()+"/"+u.GetName()] = obj
	}
	return out
}

// nodeLine is a node as the tests compare it: "layer name phase".
func nodeLines(d *dag) []string {
	layers := dagLayers(d)
	var out []string
	for _, n := range d.Nodes {
		out = append(out, fmt.Sprintf("%d %s %s", layers[n.Name], n.Name, n.Phase))
	}
	return out
}

func edgeLines(d *dag) []string {
	var out []string
	for _, e := range d.Edges {
		s := fmt.Sprintf("%s>%s %s", e.From, e.To, e.When)
		if e.AnyOf {
			s += " anyOf"
		}
		out = append(out, s)
	}
	return out
}

// TestDAGFromPlan draws the fixture's BackupSession from its run record
// (status.plan, as the real translator recorded the BackupBatch): global
// hooks around two parallel targets, a's OnFailure post hook waiting on any
// of a's steps.
func TestDAGFromPlan(t *testing.T) {
	objs := typed(t, "objects.yaml")
	session := objs["BackupSession/nightly-1"].(*v1alpha1.BackupSession)
	rec := sessionKinds[0].record(session)
	if rec.Plan == nil {
		t.Fatal("the fixture session has no status.plan")
	}
	d := sessionDAG(rec)
	wantNodes := []string{
		"0 global-pre-backup Succeeded",
		"1 a-uitest-backup Succeeded",
		"2 a-uitest-check Failed",
		"3 a-post-backup Succeeded",
		"1 b-uitest-backup Succeeded",
		"2 b-uitest-check Failed",
		"4 global-post-backup Succeeded",
	}
	if diff := cmp.Diff(wantNodes, nodeLines(d)); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	wantEdges := []string{
		"global-pre-backup>a-uitest-backup OnSuccess",
		"a-uitest-backup>a-uitest-check OnSuccess",
		"global-pre-backup>a-post-backup OnSuccess",
		"a-uitest-backup>a-post-backup OnFailure anyOf",
		"a-uitest-check>a-post-backup OnFailure anyOf",
		"global-pre-backup>b-uitest-backup OnSuccess",
		"b-uitest-backup>b-uitest-check OnSuccess",
		"a-post-backup>global-post-backup OnEnd",
		"b-uitest-check>global-post-backup OnEnd",
	}
	if diff := cmp.Diff(wantEdges, edgeLines(d)); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	if d.FromStatus {
		t.Errorf("the graph says it comes from the status: %s", d.Note)
	}
	// The statistics sit on the step that declares snapshotID.
	for _, n := range d.Nodes {
		if got, want := len(n.Stats) > 0, n.Name == "a-uitest-backup" || n.Name == "b-uitest-backup"; got != want {
			t.Errorf("node %s has stats %v, want %v", n.Name, n.Stats, want)
		}
	}

	// The drawing has one box per node, one path per edge, and the
	// AnyOf edges dashed.
	dr := draw(d, session.Status.GlobalHooks.PostBackup.FinishedAt.Time)
	if len(dr.Nodes) != len(d.Nodes) || len(dr.Edges) != len(d.Edges) {
		t.Fatalf("drawing has %d nodes and %d edges, want %d and %d", len(dr.Nodes), len(dr.Edges), len(d.Nodes), len(d.Edges))
	}
	anyOf := 0
	for _, e := range dr.Edges {
		if strings.Contains(e.Class, "anyof") {
			anyOf++
		}
	}
	if anyOf != 2 {
		t.Errorf("%d dashed edges, want 2", anyOf)
	}
	for _, n := range dr.Nodes {
		if n.Name == "a-uitest-backup" && n.Stats != "snapshot 1a2b3c4d · 2.0 KiB" {
			t.Errorf("stats line of a-uitest-backup = %q", n.Stats)
		}
	}
}

// TestDAGFromStatus checks the fallback: targets side by side, hooks and
// steps chained, the global hooks around them.
func TestDAGFromStatus(t *testing.T) {
	objs := typed(t, "objects.yaml")
	session := objs["BackupSession/nightly-1"].(*v1alpha1.BackupSession)
	d := dagFromStatus(sessionKinds[0].record(session), "because")
	wantNodes := []string{
		"0 global-pre-backup Succeeded",
		"1 a-uitest-backup Succeeded",
		"2 a-uitest-check Failed",
		"3 a-post-backup Succeeded",
		"1 b-uitest-backup Succeeded",
		"2 b-uitest-check Failed",
		"4 global-post-backup Succeeded",
	}
	if diff := cmp.Diff(wantNodes, nodeLines(d)); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	wantEdges := []string{
		"global-pre-backup>a-uitest-backup OnSuccess",
		"a-uitest-backup>a-uitest-check OnSuccess",
		"a-uitest-check>a-post-backup OnSuccess",
		"global-pre-backup>b-uitest-backup OnSuccess",
		"b-uitest-backup>b-uitest-check OnSuccess",
		"a-post-backup>global-post-backup OnEnd",
		"b-uitest-check>global-post-backup OnEnd",
	}
	if diff := cmp.Diff(wantEdges, edgeLines(d)); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
	if !d.FromStatus || d.Note != "because" {
		t.Errorf("FromStatus = %v, Note = %q", d.FromStatus, d.Note)
	}
}

// TestFailureOnGraph: every failed node says why on the graph, on one line
// cut to fit its box; other nodes say nothing of the kind.
func TestFailureOnGraph(t *testing.T) {
	objs := typed(t, "objects.yaml")
	session := objs["BackupSession/nightly-1"].(*v1alpha1.BackupSession)
	d := sessionDAG(sessionKinds[0].record(session))
	got := map[string]string{}
	for _, n := range draw(d, fixedNow).Nodes {
		if n.Failure != "" {
			got[n.Name] = n.Failure
		}
	}
	want := map[string]string{
		"a-uitest-check": "3 packs missing",
		"b-uitest-check": "exit code 2: index of pack 5f2e90…",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("failures on the graph (-want +got):\n%s", diff)
	}

	for _, tt := range []struct{ in, want string }{
		{"one line", "one line"},
		{"first\n\n  second\r\n", "first · second"},
		{"tab\there\x1b[31m", "tab here [31m"},
	} {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
