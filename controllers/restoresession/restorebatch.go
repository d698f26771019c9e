package restoresession

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/translators"
)

// RestoreBatchKind is the Kind of RestoreBatches: one run restores every
// member, in parallel or in sequence, between the global hooks.
var RestoreBatchKind = Kind{
	Name:   "RestoreBatch",
	New:    func() client.Object { return &v1alpha1.RestoreBatch{} },
	Status: func(o client.Object) *v1alpha1.RestoreSessionStatus { return &o.(*v1alpha1.RestoreBatch).Status },
	References: func(o client.Object) (v1alpha1.ObjectRef, []resolve.Member) {
		b := o.(*v1alpha1.RestoreBatch)
		members := make([]resolve.Member, 0, len(b.Spec.Members))
		for i := range b.Spec.Members {
			members = append(members, resolve.RestoreMember(fmt.Sprintf("spec.members[%d]", i), &b.Spec.Members[i].RestoreTargetSpec))
		}
		return b.Spec.Repository, members
	},
	Translate: func(o client.Object, objs *translators.Objects, opts translators.Options) (*translators.Plan, error) {
		return translators.RestoreBatch(o.(*v1alpha1.RestoreBatch), objs, opts)
	},
}
