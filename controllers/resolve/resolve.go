// Package resolve reads what an invoker or a session refers to: the
// Repository (and whether its usage policy lets the namespace use it), its
// storage Secret, the targets, and the Tasks and Functions, from the cluster
// first and from the built-in catalog when the cluster has no object of that
// name. The result is a translators.Objects, the input of the translators.
//
// Errors are typed: a NotFoundError may heal (the object can still be
// created), a ForbiddenError cannot until someone edits a spec. Both carry a
// message meant for a condition.
package resolve

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/conditions"
	"github.com/stashflow/stashflow/internal/appcatalog"
	"github.com/stashflow/stashflow/translators"
)

// Builtins are the catalog's Functions and Tasks, by name.
type Builtins struct {
	Functions map[string]*v1alpha1.Function
	Tasks     map[string]*v1alpha1.Task
}

// NotFoundError says a referenced object does not exist (yet).
type NotFoundError struct {
	// Field is where the reference is, e.g. "spec.repository".
	Field     string
	Kind      string
	Namespace string
	Name      string
	// Detail adds to the message, e.g. a missing key.
	Detail string
}

func (e *NotFoundError) Error() string {
	name := e.Name
	if e.Namespace != "" {
		name = e.Namespace + "/" + e.Name
	}
	msg := fmt.Sprintf("%s %s not found", e.Kind, name)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	return msg
}

// ForbiddenError says the Repository's usage policy does not let the namespace use it.
type ForbiddenError struct {
	Field      string
	Repository types.NamespacedName
	Namespace  string
	Policy     v1alpha1.FromNamespaces
	// Secret is set when the policy allows the namespace but the
	// Repository's storage Secret, in another namespace, cannot reach the
	// steps (CrossNamespace).
	Secret string
}

func (e *ForbiddenError) Error() string {
	if e.Secret != "" {
		return fmt.Sprintf("%s: Repository %s is in another namespace than %s: its steps would run in namespace %s, where a pod can read only "+
			"that namespace's Secrets, not the storage Secret %s/%s, and stashflow copies no Secret across namespaces; create a Repository "+
			"in namespace %s for the same backend, with its own storage Secret",
			e.Field, e.Repository, e.Namespace, e.Namespace, e.Repository.Namespace, e.Secret, e.Namespace)
	}
	return fmt.Sprintf("%s: Repository %s does not allow namespace %q to use it (usagePolicy.allowedNamespaces.from is %s)",
		e.Field, e.Repository, e.Namespace, e.Policy)
}

// InvalidError says a spec cannot work as written, e.g. no task is set and
// none can be inferred from the target.
type InvalidError struct{ Message string }

func (e *InvalidError) Error() string { return e.Message }

// IsInvalid reports whether err is, or wraps, an InvalidError.
func IsInvalid(err error) bool {
	var ie *InvalidError
	return errors.As(err, &ie)
}

// IsNotFound reports whether err is, or wraps, a NotFoundError.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// IsForbidden reports whether err is, or wraps, a ForbiddenError.
func IsForbidden(err error) bool {
	var fe *ForbiddenError
	return errors.As(err, &fe)
}

// Resolver reads references.
type Resolver struct {
	// Client reads through the manager's cache.
	Client client.Reader
	// APIReader reads the API server directly: Secrets and
	// PersistentVolumeClaims are read one at a time, so that the operator
	// needs only `get` on them and caches none.
	APIReader client.Reader
	// Builtins are the catalog, used when the cluster has no object of a name.
	Builtins Builtins
	// LocalEngine is set when runs go to the operator's local engine, whose
	// steps run on the operator's machine and can mount no volume of the
	// cluster: volume and workload targets are refused.
	LocalEngine bool
}

// Repository returns the Repository ref points to (its namespace defaulting
// to namespace) if its usage policy lets namespace use it.
func (r *Resolver) Repository(ctx context.Context, field string, ref v1alpha1.ObjectRef, namespace string) (*v1alpha1.Repository, error) {
	key := types.NamespacedName{Namespace: ref.NamespaceOr(namespace), Name: ref.Name}
	repo := &v1alpha1.Repository{}
	if err := r.get(ctx, key, repo); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &NotFoundError{Field: field, Kind: "Repository", Namespace: key.Namespace, Name: key.Name}
		}
		return nil, fmt.Errorf("%s: reading Repository %s: %w", field, key, err)
	}
	if err := r.allowed(ctx, field, repo, namespace); err != nil {
		return nil, err
	}
	if repo.Namespace != namespace {
		// Allowed by its policy, but its Secret cannot reach the steps:
		// they run in namespace and both engines resolve a step's
		// secretKeyRef there. Copying the Secret would hand the
		// repository's credentials to whoever may read Secrets or run pods
		// in namespace, and running the steps in the Repository's
		// namespace would cut them off from the target's volumes and
		// Secrets; the run is refused instead.
		return nil, &ForbiddenError{Field: field, Repository: client.ObjectKeyFromObject(repo), Namespace: namespace,
			Policy: repo.Spec.AllowedFrom(), Secret: repo.Spec.Backend.StorageSecretName}
	}
	return repo, nil
}

// get reads through the cache, and directly when the cache does not hold
// the namespace (an operator restricted to one namespace reading a
// Repository shared from another).
func (r *Resolver) get(ctx context.Context, key types.NamespacedName, obj client.Object) error {
	err := r.Client.Get(ctx, key, obj)
	if err != nil && !apierrors.IsNotFound(err) && r.APIReader != nil {
		if err2 := r.APIReader.Get(ctx, key, obj); err2 == nil || apierrors.IsNotFound(err2) {
			return err2
		}
	}
	return err
}

func (r *Resolver) allowed(ctx context.Context, field string, repo *v1alpha1.Repository, namespace string) error {
	from := repo.Spec.AllowedFrom()
	forbidden := &ForbiddenError{Field: field, Repository: client.ObjectKeyFromObject(repo), Namespace: namespace, Policy: from}
	switch from {
	case v1alpha1.NamespacesFromAll:
		return nil
	case v1alpha1.NamespacesFromSame:
		if repo.Namespace == namespace {
			return nil
		}
		return forbidden
	case v1alpha1.NamespacesFromSelector:
		if repo.Namespace == namespace {
			return nil
		}
		sel, err := metav1.LabelSelectorAsSelector(repo.Spec.UsagePolicy.AllowedNamespaces.Selector)
		if err != nil {
			return &InvalidError{Message: fmt.Sprintf("%s: Repository %s has an invalid namespace selector: %v", field, client.ObjectKeyFromObject(repo), err)}
		}
		ns := &corev1.Namespace{}
		if err := r.get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
			return fmt.Errorf("%s: reading Namespace %s: %w", field, namespace, err)
		}
		if sel.Matches(labels.Set(ns.Labels)) {
			return nil
		}
		return forbidden
	}
	return forbidden
}

// StorageSecret checks that the Repository's storage Secret exists, in the
// Repository's namespace, and holds the keys its backend needs
// (translators.MissingSecretKeys). The Secret is read directly, never
// cached, and no value leaves this function: a missing key is a
// NotFoundError of kind "Secret key" naming the Repository, the Secret and
// the key.
func (r *Resolver) StorageSecret(ctx context.Context, repo *v1alpha1.Repository) error {
	name := repo.Spec.Backend.StorageSecretName
	if name == "" {
		return nil
	}
	field := "spec.backend.storageSecretName of Repository " + repo.Namespace + "/" + repo.Name
	s := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: repo.Namespace, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return &NotFoundError{Field: field, Kind: "Secret", Namespace: repo.Namespace, Name: name}
		}
		return fmt.Errorf("reading Secret %s/%s: %w", repo.Namespace, name, err)
	}
	has := func(k string) bool { return len(s.Data[k]) > 0 || s.StringData[k] != "" }
	missing := translators.MissingSecretKeys(&repo.Spec.Backend, has)
	if len(missing) == 0 {
		return nil
	}
	keys, why := make([]string, len(missing)), make([]string, len(missing))
	for i, m := range missing {
		keys[i], why[i] = m.Key, fmt.Sprintf("no key %s (%s)", m.Key, m.Why)
	}
	return &NotFoundError{Field: field, Kind: KindSecretKey, Name: strings.Join(keys, ", "),
		Detail: fmt.Sprintf("Secret %s/%s has %s", repo.Namespace, name, strings.Join(why, ", "))}
}

// KindSecretKey is the Kind of a NotFoundError for a missing Secret key.
const KindSecretKey = "Secret key"

// Target checks that a target exists: AppBindings through the cache,
// PersistentVolumeClaims directly. Other kinds are not checked (checked is
// false): the operator has no right to read every kind.
func (r *Resolver) Target(ctx context.Context, field, namespace string, ref v1alpha1.TargetRef) (checked bool, _ error) {
	key := types.NamespacedName{Namespace: namespace, Name: ref.Name}
	var err error
	switch {
	case ref.Kind == "AppBinding":
		_, err := r.AppBinding(ctx, field, namespace, ref)
		return true, err
	case ref.Kind == "PersistentVolumeClaim":
		pvc := &metav1.PartialObjectMetadata{}
		pvc.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"))
		err = r.APIReader.Get(ctx, key, pvc)
	case translators.IsWorkload(ref.Kind):
		w := &metav1.PartialObjectMetadata{}
		w.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(ref.Kind))
		err = r.APIReader.Get(ctx, key, w)
	default:
		return false, nil
	}
	switch {
	case apierrors.IsNotFound(err):
		return true, &NotFoundError{Field: field, Kind: ref.Kind, Namespace: namespace, Name: ref.Name}
	case err != nil:
		return true, fmt.Errorf("%s: reading %s %s: %w", field, ref.Kind, key, err)
	}
	return true, nil
}

// +kubebuilder:rbac:groups=appcatalog.appscode.com,resources=appbindings,verbs=get;list;watch

// AppBinding returns the AppBinding ref names, in namespace, as stashflow's
// type:
//
//   - apiVersion appcatalog.appscode.com/…: the appcatalog AppBinding (what
//     KubeDB creates), read in place and mapped by internal/appcatalog; a
//     field stashflow cannot honour is an InvalidError naming it.
//   - apiVersion stashflow.dev/v1alpha1 or empty: stashflow's AppBinding;
//     when there is none, an appcatalog AppBinding of that name (so that a
//     spec rewritten by `stashflow convert` still reads the AppBinding
//     KubeDB keeps up to date). stashflow's wins when both exist.
//
// stashflow's AppBindings are read through the cache; appcatalog's
// directly (the operator's scheme does not know the kind and its CRD may be
// missing; the controllers watch it, unstructured, only once the CRD is
// served, see controllers.Setup): a session resolves them when it is
// submitted and records the plan. A missing object, or a missing CRD, is
// a NotFoundError of kind AppBinding. The rule is internal/appcatalog.Get's,
// which the hook step follows too.
func (r *Resolver) AppBinding(ctx context.Context, field, namespace string, ref v1alpha1.TargetRef) (*v1alpha1.AppBinding, error) {
	ab, err := appcatalog.Get(ctx, r.Client, r.APIReader, ref.APIVersion, types.NamespacedName{Namespace: namespace, Name: ref.Name})
	var notFound *appcatalog.NotFoundError
	var refused *appcatalog.FieldError
	switch {
	case errors.As(err, &notFound):
		return nil, &NotFoundError{Field: field, Kind: "AppBinding", Namespace: namespace, Name: ref.Name, Detail: notFound.Detail}
	case errors.As(err, &refused):
		return nil, &InvalidError{Message: field + ": " + err.Error()}
	case err != nil:
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return ab, nil
}

// Task returns the Task of that name: the cluster's, else the catalog's.
func (r *Resolver) Task(ctx context.Context, field, name string) (*v1alpha1.Task, error) {
	t := &v1alpha1.Task{}
	err := r.Client.Get(ctx, types.NamespacedName{Name: name}, t)
	switch {
	case err == nil:
		return t, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%s: reading Task %s: %w", field, name, err)
	case r.Builtins.Tasks[name] != nil:
		return r.Builtins.Tasks[name].DeepCopy(), nil
	}
	if stash := translators.StashTaskName(name); stash != "" {
		// A Stash Task name (etcd-backup-3.5.0, pvc-backup): the Task it
		// stands for; the translators say so in a warning.
		return r.Task(ctx, field, stash)
	}
	return nil, &NotFoundError{Field: field, Kind: "Task", Name: name}
}

// Function returns the Function of that name: the cluster's, else the catalog's.
func (r *Resolver) Function(ctx context.Context, field, name string) (*v1alpha1.Function, error) {
	f := &v1alpha1.Function{}
	err := r.Client.Get(ctx, types.NamespacedName{Name: name}, f)
	switch {
	case err == nil:
		return f, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%s: reading Function %s: %w", field, name, err)
	case r.Builtins.Functions[name] != nil:
		return r.Builtins.Functions[name].DeepCopy(), nil
	}
	return nil, &NotFoundError{Field: field, Kind: "Function", Name: name}
}

// Mode says whether a run backs up or restores, and so which Task a target
// without one gets: <type>-backup or <type>-restore.
type Mode string

// The modes.
const (
	Backup  Mode = "backup"
	Restore Mode = "restore"
)

// Member is one target of a run and its task.
type Member struct {
	// Field is where the member is in the spec, e.g. "spec" or "spec.members[1]".
	Field  string
	Task   *v1alpha1.TaskRef
	Target *v1alpha1.TargetRef
}

// BackupMember is the member of a BackupConfiguration's (or a BackupBatch
// member's) spec at field.
func BackupMember(field string, t *v1alpha1.BackupConfigurationTemplateSpec) Member {
	m := Member{Field: field, Task: t.Task}
	if t.Target != nil {
		m.Target = &t.Target.Ref
	}
	return m
}

// RestoreMember is the member of a RestoreSession's (or a RestoreBatch
// member's) spec at field.
func RestoreMember(field string, t *v1alpha1.RestoreTargetSpec) Member {
	m := Member{Field: field, Task: t.Task}
	if t.Target != nil {
		m.Target = &t.Target.Ref
	}
	return m
}

// TaskName is the Task a member runs: its own, or the one its target implies
// ("volume-<mode>" for a PersistentVolumeClaim, "<type>-<mode>" for an
// AppBinding). The rule is the translators' (translators.InferTask).
func TaskName(mode Mode, m Member, ab *v1alpha1.AppBinding) (string, error) {
	if m.Task != nil && m.Task.Name != "" {
		return m.Task.Name, nil
	}
	if name := translators.InferTask(string(mode), m.Target, ab); name != "" {
		return name, nil
	}
	return "", &InvalidError{Message: m.Field + ".task: no task is set and none can be inferred from the target"}
}

// stashUpdateStatus is Stash's status step: the translators drop it, so it
// needs no Function.
const stashUpdateStatus = "update-status"

// MemberObjects are what one member refers to.
type MemberObjects struct {
	AppBinding *v1alpha1.AppBinding
	// Workload is a workload target with its hosts, read when resolved.
	Workload  *translators.Workload
	Task      *v1alpha1.Task
	Functions map[string]*v1alpha1.Function
}

// Member resolves one member: its AppBinding (if the target is one), its
// Task and the Task's Functions.
func (r *Resolver) Member(ctx context.Context, mode Mode, namespace string, m Member) (*MemberObjects, error) {
	out := &MemberObjects{Functions: map[string]*v1alpha1.Function{}}
	if m.Target != nil && r.LocalEngine && (m.Target.Kind == "PersistentVolumeClaim" || translators.IsWorkload(m.Target.Kind)) {
		return nil, &InvalidError{Message: fmt.Sprintf("%s.target.ref: %s %q cannot be backed up or restored on the local engine: its steps run on the operator's machine, which cannot mount the target's volumes; run the operator with --engine=argo", m.Field, m.Target.Kind, m.Target.Name)}
	}
	if m.Target != nil && translators.IsWorkload(m.Target.Kind) {
		w, err := r.workload(ctx, m.Field+".target.ref", namespace, *m.Target)
		if err != nil {
			return nil, err
		}
		out.Workload = w
	}
	if m.Target != nil && m.Target.Kind == "AppBinding" {
		ab, err := r.AppBinding(ctx, m.Field+".target.ref", namespace, *m.Target)
		if err != nil {
			return nil, err
		}
		out.AppBinding = ab
	}
	name, err := TaskName(mode, m, out.AppBinding)
	if err != nil {
		return nil, err
	}
	// Refusals of the Task name the field it came from.
	taskField := translators.TaskOrigin(m.Field+".task", m.Field+".target.ref", m.Task, m.Target, out.AppBinding)
	if out.Task, err = r.Task(ctx, taskField, name); err != nil {
		return nil, err
	}
	for i, s := range out.Task.Spec.Steps {
		if _, ok := out.Functions[s.Name]; ok || s.Name == stashUpdateStatus {
			continue
		}
		fn, err := r.Function(ctx, fmt.Sprintf("steps[%d] of Task %s", i, name), s.Name)
		if err != nil {
			return nil, err
		}
		out.Functions[s.Name] = fn
	}
	if mode == Backup {
		if err := translators.NoBackupStep(taskField, out.Task, out.Functions); err != nil {
			return nil, &InvalidError{Message: err.Error()}
		}
	}
	return out, nil
}

// Objects resolves everything a run needs for the translators.
func (r *Resolver) Objects(ctx context.Context, mode Mode, namespace string, repo v1alpha1.ObjectRef, members []Member) (*translators.Objects, error) {
	repository, err := r.Repository(ctx, "spec.repository", repo, namespace)
	if err != nil {
		return nil, err
	}
	if err := r.StorageSecret(ctx, repository); err != nil {
		return nil, err
	}
	objs := &translators.Objects{
		Repository:  repository,
		AppBindings: map[string]*v1alpha1.AppBinding{},
		Tasks:       map[string]*v1alpha1.Task{},
		Functions:   map[string]*v1alpha1.Function{},
	}
	for _, m := range members {
		mo, err := r.Member(ctx, mode, namespace, m)
		if err != nil {
			return nil, err
		}
		if mo.AppBinding != nil {
			objs.AppBindings[mo.AppBinding.Name] = mo.AppBinding
		}
		if mo.Workload != nil {
			if objs.Workloads == nil {
				objs.Workloads = map[string]*translators.Workload{}
			}
			objs.Workloads[translators.WorkloadKey(m.Target.Kind, m.Target.Name)] = mo.Workload
		}
		objs.Tasks[mo.Task.Name] = mo.Task
		for n, f := range mo.Functions {
			objs.Functions[n] = f
		}
	}
	return objs, nil
}

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets;replicasets,verbs=get
// +kubebuilder:rbac:groups="",resources=pods,verbs=list

// workload reads a workload target and the pods its selector matches,
// directly from the API server (the operator caches neither), and makes
// them the translators' Workload.
func (r *Resolver) workload(ctx context.Context, field, namespace string, ref v1alpha1.TargetRef) (*translators.Workload, error) {
	obj := translators.NewWorkloadObject(ref.Kind)
	key := types.NamespacedName{Namespace: namespace, Name: ref.Name}
	if err := r.APIReader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &NotFoundError{Field: field, Kind: ref.Kind, Namespace: namespace, Name: ref.Name}
		}
		return nil, fmt.Errorf("%s: reading %s %s: %w", field, ref.Kind, key, err)
	}
	sel, err := translators.WorkloadSelector(obj)
	if err != nil {
		return nil, &InvalidError{Message: fmt.Sprintf("%s: %s %s: %v", field, ref.Kind, key, err)}
	}
	var pods corev1.PodList
	if err := r.APIReader.List(ctx, &pods, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("%s: listing the pods of %s %s: %w", field, ref.Kind, key, err)
	}
	w, err := translators.NewWorkload(obj, pods.Items)
	if err != nil {
		return nil, &InvalidError{Message: fmt.Sprintf("%s: %s %s: %v", field, ref.Kind, key, err)}
	}
	return w, nil
}

// NotFoundKind returns the kind of the missing object if err is, or wraps,
// a NotFoundError; "" otherwise.
func NotFoundKind(err error) string {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return nf.Kind
	}
	return ""
}

// Reason is the condition reason of a resolver error.
func Reason(err error) conditions.Reason {
	switch {
	case IsForbidden(err):
		return conditions.ReasonNamespaceNotAllowed
	case IsInvalid(err):
		return conditions.ReasonInvalidSpec
	}
	switch NotFoundKind(err) {
	case "":
		return conditions.ReasonInvalidInput
	case "Repository":
		return conditions.ReasonRepositoryNotFound
	case "Secret":
		return conditions.ReasonSecretNotFound
	case KindSecretKey:
		return conditions.ReasonSecretKeyMissing
	case "Task":
		return conditions.ReasonTaskNotFound
	case "Function":
		return conditions.ReasonFunctionNotFound
	}
	return conditions.ReasonTargetNotFound
}
