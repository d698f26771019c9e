package repository

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
)

// TestCheckDue: the choice of the next integrity check, at one reading of
// the clock.
func TestCheckDue(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time {
		return created.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	type want struct {
		Trigger checkTrigger
		Wait    time.Duration
		Err     bool
	}
	tests := []struct {
		name string
		in   checkInput
		want want
	}{
		{"no schedule, nothing asked", checkInput{now: at(5, 0, 0)}, want{}},
		{"asked on demand", checkInput{requested: "2026-01-01T05:00:00Z", now: at(5, 0, 0)}, want{Trigger: checkRequested}},
		{"asked and answered", checkInput{requested: "a", answered: "a", now: at(5, 0, 0)}, want{}},
		{"asked again", checkInput{requested: "b", answered: "a", schedule: "@daily", last: at(4, 0, 0), now: at(5, 0, 0)}, want{Trigger: checkRequested}},
		{"before the first slot", checkInput{schedule: "0 3 * * *", now: at(2, 0, 0)}, want{Wait: time.Hour}},
		{"first slot due", checkInput{schedule: "0 3 * * *", now: at(3, 0, 30)}, want{Trigger: checkScheduled}},
		{"the slot's check started in its second", checkInput{schedule: "0 3 * * *", last: at(3, 0, 0), now: at(3, 5, 0)}, want{Wait: 24*time.Hour - 5*time.Minute}},
		{"slots missed: one check", checkInput{schedule: "0 3 * * *", last: at(3, 0, 0), now: at(75, 0, 0)}, want{Trigger: checkScheduled}},
		{"no slot before the Repository existed", checkInput{schedule: "0 3 * * *", anchor: at(4, 0, 0), now: at(5, 0, 0)}, want{Wait: 22 * time.Hour}},
		{"@every counts from creation", checkInput{schedule: "@every 6h", now: at(6, 0, 1)}, want{Trigger: checkScheduled}},
		{"@every after its check", checkInput{schedule: "@every 6h", last: at(6, 0, 1), now: at(7, 0, 0)}, want{Wait: 5 * time.Hour}},
		{"time zone", checkInput{schedule: "CRON_TZ=Asia/Tokyo 0 12 * * *", now: at(2, 0, 0)}, want{Wait: time.Hour}},
		{"could not run: wait for the retry", checkInput{schedule: "@daily", failed: true, retryDelay: 15 * time.Second, last: at(3, 0, 0), now: at(3, 0, 10)}, want{Wait: 5 * time.Second}},
		{"could not run: retried", checkInput{failed: true, retryDelay: 15 * time.Second, last: at(3, 0, 0), now: at(3, 0, 20)}, want{Trigger: checkRetry}},
		{"could not run: a slot comes first", checkInput{schedule: "@hourly", failed: true, retryDelay: time.Hour, last: at(3, 30, 0), now: at(3, 40, 0)}, want{Wait: 20 * time.Minute}},
		{"schedule cron cannot parse", checkInput{schedule: "61 * * * *", now: at(5, 0, 0)}, want{Err: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in.anchor.IsZero() {
				tt.in.anchor = created
			}
			trigger, wait, err := checkDue(tt.in)
			got := want{Trigger: trigger, Wait: wait, Err: err != nil}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("checkDue (-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
}

// TestSessionsWaitForACheck: while an integrity check runs, a backup or a
// restore waits (restic check holds an exclusive lock), with the check's
// run named; after it, whatever it found, they go.
func TestSessionsWaitForACheck(t *testing.T) {
	repo := &v1alpha1.Repository{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "repo", Generation: 1}}
	repo.Status.ObservedGeneration = 1
	conditions.True(&repo.Status.Conditions, 1, conditions.Initialized, conditions.ReasonRepositoryExists, "opened")
	repo.Status.Workflow = &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineLocal, Name: "repo-check-1"}
	conditions.Unknown(&repo.Status.Conditions, 1, v1alpha1.ConditionIntegrityVerified, conditions.ReasonChecking, "run repo-check-1 runs restic check")
	for _, restore := range []bool{false, true} {
		rd := ReadinessOf(repo, restore)
		want := Readiness{Reason: conditions.ReasonChecking,
			Message: "waiting for the integrity check of Repository ns/repo to end: run repo-check-1 runs restic check"}
		if diff := cmp.Diff(want, rd); diff != "" {
			t.Errorf("restore %v: ReadinessOf during a check (-want +got):\n%s", restore, diff)
		}
	}
	repo.Status.Workflow = nil
	conditions.False(&repo.Status.Conditions, 1, v1alpha1.ConditionIntegrityVerified, conditions.ReasonErrorsFound, "1 error(s)")
	if rd := ReadinessOf(repo, false); !rd.Ready {
		t.Errorf("ReadinessOf after the check: %+v, want Ready", rd)
	}
}
