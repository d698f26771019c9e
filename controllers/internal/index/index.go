// Package index registers the cache indexes the controllers look objects up
// by: sessions by invoker, invokers by Repository and by AppBinding target.
package index

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// Index names.
const (
	// SessionInvoker indexes BackupSessions by InvokerKey(kind, name).
	SessionInvoker = "spec.invoker"
	// InvokerRepository indexes BackupConfigurations and BackupBatches by
	// the "<namespace>/<name>" of their Repository.
	InvokerRepository = "spec.repository"
	// InvokerAppBinding indexes BackupConfigurations and BackupBatches by
	// the names of their AppBinding targets, whatever the target's
	// apiVersion: stashflow's and KubeDB's (appcatalog.appscode.com)
	// AppBindings both map to the invokers through it.
	InvokerAppBinding = "spec.target.appbinding"
)

// InvokerKey is the SessionInvoker value of an invoker.
func InvokerKey(kind, name string) string { return kind + "/" + name }

// Setup registers the indexes on the manager's cache.
func Setup(ctx context.Context, mgr manager.Manager) error {
	fi := mgr.GetFieldIndexer()
	if err := fi.IndexField(ctx, &v1alpha1.BackupSession{}, SessionInvoker, func(o client.Object) []string {
		s := o.(*v1alpha1.BackupSession)
		return []string{InvokerKey(s.Spec.Invoker.Kind, s.Spec.Invoker.Name)}
	}); err != nil {
		return fmt.Errorf("index %s: %w", SessionInvoker, err)
	}
	if err := fi.IndexField(ctx, &v1alpha1.BackupConfiguration{}, InvokerRepository, func(o client.Object) []string {
		c := o.(*v1alpha1.BackupConfiguration)
		return []string{c.Spec.Repository.NamespaceOr(c.Namespace) + "/" + c.Spec.Repository.Name}
	}); err != nil {
		return fmt.Errorf("index %s: %w", InvokerRepository, err)
	}
	if err := fi.IndexField(ctx, &v1alpha1.BackupBatch{}, InvokerRepository, func(o client.Object) []string {
		b := o.(*v1alpha1.BackupBatch)
		return []string{b.Spec.Repository.NamespaceOr(b.Namespace) + "/" + b.Spec.Repository.Name}
	}); err != nil {
		return fmt.Errorf("index %s: %w", InvokerRepository, err)
	}
	if err := fi.IndexField(ctx, &v1alpha1.BackupConfiguration{}, InvokerAppBinding, func(o client.Object) []string {
		c := o.(*v1alpha1.BackupConfiguration)
		return appBindings(&c.Spec.BackupConfigurationTemplateSpec)
	}); err != nil {
		return fmt.Errorf("index %s: %w", InvokerAppBinding, err)
	}
	if err := fi.IndexField(ctx, &v1alpha1.BackupBatch{}, InvokerAppBinding, func(o client.Object) []string {
		b := o.(*v1alpha1.BackupBatch)
		var out []string
		for i := range b.Spec.Members {
			out = append(out, appBindings(&b.Spec.Members[i].BackupConfigurationTemplateSpec)...)
		}
		return out
	}); err != nil {
		return fmt.Errorf("index %s: %w", InvokerAppBinding, err)
	}
	return nil
}

func appBindings(t *v1alpha1.BackupConfigurationTemplateSpec) []string {
	if t.Target != nil && t.Target.Ref.Kind == "AppBinding" {
		return []string{t.Target.Ref.Name}
	}
	return nil
}
