// Package backupsession reconciles BackupSessions: it resolves what the
// session's invoker refers to, translates the run into a pipeline.Graph,
// waits until its Repository is Initialized (repository.go; the Repository
// controller initialises it), submits it to the engine once, follows it, and
// writes every step's outcome into the session's status. When the run ends it
// records Snapshots, exports metrics, and creates the retry session if the
// run failed and retries are left. The Repository's status is the
// Repository controller's.
//
// The shape is cluster-api's machine controller: Reconcile reads the object,
// defers one status patch and runs a list of phase functions over a scope;
// the phases are in backupsession_phases.go and the status mapping in
// backupsession_status.go. Submitting, following, the deadline, a lost run
// and the end are the lifecycle every session kind shares (sessionrun).
package backupsession

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/patch"
	"github.com/stashflow/stashflow/controllers/sessionrun"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
)

// Reconciler reconciles BackupSessions.
type Reconciler struct {
	sessionrun.Deps

	run *sessionrun.Runner
}

// +kubebuilder:rbac:groups=stashflow.dev,resources=backupsessions,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupsessions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupconfigurations;backupbatches;repositories;appbindings,verbs=get;list;watch
// +kubebuilder:rbac:groups=stashflow.dev,resources=tasks;functions,verbs=get;list;watch
// +kubebuilder:rbac:groups=stashflow.dev,resources=snapshots,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;persistentvolumeclaims,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=workflows,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=backupsessions/finalizers,verbs=update

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.run = r.Runner(backupKind, func(_ context.Context, obj client.Object, phase sessionstatus.Phase, now time.Time) {
		if phase != sessionstatus.Skipped {
			r.recordMetrics(obj.(*v1alpha1.BackupSession), now)
		}
	})
	return r.Register(mgr, opts, "backupsession", &v1alpha1.BackupSession{}, r)
}

// scope is what one reconcile read and computed: the shared run, and the
// session's invoker.
type scope struct {
	*sessionrun.Run
	session *v1alpha1.BackupSession
	// invoker is exactly one of config and batch, once read.
	config *v1alpha1.BackupConfiguration
	batch  *v1alpha1.BackupBatch
}

// backupKind is the BackupSession's part of the shared lifecycle.
var backupKind = sessionrun.Adapter{
	Name: Kind, Subject: "session", ExecutorCondition: conditions.BackupExecutorEnsured, Invalid: sessionstatus.Failed,
	New: func() client.Object { return &v1alpha1.BackupSession{} },
	Status: func(obj client.Object) sessionrun.Status {
		st := &obj.(*v1alpha1.BackupSession).Status
		return sessionrun.Status{
			Phase: (*string)(&st.Phase), Reason: &st.Reason, Message: &st.Message, SessionDuration: &st.SessionDuration,
			SessionDeadline: &st.SessionDeadline, Workflow: &st.Workflow, Plan: &st.Plan, Conditions: &st.Conditions,
		}
	},
	Apply: func(obj client.Object, o *sessionstatus.Outcome) {
		sessionstatus.SetBackup(obj.(*v1alpha1.BackupSession), o)
	},
}

func (s *scope) invoker() client.Object {
	if s.config != nil {
		return s.config
	}
	if s.batch != nil {
		return s.batch
	}
	return nil
}

// Reconcile moves one BackupSession along: Pending, Running, then
// Succeeded, Failed, Skipped or Unknown.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (retres ctrl.Result, reterr error) {
	session := &v1alpha1.BackupSession{}
	if err := r.Client.Get(ctx, req.NamespacedName, session); err != nil {
		if apierrors.IsNotFound(err) {
			r.run.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx).WithValues("backupSession", klog.KObj(session),
		"invokerKind", session.Spec.Invoker.Kind, "invoker", klog.KRef(session.Namespace, session.Spec.Invoker.Name))
	ctx = ctrl.LoggerInto(ctx, log)

	s := &scope{Run: r.run.NewRun(session), session: session}
	helper := patch.NewHelper(session, patch.WithOptimisticLock(), patch.WithInvalidFallback(r.run.RecordRefused(s.Run)))
	defer func() {
		session.Status.ObservedGeneration = session.Generation
		// With the optimistic lock, a patch computed from a stale read fails
		// with a Conflict and the session is reconciled again.
		helper.PatchStatusOnExit(ctx, r.Client, session, &retres, &reterr)
	}()

	phases := []func(context.Context, *scope) (ctrl.Result, error){
		r.reconcileInvoker,
		r.reconcileConcurrency,
		r.reconcilePlan,
		r.reconcileRepository,
		r.reconcileWorkflow,
		r.reconcileProgress,
		r.reconcileCompletion,
	}
	if session.Status.Phase.IsFinal() {
		// The cache shows the end: nothing will read the run any more.
		r.run.Forget(req.NamespacedName)
		phases = phases[:1] // the invoker, for retries
	}
	log.V(1).Info("Reconciling BackupSession", "phase", session.Status.Phase)
	res, err := sessionrun.Do(ctx, s, s.Run, phases)
	if err != nil && !errors.Is(err, reconcile.TerminalError(nil)) {
		return res, err
	}
	// A session that ended, in this reconcile or before, may need a retry.
	retryRes, retryErr := r.reconcileRetry(ctx, s)
	return sessionrun.Soonest(res, retryRes), kerrors.NewAggregate([]error{err, retryErr})
}
