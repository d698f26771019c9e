package shutdown

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestQuiet(t *testing.T) {
	boom := errors.New("patching the status: connection refused")
	tests := []struct {
		name    string
		ctx     func() context.Context
		res     reconcile.Result
		err     error
		wantRes reconcile.Result
		wantErr error
	}{
		{name: "success passes", ctx: context.Background, res: reconcile.Result{RequeueAfter: time.Minute}, wantRes: reconcile.Result{RequeueAfter: time.Minute}},
		{name: "an error of a live reconcile passes", ctx: context.Background, err: boom, wantErr: boom},
		{name: "an error after shutdown is dropped", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, err: fmt.Errorf("client rate limiter Wait returned an error: %w", context.Canceled), res: reconcile.Result{RequeueAfter: time.Second}},
		{name: "an error after a timeout passes", ctx: func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			t.Cleanup(cancel)
			return ctx
		}, err: boom, wantErr: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return tt.res, tt.err })
			res, err := Quiet(inner).Reconcile(tt.ctx(), reconcile.Request{})
			if diff := cmp.Diff(tt.wantRes, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}
