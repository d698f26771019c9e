// Package patch writes an object's status back with one merge patch, and only
// when it changed: a Helper remembers the object as it was read, and Patch
// sends the difference. It is the tiny cousin of cluster-api's
// util/patch.Helper, for objects whose controllers write status only.
package patch

import (
	"bytes"
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Helper patches the status of one object.
type Helper struct {
	before client.Object
	// optimisticLock makes the patch fail with a Conflict when the object
	// changed since it was read, so that a decision taken on a stale copy is
	// never written over a newer one.
	optimisticLock bool
	// invalidFallback: see WithInvalidFallback.
	invalidFallback func(err error) bool
}

// Option configures a Helper.
type Option func(*Helper)

// WithOptimisticLock adds metadata.resourceVersion to every patch.
func WithOptimisticLock() Option { return func(h *Helper) { h.optimisticLock = true } }

// WithInvalidFallback gives PatchStatusOnExit a second chance when the API
// server refuses the status as Invalid: fallback may change the object to a
// status it accepts (it reports whether it changed anything), and the patch
// is sent once more. A session whose workflow is running must never be
// left without a status because one field of it was refused.
func WithInvalidFallback(fallback func(err error) bool) Option {
	return func(h *Helper) { h.invalidFallback = fallback }
}

// NewHelper remembers obj as it is now.
func NewHelper(obj client.Object, opts ...Option) *Helper {
	h := &Helper{before: obj.DeepCopyObject().(client.Object)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// PatchStatus sends the difference between the remembered object and obj to
// the status subresource; it sends nothing when they are the same.
func (h *Helper) PatchStatus(ctx context.Context, c client.Client, obj client.Object) error {
	plain := client.MergeFrom(h.before)
	data, err := plain.Data(obj)
	if err != nil {
		return fmt.Errorf("computing the status patch: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("{}")) {
		return nil
	}
	p := plain
	if h.optimisticLock {
		p = client.MergeFromWithOptions(h.before, client.MergeFromWithOptimisticLock{})
	}
	if err := c.Status().Patch(ctx, obj, p); err != nil {
		return fmt.Errorf("patching the status of %s: %w", client.ObjectKeyFromObject(obj), err)
	}
	h.before = obj.DeepCopyObject().(client.Object)
	return nil
}

// ConflictRequeue is how soon a reconcile whose status patch lost the race
// to a newer write runs again, at the latest: the newer object's watch event
// usually brings it sooner.
const ConflictRequeue = time.Second

// PatchStatusOnExit is a Reconcile's deferred status write. It patches obj's
// status and folds the outcome into the Reconcile's result and error:
//   - a Conflict from the optimistic lock is not an error (another write came
//     first and its watch event reconciles the object again): it is logged at
//     V(1) and the object requeued after at most ConflictRequeue, without
//     controller-runtime's error log and exponential backoff;
//   - any other failure joins reterr;
//   - with an error the result is dropped, as controller-runtime ignores it
//     then (and warns when it is not zero).
func (h *Helper) PatchStatusOnExit(ctx context.Context, c client.Client, obj client.Object, res *ctrl.Result, reterr *error) {
	err := h.PatchStatus(ctx, c, obj)
	if apierrors.IsInvalid(err) && h.invalidFallback != nil && h.invalidFallback(err) {
		ctrl.LoggerFrom(ctx).Info("Status refused, patching again without the refused part", "object", client.ObjectKeyFromObject(obj), "error", err.Error())
		err = h.PatchStatus(ctx, c, obj)
	}
	switch {
	case err == nil:
	case apierrors.IsConflict(err) && *reterr == nil:
		ctrl.LoggerFrom(ctx).V(1).Info("Status patch lost to a newer write, reconciling again", "object", client.ObjectKeyFromObject(obj))
		if res.RequeueAfter == 0 || res.RequeueAfter > ConflictRequeue {
			res.RequeueAfter = ConflictRequeue
		}
	default:
		*reterr = kerrors.NewAggregate([]error{*reterr, err})
	}
	if *reterr != nil {
		*res = ctrl.Result{}
	}
}
