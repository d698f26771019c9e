package patch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// TestPatchStatusOnExit checks how the deferred status write folds its
// outcome into a Reconcile's result and error (pure logic: a fake client
// whose status patch answers as each case says).
func TestPatchStatusOnExit(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "stashflow.dev", Resource: "backupsessions"}, "s", errors.New("the object has been modified"))
	earlier := errors.New("an earlier phase failed")
	tests := []struct {
		name      string
		change    bool  // the status differs from what was read
		patchErr  error // what the status patch answers
		res       ctrl.Result
		reterr    error
		wantRes   ctrl.Result
		wantErr   string // substring; "" means no error
		wantCalls int
	}{
		{name: "nothing changed", res: ctrl.Result{RequeueAfter: time.Minute}, wantRes: ctrl.Result{RequeueAfter: time.Minute}},
		{name: "patched", change: true, res: ctrl.Result{RequeueAfter: time.Minute}, wantRes: ctrl.Result{RequeueAfter: time.Minute}, wantCalls: 1},
		{name: "conflict: requeued soon, no error", change: true, patchErr: conflict, wantRes: ctrl.Result{RequeueAfter: ConflictRequeue}, wantCalls: 1},
		{name: "conflict: a later requeue is brought forward", change: true, patchErr: conflict, res: ctrl.Result{RequeueAfter: time.Minute}, wantRes: ctrl.Result{RequeueAfter: ConflictRequeue}, wantCalls: 1},
		{name: "conflict: a sooner requeue stays", change: true, patchErr: conflict, res: ctrl.Result{RequeueAfter: 100 * time.Millisecond}, wantRes: ctrl.Result{RequeueAfter: 100 * time.Millisecond}, wantCalls: 1},
		{name: "conflict after an error: both reported, no result", change: true, patchErr: conflict, reterr: earlier, res: ctrl.Result{RequeueAfter: time.Minute}, wantErr: "modified", wantCalls: 1},
		{name: "other patch failure: an error, no result", change: true, patchErr: errors.New("connection refused"), res: ctrl.Result{RequeueAfter: time.Minute}, wantErr: "connection refused", wantCalls: 1},
		{name: "an earlier error alone: no result", reterr: earlier, res: ctrl.Result{RequeueAfter: time.Minute}, wantErr: "earlier phase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := v1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			obj := &v1alpha1.BackupSession{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}}
			calls := 0
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(obj.DeepCopy()).WithStatusSubresource(obj).
				WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
					calls++
					if tt.patchErr != nil {
						return tt.patchErr
					}
					return c.SubResource(sub).Patch(ctx, o, p, opts...)
				}}).Build()
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
				t.Fatal(err)
			}
			h := NewHelper(obj, WithOptimisticLock())
			if tt.change {
				obj.Status.Phase = v1alpha1.BackupSessionRunning
			}
			res, reterr := tt.res, tt.reterr
			h.PatchStatusOnExit(context.Background(), c, obj, &res, &reterr)
			if diff := cmp.Diff(tt.wantRes, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == "" && reterr != nil:
				t.Errorf("error %v, want none", reterr)
			case tt.wantErr != "" && (reterr == nil || !strings.Contains(reterr.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", reterr, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("%d status patches, want %d", calls, tt.wantCalls)
			}
		})
	}
}

// TestInvalidFallback: a status the API server refuses as Invalid is sent
// once more after the fallback changed it; without a change, or for any
// other error, the refusal is the Reconcile's error.
func TestInvalidFallback(t *testing.T) {
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "stashflow.dev", Kind: "BackupSession"}, "s", nil)
	for _, tt := range []struct {
		name      string
		changes   bool
		wantErr   bool
		wantCalls int
		wantPhase v1alpha1.BackupSessionPhase
	}{
		{name: "the fallback drops the refused part", changes: true, wantCalls: 2, wantPhase: v1alpha1.BackupSessionFailed},
		{name: "the fallback changes nothing", wantErr: true, wantCalls: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			scheme := runtime.NewScheme()
			if err := v1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			obj := &v1alpha1.BackupSession{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}}
			calls := 0
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(obj.DeepCopy()).WithStatusSubresource(obj).
				WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
					calls++
					if o.(*v1alpha1.BackupSession).Status.Phase == v1alpha1.BackupSessionRunning {
						return invalid // the refused field
					}
					return c.SubResource(sub).Patch(ctx, o, p, opts...)
				}}).Build()
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
				t.Fatal(err)
			}
			h := NewHelper(obj, WithOptimisticLock(), WithInvalidFallback(func(err error) bool {
				if !apierrors.IsInvalid(err) {
					t.Errorf("fallback got %v, want the Invalid error", err)
				}
				if tt.changes {
					obj.Status.Phase = v1alpha1.BackupSessionFailed
				}
				return tt.changes
			}))
			obj.Status.Phase = v1alpha1.BackupSessionRunning
			var res ctrl.Result
			var reterr error
			h.PatchStatusOnExit(context.Background(), c, obj, &res, &reterr)
			if (reterr != nil) != tt.wantErr || calls != tt.wantCalls {
				t.Fatalf("error %v after %d patches, want error %v after %d", reterr, calls, tt.wantErr, tt.wantCalls)
			}
			got := &v1alpha1.BackupSession{}
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatal(err)
			}
			if got.Status.Phase != tt.wantPhase {
				t.Errorf("stored phase %q, want %q", got.Status.Phase, tt.wantPhase)
			}
		})
	}
}
