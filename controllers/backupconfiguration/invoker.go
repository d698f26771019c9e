package backupconfiguration

import (
	"strconv"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/translators"
)

// Kind is what differs between BackupConfiguration and BackupBatch.
type Kind struct {
	// Name is the kind's name, also spec.invoker.kind of its sessions.
	Name    string
	New     func() client.Object
	NewList func() client.ObjectList
	// View returns the parts of the object the Reconciler reads and writes.
	View func(client.Object) *invoker
}

// invoker is a view of a BackupConfiguration or BackupBatch: a copy of the
// spec fields and pointers into the status.
type invoker struct {
	obj    client.Object
	kind   string
	spec   invokerSpec
	status invokerStatus
	// translate is the translators' view of the invoker.
	translate translators.BackupInvoker
}

type invokerSpec struct {
	Repository   v1alpha1.ObjectRef
	Schedule     string
	Paused       bool
	HistoryLimit int32
	Retry        *v1alpha1.RetryConfig
	// Members are the targets: one for a BackupConfiguration.
	Members []*v1alpha1.BackupConfigurationTemplateSpec
	// Batch is true for a BackupBatch: its members have a status of their own.
	Batch bool
}

type invokerStatus struct {
	ObservedGeneration *int64
	Phase              *v1alpha1.BackupInvokerPhase
	NextBackupTime     **metav1.Time
	LastBackupTime     **metav1.Time
	Conditions         *[]v1alpha1.Condition
	// Members is nil for a BackupConfiguration.
	Members *[]v1alpha1.BackupBatchMemberStatus
}

// memberField is where member i is in the spec.
func (inv *invoker) memberField(i int) string {
	if inv.spec.Batch {
		return "spec.members[" + strconv.Itoa(i) + "]"
	}
	return "spec"
}

// BackupConfigurationKind is the Kind of BackupConfigurations.
var BackupConfigurationKind = Kind{
	Name:    v1alpha1.KindBackupConfiguration,
	New:     func() client.Object { return &v1alpha1.BackupConfiguration{} },
	NewList: func() client.ObjectList { return &v1alpha1.BackupConfigurationList{} },
	View: func(o client.Object) *invoker {
		c := o.(*v1alpha1.BackupConfiguration)
		return &invoker{
			obj:  c,
			kind: v1alpha1.KindBackupConfiguration,
			spec: invokerSpec{
				Repository:   c.Spec.Repository,
				Schedule:     c.Spec.Schedule,
				Paused:       c.Spec.Paused,
				HistoryLimit: c.Spec.HistoryLimit(),
				Retry:        c.Spec.RetryConfig,
				Members:      []*v1alpha1.BackupConfigurationTemplateSpec{&c.Spec.BackupConfigurationTemplateSpec},
			},
			status: invokerStatus{
				ObservedGeneration: &c.Status.ObservedGeneration,
				Phase:              &c.Status.Phase,
				NextBackupTime:     &c.Status.NextBackupTime,
				LastBackupTime:     &c.Status.LastBackupTime,
				Conditions:         &c.Status.Conditions,
			},
			translate: translators.BackupInvoker{Config: c},
		}
	},
}

// requests turns a list of invokers into reconcile requests.
func requests(list client.ObjectList) []ctrl.Request {
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]ctrl.Request, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}
