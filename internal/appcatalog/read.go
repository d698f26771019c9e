package appcatalog

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// NotFoundError says that the AppBinding a reference names is not there.
type NotFoundError struct {
	Namespace string
	Name      string
	// Detail says which AppBinding was looked for, and why it is missing
	// (e.g. its CRD is not installed); empty when neither stashflow's nor
	// appcatalog's exists.
	Detail string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("AppBinding %s/%s not found", e.Namespace, e.Name)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Get returns the AppBinding a target reference of kind AppBinding names,
// as stashflow's type. The reference's apiVersion decides which one:
//
//   - of group appcatalog.appscode.com: the appcatalog AppBinding (what
//     KubeDB creates), read in place through appcat and mapped by
//     ToAppBinding;
//   - stashflow.dev/v1alpha1, or empty: stashflow's, read through
//     stashflow; when there is none, an appcatalog AppBinding of that name
//     (so that a spec rewritten by `stashflow convert` still reads the
//     AppBinding KubeDB keeps up to date). stashflow's wins when both exist.
//
// This is the one rule: the resolver (controllers/resolve) and the hook
// step (functions/hook) both call Get. appcat may be nil (nothing can read
// appcatalog AppBindings). A missing object, or a missing appcatalog CRD,
// is a *NotFoundError; a field ToAppBinding refuses, a *FieldError; any
// other error is a read error, wrapped with the object it read.
func Get(ctx context.Context, stashflow, appcat client.Reader, apiVersion string, key client.ObjectKey) (*v1alpha1.AppBinding, error) {
	if IsAppCatalog(apiVersion) {
		return getAppCatalog(ctx, appcat, key)
	}
	ab := &v1alpha1.AppBinding{}
	err := stashflow.Get(ctx, key, ab)
	switch {
	case err == nil:
		return ab, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading AppBinding %s: %w", key, err)
	}
	ab, err = getAppCatalog(ctx, appcat, key)
	if nf := (*NotFoundError)(nil); errors.As(err, &nf) {
		// Neither exists: say so for stashflow's kind.
		return nil, &NotFoundError{Namespace: key.Namespace, Name: key.Name}
	}
	return ab, err
}

// getAppCatalog reads the appcatalog.appscode.com/v1alpha1 AppBinding key
// directly and maps it.
func getAppCatalog(ctx context.Context, r client.Reader, key client.ObjectKey) (*v1alpha1.AppBinding, error) {
	if r == nil {
		return nil, &NotFoundError{Namespace: key.Namespace, Name: key.Name, Detail: "nothing here can read " + GroupVersion.String() + " AppBindings"}
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(GVK)
	err := r.Get(ctx, key, u)
	switch {
	case meta.IsNoMatchError(err):
		return nil, &NotFoundError{Namespace: key.Namespace, Name: key.Name,
			Detail: fmt.Sprintf("the CRD %s is not installed (KubeDB and Stash install it); apiVersion %s names it", CRDName, GroupVersion)}
	case apierrors.IsNotFound(err):
		return nil, &NotFoundError{Namespace: key.Namespace, Name: key.Name, Detail: "no " + GroupVersion.String() + " AppBinding of that name"}
	case err != nil:
		return nil, fmt.Errorf("reading %s AppBinding %s: %w", GroupVersion, key, err)
	}
	return ToAppBinding(u.Object)
}
