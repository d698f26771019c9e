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
package conditions

import (
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaxMessageLength is the longest message a condition holds (the CRDs allow
// 32768; status messages elsewhere allow 4096, so conditions follow).
const MaxMessageLength = 4096

// Set writes one condition into conds. It returns true if anything changed.
func Set(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason Reason, message string) bool {
	c := metav1.Condition{
		Type:               condType,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             string(reason),
		Message:            Truncate(message, MaxMessageLength),
	}
	old := meta.FindStatusCondition(*conds, condType)
	if old != nil && old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message && old.ObservedGeneration == c.ObservedGeneration {
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
func True(conds *[]metav1.Condition, generation int64, condType string, reason Reason, message string) bool {
	return Set(conds, generation, condType, metav1.ConditionTrue, reason, message)
}

// False sets a False condition.
func False(conds *[]metav1.Condition, generation int64, condType string, reason Reason, message string) bool {
	return Set(conds, generation, condType, metav1.ConditionFalse, reason, message)
}

// Unknown sets an Unknown condition.
func Unknown(conds *[]metav1.Condition, generation int64, condType string, reason Reason, message string) bool {
	return Set(conds, generation, condType, metav1.ConditionUnknown, reason, message)
}

// Delete removes a condition; it returns true if there was one.
func Delete(conds *[]metav1.Condition, condType string) bool {
	return meta.RemoveStatusCondition(conds, condType)
}

// Get returns the condition of that type, or nil.
func Get(conds []metav1.Condition, condType string) *metav1.Condition {
	return meta.FindStatusCondition(conds, condType)
}

// IsTrue reports whether the condition exists and is True.
func IsTrue(conds []metav1.Condition, condType string) bool {
	return meta.IsStatusConditionTrue(conds, condType)
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
