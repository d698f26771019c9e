// Package conditions is the one way stashflow's controllers write status
// conditions: Set stamps observedGeneration, keeps lastTransitionTime while
// the status does not change, and keeps the list in a stable order (existing
// conditions stay where they are, new ones are appended), so that a status
// written twice from the same facts is byte-for-byte the same and a reconcile
// never causes another one by itself.
//
// The condition types are Stash's (BackupExecutorEnsured,
// PreBackupHookExecutionSucceeded, ...) where the API package has no name for
// them; reasons are typed constants, so that every controller spells them
// alike. The model is cluster-api's util/conditions/setter.go.
//
// The type is v1alpha1.Condition (metav1.Condition's fields plus Stash's
// optional severity), so the helpers of k8s.io/apimachinery/pkg/api/meta
// do not apply: Get, IsTrue and Delete are theirs. A condition Set writes
// has no severity; conditions of other types (e.g. from a Stash export) are
// left as they are.
package conditions

import (
	"slices"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// MaxMessageLength is the longest message a condition holds (the CRDs allow
// 32768; status messages elsewhere allow 4096, so conditions follow).
const MaxMessageLength = 4096

// Set writes one condition into conds. It returns true if anything changed.
// The condition it writes has no severity: one that a condition of the type
// had (exported from Stash) goes with the rest of what it said.
func Set(conds *[]v1alpha1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason Reason, message string) bool {
	c := v1alpha1.Condition{
		Type:               condType,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             string(reason),
		Message:            Truncate(message, MaxMessageLength),
	}
	old := Get(*conds, condType)
	if old != nil && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message && old.ObservedGeneration == c.ObservedGeneration && old.Severity == "" {
		return false
	}
	if old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
	} else {
		c.LastTransitionTime = metav1.Now()
	}
	if old != nil {
		*old = c
		return true
	}
	*conds = append(*conds, c)
	return true
}

// True sets a True condition.
func True(conds *[]v1alpha1.Condition, generation int64, condType string, reason Reason, message string) bool {
	return Set(conds, generation, condType, metav1.ConditionTrue, reason, message)
}

// False sets a False condition.
func False(conds *[]v1alpha1.Condition, generation int64, condType string, reason Reason, message string) bool {
	return Set(conds, generation, condType, metav1.ConditionFalse, reason, message)
}

// Unknown sets an Unknown condition.
func Unknown(conds *[]v1alpha1.Condition, generation int64, condType string, reason Reason, message string) bool {
	return Set(conds, generation, condType, metav1.ConditionUnknown, reason, message)
}

// Delete removes a condition; it returns true if there was one.
func Delete(conds *[]v1alpha1.Condition, condType string) bool {
	n := len(*conds)
	*conds = slices.DeleteFunc(*conds, func(c v1alpha1.Condition) bool { return c.Type == condType })
	return len(*conds) != n
}

// Get returns the condition of that type, or nil.
func Get(conds []v1alpha1.Condition, condType string) *v1alpha1.Condition {
	for i := range conds {
		if conds[i].Type == condType {
			return &conds[i]
		}
	}
	return nil
}

// IsTrue reports whether the condition exists and is True.
func IsTrue(conds []v1alpha1.Condition, condType string) bool {
	c := Get(conds, condType)
	return c != nil && c.Status == metav1.ConditionTrue
}

// Truncate shortens s to at most n bytes, marking the cut; it cuts between
// words when a space lies near the limit, else on a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " …"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if sp := strings.LastIndexByte(s[:cut], ' '); sp > 0 && cut-sp <= wordCutSlack {
		cut = sp
	}
	return s[:cut] + mark
}

// wordCutSlack is how much Truncate gives up to cut between words.
const wordCutSlack = 40
