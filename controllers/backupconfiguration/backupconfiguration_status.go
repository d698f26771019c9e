package backupconfiguration

import (
	"context"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/resolve"
)

// verdict collects what is wrong with an invoker.
type verdict struct {
	// invalid cannot heal without a spec change; missing can.
	invalid, missing []string
}

// check sets a condition from a resolver error: nil is True, a missing
// object or a forbidding Repository is False. Other errors are returned.
func (v *verdict) check(conds *[]v1alpha1.Condition, gen int64, condType string, err error, okReason conditions.Reason, okMsg string) error {
	switch {
	case err == nil:
		conditions.True(conds, gen, condType, okReason, okMsg)
	case resolve.IsNotFound(err):
		conditions.False(conds, gen, condType, resolve.Reason(err), err.Error())
		v.missing = append(v.missing, err.Error())
	case resolve.IsForbidden(err):
		conditions.False(conds, gen, condType, conditions.ReasonNamespaceNotAllowed, err.Error())
		v.invalid = append(v.invalid, err.Error())
	case resolve.IsInvalid(err):
		conditions.False(conds, gen, condType, conditions.ReasonInvalidSpec, err.Error())
		v.invalid = append(v.invalid, err.Error())
	default:
		return err
	}
	return nil
}

// setReadiness writes Ready and the phase from the verdict.
func (r *Reconciler) setReadiness(ctx context.Context, s *scope, v *verdict) ctrl.Result {
	inv := s.inv
	gen := inv.obj.GetGeneration()
	old := *inv.status.Phase
	s.checked = true
	var res ctrl.Result
	switch {
	case len(v.invalid) > 0:
		*inv.status.Phase = v1alpha1.InvokerInvalid
		conditions.False(inv.status.Conditions, gen, v1alpha1.ConditionReady, conditions.ReasonInvalidSpec, strings.Join(v.invalid, "; "))
	case len(v.missing) > 0:
		*inv.status.Phase = v1alpha1.InvokerNotReady
		conditions.False(inv.status.Conditions, gen, v1alpha1.ConditionReady, conditions.ReasonNotReady, strings.Join(v.missing, "; "))
		res.RequeueAfter = r.NotReadyRequeue
	default:
		*inv.status.Phase = v1alpha1.InvokerReady
		msg := "sessions run on schedule " + strconv.Quote(inv.spec.Schedule)
		switch {
		case inv.spec.Paused:
			msg = "paused: sessions run only when triggered"
		case inv.spec.Schedule == "":
			msg = "no schedule: sessions run only when triggered"
		}
		conditions.True(inv.status.Conditions, gen, v1alpha1.ConditionReady, conditions.ReasonReady, msg)
		s.ready = true
	}
	if cur := *inv.status.Phase; cur != old {
		cond := conditions.Get(*inv.status.Conditions, v1alpha1.ConditionReady)
		eventType := corev1.EventTypeNormal
		if cur != v1alpha1.InvokerReady {
			eventType = corev1.EventTypeWarning
		}
		r.Recorder.Event(inv.obj, eventType, string(cur), conditions.Truncate(cond.Message, 1024))
		ctrl.LoggerFrom(ctx).Info("Invoker phase changed", "phase", cur, "message", cond.Message)
	}
	return res
}
