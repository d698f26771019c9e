package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
)

// TestPrinters renders what each command prints with every -o it takes
// and compares it with golden files under testdata/printers (refresh with
// -update): the tables as they were, wide, and cli-runtime's printers,
// several objects always as one v1 List.
func TestPrinters(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC
	t0 := metav1.NewTime(time.Date(2026, 11, 22, 3, 10, 13, 0, time.UTC))
	snaps := []v1alpha1.Snapshot{{
		ObjectMeta: metav1.ObjectMeta{Name: "repo-9a53c055", Namespace: "team-a"},
		Spec: v1alpha1.SnapshotSpec{Repository: v1alpha1.ObjectRef{Name: "repo", Namespace: "team-a"}, SnapshotID: "9a53c0552d1f0b7e", Time: ptr.To(metav1.NewTime(t0.Add(time.Hour))),
			Hostname: "etcd", Paths: []string{"/etcd.snapshot"}, Tags: []string{"session=etcd-1795317010"}, Size: ptr.To[int64](988 << 10), Session: "etcd-1795317010"},
	}, {
		ObjectMeta: metav1.ObjectMeta{Name: "repo-2a2530f3", Namespace: "team-a"},
		Spec:       v1alpha1.SnapshotSpec{Repository: v1alpha1.ObjectRef{Name: "repo"}, SnapshotID: "2a2530f3c0ffee00", Time: &t0, Hostname: "site", Paths: []string{"/srv/www"}},
	}}
	cat := &catalog.Catalog{
		Tasks: map[string]*v1alpha1.Task{"site-backup": {ObjectMeta: metav1.ObjectMeta{Name: "site-backup"},
			Spec: v1alpha1.TaskSpec{Steps: []v1alpha1.FunctionRef{{Name: "archive"}, {Name: "retention"}}}}},
		Functions: map[string]*v1alpha1.Function{"archive": {
			ObjectMeta: metav1.ObjectMeta{Name: "archive", Annotations: map[string]string{"stashflow.dev/description": "Archives a directory."}},
			Spec:       v1alpha1.FunctionSpec{Image: "busybox:1.36", Outputs: []v1alpha1.FunctionOutput{{Name: "snapshotID", Path: "/tmp/out/snapshotID"}}},
		}},
	}
	backup := &v1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{Name: "site-1795317010", Namespace: "default"},
		Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: v1alpha1.KindBackupConfiguration, Name: "site"}},
		Status:     v1alpha1.BackupSessionStatus{Phase: v1alpha1.BackupSessionSucceeded, SessionDuration: "3s"},
	}
	restore := &v1alpha1.RestoreSession{
		ObjectMeta: metav1.ObjectMeta{Name: "site-restore", Namespace: "default"},
		Status:     v1alpha1.RestoreSessionStatus{Phase: v1alpha1.RestoreFailed, Message: "step volume-restore: tar: /srv/www: Cannot open: Permission denied"},
	}

	snapshots := func(out *printFlags) (string, error) {
		var b bytes.Buffer
		err := (&snapshotsOptions{print: out}).printSnapshots(&b, append([]v1alpha1.Snapshot(nil), snaps...))
		return b.String(), err
	}
	catalogList := func(out *printFlags) (string, error) {
		var b bytes.Buffer
		err := listCatalog(&b, out, cat)
		return b.String(), err
	}
	sessions := func(objs ...client.Object) func(out *printFlags) (string, error) {
		return func(out *printFlags) (string, error) {
			var b bytes.Buffer
			err := out.print(&b, false, objs...)
			return b.String(), err
		}
	}
	created := func(out *printFlags) (string, error) {
		var b bytes.Buffer
		err := printCreated(&b, out, backup.DeepCopy())
		return b.String(), err
	}
	tableFormats := []string{"", "wide"}
	for _, tc := range []struct {
		golden string
		own    []string
		output string
		print  func(*printFlags) (string, error)
	}{
		{"snapshots-table", tableFormats, "", snapshots},
		{"snapshots-wide", tableFormats, "wide", snapshots},
		{"snapshots-yaml", tableFormats, "yaml", snapshots},
		{"snapshots-json", tableFormats, "json", snapshots},
		{"snapshots-name", tableFormats, "name", snapshots},
		{"snapshots-jsonpath", tableFormats, "jsonpath={range .items[*]}{.spec.snapshotID}{\"\\n\"}{end}", snapshots},
		{"snapshots-custom-columns", tableFormats, "custom-columns=NAME:.metadata.name,HOST:spec.hostname,SESSION:{.spec.session}", snapshots},
		{"catalog-table", tableFormats, "", catalogList},
		{"catalog-wide", tableFormats, "wide", catalogList},
		{"catalog-name", tableFormats, "name", catalogList},
		{"catalog-yaml", tableFormats, "yaml", catalogList},
		{"run-one-yaml", []string{"none"}, "yaml", sessions(backup.DeepCopy())},
		{"run-two-yaml", []string{"none"}, "yaml", sessions(backup.DeepCopy(), restore.DeepCopy())},
		{"run-two-json", []string{"none"}, "json", sessions(backup.DeepCopy(), restore.DeepCopy())},
		{"run-two-name", []string{"none"}, "name", sessions(backup.DeepCopy(), restore.DeepCopy())},
		{"run-two-jsonpath", []string{"none"}, `jsonpath={range .items[*]}{.kind} {.metadata.name} {.status.phase}{"\n"}{end}`, sessions(backup.DeepCopy(), restore.DeepCopy())},
		{"trigger-created", []string{""}, "", created},
		{"trigger-name", []string{""}, "name", created},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out := addPrintFlags(&cobra.Command{}, "", "", tc.own...)
			out.output = tc.output
			if err := out.check(); err != nil {
				t.Fatal(err)
			}
			got, err := tc.print(out)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join("testdata", "printers", tc.golden+".txt"), got)
		})
	}
}

// TestPrintFlagsRefuse: an -o no printer takes is a usage error naming
// what is allowed, and so is a template that does not parse.
func TestPrintFlagsRefuse(t *testing.T) {
	for _, tc := range []struct {
		own          []string
		output, want string
	}{
		{[]string{"", "wide"}, "table", `--output: "table" is not one of wide, json, yaml, name, go-template=…, go-template-file=…, template=…, templatefile=…, jsonpath=…, jsonpath-as-json=…, jsonpath-file=…, custom-columns=…`},
		{[]string{"none"}, "wide", `--output: "wide" is not one of none, json, yaml, name, go-template=…`},
		{nil, "jsonpath={.items[", "--output jsonpath={.items[: error parsing jsonpath {.items["},
		{nil, "custom-columns=NAME", `--output custom-columns: "NAME" is not HEADER:JSONPATH`},
		{nil, "custom-columns=", "--output custom-columns: give columns as HEADER:JSONPATH,…"},
	} {
		out := addPrintFlags(&cobra.Command{}, "", "", tc.own...)
		out.output = tc.output
		err := out.check()
		var ue usageError
		if !errors.As(err, &ue) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("-o %s: %v; want a usage error containing %q", tc.output, err, tc.want)
		}
	}
}

// compareGolden compares got with the golden file, or rewrites it with -update.
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/stashflow -run %s -update)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", golden, diff)
	}
}

// snapshotList decodes what snapshots -o json prints: a v1 List of Snapshots.
func snapshotList(t *testing.T, out string) []v1alpha1.Snapshot {
	t.Helper()
	var list struct {
		Kind  string              `json:"kind"`
		Items []v1alpha1.Snapshot `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "List" {
		t.Fatalf("snapshots -o json: %v, kind %q; want a List in\n%s", err, list.Kind, out)
	}
	return list.Items
}
