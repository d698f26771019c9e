// Package backupconfiguration reconciles BackupConfigurations and
// BackupBatches, the invokers of BackupSessions. One Reconciler serves both
// kinds through a Kind (backupbatch.go): they differ in how many members
// they have and where their status keeps them.
//
// For each invoker it:
//   - checks what it refers to (the Repository and whether it lets the
//     namespace use it, its storage Secret, every target, Task and Function)
//     and translates a trial session, and writes Ready with a message that
//     says what is wrong (phase Ready, NotReady or Invalid);
//   - schedules: the schedule names slots (controllers/schedule); for a due
//     slot it creates the BackupSession <invoker>-<unix time of the slot>,
//     so that a slot has one session whoever creates it and however often;
//     it requeues itself for the next slot. No CronJob is involved;
//   - turns a stashflow.dev/trigger annotation into a manual session;
//   - deletes finished sessions beyond backupHistoryLimit and keeps
//     lastBackupTime.
package backupconfiguration

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/internal/index"
	"github.com/stashflow/stashflow/controllers/internal/shutdown"
	"github.com/stashflow/stashflow/controllers/metrics"
	"github.com/stashflow/stashflow/controllers/patch"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/schedule"
	"github.com/stashflow/stashflow/internal/appcatalog"
	"github.com/stashflow/stashflow/translators"
)

// Defaults of the Reconciler's timing.
const (
	// DefaultStartingDeadline is how late a slot may still start: only the
	// latest missed slot is ever caught up, and only within this time.
	DefaultStartingDeadline = 5 * time.Minute
	// DefaultNotReadyRequeue re-checks an invoker that is not ready, for
	// what no watch tells (a Secret created, a namespace labelled).
	DefaultNotReadyRequeue = time.Minute
)

// Reconciler reconciles the invokers of one Kind.
type Reconciler struct {
	// Kind is BackupConfigurationKind or BackupBatchKind.
	Kind      Kind
	Client    client.Client
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Resolver  *resolve.Resolver
	Metrics   *metrics.Metrics
	Translate translators.Options
	// Now is the clock; time.Now when nil.
	Now              func() time.Time
	StartingDeadline time.Duration
	NotReadyRequeue  time.Duration

	// controller is the registered controller, for WatchAppCatalog.
	controller controller.Controller
}

// +kubebuilder:rbac:groups=stashflow.dev,resources=backupconfigurations;backupbatches,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupconfigurations/status;backupbatches/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupsessions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=stashflow.dev,resources=repositories;appbindings;tasks;functions,verbs=get;list;watch
// +kubebuilder:rbac:groups=appcatalog.appscode.com,resources=appbindings,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;persistentvolumeclaims,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupconfigurations/finalizers;backupbatches/finalizers,verbs=update

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.StartingDeadline <= 0 {
		r.StartingDeadline = DefaultStartingDeadline
	}
	if r.NotReadyRequeue <= 0 {
		r.NotReadyRequeue = DefaultNotReadyRequeue
	}
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(r.Kind.New(), builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Named(r.Kind.Name).
		WithOptions(opts).
		Watches(&v1alpha1.BackupSession{}, handler.EnqueueRequestsFromMapFunc(r.sessionInvoker), builder.WithPredicates(sessionPhaseChanged())).
		Watches(&v1alpha1.Repository{}, handler.EnqueueRequestsFromMapFunc(r.byIndex(index.InvokerRepository, func(o client.Object) string {
			return o.GetNamespace() + "/" + o.GetName()
		}))).
		Watches(&v1alpha1.AppBinding{}, handler.EnqueueRequestsFromMapFunc(r.byIndex(index.InvokerAppBinding, client.Object.GetName))).
		Watches(&v1alpha1.Task{}, handler.EnqueueRequestsFromMapFunc(r.all)).
		Watches(&v1alpha1.Function{}, handler.EnqueueRequestsFromMapFunc(r.all)).
		Build(shutdown.Quiet(r))
	if err != nil {
		return err
	}
	r.controller = c
	return nil
}

// WatchAppCatalog adds the watch of KubeDB's AppBindings
// (appcatalog.appscode.com/v1alpha1, unstructured from cache) to the
// registered controller: an invoker whose target is one (by that
// apiVersion, or by none when stashflow has no AppBinding of the name) is
// checked again when it is created, changed or deleted, through the same
// index as stashflow's AppBindings (it holds the target's name whatever its
// apiVersion). Call it after SetupWithManager, once the kind is served;
// it may be called after the manager started.
func (r *Reconciler) WatchAppCatalog(mgr ctrl.Manager) error {
	if r.controller == nil {
		return errors.New("WatchAppCatalog before SetupWithManager")
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(appcatalog.GVK)
	return r.controller.Watch(source.Kind[client.Object](mgr.GetCache(), u,
		handler.EnqueueRequestsFromMapFunc(r.byIndex(index.InvokerAppBinding, client.Object.GetName))))
}

// sessionInvoker maps a BackupSession to its invoker, if of this Kind.
func (r *Reconciler) sessionInvoker(_ context.Context, o client.Object) []ctrl.Request {
	s, ok := o.(*v1alpha1.BackupSession)
	if !ok || s.Spec.Invoker.Kind != r.Kind.Name {
		return nil
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: s.Namespace, Name: s.Spec.Invoker.Name}}}
}

// sessionPhaseChanged passes creations, deletions and phase changes: what
// history, lastBackupTime and the one-session-at-a-time rule depend on.
func sessionPhaseChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(*v1alpha1.BackupSession)
			n, ok2 := e.ObjectNew.(*v1alpha1.BackupSession)
			return !ok1 || !ok2 || o.Status.Phase != n.Status.Phase
		},
	}
}

// byIndex maps an object to the invokers whose index field holds its key.
func (r *Reconciler) byIndex(field string, key func(client.Object) string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []ctrl.Request {
		list := r.Kind.NewList()
		if err := r.Client.List(ctx, list, client.MatchingFields{field: key(o)}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing invokers failed", "index", field)
			return nil
		}
		return requests(list)
	}
}

// all maps a Task or Function change to every invoker of this Kind.
func (r *Reconciler) all(ctx context.Context, _ client.Object) []ctrl.Request {
	list := r.Kind.NewList()
	if err := r.Client.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing invokers failed")
		return nil
	}
	return requests(list)
}

// scope is what one reconcile read and computed.
type scope struct {
	inv *invoker
	// sched is the parsed schedule, nil if none or invalid.
	sched *schedule.Schedule
	// checked is true once the references were checked in this reconcile;
	// ready is true when the invoker may run sessions.
	checked, ready bool
}

// Reconcile checks, schedules and cleans up one invoker.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (retres ctrl.Result, reterr error) {
	obj := r.Kind.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			if r.Metrics != nil {
				r.Metrics.ForgetInvoker(req.Namespace, r.Kind.Name, req.Name)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx).WithValues("invoker", klog.KObj(obj), "kind", r.Kind.Name)
	ctx = ctrl.LoggerInto(ctx, log)

	helper := patch.NewHelper(obj)
	s := &scope{inv: r.Kind.View(obj)}
	// Read before this reconcile stamps it: a spec change resets the schedule.
	specChanged := *s.inv.status.ObservedGeneration != obj.GetGeneration()
	defer func() {
		*s.inv.status.ObservedGeneration = obj.GetGeneration()
		helper.PatchStatusOnExit(ctx, r.Client, obj, &retres, &reterr)
	}()

	res := ctrl.Result{}
	var errs []error
	for _, phase := range []phaseFunc{
		r.reconcileReferences,
		r.reconcileHistory,
		r.reconcileTrigger,
		func(ctx context.Context, s *scope) (ctrl.Result, error) {
			return r.reconcileSchedule(ctx, s, specChanged)
		},
	} {
		pr, err := phase(ctx, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pr.RequeueAfter > 0 && (res.RequeueAfter == 0 || pr.RequeueAfter < res.RequeueAfter) {
			res = pr
		}
	}
	if len(errs) > 0 {
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	return res, nil
}

type phaseFunc func(context.Context, *scope) (ctrl.Result, error)
