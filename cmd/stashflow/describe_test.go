package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/describe")

// TestDescribe renders sessions as trees and compares them with golden
// files (refresh with -update): global hooks around the targets, each
// target's hooks and steps in order with phase, duration and message, the
// snapshot lines with sizes, the workflow link and the conditions.
func TestDescribe(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	at := func(s int) *metav1.Time { m := metav1.NewTime(t0.Add(time.Duration(s) * time.Second)); return &m }
	ab := func(name string) *v1alpha1.TargetRef {
		return &v1alpha1.TargetRef{APIVersion: "stashflow.dev/v1alpha1", Kind: "AppBinding", Name: name}
	}
	ok := v1alpha1.StepSucceeded
	tests := []struct {
		name string
		obj  client.Object
	}{{
		name: "backup-batch",
		obj: &v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "dbs-1795320000"},
			Spec:       v1alpha1.BackupSessionSpec{Invoker: v1alpha1.BackupInvokerRef{Kind: v1alpha1.KindBackupBatch, Name: "dbs"}},
			Status: v1alpha1.BackupSessionStatus{
				Phase: v1alpha1.BackupSessionFailed, SessionDuration: "41s",
				Workflow: &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineArgo, Namespace: "prod", Name: "dbs-1795320000",
					UIURL: "https://argo.example.com/workflows/prod/dbs-1795320000"},
				GlobalHooks: &v1alpha1.BackupGlobalHooksStatus{
					PreBackup:  &v1alpha1.HookStatus{Name: "global-pre", Phase: ok, StartedAt: at(0), FinishedAt: at(1)},
					PostBackup: &v1alpha1.HookStatus{Name: "global-post", Phase: ok, StartedAt: at(39), FinishedAt: at(41)},
				},
				Targets: []v1alpha1.BackupTargetStatus{{
					Ref: ab("etcd"), Phase: v1alpha1.TargetSucceeded,
					Steps: []v1alpha1.StepStatus{
						{Name: "etcd-backup", Function: "etcd-backup", Phase: ok, StartedAt: at(1), FinishedAt: at(9)},
						{Name: "retention", Function: "retention", Phase: ok, StartedAt: at(9), FinishedAt: at(11)},
					},
					Stats: []v1alpha1.HostBackupStats{{Hostname: "etcd", SnapshotID: "9a53c0552d1f", Size: ptr.To[int64](3 << 20), Uploaded: ptr.To[int64](1 << 20)}},
				}, {
					Ref: ab("search"), Phase: v1alpha1.TargetFailed,
					PreBackupHooks: []v1alpha1.HookStatus{{Name: "freeze", Phase: ok, StartedAt: at(11), FinishedAt: at(12)}},
					Steps: []v1alpha1.StepStatus{
						{Name: "elasticsearch-backup", Function: "elasticsearch-backup", Phase: v1alpha1.StepFailed, StartedAt: at(12), FinishedAt: at(38),
							Message: "restic backup: repository unreachable: rest:http://***@backup:8000/search"},
						{Name: "retention", Function: "retention", Phase: v1alpha1.StepSkipped},
					},
					PostBackupHooks: []v1alpha1.HookStatus{{Name: "unfreeze", Phase: ok, StartedAt: at(38), FinishedAt: at(39)}},
				}},
				Message:    "target AppBinding/search failed",
				Conditions: []v1alpha1.Condition{{Type: "GlobalPreBackupHookSucceeded", Status: metav1.ConditionTrue, Reason: "HookSucceeded", Message: "the global preBackup hook succeeded"}},
			},
		},
	}, {
		name: "restore",
		obj: &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "etcd-restore"},
			Status: v1alpha1.RestoreSessionStatus{
				Phase: v1alpha1.RestoreSucceeded, SessionDuration: "3s",
				Workflow: &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: "etcd-restore"},
				Plan: &v1alpha1.RunPlan{
					Steps:   []v1alpha1.PlannedStep{{Name: "etcd-restore"}},
					Timeout: &metav1.Duration{Duration: 10 * time.Minute},
					Layout: v1alpha1.RunLayout{Targets: []v1alpha1.TargetLayout{{
						Ref: ab("etcd-fresh"), Hostname: "etcd",
						Steps: []v1alpha1.StepRef{{Name: "etcd-restore", Function: "etcd-restore", Role: v1alpha1.RoleRestore}},
					}}},
				},
				Targets: []v1alpha1.RestoreTargetStatus{{
					Ref: ab("etcd-fresh"), Phase: v1alpha1.TargetSucceeded,
					Steps: []v1alpha1.StepStatus{{Name: "etcd-restore", Function: "etcd-restore", Phase: ok, StartedAt: at(0), FinishedAt: at(3)}},
					Stats: []v1alpha1.HostRestoreStats{{Hostname: "etcd", SnapshotID: "9a53c0552d1f", Size: ptr.To[int64](3 << 20)}},
				}},
			},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			describe(&buf, tt.obj)
			checkDescribeGolden(t, tt.name, buf.String())
		})
	}
}

// checkDescribeGolden compares got with testdata/describe/<name>.txt
// (rewritten with -update).
func checkDescribeGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", "describe", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/stashflow -run TestDescribe -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got); run with -update if intended:\n%s", golden, diff)
	}
}
