package backupconfiguration

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/translators"
)

// BackupBatchKind is the Kind of BackupBatches: several members backed up in
// one session, each with a status entry of its own.
var BackupBatchKind = Kind{
	Name:    v1alpha1.KindBackupBatch,
	New:     func() client.Object { return &v1alpha1.BackupBatch{} },
	NewList: func() client.ObjectList { return &v1alpha1.BackupBatchList{} },
	View: func(o client.Object) *invoker {
		b := o.(*v1alpha1.BackupBatch)
		members := make([]*v1alpha1.BackupConfigurationTemplateSpec, len(b.Spec.Members))
		for i := range b.Spec.Members {
			members[i] = &b.Spec.Members[i].BackupConfigurationTemplateSpec
		}
		return &invoker{
			obj:  b,
			kind: v1alpha1.KindBackupBatch,
			spec: invokerSpec{
				Repository:   b.Spec.Repository,
				Schedule:     b.Spec.Schedule,
				Paused:       b.Spec.Paused,
				HistoryLimit: b.Spec.HistoryLimit(),
				Retry:        b.Spec.RetryConfig,
				Members:      members,
				Batch:        true,
			},
			status: invokerStatus{
				ObservedGeneration: &b.Status.ObservedGeneration,
				Phase:              &b.Status.Phase,
				NextBackupTime:     &b.Status.NextBackupTime,
				LastBackupTime:     &b.Status.LastBackupTime,
				Conditions:         &b.Status.Conditions,
				Members:            &b.Status.Members,
			},
			translate: translators.BackupInvoker{Batch: b},
		}
	},
}
