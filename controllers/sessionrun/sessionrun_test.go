package sessionrun

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/pipeline"
	"github.com/stashflow/stashflow/translators"
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

// restoreKind is a RestoreSession's part of the lifecycle, enough for the
// tests here.
var restoreKind = Adapter{
	Name: "RestoreSession", Subject: "restore", ExecutorCondition: conditions.RestoreExecutorEnsured, Invalid: sessionstatus.Invalid,
	New: func() client.Object { return &v1alpha1.RestoreSession{} },
	Status: func(obj client.Object) Status {
		st := &obj.(*v1alpha1.RestoreSession).Status
		return Status{Phase: (*string)(&st.Phase), Reason: &st.Reason, Message: &st.Message, SessionDuration: &st.SessionDuration,
			SessionDeadline: &st.SessionDeadline, Workflow: &st.Workflow, Plan: &st.Plan, Conditions: &st.Conditions}
	},
}

// TestSubmitStaleCache: Submit acts on a session read from the cache, which
// may not show the status an earlier reconcile wrote. It reads the session
// once from the API server and submits only when the server, too, shows it
// waiting for its submission; otherwise the engine would run the session
// again (e.g. re-create a Workflow deleted since it was submitted).
func TestSubmitStaleCache(t *testing.T) {
	const uid = types.UID("uid-1")
	submitted := &v1alpha1.WorkflowRef{Engine: v1alpha1.EngineArgo, Namespace: "ns", Name: "r-restore"}
	session := func(uid types.UID, mutate func(*v1alpha1.RestoreSessionStatus)) *v1alpha1.RestoreSession {
		s := &v1alpha1.RestoreSession{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "r", UID: uid}}
		s.Status.Phase = v1alpha1.RestorePending
		if mutate != nil {
			mutate(&s.Status)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		// server is the session on the API server; nil: none.
		server *v1alpha1.RestoreSession
		// wantSubmits is how often the engine is asked to submit.
		wantSubmits int
		wantPhase   v1alpha1.RestorePhase
		wantResult  ctrl.Result
		wantDone    bool
	}{
		{name: "server agrees: submitted", server: session(uid, nil),
			wantSubmits: 1, wantPhase: v1alpha1.RestoreRunning},
		{name: "server names a workflow: not submitted again", server: session(uid, func(st *v1alpha1.RestoreSessionStatus) {
			st.Phase, st.Workflow = v1alpha1.RestoreRunning, submitted
		}), wantPhase: v1alpha1.RestorePending, wantResult: ctrl.Result{RequeueAfter: staleRequeue}, wantDone: true},
		{name: "server shows it ended before submission", server: session(uid, func(st *v1alpha1.RestoreSessionStatus) {
			st.Phase = v1alpha1.RestoreFailed
		}), wantPhase: v1alpha1.RestorePending, wantResult: ctrl.Result{RequeueAfter: staleRequeue}, wantDone: true},
		{name: "session deleted", server: nil,
			wantPhase: v1alpha1.RestorePending, wantResult: ctrl.Result{RequeueAfter: staleRequeue}, wantDone: true},
		{name: "session replaced by one of the same name", server: session("uid-2", nil),
			wantPhase: v1alpha1.RestorePending, wantResult: ctrl.Result{RequeueAfter: staleRequeue}, wantDone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := v1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			b := fake.NewClientBuilder().WithScheme(scheme)
			if tc.server != nil {
				b = b.WithObjects(tc.server)
			}
			reader := &countingReader{Reader: b.Build()}
			eng := &submitEngine{ref: submitted}
			r := (&Deps{APIReader: reader, Recorder: record.NewFakeRecorder(10), Engine: eng}).Runner(restoreKind, nil)

			cached := session(uid, nil) // what the cache shows: Pending, no workflow
			run := r.NewRun(cached)
			run.Plan = &translators.Plan{Graph: &pipeline.Graph{Name: "r-restore"}}
			run.Record = run.Plan.Record()
			res, err := r.Submit(context.Background(), run)
			if err != nil {
				t.Fatalf("Submit: %v", err)
			}
			if eng.submits != tc.wantSubmits {
				t.Errorf("engine submissions = %d, want %d", eng.submits, tc.wantSubmits)
			}
			if reader.gets != 1 {
				t.Errorf("API server reads = %d, want 1", reader.gets)
			}
			if res != tc.wantResult || run.Done != tc.wantDone {
				t.Errorf("Submit = %+v, done %v; want %+v, done %v", res, run.Done, tc.wantResult, tc.wantDone)
			}
			if cached.Status.Phase != tc.wantPhase {
				t.Errorf("phase = %s, want %s", cached.Status.Phase, tc.wantPhase)
			}
			if wantRef := tc.wantSubmits > 0; (cached.Status.Workflow != nil) != wantRef {
				t.Errorf("status.workflow = %v, want set: %v", cached.Status.Workflow, wantRef)
			}
		})
	}

	t.Run("a submitted run is not read again", func(t *testing.T) {
		reader := &countingReader{}
		eng := &submitEngine{ref: submitted}
		r := (&Deps{APIReader: reader, Recorder: record.NewFakeRecorder(10), Engine: eng}).Runner(restoreKind, nil)
		run := r.NewRun(session(uid, func(st *v1alpha1.RestoreSessionStatus) { st.Phase, st.Workflow = v1alpha1.RestoreRunning, submitted }))
		if _, err := r.Submit(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		if reader.gets != 0 || eng.submits != 0 {
			t.Errorf("reads = %d, submissions = %d; want 0, 0", reader.gets, eng.submits)
		}
	})
}

// countingReader counts the Gets of the reader it wraps.
type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}

// submitEngine counts submissions and returns ref; the rest of the Engine
// is not used by Submit.
type submitEngine struct {
	engine.Engine
	ref     *v1alpha1.WorkflowRef
	submits int
}

func (e *submitEngine) Submit(context.Context, client.Object, *pipeline.Graph) (*v1alpha1.WorkflowRef, error) {
	e.submits++
	return e.ref, nil
}
