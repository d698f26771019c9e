package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/controllers/resolve"
)

// The catalog's label (see package catalog).
const (
	CatalogLabel      = catalog.Label
	CatalogLabelValue = catalog.LabelValue
	// FieldOwner is the operator's field manager for server-side apply.
	FieldOwner = "stashflow"
)

// InstallBuiltins applies the catalog's Functions and Tasks to the cluster
// with server-side apply (field owner "stashflow"). An existing object of
// the same name that does not carry the catalog label is the user's: it is
// not overwritten (and the resolver then prefers it anyway).
func InstallBuiltins(ctx context.Context, c client.Client, reader client.Reader, b resolve.Builtins) error {
	log := ctrl.LoggerFrom(ctx)
	apply := func(obj client.Object, existing client.Object) error {
		err := reader.Get(ctx, client.ObjectKeyFromObject(obj), existing)
		switch {
		case err == nil && existing.GetLabels()[CatalogLabel] != CatalogLabelValue:
			log.Info("Keeping the user's object of a catalog name", "kind", obj.GetObjectKind().GroupVersionKind().Kind, "name", obj.GetName())
			return nil
		case err != nil && !apierrors.IsNotFound(err):
			return fmt.Errorf("reading %s: %w", obj.GetName(), err)
		}
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[CatalogLabel] = CatalogLabelValue
		obj.SetLabels(labels)
		obj.SetResourceVersion("")
		obj.SetUID("")
		obj.SetManagedFields(nil)
		obj.SetCreationTimestamp(metav1.Time{})
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s: %w", obj.GetName(), err)
		}
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(b.Functions)) {
		fn := b.Functions[name].DeepCopy()
		fn.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Function"}
		if err := apply(fn, &v1alpha1.Function{}); err != nil {
			return fmt.Errorf("installing the catalog's Function: %w", err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(b.Tasks)) {
		t := b.Tasks[name].DeepCopy()
		t.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Task"}
		if err := apply(t, &v1alpha1.Task{}); err != nil {
			return fmt.Errorf("installing the catalog's Task: %w", err)
		}
	}
	log.Info("Catalog installed", "functions", len(b.Functions), "tasks", len(b.Tasks))
	return nil
}

// builtinsInstaller runs InstallBuiltins once the manager starts (on the
// leader). A failure is logged, not fatal: the resolver falls back to the
// built-in catalog anyway.
type builtinsInstaller struct {
	client   client.Client
	reader   client.Reader
	builtins resolve.Builtins
}

func (i builtinsInstaller) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.Log.WithName("catalog"))
	if err := InstallBuiltins(ctx, i.client, i.reader, i.builtins); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Installing the catalog failed; the operator uses its built-in copy")
	}
	return nil
}
