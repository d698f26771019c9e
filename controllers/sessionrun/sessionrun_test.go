package sessionrun

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
)

func TestSoonest(t *testing.T) {
	r := func(d time.Duration) ctrl.Result { return ctrl.Result{RequeueAfter: d} }
	for _, tc := range []struct {
		a, b, want ctrl.Result
	}{
		{r(0), r(0), r(0)},
		{r(0), r(time.Second), r(time.Second)},
		{r(time.Second), r(0), r(time.Second)},
		{r(2 * time.Second), r(time.Second), r(time.Second)},
		{r(time.Second), r(2 * time.Second), r(time.Second)},
	} {
		if got := Soonest(tc.a, tc.b); got != tc.want {
			t.Errorf("Soonest(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestDo: phases run in order until one errs or marks the run done; the
// soonest requeue wins.
func TestDo(t *testing.T) {
	type scope struct{ ran []string }
	phase := func(name string, res time.Duration, done bool, err error) func(context.Context, *scope) (ctrl.Result, error) {
		return func(_ context.Context, s *scope) (ctrl.Result, error) {
			s.ran = append(s.ran, name)
			if done {
				run.Done = true
			}
			return ctrl.Result{RequeueAfter: res}, err
		}
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		phases  []func(context.Context, *scope) (ctrl.Result, error)
		wantRan []string
		want    time.Duration
		wantErr error
	}{
		{"all", []func(context.Context, *scope) (ctrl.Result, error){phase("a", 3*time.Second, false, nil), phase("b", time.Second, false, nil), phase("c", 0, false, nil)}, []string{"a", "b", "c"}, time.Second, nil},
		{"done stops", []func(context.Context, *scope) (ctrl.Result, error){phase("a", 0, true, nil), phase("b", 0, false, nil)}, []string{"a"}, 0, nil},
		{"error stops", []func(context.Context, *scope) (ctrl.Result, error){phase("a", time.Second, false, boom), phase("b", 0, false, nil)}, []string{"a"}, 0, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run = &Run{}
			s := &scope{}
			res, err := Do(context.Background(), s, run, tc.phases)
			if diff := cmp.Diff(tc.wantRan, s.ran); diff != "" {
				t.Errorf("phases run (-want +got):\n%s", diff)
			}
			if res.RequeueAfter != tc.want || !errors.Is(err, tc.wantErr) {
				t.Errorf("Do() = %v, %v; want %v, %v", res.RequeueAfter, err, tc.want, tc.wantErr)
			}
		})
	}
}

// run is the Run TestDo's phases mark done.
var run *Run

// TestSetPhase: a phase change is an event, Warning for the phases a user
// must look at; setting the same phase again is not.
func TestSetPhase(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	r := &Runner{Deps: &Deps{Recorder: rec}, Kind: Adapter{Status: func(obj client.Object) Status {
		st := &obj.(*v1alpha1.RestoreSession).Status
		return Status{Phase: (*string)(&st.Phase), Reason: &st.Reason, Message: &st.Message, SessionDuration: &st.SessionDuration,
			SessionDeadline: &st.SessionDeadline, Workflow: &st.Workflow, Plan: &st.Plan, Conditions: &st.Conditions}
	}}}
	obj := &v1alpha1.RestoreSession{ObjectMeta: metav1.ObjectMeta{Name: "r"}}
	run := r.NewRun(obj)
	r.SetPhase(run, sessionstatus.Running, conditions.ReasonRunning, "running")
	r.SetPhase(run, sessionstatus.Running, conditions.ReasonRunning, "still running")
	r.SetPhase(run, sessionstatus.Invalid, conditions.ReasonInvalidInput, "bad")
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	if diff := cmp.Diff([]string{"Normal Running running", "Warning Invalid bad"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if obj.Status.Phase != v1alpha1.RestoreInvalid || obj.Status.Message != "bad" || run.Phase() != sessionstatus.Invalid {
		t.Errorf("status = %s %q", obj.Status.Phase, obj.Status.Message)
	}
}
