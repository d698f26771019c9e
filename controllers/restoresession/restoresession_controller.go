// Package restoresession reconciles RestoreSessions and RestoreBatches. Both
// run once and share a status type (a RestoreBatch is its own session), so
// one Reconciler serves both through a Kind: what differs is how the object
// is read, which Repository and members it names, and which translator
// turns it into a graph (restorebatch.go).
//
// The flow is the BackupSession's without invoker and retries: resolve,
// translate, wait while another restore writes one of the targets (exclusive.go),
// submit once, follow, map node statuses to the status — the lifecycle
// every session kind shares (sessionrun).
// Input that cannot work (a Repository that forbids the namespace, a spec the
// translators reject) ends the restore Invalid with a terminal error.
package restoresession

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/controllers/patch"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/sessionrun"
	"github.com/stashflow/stashflow/controllers/sessionstatus"
	"github.com/stashflow/stashflow/translators"
)

// Reconciler reconciles the restores of one Kind.
type Reconciler struct {
	sessionrun.Deps
	// Kind is RestoreSessionKind or RestoreBatchKind.
	Kind Kind

	run *sessionrun.Runner
}

// +kubebuilder:rbac:groups=stashflow.dev,resources=restoresessions;restorebatches,verbs=get;list;watch
// +kubebuilder:rbac:groups=stashflow.dev,resources=restoresessions/status;restorebatches/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=repositories;appbindings,verbs=get;list;watch
// +kubebuilder:rbac:groups=stashflow.dev,resources=tasks;functions,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets;persistentvolumeclaims,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=argoproj.io,resources=workflows,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=stashflow.dev,resources=restoresessions/finalizers;restorebatches/finalizers,verbs=update

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.run = r.Runner(r.Kind.lifecycle(), r.recordMetrics)
	return r.Register(mgr, opts, r.Kind.Name, r.Kind.New(), r)
}

// scope is what one reconcile read and computed: the shared run and the
// restore's status.
type scope struct {
	*sessionrun.Run
	status *v1alpha1.RestoreSessionStatus
}

// Reconcile moves one restore along: Pending, Running, then Succeeded,
// Failed, Invalid or Unknown.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (retres ctrl.Result, reterr error) {
	obj := r.Kind.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.run.Forget(req.NamespacedName)
			if r.Metrics != nil {
				r.Metrics.ForgetRestore(req.Namespace, r.Kind.Name, req.Name)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx).WithValues("restore", klog.KObj(obj), "kind", r.Kind.Name)
	ctx = ctrl.LoggerInto(ctx, log)

	s := &scope{Run: r.run.NewRun(obj), status: r.Kind.Status(obj)}
	helper := patch.NewHelper(obj, patch.WithOptimisticLock(), patch.WithInvalidFallback(r.run.RecordRefused(s.Run)))
	defer func() {
		s.status.ObservedGeneration = obj.GetGeneration()
		helper.PatchStatusOnExit(ctx, r.Client, obj, &retres, &reterr)
	}()

	if s.status.Phase.IsFinal() {
		// The cache shows the end: nothing will read the run any more.
		r.run.Forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	log.V(1).Info("Reconciling restore", "phase", s.status.Phase)
	return sessionrun.Do(ctx, s, s.Run, []func(context.Context, *scope) (ctrl.Result, error){
		r.reconcilePlan,
		r.reconcileRepository,
		r.reconcileExclusive,
		r.reconcileWorkflow,
		r.reconcileProgress,
		r.reconcileCompletion,
	})
}

// Kind is what differs between RestoreSession and RestoreBatch.
type Kind struct {
	// Name is the kind's name, e.g. "RestoreSession".
	Name string
	// New returns an empty object of the kind.
	New func() client.Object
	// Status returns the object's status.
	Status func(client.Object) *v1alpha1.RestoreSessionStatus
	// References returns the Repository and the members the object names.
	References func(client.Object) (v1alpha1.ObjectRef, []resolve.Member)
	// Translate turns the object into a plan.
	Translate func(client.Object, *translators.Objects, translators.Options) (*translators.Plan, error)
}

// lifecycle is the kind's part of the shared session lifecycle.
func (k Kind) lifecycle() sessionrun.Adapter {
	return sessionrun.Adapter{
		Name: k.Name, Subject: "restore", ExecutorCondition: conditions.RestoreExecutorEnsured, Invalid: sessionstatus.Invalid,
		New: k.New,
		Status: func(obj client.Object) sessionrun.Status {
			st := k.Status(obj)
			return sessionrun.Status{
				Phase: (*string)(&st.Phase), Reason: &st.Reason, Message: &st.Message, SessionDuration: &st.SessionDuration,
				SessionDeadline: &st.SessionDeadline, Workflow: &st.Workflow, Plan: &st.Plan, Conditions: &st.Conditions,
			}
		},
		Apply: func(obj client.Object, o *sessionstatus.Outcome) {
			sessionstatus.SetRestore(k.Status(obj), obj.GetGeneration(), o)
		},
	}
}

// RestoreSessionKind is the Kind of RestoreSessions.
var RestoreSessionKind = Kind{
	Name:   "RestoreSession",
	New:    func() client.Object { return &v1alpha1.RestoreSession{} },
	Status: func(o client.Object) *v1alpha1.RestoreSessionStatus { return &o.(*v1alpha1.RestoreSession).Status },
	References: func(o client.Object) (v1alpha1.ObjectRef, []resolve.Member) {
		s := o.(*v1alpha1.RestoreSession)
		return s.Spec.Repository, []resolve.Member{resolve.RestoreMember("spec", &s.Spec.RestoreTargetSpec)}
	},
	Translate: func(o client.Object, objs *translators.Objects, opts translators.Options) (*translators.Plan, error) {
		return translators.Restore(o.(*v1alpha1.RestoreSession), objs, opts)
	},
}
