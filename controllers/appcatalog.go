package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/stashflow/stashflow/internal/appcatalog"
)

// DefaultAppCatalogPollInterval is how often the operator looks for the
// appcatalog AppBinding CRD while it is not installed.
const DefaultAppCatalogPollInterval = time.Minute

// watchAppCatalog calls register, which adds the watches of KubeDB's
// AppBindings (appcatalog.appscode.com/v1alpha1), when that kind is served.
// The CRD is optional (KubeDB and Stash install it): the RESTMapper says at
// start whether it is served; if it is not, the operator works without the
// watches and says so in its log, and a runnable looks for the CRD every
// interval and registers the watches once it appears (controller-runtime
// starts controllers and watches added to a running manager), so that
// installing KubeDB after stashflow needs no restart. It stops looking once
// it found the CRD; a CRD removed later leaves the informers retrying, as
// for any deleted CRD.
func watchAppCatalog(mgr ctrl.Manager, interval time.Duration, register func() error) error {
	log := mgr.GetLogger().WithName("appcatalog")
	if interval <= 0 {
		interval = DefaultAppCatalogPollInterval
	}
	served, err := appCatalogServed(mgr.GetRESTMapper())
	switch {
	case err != nil:
		log.Error(err, "Cannot tell whether KubeDB's AppBindings are served; looking again later", "crd", appcatalog.CRDName, "interval", interval)
	case served:
		log.Info("Watching KubeDB's AppBindings", "crd", appcatalog.CRDName)
		return register()
	default:
		log.Info("KubeDB's AppBindings are not watched: their CRD is not installed; the operator looks for it again every interval and watches them once it is",
			"crd", appcatalog.CRDName, "interval", interval)
	}
	return mgr.Add(&appCatalogWaiter{mapper: mgr.GetRESTMapper(), interval: interval, register: register, log: log})
}

// appCatalogServed reports whether the API server serves
// appcatalog.appscode.com/v1alpha1 AppBindings. The manager's RESTMapper
// asks the server's discovery again for a group it does not know.
func appCatalogServed(mapper meta.RESTMapper) (bool, error) {
	mappings, err := mapper.RESTMappings(schema.GroupKind{Group: appcatalog.Group, Kind: appcatalog.Kind})
	switch {
	case meta.IsNoMatchError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("discovering %s: %w", appcatalog.CRDName, err)
	}
	for _, m := range mappings {
		if m.GroupVersionKind == appcatalog.GVK {
			return true, nil
		}
	}
	return false, nil
}

// appCatalogWaiter looks for the appcatalog CRD every interval and calls
// register once it is served.
type appCatalogWaiter struct {
	mapper   meta.RESTMapper
	interval time.Duration
	register func() error
	log      logr.Logger
}

func (w *appCatalogWaiter) Start(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		served, err := appCatalogServed(w.mapper)
		if err != nil {
			w.log.V(1).Info("Cannot tell whether KubeDB's AppBindings are served", "crd", appcatalog.CRDName, "error", err.Error())
			continue
		}
		if !served {
			continue
		}
		w.log.Info("KubeDB's AppBinding CRD appeared: watching KubeDB's AppBindings", "crd", appcatalog.CRDName)
		if err := w.register(); err != nil {
			return fmt.Errorf("watching KubeDB's AppBindings (%s): %w", appcatalog.CRDName, err)
		}
		return nil
	}
}
