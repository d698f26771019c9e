// Package backupblueprint turns BackupBlueprints into backups: an
// AppBinding (stashflow's, or KubeDB's appcatalog.appscode.com/v1alpha1 one),
// PersistentVolumeClaim or workload (apps/v1 Deployment, StatefulSet,
// DaemonSet, ReplicaSet) annotated with a blueprint's name
// (stashflow.dev/backup-blueprint, Stash's stash.appscode.com/backup-blueprint,
// or the blueprint's own key) gets a Repository and a BackupConfiguration
// made from the blueprint, with ${TARGET_KIND}, ${TARGET_NAME},
// ${TARGET_NAMESPACE}, and for AppBindings ${TARGET_APP_TYPE},
// ${TARGET_APP_VERSION}, ${TARGET_APP_GROUP} and ${TARGET_APP_RESOURCE}
// (Stash's names; PVCs and workloads have a TARGET_APP_TYPE only) filled
// in. A workload also names what to back up: the paths of its target-paths
// annotation (required) and the volumes of its volume-mounts annotation,
// ours or Stash's. Removing the annotation (or the target) removes them.
//
// The reconciled object is the target, not the blueprint: one Reconciler
// per target kind. Workloads are watched as metadata only (annotations and
// owner references are all a blueprint reads), so the cache does not hold
// every pod template of the cluster. KubeDB's AppBindings are watched
// unstructured (the scheme does not know the kind, whose CRD may be missing;
// controllers.Setup registers their Reconciler once the CRD is served). What
// it makes is applied with
// server-side apply (field owner "stashflow"), labelled with the blueprint
// and the target so that it can be found again, and owned by the target when
// it lives in the target's namespace.
//
// Bad input is reported as a Warning event on the target and not retried
// (the blueprint and the target are watched): BlueprintNotFound,
// BlueprintInvalid for what the blueprint cannot make, AnnotationInvalid for
// the target's own annotations. What was made before stays until the input
// is fixed or the blueprint annotation removed. A BackupConfiguration of the
// name the target's would get that was not made for this target (a user's
// own, or one made for another kind of target of the same name, e.g.
// stashflow's and KubeDB's AppBinding) is not touched: NameTaken.
package backupblueprint

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/internal/shutdown"
	"github.com/stashflow/stashflow/internal/appcatalog"
)

// Labels on what a blueprint makes.
const (
	// LabelBlueprint names the BackupBlueprint an object was made from.
	LabelBlueprint = v1alpha1.GroupName + "/blueprint"
	// LabelBlueprintTargetKind and LabelBlueprintTarget name the target.
	LabelBlueprintTargetKind = v1alpha1.GroupName + "/blueprint-target-kind"
	LabelBlueprintTarget     = v1alpha1.GroupName + "/blueprint-target"
	// labelTargetNamespace is the target's namespace, for what a blueprint
	// puts in another namespace (repoNamespace).
	labelTargetNamespace = v1alpha1.GroupName + "/blueprint-target-namespace"
	// FieldOwner is the field manager of what blueprints make.
	FieldOwner = "stashflow"
)

// Reasons of the Warning events on a target.
const (
	// ReasonBlueprintNotFound: the annotation names no BackupBlueprint.
	ReasonBlueprintNotFound = "BlueprintNotFound"
	// ReasonBlueprintInvalid: the blueprint cannot make a Repository and a
	// BackupConfiguration for the target (no schedule, a bad repoName, ...).
	ReasonBlueprintInvalid = "BlueprintInvalid"
	// ReasonAnnotationInvalid: the target's own annotations are missing or
	// malformed (a workload's target-paths or volume-mounts).
	ReasonAnnotationInvalid = "AnnotationInvalid"
	// ReasonNameTaken: the BackupConfiguration the target would get exists
	// and was not made for it.
	ReasonNameTaken = "NameTaken"
)

// Reconciler reconciles the targets of one kind.
type Reconciler struct {
	// Kind is AppBindingKind, PersistentVolumeClaimKind or a workload kind
	// (DeploymentKind, StatefulSetKind, DaemonSetKind, ReplicaSetKind).
	Kind   TargetKind
	Client client.Client
	// Reader reads the targets; Client when nil. controllers.Setup gives the
	// manager's cache, which the Client reads typed and metadata-only
	// objects from but not unstructured ones (KubeDB's AppBindings).
	Reader   client.Reader
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
}

// TargetKind is what differs between the kinds of targets.
type TargetKind struct {
	// Name is the target's kind (target.ref.kind, ${TARGET_KIND}).
	Name string
	// ID tells the kind apart in the labels of what is made and in the
	// controller's name; Name when empty. Two kinds of one Name
	// (stashflow's and KubeDB's AppBinding) differ by it.
	ID         string
	APIVersion string
	// Resource is the kind's resource (${TARGET_RESOURCE}); Short names
	// what a blueprint makes for a target, <Short>-<target name>, as Stash
	// names them (its kubectl short form: deploy, sts, ds, pvc, app).
	Resource, Short string
	New             func() client.Object
	NewList         func() client.ObjectList
	// Variables are the target's own ${TARGET_*} values besides kind, name and namespace.
	Variables func(client.Object) map[string]string
	// Workload targets are backed up as files: the target-paths annotation
	// is required and volume-mounts read.
	Workload bool
	// NotATarget, when set, says why an object of the kind is not a target
	// of its own ("" when it is).
	NotATarget func(client.Object) string
}

// id is the kind's ID, or its Name.
func (k TargetKind) id() string {
	if k.ID != "" {
		return k.ID
	}
	return k.Name
}

// AppBindingKind targets AppBindings.
var AppBindingKind = TargetKind{
	Name: "AppBinding", APIVersion: v1alpha1.GroupVersion.String(), Resource: "appbindings", Short: "app",
	New:     func() client.Object { return &v1alpha1.AppBinding{} },
	NewList: func() client.ObjectList { return &v1alpha1.AppBindingList{} },
	Variables: func(o client.Object) map[string]string {
		ab := o.(*v1alpha1.AppBinding)
		return appVariables(ab.Spec.Type, ab.Spec.Version)
	},
}

// AppCatalogBindingKind targets KubeDB's AppBindings
// (appcatalog.appscode.com/v1alpha1), read unstructured. The
// BackupConfiguration's target names that apiVersion, which the resolver
// reads in place (controllers/resolve).
var AppCatalogBindingKind = TargetKind{
	Name: appcatalog.Kind, ID: appcatalog.Kind + "." + appcatalog.Group, APIVersion: appcatalog.GroupVersion.String(),
	Resource: "appbindings", Short: "app",
	New: func() client.Object {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(appcatalog.GVK)
		return u
	},
	NewList: func() client.ObjectList {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(appcatalog.GroupVersion.WithKind(appcatalog.Kind + "List"))
		return l
	},
	Variables: func(o client.Object) map[string]string {
		u := o.(*unstructured.Unstructured)
		appType, _, _ := unstructured.NestedString(u.Object, "spec", "type")
		version, _, _ := unstructured.NestedString(u.Object, "spec", "version")
		return appVariables(appType, version)
	},
}

// appVariables are an AppBinding's ${TARGET_APP_*} values, as Stash fills
// them: the type and version, and the type's group and resource (split at
// its last "/": kubedb.com/postgres is group kubedb.com, resource
// postgres; a type without "/" is the resource; no type is the AppBinding
// itself, appcatalog.appscode.com appbindings).
func appVariables(appType, version string) map[string]string {
	group, resource := appcatalog.Group, "appbindings"
	if appType != "" {
		group, resource = "", appType
		if i := strings.LastIndexByte(appType, '/'); i >= 0 {
			group, resource = appType[:i], appType[i+1:]
		}
	}
	return map[string]string{"TARGET_APP_TYPE": appType, "TARGET_APP_VERSION": version, "TARGET_APP_GROUP": group, "TARGET_APP_RESOURCE": resource}
}

// PersistentVolumeClaimKind targets PersistentVolumeClaims.
var PersistentVolumeClaimKind = TargetKind{
	Name: "PersistentVolumeClaim", APIVersion: "v1", Resource: "persistentvolumeclaims", Short: "pvc",
	New:       func() client.Object { return &corev1.PersistentVolumeClaim{} },
	NewList:   func() client.ObjectList { return &corev1.PersistentVolumeClaimList{} },
	Variables: func(client.Object) map[string]string { return map[string]string{"TARGET_APP_TYPE": "volume"} },
}

// Workload targets (apps/v1), as Stash has them.
var (
	DeploymentKind  = workloadKind("Deployment", "deploy", nil)
	StatefulSetKind = workloadKind("StatefulSet", "sts", nil)
	DaemonSetKind   = workloadKind("DaemonSet", "ds", nil)
	// ReplicaSetKind leaves out ReplicaSets a Deployment controls: they carry
	// a copy of the Deployment's annotations, and the Deployment is the target.
	ReplicaSetKind = workloadKind("ReplicaSet", "replicaset", func(o client.Object) string {
		if ref := metav1.GetControllerOf(o); ref != nil && ref.Kind == "Deployment" && ref.APIVersion == appsv1.SchemeGroupVersion.String() {
			return "controlled by Deployment " + ref.Name
		}
		return ""
	})
)

// workloadKind is an apps/v1 workload kind, read as metadata only.
func workloadKind(kind, short string, notATarget func(client.Object) string) TargetKind {
	gv := appsv1.SchemeGroupVersion
	return TargetKind{
		Name: kind, APIVersion: gv.String(), Resource: strings.ToLower(kind) + "s", Short: short, Workload: true, NotATarget: notATarget,
		New: func() client.Object {
			o := &metav1.PartialObjectMetadata{}
			o.SetGroupVersionKind(gv.WithKind(kind))
			return o
		},
		NewList: func() client.ObjectList {
			l := &metav1.PartialObjectMetadataList{}
			l.SetGroupVersionKind(gv.WithKind(kind + "List"))
			return l
		},
		Variables: func(client.Object) map[string]string { return map[string]string{"TARGET_APP_TYPE": "workload"} },
	}
}

// +kubebuilder:rbac:groups=stashflow.dev,resources=backupblueprints;appbindings,verbs=get;list;watch
// +kubebuilder:rbac:groups=stashflow.dev,resources=repositories;backupconfigurations,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=stashflow.dev,resources=appbindings/finalizers,verbs=update
// +kubebuilder:rbac:groups=appcatalog.appscode.com,resources=appbindings,verbs=get;list;watch
// +kubebuilder:rbac:groups=appcatalog.appscode.com,resources=appbindings/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments/finalizers;statefulsets/finalizers;daemonsets/finalizers;replicasets/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(r.Kind.New(), builder.WithPredicates(predicate.AnnotationChangedPredicate{})).
		Named("backupblueprint-"+r.Kind.id()).
		WithOptions(opts).
		Watches(&v1alpha1.BackupBlueprint{}, handler.EnqueueRequestsFromMapFunc(r.allTargets)).
		// What a blueprint made maps back to its target: a made object
		// deleted by hand is made again, and one the cache saw only after
		// its target lost the annotation is still removed.
		Watches(&v1alpha1.Repository{}, handler.EnqueueRequestsFromMapFunc(r.targetOfMade)).
		Watches(&v1alpha1.BackupConfiguration{}, handler.EnqueueRequestsFromMapFunc(r.targetOfMade)).
		Complete(shutdown.Quiet(r))
}

// targetOfMade maps an object a blueprint made to its target, by its labels.
func (r *Reconciler) targetOfMade(_ context.Context, o client.Object) []ctrl.Request {
	l := o.GetLabels()
	if l[LabelBlueprintTargetKind] != r.Kind.id() || l[LabelBlueprintTarget] == "" || l[labelTargetNamespace] == "" {
		return nil
	}
	return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: l[labelTargetNamespace], Name: l[LabelBlueprintTarget]}}}
}

// allTargets maps a blueprint change to every target of this kind that
// names it (with any key) or was made from it.
func (r *Reconciler) allTargets(ctx context.Context, o client.Object) []ctrl.Request {
	bp := o.(*v1alpha1.BackupBlueprint)
	list := r.Kind.NewList()
	if err := r.reader().List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing targets failed")
		return nil
	}
	var out []ctrl.Request
	_ = forEach(list, func(t client.Object) {
		if name, _ := annotation(t.GetAnnotations(), bp.Spec.BlueprintAnnotation()); name == bp.Name {
			out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(t)})
		}
	})
	return out
}

// Reconcile makes, updates or removes what a target's blueprint asks for.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	target := r.Kind.New()
	if err := r.reader().Get(ctx, req.NamespacedName, target); err != nil {
		if apierrors.IsNotFound(err) {
			// What lives in the target's namespace goes with it (owner
			// references); what lives elsewhere is found by its labels.
			return ctrl.Result{}, r.removeMade(ctx, req.Namespace, req.Name, "")
		}
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx).WithValues("target", klog.KObj(target), "targetKind", r.Kind.id())
	ctx = ctrl.LoggerInto(ctx, log)

	if r.Kind.NotATarget != nil {
		if why := r.Kind.NotATarget(target); why != "" {
			log.V(1).Info("Not a blueprint target", "reason", why)
			return ctrl.Result{}, r.removeMade(ctx, target.GetNamespace(), target.GetName(), "")
		}
	}
	bp, err := r.blueprintOf(ctx, target)
	if err != nil {
		return ctrl.Result{}, err
	}
	if bp == nil || !target.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, r.removeMade(ctx, target.GetNamespace(), target.GetName(), "")
	}
	repo, bc, err := r.desired(bp, target)
	if err != nil {
		reason := ReasonBlueprintInvalid
		if ae := (*annotationError)(nil); errors.As(err, &ae) {
			reason = ReasonAnnotationInvalid
		}
		r.Recorder.Event(target, corev1.EventTypeWarning, reason, err.Error())
		log.Error(err, "Cannot apply the blueprint", "blueprint", bp.Name, "reason", reason)
		return ctrl.Result{}, nil // the blueprint or the annotations must change; both are watched
	}
	if owner, err := r.madeFor(ctx, bc); err != nil || owner != "" {
		if owner != "" {
			msg := fmt.Sprintf("BackupConfiguration %s/%s exists and was not made for this %s (%s): it is left as it is; rename one of them", bc.Namespace, bc.Name, r.Kind.id(), owner)
			r.Recorder.Event(target, corev1.EventTypeWarning, ReasonNameTaken, msg)
			log.Info("Cannot apply the blueprint: the BackupConfiguration's name is taken", "blueprint", bp.Name, "backupConfiguration", klog.KObj(bc), "madeFor", owner)
		}
		return ctrl.Result{}, err // the other object's deletion is watched
	}
	var errs []error
	for _, obj := range []client.Object{repo, bc} {
		if err := r.Client.Patch(ctx, obj, client.Apply, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("applying %s %s/%s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName(), err))
		}
	}
	if err := kerrors.NewAggregate(errs); err != nil {
		return ctrl.Result{}, err
	}
	// A blueprint renamed or a template changed leaves objects of other names behind.
	if err := r.removeMade(ctx, target.GetNamespace(), target.GetName(), bp.Name, repo, bc); err != nil {
		return ctrl.Result{}, err
	}
	log.V(1).Info("Blueprint applied", "blueprint", bp.Name, "repository", klog.KObj(repo), "backupConfiguration", klog.KObj(bc))
	return ctrl.Result{}, nil
}

// madeFor says what an existing BackupConfiguration of bc's name was made
// for when that is not bc's target ("" when it does not exist or is bc's).
func (r *Reconciler) madeFor(ctx context.Context, bc *v1alpha1.BackupConfiguration) (string, error) {
	existing := &v1alpha1.BackupConfiguration{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(bc), existing); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading BackupConfiguration %s/%s: %w", bc.Namespace, bc.Name, err)
	}
	have, want := existing.Labels, bc.Labels
	if have[LabelBlueprintTargetKind] == "" {
		return "not made by a blueprint", nil
	}
	for _, k := range []string{LabelBlueprintTargetKind, LabelBlueprintTarget, labelTargetNamespace} {
		if have[k] != want[k] {
			return fmt.Sprintf("made for %s %s/%s", have[LabelBlueprintTargetKind], have[labelTargetNamespace], have[LabelBlueprintTarget]), nil
		}
	}
	return "", nil
}

// reader reads targets.
func (r *Reconciler) reader() client.Reader {
	if r.Reader != nil {
		return r.Reader
	}
	return r.Client
}

// blueprintOf returns the blueprint the target's annotation names, or nil.
func (r *Reconciler) blueprintOf(ctx context.Context, target client.Object) (*v1alpha1.BackupBlueprint, error) {
	list := &v1alpha1.BackupBlueprintList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing BackupBlueprints: %w", err)
	}
	for i := range list.Items {
		bp := &list.Items[i]
		if name, _ := annotation(target.GetAnnotations(), bp.Spec.BlueprintAnnotation()); name == bp.Name {
			return bp, nil
		}
	}
	if name, key := annotation(target.GetAnnotations(), v1alpha1.AnnotationBackupBlueprint); name != "" {
		r.Recorder.Event(target, corev1.EventTypeWarning, ReasonBlueprintNotFound, fmt.Sprintf("BackupBlueprint %s (annotation %s) not found", name, key))
	}
	return nil, nil
}

// removeMade deletes the Repositories and BackupConfigurations made for the
// target, except keep.
func (r *Reconciler) removeMade(ctx context.Context, namespace, name, blueprint string, keep ...client.Object) error {
	sel := client.MatchingLabels{LabelBlueprintTargetKind: r.Kind.id(), LabelBlueprintTarget: name}
	var errs []error
	kept := func(o client.Object) bool {
		for _, k := range keep {
			if k.GetNamespace() == o.GetNamespace() && k.GetName() == o.GetName() {
				return true
			}
		}
		return false
	}
	for _, list := range []client.ObjectList{&v1alpha1.BackupConfigurationList{}, &v1alpha1.RepositoryList{}} {
		if err := r.Client.List(ctx, list, sel); err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, forEach(list, func(o client.Object) {
			if o.GetLabels()[labelTargetNamespace] != namespace || kept(o) {
				return
			}
			if err := r.Client.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
				return
			}
			ctrl.LoggerFrom(ctx).Info("Removed what a blueprint made", "object", klog.KObj(o), "blueprint", blueprint)
		}))
	}
	return kerrors.NewAggregate(errs)
}
