package main

import (
	goflag "flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/controllers"
	"github.com/stashflow/stashflow/controllers/repository"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/internal/deathsig"
	"github.com/stashflow/stashflow/ui"
)

func init() { subcommands = append(subcommands, newOperatorCommand) }

// operatorOptions are the flags of `stashflow operator`.
type operatorOptions struct {
	engine                  string
	image                   string
	argoUIBaseURL           string
	namespace               string
	metricsAddr             string
	probeAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	maxConcurrentReconciles int
	qps                     float32
	burst                   int
	workDir                 string
	localParallelism        int
	repositoryRefresh       time.Duration
	appCatalogPoll          time.Duration
	startingDeadline        time.Duration
	installCatalog          bool
	shutdownTimeout         time.Duration
	zap                     zap.Options
	ui                      ui.Options
}

func newOperatorCommand() *cobra.Command {
	o := &operatorOptions{}
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Run the operator: reconcile stashflow's kinds and run sessions on Argo or the local engine",
		Long: `Run the operator in a cluster (or against the cluster of $KUBECONFIG).

It schedules BackupConfigurations and BackupBatches, runs every BackupSession,
RestoreSession and RestoreBatch as a DAG of Function steps on Argo Workflows
(--engine=argo) or on the embedded local engine (--engine=local, the default),
and writes every step's outcome into the session's status. docs/operator.md
describes the flags, the scheduling rules, the status fields and the metrics.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return o.run(c) },
	}
	f := cmd.Flags()
	f.StringVar(&o.engine, "engine", string(v1alpha1.EngineLocal), "workflow engine: local (steps run as child processes of the operator) or argo (steps run as Argo Workflows)")
	f.StringVar(&o.image, "image", defaultImage(), "the stashflow image that runs hook steps and Functions naming ${STASHFLOW_IMAGE}")
	f.StringVar(&o.argoUIBaseURL, "argo-ui-base-url", "", "base URL of the Argo UI; fills status.workflow.uiURL with <base>/workflows/<namespace>/<name>")
	f.StringVar(&o.namespace, "namespace", "", "watch only this namespace (default: all namespaces)")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 turns it off")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints; 0 turns them off")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader among operator replicas (a Lease); only the leader reconciles")
	f.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease (default: the operator's namespace)")
	f.IntVar(&o.maxConcurrentReconciles, "max-concurrent-reconciles", 4, "reconciles each controller runs at once")
	f.Float32Var(&o.qps, "kube-api-qps", 50, "queries per second to the Kubernetes API")
	f.IntVar(&o.burst, "kube-api-burst", 100, "burst of queries to the Kubernetes API")
	f.StringVar(&o.workDir, "work-dir", filepath.Join(os.TempDir(), "stashflow-operator"), "local engine: directory of the runs' step logs and outputs")
	f.IntVar(&o.localParallelism, "local-parallelism", 0, "local engine: steps one run runs at once (0: no limit)")
	f.DurationVar(&o.startingDeadline, "starting-deadline", 5*time.Minute, "how late a missed schedule slot may still start (only the latest missed slot is caught up)")
	f.DurationVar(&o.repositoryRefresh, "repository-refresh-interval", repository.DefaultRefreshInterval,
		"how often a Repository's status (snapshot count, size, backup times) is read from its backend when no backup into it ends")
	f.DurationVar(&o.appCatalogPoll, "appcatalog-poll-interval", controllers.DefaultAppCatalogPollInterval,
		"how often the operator looks for KubeDB's AppBinding CRD (appcatalog.appscode.com) while it is not installed, to watch its AppBindings once it is")
	f.BoolVar(&o.installCatalog, "install-catalog", true, "install the built-in Functions and Tasks at start (server-side apply; users' objects of the same name are kept)")
	f.DurationVar(&o.shutdownTimeout, "graceful-shutdown-timeout", 30*time.Second, "how long the operator waits for controllers and local runs to stop")
	o.ui.AddFlags(f)
	zfs := goflag.NewFlagSet("zap", goflag.ContinueOnError)
	o.zap.BindFlags(zfs)
	f.AddGoFlagSet(zfs)
	return cmd
}

func (o *operatorOptions) run(c *cobra.Command) error {
	eng := v1alpha1.Engine(o.engine)
	if eng != v1alpha1.EngineLocal && eng != v1alpha1.EngineArgo {
		return usageError{fmt.Errorf("--engine=%s: want local or argo", o.engine)}
	}
	if o.appCatalogPoll <= 0 {
		return usageError{fmt.Errorf("--appcatalog-poll-interval=%s: want a duration greater than 0, such as 30s or 1m", o.appCatalogPoll)}
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&o.zap)))
	log := ctrl.Log.WithName("operator")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to (KUBECONFIG, ~/.kube/config or in-cluster): %w", err)
	}
	cfg.QPS, cfg.Burst = o.qps, o.burst
	cfg.UserAgent = "stashflow-operator/" + version

	opts := ctrl.Options{
		Scheme:                        controllers.NewScheme(),
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              "stashflow-operator.stashflow.dev",
		LeaderElectionNamespace:       o.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &o.shutdownTimeout,
	}
	if o.namespace != "" {
		opts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{o.namespace: {}}}
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	cat, err := catalog.Load()
	if err != nil {
		return fmt.Errorf("loading the built-in catalog: %w", err)
	}
	var guard []string
	if exe, err := os.Executable(); err == nil {
		guard = deathsig.FindGuard(exe)
	}
	if err := controllers.Setup(mgr, controllers.Config{
		Engine:                    eng,
		LocalGuard:                guard,
		Image:                     o.image,
		ArgoUIBaseURL:             o.argoUIBaseURL,
		WorkDir:                   o.workDir,
		LocalParallelism:          o.localParallelism,
		MaxConcurrentReconciles:   o.maxConcurrentReconciles,
		Builtins:                  resolve.Builtins{Functions: cat.Functions, Tasks: cat.Tasks},
		InstallBuiltins:           o.installCatalog,
		StartingDeadline:          o.startingDeadline,
		RepositoryRefreshInterval: o.repositoryRefresh,
		AppCatalogPollInterval:    o.appCatalogPoll,
	}); err != nil {
		return fmt.Errorf("setting up the controllers: %w", err)
	}
	if _, err := ui.Setup(mgr, ui.Config{Options: o.ui, ArgoUIBaseURL: o.argoUIBaseURL, LocalWorkDir: o.workDir}); err != nil {
		return fmt.Errorf("setting up the web UI: %w", err)
	}
	log.Info("Starting the operator", "engine", eng, "namespace", o.namespace, "version", version)
	// The context ends on SIGINT or SIGTERM (main); the manager then stops
	// the controllers and the local engine's runs.
	if err := mgr.Start(c.Context()); err != nil {
		return fmt.Errorf("running the manager: %w", err)
	}
	log.Info("Operator stopped")
	return nil
}
