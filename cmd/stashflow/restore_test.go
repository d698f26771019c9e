package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestRestoreSessionFor checks the RestoreSession `stashflow restore`
// makes of a BackupConfiguration: the snapshot rule, the source's host
// when restoring into another target, and the restore Task.
func TestRestoreSessionFor(t *testing.T) {
	config := func(task string, target *v1alpha1.BackupTarget) *v1alpha1.BackupConfiguration {
		bc := &v1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "team-a"}, Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{Target: target},
			Repository:                      v1alpha1.ObjectRef{Name: "repo"},
		}}
		if task != "" {
			bc.Spec.Task = &v1alpha1.TaskRef{Name: task}
		}
		return bc
	}
	etcd := &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd"}}
	aliased := &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd"}, Alias: "prod-etcd"}
	sts := &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "StatefulSet", Name: "db"}}
	session := func(task string, ref v1alpha1.TargetRef, alias string, rule v1alpha1.RestoreRule) *v1alpha1.RestoreSession {
		rs := &v1alpha1.RestoreSession{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "nightly-restore-", Namespace: "team-a"},
			Spec: v1alpha1.RestoreSessionSpec{
				RestoreTargetSpec: v1alpha1.RestoreTargetSpec{Target: &v1alpha1.RestoreTarget{Ref: ref, Alias: alias, Rules: []v1alpha1.RestoreRule{rule}}},
				Repository:        v1alpha1.ObjectRef{Name: "repo"},
			},
		}
		if task != "" {
			rs.Spec.Task = &v1alpha1.TaskRef{Name: task}
		}
		return rs
	}
	tests := []struct {
		name, snapshot, task string
		bc                   *v1alpha1.BackupConfiguration
		to                   *v1alpha1.TargetRef
		want                 *v1alpha1.RestoreSession
		wantErr              string
	}{
		{name: "latest into itself", bc: config("etcd-backup", etcd), snapshot: "latest",
			want: session("etcd-restore", etcd.Ref, "", v1alpha1.RestoreRule{})},
		{name: "an id into itself keeps the alias", bc: config("", aliased), snapshot: "4bd3e9a1",
			want: session("", etcd.Ref, "prod-etcd", v1alpha1.RestoreRule{Snapshots: []string{"4bd3e9a1"}})},
		{name: "latest into another target names the source's host", bc: config("etcd-backup", etcd), snapshot: "latest",
			to:   &v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd-new"},
			want: session("etcd-restore", v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd-new"}, "", v1alpha1.RestoreRule{SourceHost: "etcd"})},
		{name: "the alias is the source's host", bc: config("", aliased), snapshot: "latest",
			to:   &v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd-new"},
			want: session("", v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd-new"}, "", v1alpha1.RestoreRule{SourceHost: "prod-etcd"})},
		{name: "workload hosts match by name", bc: config("", sts), snapshot: "latest", task: "volume-restore",
			to:   &v1alpha1.TargetRef{Kind: "StatefulSet", Name: "db-copy"},
			want: session("volume-restore", v1alpha1.TargetRef{Kind: "StatefulSet", Name: "db-copy"}, "", v1alpha1.RestoreRule{})},
		{name: "a Stash task name is left to inference", bc: config("etcd-backup-3.5.0", etcd), snapshot: "latest",
			want: session("", etcd.Ref, "", v1alpha1.RestoreRule{})},
		{name: "no target", bc: config("etcd-backup", nil), snapshot: "latest",
			wantErr: "BackupConfiguration team-a/nightly has no spec.target: name one with --to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := restoreSessionFor(tt.bc, tt.snapshot, tt.to, tt.task)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RestoreSession (-want +got):\n%s", diff)
			}
		})
	}
}
