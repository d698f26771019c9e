package main

import (
	"bytes"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestDescribeInvoker renders BackupConfigurations and BackupBatches with
// their sessions against golden files (refresh with -update): the
// schedule's next slot or paused, the last backup, the newest sessions
// with how long they took or have been running, and conditions.
func TestDescribeInvoker(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 1, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
	ptime := func(d time.Duration) *metav1.Time { t := at(d); return &t }
	session := func(name string, created time.Duration, phase v1alpha1.BackupSessionPhase, took string) v1alpha1.BackupSession {
		return v1alpha1.BackupSession{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", CreationTimestamp: at(created)},
			Status:     v1alpha1.BackupSessionStatus{Phase: phase, SessionDuration: took},
		}
	}
	var many []v1alpha1.BackupSession
	for i := range 7 {
		many = append(many, session("nightly-"+string(rune('a'+i)), -time.Duration(i+1)*time.Hour, v1alpha1.BackupSessionSucceeded, "12s"))
	}
	tests := []struct {
		name     string
		obj      client.Object
		sessions []v1alpha1.BackupSession
	}{{
		name: "invoker-config-scheduled",
		obj: &v1alpha1.BackupConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "team-a"},
			Spec: v1alpha1.BackupConfigurationSpec{
				BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
					Task:   &v1alpha1.TaskRef{Name: "etcd-backup"},
					Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "AppBinding", Name: "etcd"}},
				},
				Repository: v1alpha1.ObjectRef{Name: "s3-repo"}, Schedule: "*/5 * * * *",
			},
			Status: v1alpha1.BackupConfigurationStatus{
				Phase: v1alpha1.InvokerReady, NextBackupTime: ptime(4 * time.Minute), LastBackupTime: ptime(-56 * time.Minute),
				Conditions: []v1alpha1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "the repository, its Secret and the target are there"}},
			},
		},
		sessions: append([]v1alpha1.BackupSession{session("nightly-manual-x7k2p", -90*time.Second, v1alpha1.BackupSessionRunning, "")}, many...),
	}, {
		name: "invoker-batch-paused",
		obj: &v1alpha1.BackupBatch{
			ObjectMeta: metav1.ObjectMeta{Name: "wordpress", Namespace: "team-a"},
			Spec: v1alpha1.BackupBatchSpec{
				Repository: v1alpha1.ObjectRef{Name: "repo"}, Schedule: "@daily", Paused: true, ExecutionOrder: v1alpha1.Sequential,
				Members: []v1alpha1.BackupBatchMember{
					{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "Deployment", Name: "wordpress"}}}},
					{BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
						Task: &v1alpha1.TaskRef{Name: "postgres-backup"}, Target: &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{Kind: "AppBinding", Name: "db"}},
					}},
				},
			},
			Status: v1alpha1.BackupBatchStatus{Phase: v1alpha1.InvokerReady},
		},
	}, {
		name: "invoker-config-manual",
		obj: &v1alpha1.BackupConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "adhoc", Namespace: "team-a"},
			Spec:       v1alpha1.BackupConfigurationSpec{Repository: v1alpha1.ObjectRef{Name: "repo"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			describeInvoker(&buf, tt.obj, tt.sessions, now)
			checkDescribeGolden(t, tt.name, buf.String())
		})
	}
}
