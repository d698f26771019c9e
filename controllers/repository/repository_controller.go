package repository

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/engine"
	"github.com/stashflow/stashflow/controllers/internal/shutdown"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/patch"
	"github.com/stashflow/stashflow/controllers/snapshot"
	"github.com/stashflow/stashflow/translators"
)

// Kind is the kind of the objects this controller reconciles, and the
// engine's key kind of their runs.
const Kind = "Repository"

// Defaults of the Reconciler's periods.
const (
	// DefaultRefreshInterval is how often a Repository's status is read
	// from the backend when no backup into it ends.
	DefaultRefreshInterval = time.Hour
	// DefaultRetryDelay is how long after a failed run the next one starts.
	DefaultRetryDelay = 15 * time.Second
	// runPoll re-reads a run the engine has not reported on.
	runPoll = 30 * time.Second
)

// Reconciler reconciles Repositories.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Engine    engine.Engine
	Metrics   *metrics.Metrics
	// Translate are the translators' options (image, local engine).
	Translate translators.Options
	// RefreshInterval and RetryDelay: DefaultRefreshInterval and
	// DefaultRetryDelay when zero.
	RefreshInterval time.Duration
	RetryDelay      time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	cov    coverage
	mirror *snapshot.Mirror
	// wipes remembers the wipe run named for a deleted Repository (by UID)
	// until its outcome is written, so that a reconcile from a stale read,
	// which does not see the run in status yet, follows that run instead
	// of naming a second one.
	wipes sync.Map
}

// Finalizer is on every Repository: its deletion wipes the backend's data
// when wipeOut is true, and releases the Repository's Snapshot objects
// without forgetting anything when it is not.
const Finalizer = "stashflow.dev/repository"

// waitPoll re-reads sessions that keep a forget or a wipe waiting.
const waitPoll = 5 * time.Second

// +kubebuilder:rbac:groups=stashflow.dev,resources=repositories,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=snapshots,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=stashflow.dev,resources=snapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=restoresessions;restorebatches,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups=stashflow.dev,resources=repositories/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupconfigurations;backupbatches;backupsessions,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=workflows,verbs=get;list;watch;create;patch

// SetupWithManager registers the controller: it reconciles a Repository
// when it changes, when its run changes, when a BackupConfiguration or
// BackupBatch that uses it changes, and when a BackupSession into it ends.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.RefreshInterval <= 0 {
		r.RefreshInterval = DefaultRefreshInterval
	}
	if r.RetryDelay <= 0 {
		r.RetryDelay = DefaultRetryDelay
	}
	r.mirror = &snapshot.Mirror{Client: r.Client, Scheme: r.Scheme, Recorder: r.Recorder}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Repository{}).
		Named("repository").
		WithOptions(opts).
		Watches(&v1alpha1.BackupConfiguration{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			c := o.(*v1alpha1.BackupConfiguration)
			return repositoryRequest(c.Spec.Repository, c.Namespace)
		})).
		Watches(&v1alpha1.BackupBatch{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			b := o.(*v1alpha1.BackupBatch)
			return repositoryRequest(b.Spec.Repository, b.Namespace)
		})).
		Watches(&v1alpha1.BackupSession{}, handler.EnqueueRequestsFromMapFunc(r.sessionRepository)).
		Watches(&v1alpha1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			// A deleted Snapshot is forgotten by the Repository's next run.
			s := o.(*v1alpha1.Snapshot)
			if s.DeletionTimestamp == nil {
				return nil
			}
			return repositoryRequest(s.Spec.Repository, s.Namespace)
		}))
	b, err := r.Engine.Watch(b, &v1alpha1.Repository{})
	if err != nil {
		return err
	}
	return b.Complete(shutdown.Quiet(r))
}

func repositoryRequest(ref v1alpha1.ObjectRef, ns string) []reconcile.Request {
	if ref.Name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ref.NamespaceOr(ns), Name: ref.Name}}}
}

// sessionRepository maps a BackupSession that ended to the Repository of
// its invoker, whose status is then read again from the backend.
func (r *Reconciler) sessionRepository(ctx context.Context, o client.Object) []reconcile.Request {
	s := o.(*v1alpha1.BackupSession)
	if !s.Status.Phase.IsFinal() {
		return nil
	}
	key := types.NamespacedName{Namespace: s.Namespace, Name: s.Spec.Invoker.Name}
	switch s.Spec.Invoker.Kind {
	case v1alpha1.KindBackupConfiguration:
		c := &v1alpha1.BackupConfiguration{}
		if r.Client.Get(ctx, key, c) == nil {
			return repositoryRequest(c.Spec.Repository, c.Namespace)
		}
	case v1alpha1.KindBackupBatch:
		b := &v1alpha1.BackupBatch{}
		if r.Client.Get(ctx, key, b) == nil {
			return repositoryRequest(b.Spec.Repository, b.Namespace)
		}
	}
	return nil
}

// scope is what one reconcile read and computed.
type scope struct {
	repo *v1alpha1.Repository
	now  time.Time
	// specChanged: the spec (the backend) changed since the status was written.
	specChanged bool
	// backedUp: a BackupConfiguration or BackupBatch backs up into the
	// Repository, so a missing repository is initialised.
	backedUp bool
	// ended are the BackupSessions into the Repository that ran and ended.
	ended []endedSession
	// using names the sessions that use the Repository now.
	using []string
	// forget are the ids of deleted Snapshots the next run forgets.
	forget []string
	// gone: the Repository's finalizer was removed; it has no status to write.
	gone bool
	// startedRun: this reconcile named a new run.
	startedRun bool
	// endedRun is the run whose outcome this reconcile wrote.
	endedRun string
	// check: the run in status.workflow is an integrity check.
	check bool
	// done stops the phases.
	done bool
}

// Reconcile initialises a Repository's restic repository once and keeps its
// status read from the backend.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (retres ctrl.Result, reterr error) {
	repo := &v1alpha1.Repository{}
	if err := r.Client.Get(ctx, req.NamespacedName, repo); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(ctx, req.NamespacedName)
			// Its Snapshots, deleted with it (owner GC), forget nothing.
			return ctrl.Result{}, r.mirror.ReleaseAll(ctx, req.Namespace, req.Name, true)
		}
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx).WithValues("repository", klog.KObj(repo))
	ctx = ctrl.LoggerInto(ctx, log)
	if repo.DeletionTimestamp == nil && !controllerutil.ContainsFinalizer(repo, Finalizer) {
		base := repo.DeepCopy()
		controllerutil.AddFinalizer(repo, Finalizer)
		if err := r.Client.Patch(ctx, repo, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the Repository's finalizer: %w", err)
		}
	}
	s := &scope{repo: repo, now: r.Now(), specChanged: repo.Status.ObservedGeneration != repo.Generation}
	helper := patch.NewHelper(repo, patch.WithOptimisticLock())
	defer func() {
		if s.gone {
			return
		}
		if !s.specChanged || repo.Status.Workflow == nil || s.startedRun {
			// (A run started for the previous spec is followed to its end
			// first; the next one opens the new backend.)
			repo.Status.ObservedGeneration = repo.Generation
		}
		// With the optimistic lock, a status computed from a stale read
		// fails with a Conflict and the Repository is reconciled again.
		err := helper.PatchStatus(ctx, r.Client, repo)
		switch {
		case err == nil:
			if s.endedRun != "" { // its outcome is written: forget the run
				r.cov.markDone(req.NamespacedName, repo.UID, s.endedRun)
				r.Engine.Forget(engine.KeyOf(Kind, repo))
			}
		case apierrors.IsConflict(err) && reterr == nil:
			log.V(1).Info("Status patch lost to a newer write, reconciling again")
			retres = ctrl.Result{RequeueAfter: patch.ConflictRequeue}
		default:
			retres, reterr = ctrl.Result{}, kerrors.NewAggregate([]error{reterr, err})
		}
	}()
	defer r.exportMetrics(repo)
	log.V(1).Info("Reconciling Repository")
	res := ctrl.Result{}
	phases := []func(context.Context, *scope) (ctrl.Result, error){
		r.reconcileSecret,
		r.reconcileUsers,
		r.reconcileForgets,
		r.reconcileRun,
		r.reconcileNextRun,
		r.reconcileCheck,
	}
	if repo.DeletionTimestamp != nil {
		phases = []func(context.Context, *scope) (ctrl.Result, error){r.reconcileUsers, r.reconcileDelete}
	}
	for _, phase := range phases {
		pr, err := phase(ctx, s)
		if err != nil {
			return ctrl.Result{}, err
		}
		res = soonest(res, pr)
		if s.done {
			break
		}
	}
	return res, nil
}

// forget drops what is kept about a deleted Repository: its metrics and
// the engine's memory of its run.
func (r *Reconciler) forget(ctx context.Context, key types.NamespacedName) {
	if r.Metrics != nil {
		r.Metrics.ForgetRepository(key.Namespace, key.Name)
	}
	r.Engine.Forget(engine.Key{Kind: Kind, NamespacedName: key})
	r.cov.forget(key)
	ctrl.LoggerFrom(ctx).V(1).Info("Repository gone, its metrics dropped")
}

// soonest returns the result that asks to come back first.
func soonest(a, b ctrl.Result) ctrl.Result {
	if a.RequeueAfter == 0 || (b.RequeueAfter > 0 && b.RequeueAfter < a.RequeueAfter) {
		return b
	}
	return a
}
