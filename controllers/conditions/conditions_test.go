package conditions

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestSetStashSeverity: a condition exported from Stash keeps its severity
// (and its missing reason and message) while stashflow does not set its
// type; one stashflow sets loses the severity with the rest of what it
// said, even when status, reason and message are the same.
func TestSetStashSeverity(t *testing.T) {
	then := metav1.NewTime(time.Date(2024, 3, 1, 10, 5, 31, 0, time.UTC))
	stash := func() []v1alpha1.Condition {
		return []v1alpha1.Condition{
			{Type: "MetricsPushed", Status: metav1.ConditionFalse, Severity: v1alpha1.ConditionSeverityWarning, LastTransitionTime: then},
			{Type: "Ready", Status: metav1.ConditionFalse, Reason: string(ReasonRepositoryNotFound), Message: "missing", Severity: v1alpha1.ConditionSeverityError, LastTransitionTime: then},
		}
	}
	tests := []struct {
		name    string
		set     func(*[]v1alpha1.Condition) bool
		changed bool
		want    []v1alpha1.Condition
	}{{
		name:    "another type",
		set:     func(c *[]v1alpha1.Condition) bool { return True(c, 0, "TargetFound", ReasonReady, "there") },
		changed: true,
		want:    append(stash(), v1alpha1.Condition{Type: "TargetFound", Status: metav1.ConditionTrue, Reason: string(ReasonReady), Message: "there"}),
	}, {
		name:    "the same type, the same facts",
		set:     func(c *[]v1alpha1.Condition) bool { return False(c, 0, "Ready", ReasonRepositoryNotFound, "missing") },
		changed: true,
		want: []v1alpha1.Condition{
			stash()[0],
			{Type: "Ready", Status: metav1.ConditionFalse, Reason: string(ReasonRepositoryNotFound), Message: "missing", LastTransitionTime: then},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conds := stash()
			if got := tt.set(&conds); got != tt.changed {
				t.Errorf("changed = %v, want %v", got, tt.changed)
			}
			// A new condition's time is now: compare the rest.
			for i := range conds {
				if conds[i].Type == "TargetFound" {
					conds[i].LastTransitionTime = metav1.Time{}
				}
			}
			if diff := cmp.Diff(tt.want, conds); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSet(t *testing.T) {
	var conds []v1alpha1.Condition
	if !True(&conds, 1, "Ready", ReasonReady, "ok") {
		t.Fatal("the first Set reported no change")
	}
	False(&conds, 1, "RepositoryFound", ReasonRepositoryNotFound, "missing")
	first := conds[0].LastTransitionTime
	first.Time = first.Add(-time.Hour) // pretend it is old
	conds[0].LastTransitionTime = first

	tests := []struct {
		name        string
		set         func() bool
		wantChanged bool
		wantOrder   []string
		wantLTTKept bool
		wantGen     int64
	}{
		{"same values change nothing", func() bool { return True(&conds, 1, "Ready", ReasonReady, "ok") }, false, []string{"Ready", "RepositoryFound"}, true, 1},
		{"a new generation is stamped, the transition time kept", func() bool { return True(&conds, 2, "Ready", ReasonReady, "ok") }, true, []string{"Ready", "RepositoryFound"}, true, 2},
		{"a new message keeps the transition time", func() bool { return True(&conds, 2, "Ready", ReasonReady, "still ok") }, true, []string{"Ready", "RepositoryFound"}, true, 2},
		{"a new status moves the transition time, not the position", func() bool { return False(&conds, 2, "Ready", ReasonNotReady, "no") }, true, []string{"Ready", "RepositoryFound"}, false, 2},
		{"a new type is appended", func() bool { return True(&conds, 2, "TaskResolved", ReasonTaskResolved, "ok") }, true, []string{"Ready", "RepositoryFound", "TaskResolved"}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.set(); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			var order []string
			for _, c := range conds {
				order = append(order, c.Type)
			}
			if strings.Join(order, ",") != strings.Join(tt.wantOrder, ",") {
				t.Errorf("order = %v, want %v", order, tt.wantOrder)
			}
			if kept := conds[0].LastTransitionTime.Equal(&first); kept != tt.wantLTTKept {
				t.Errorf("Ready's lastTransitionTime kept = %v, want %v", kept, tt.wantLTTKept)
			}
			if conds[0].ObservedGeneration != tt.wantGen {
				t.Errorf("observedGeneration = %d, want %d", conds[0].ObservedGeneration, tt.wantGen)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("héllo wörld", 8); len(got) > 8 || !strings.HasSuffix(got, "…") {
		t.Errorf("Truncate = %q (%d bytes)", got, len(got))
	}
	long := "repository is locked by PID 42 on host node-1 since 2026-12-04T10:00:00Z; remove it with restic unlock --remove-all"
	if got, want := Truncate(long, 64), "repository is locked by PID 42 on host node-1 since …"; got != want {
		t.Errorf("Truncate = %q, want it cut between words: %q", got, want)
	}
	if got := Truncate("short", 8); got != "short" {
		t.Errorf("Truncate = %q, want it unchanged", got)
	}
}
