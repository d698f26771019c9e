// Package controllers wires stashflow's controllers into a controller-runtime
// manager: Setup registers the cache indexes, builds the engine (Argo or
// local) and the reconcilers of BackupSession, RestoreSession, RestoreBatch,
// BackupConfiguration and BackupBatch, and the BackupBlueprint reconcilers
// of AppBindings, PersistentVolumeClaims and workloads (Deployments,
// StatefulSets, DaemonSets, ReplicaSets). KubeDB's AppBindings
// (appcatalog.appscode.com, an optional CRD) are watched once their CRD is
// served, at start or later (appcatalog.go). `stashflow operator`, the envtest
// suites and the e2e suite all start the same wiring through it.
//
// One package per kind holds its reconciler; controllers/engine holds the
// engines, controllers/conditions the condition helper and vocabulary,
// controllers/schedule the slot arithmetic, controllers/resolve the reading
// of references, controllers/metrics the Prometheus metrics.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/backupblueprint"
	"github.com/stashflow/stashflow/controllers/backupconfiguration"
	"github.com/stashflow/stashflow/controllers/backupsession"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/repository"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/restoresession"
	"github.com/stashflow/stashflow/controllers/sessionrun"
	"github.com/stashflow/stashflow/translators"
)

// Config is the operator's configuration.
type Config struct {
	// Engine is EngineLocal (the default) or EngineArgo.
	Engine v1alpha1.Engine
	// Image is the stashflow image: hook steps run it, and Functions may
	// name it as ${STASHFLOW_IMAGE}.
	Image string
	// ArgoUIBaseURL fills status.workflow.uiURL (Argo engine).
	ArgoUIBaseURL string
	// WorkDir holds the local engine's runs (logs and outputs).
	WorkDir string
	// LocalParallelism caps the steps one local run runs at once; 0 means no cap.
	LocalParallelism int
	// LocalCommands maps a step's command to an executable on the local
	// engine. "stashflow" defaults to the running binary.
	LocalCommands map[string]string
	// LocalGuard is the argv prefix of the step guard every local-engine
	// attempt runs under (pipeline/local.Options.Guard), e.g. the stashflow
	// binary and deathsig.GuardArg; empty runs steps without one.
	LocalGuard []string
	// MaxConcurrentReconciles of every controller; 0 means 1.
	MaxConcurrentReconciles int
	// Builtins are the catalog's Functions and Tasks, used when the cluster
	// has no object of a name.
	Builtins resolve.Builtins
	// InstallBuiltins installs Builtins into the cluster when the manager
	// starts (server-side apply; see InstallBuiltins).
	InstallBuiltins bool
	// StartingDeadline is how late a missed slot may still start; 0 means
	// backupconfiguration.DefaultStartingDeadline.
	StartingDeadline time.Duration
	// PollInterval re-reads running sessions without an engine event; 0
	// means the controllers' default.
	PollInterval time.Duration
	// ReferenceGrace is how long a new session waits for the objects it
	// refers to; 0 means the controllers' default.
	ReferenceGrace time.Duration
	// RepositoryRefreshInterval is how often a Repository's status is read
	// from its backend when no backup into it ends; 0 means
	// repository.DefaultRefreshInterval.
	RepositoryRefreshInterval time.Duration
	// AppCatalogPollInterval is how often the operator looks for KubeDB's
	// AppBinding CRD (appbindings.appcatalog.appscode.com) while it is not
	// installed, to watch those AppBindings once it is; 0 means
	// DefaultAppCatalogPollInterval.
	AppCatalogPollInterval time.Duration
	// SkipNameValidation allows several managers with these controllers in
	// one process (tests).
	SkipNameValidation bool
}

// NewScheme returns a scheme with client-go's kinds, apiextensions/v1,
// stashflow.dev/v1alpha1 and Argo's Workflow kinds.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(wfv1.AddToScheme(s))
	return s
}

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=tasks;functions,verbs=get;list;watch;create;patch

// Setup registers stashflow's controllers with mgr.
func Setup(mgr ctrl.Manager, cfg Config) error {
	if cfg.Engine == "" {
		cfg.Engine = v1alpha1.EngineLocal
	}
	if err := index.Setup(context.Background(), mgr); err != nil {
		return err
	}
	eng, err := newEngine(mgr, cfg)
	if err != nil {
		return err
	}
	resolver := &resolve.Resolver{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Builtins: cfg.Builtins, LocalEngine: cfg.Engine == v1alpha1.EngineLocal}
	m := metrics.Default()
	topts := translators.Options{Image: cfg.Image, Local: cfg.Engine == v1alpha1.EngineLocal}
	opts := controller.Options{MaxConcurrentReconciles: cfg.MaxConcurrentReconciles}
	if cfg.SkipNameValidation {
		skip := true
		opts.SkipNameValidation = &skip
	}
	recorder := mgr.GetEventRecorderFor

	deps := func(recorderName string) sessionrun.Deps {
		return sessionrun.Deps{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: recorder(recorderName),
			Engine: eng, Resolver: resolver, Metrics: m, Translate: topts,
			PollInterval: cfg.PollInterval, ReferenceGrace: cfg.ReferenceGrace,
		}
	}
	bs := &backupsession.Reconciler{Deps: deps("backupsession-controller")}
	if err := bs.SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("BackupSession controller: %w", err)
	}
	for _, kind := range []restoresession.Kind{restoresession.RestoreSessionKind, restoresession.RestoreBatchKind} {
		rs := &restoresession.Reconciler{Deps: deps(strings.ToLower(kind.Name) + "-controller"), Kind: kind}
		if err := rs.SetupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("%s controller: %w", kind.Name, err)
		}
	}
	// What needs KubeDB's AppBinding CRD, registered once it is served.
	var appCatalog []func() error
	for _, kind := range []backupconfiguration.Kind{backupconfiguration.BackupConfigurationKind, backupconfiguration.BackupBatchKind} {
		bc := &backupconfiguration.Reconciler{
			Kind: kind, Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: recorder(strings.ToLower(kind.Name) + "-controller"),
			Resolver: resolver, Metrics: m, Translate: topts, StartingDeadline: cfg.StartingDeadline,
		}
		if err := bc.SetupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("%s controller: %w", kind.Name, err)
		}
		appCatalog = append(appCatalog, func() error {
			if err := bc.WatchAppCatalog(mgr); err != nil {
				return fmt.Errorf("%s controller: %w", kind.Name, err)
			}
			return nil
		})
	}
	for _, kind := range []backupblueprint.TargetKind{
		backupblueprint.AppBindingKind, backupblueprint.PersistentVolumeClaimKind,
		backupblueprint.DeploymentKind, backupblueprint.StatefulSetKind, backupblueprint.DaemonSetKind, backupblueprint.ReplicaSetKind,
	} {
		bb := &backupblueprint.Reconciler{Kind: kind, Client: mgr.GetClient(), Reader: mgr.GetCache(), Scheme: mgr.GetScheme(), Recorder: recorder("backupblueprint-controller")}
		if err := bb.SetupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("BackupBlueprint controller for %s: %w", kind.Name, err)
		}
	}
	appCatalog = append(appCatalog, func() error {
		kind := backupblueprint.AppCatalogBindingKind
		bb := &backupblueprint.Reconciler{Kind: kind, Client: mgr.GetClient(), Reader: mgr.GetCache(), Scheme: mgr.GetScheme(), Recorder: recorder("backupblueprint-controller")}
		if err := bb.SetupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("BackupBlueprint controller for %s %s: %w", kind.APIVersion, kind.Name, err)
		}
		return nil
	})
	if err := watchAppCatalog(mgr, cfg.AppCatalogPollInterval, func() error {
		for _, register := range appCatalog {
			if err := register(); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	repo := &repository.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: recorder("repository-controller"),
		Engine: eng, Metrics: m, Translate: topts, RefreshInterval: cfg.RepositoryRefreshInterval,
	}
	if err := repo.SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("the Repository controller: %w", err)
	}
	if cfg.InstallBuiltins {
		if err := mgr.Add(builtinsInstaller{client: mgr.GetClient(), reader: mgr.GetAPIReader(), builtins: cfg.Builtins}); err != nil {
			return err
		}
	}
	return nil
}

func newEngine(mgr ctrl.Manager, cfg Config) (engine.Engine, error) {
	switch cfg.Engine {
	case v1alpha1.EngineArgo:
		if !mgr.GetScheme().Recognizes(wfv1.SchemeGroupVersion.WithKind("Workflow")) {
			return nil, errors.New("the argo engine needs Argo's Workflow kind in the manager's scheme (controllers.NewScheme)")
		}
		return engine.NewArgo(engine.ArgoOptions{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Image: cfg.Image, UIBaseURL: cfg.ArgoUIBaseURL,
		}), nil
	case v1alpha1.EngineLocal:
		commands := map[string]string{}
		if exe, err := os.Executable(); err == nil {
			commands["stashflow"] = exe
		}
		for k, v := range cfg.LocalCommands {
			commands[k] = v
		}
		l := engine.NewLocal(engine.LocalOptions{
			WorkDir:     cfg.WorkDir,
			Parallelism: cfg.LocalParallelism,
			Commands:    commands,
			Guard:       cfg.LocalGuard,
			Secrets:     engine.KubeSecrets(mgr.GetAPIReader()),
			Scheme:      mgr.GetScheme(),
			Logger:      mgr.GetLogger().WithName("local-engine"),
		})
		// The manager stops the runs when it stops.
		if err := mgr.Add(l); err != nil {
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("unknown engine %q: want %s or %s", cfg.Engine, v1alpha1.EngineArgo, v1alpha1.EngineLocal)
}
