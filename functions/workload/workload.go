package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Registry names.
const (
	QuiesceName = "workload-quiesce"
	ResumeName  = "workload-resume"
)

// DefaultTimeout is --timeout's default.
const DefaultTimeout = 10 * time.Minute

const (
	// pollInterval is how often quiesce lists the workload's pods.
	pollInterval = 500 * time.Millisecond
	// logInterval bounds how often the wait logs its progress.
	logInterval = 5 * time.Second
	// maxPodsNamed bounds the pods a message names.
	maxPodsNamed = 10
	// fieldOwner is the field manager of the steps' patches.
	fieldOwner = "stashflow"
)

// AnnotationCreatedByRestore is on each PersistentVolumeClaim that
// workload-quiesce created for a StatefulSet's host; it holds the
// RestoreSession's name (--session), empty when none was given.
const AnnotationCreatedByRestore = v1alpha1.GroupName + "/created-by-restore"

// The kinds a restore can quiesce.
const (
	kindDeployment  = "Deployment"
	kindStatefulSet = "StatefulSet"
	kindReplicaSet  = "ReplicaSet"
)

// target is the workload a step works on, from the flags both steps share.
type target struct {
	namespace, kind, name, session string
	timeout                        time.Duration
}

func (t *target) flags(fs *pflag.FlagSet) {
	fs.StringVar(&t.namespace, "namespace", "", "the workload's namespace")
	fs.StringVar(&t.kind, "kind", "", "the workload's kind: Deployment, StatefulSet or ReplicaSet (apps/v1)")
	fs.StringVar(&t.name, "name", "", "the workload's name")
	fs.StringVar(&t.session, "session", "", "the RestoreSession this step belongs to (for the log)")
	fs.DurationVar(&t.timeout, "timeout", DefaultTimeout, "how long to wait for the Kubernetes API (and, for quiesce, for the workload's pods to be gone)")
}

func (t *target) validate() error {
	if t.namespace == "" {
		return errors.New("--namespace: required (the workload's namespace)")
	}
	if errs := validation.IsDNS1123Label(t.namespace); len(errs) > 0 {
		return fmt.Errorf("--namespace: %q is not a namespace name: %s", t.namespace, strings.Join(errs, "; "))
	}
	if t.name == "" {
		return errors.New("--name: required (the workload's name)")
	}
	if errs := validation.IsDNS1123Subdomain(t.name); len(errs) > 0 {
		return fmt.Errorf("--name: %q is not an object name: %s", t.name, strings.Join(errs, "; "))
	}
	switch t.kind {
	case kindDeployment, kindStatefulSet, kindReplicaSet:
	case "":
		return errors.New("--kind: required (Deployment, StatefulSet or ReplicaSet)")
	case "DaemonSet":
		return fmt.Errorf("--kind: %s cannot be quiesced for a restore: a DaemonSet cannot be scaled to zero (Deployment, StatefulSet or ReplicaSet can)", t)
	default:
		return fmt.Errorf("--kind: %s cannot be quiesced for a restore: %q is not Deployment, StatefulSet or ReplicaSet (apps/v1)", t, t.kind)
	}
	if t.timeout <= 0 {
		return fmt.Errorf("--timeout: %s is not a positive duration", t.timeout)
	}
	if t.session != "" {
		if errs := validation.IsDNS1123Subdomain(t.session); len(errs) > 0 {
			return fmt.Errorf("--session: %q is not a RestoreSession name: %s", t.session, strings.Join(errs, "; "))
		}
	}
	return nil
}

// String is the workload as Kind/namespace/name, the way every message
// names it.
func (t *target) String() string { return t.kind + "/" + t.namespace + "/" + t.name }

// spec points at the fields of a workload object the steps read and write.
type spec struct {
	replicas **int32
	selector **metav1.LabelSelector
}

// newObject returns an empty object of the target's kind and the fields of
// it the steps use.
func (t *target) newObject() (client.Object, spec) {
	switch t.kind {
	case kindStatefulSet:
		o := &appsv1.StatefulSet{}
		return o, spec{&o.Spec.Replicas, &o.Spec.Selector}
	case kindReplicaSet:
		o := &appsv1.ReplicaSet{}
		return o, spec{&o.Spec.Replicas, &o.Spec.Selector}
	default:
		o := &appsv1.Deployment{}
		return o, spec{&o.Spec.Replicas, &o.Spec.Selector}
	}
}

// get reads the workload.
func (t *target) get(ctx context.Context, c client.Client) (client.Object, spec, error) {
	obj, s := t.newObject()
	if err := c.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: t.name}, obj); err != nil {
		return nil, spec{}, fmt.Errorf("get %s: %w", t, err)
	}
	return obj, s, nil
}

// patch writes what changed in obj since before as one merge patch that
// carries before's resourceVersion, so a concurrent change makes it fail
// with a conflict instead of being overwritten.
func (t *target) patch(ctx context.Context, c client.Client, obj, before client.Object) error {
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}), client.FieldOwner(fieldOwner)); err != nil {
		return fmt.Errorf("patch %s: %w", t, err)
	}
	return nil
}

// recorded is the replica count in the annotation of obj, if there is one.
func (t *target) recorded(obj client.Object) (n int32, ok bool, err error) {
	v, ok := obj.GetAnnotations()[v1alpha1.AnnotationRestoreReplicas]
	if !ok {
		return 0, false, nil
	}
	i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil || i < 0 {
		return 0, true, fmt.Errorf("%s: annotation %s holds %q, not a replica count; set it to the count the workload should run with, or remove it; nothing changed",
			t, v1alpha1.AnnotationRestoreReplicas, v)
	}
	return int32(i), true, nil
}

func (t *target) logger(env *step.Env) *slog.Logger {
	return env.Logger().With("workload", t.String(), "session", t.session)
}

// Quiesce is workload-quiesce.
type Quiesce struct{ target }

// NewQuiesce returns a fresh workload-quiesce.
func NewQuiesce() step.Function { return &Quiesce{} }

// Description implements step.Describer.
func (q *Quiesce) Description() string {
	return "scale a workload to zero for a restore, recording its replica count, and wait until its pods are gone"
}

// Flags implements step.Function.
func (q *Quiesce) Flags(fs *pflag.FlagSet) { q.flags(fs) }

// Validate implements step.Function.
func (q *Quiesce) Validate() error { return q.validate() }

// DeclaredOutputs implements step.OutputDeclarer.
func (q *Quiesce) DeclaredOutputs() []string {
	return []string{outputs.Replicas, outputs.ClaimsCreated}
}

// Run implements step.Function.
func (q *Quiesce) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	c, err := newClient(env, QuiesceName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", &q.target, err)
	}
	log := q.logger(env)
	obj, count, selector, err := q.scaleToZero(ctx, c, log)
	if err != nil {
		return nil, err
	}
	out := step.Outputs{outputs.Replicas: strconv.Itoa(int(count)), outputs.ClaimsCreated: "0"}
	if err := q.waitForNoPods(ctx, c, selector, count, log); err != nil {
		return out, err
	}
	if set, ok := obj.(*appsv1.StatefulSet); ok {
		created, err := q.createClaims(ctx, c, set, count, log)
		out[outputs.ClaimsCreated] = strconv.Itoa(created)
		if err != nil {
			return out, err
		}
	}
	log.Info("quiesced: no pod of the workload is left", "replicas", count, "claimsCreated", out[outputs.ClaimsCreated])
	return out, nil
}

// scaleToZero records the replica count in the annotation, unless an earlier
// quiesce did, and sets spec.replicas to 0, in one patch. It returns the
// workload as last read, the recorded count and the workload's pod selector.
func (q *Quiesce) scaleToZero(ctx context.Context, c client.Client, log *slog.Logger) (client.Object, int32, labels.Selector, error) {
	var (
		obj      client.Object
		count    int32
		selector labels.Selector
	)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var (
			s   spec
			err error
		)
		obj, s, err = q.get(ctx, c)
		if err != nil {
			return err
		}
		if selector, err = q.podSelector(*s.selector); err != nil {
			return err
		}
		before := obj.DeepCopyObject().(client.Object)
		n, found, err := q.recorded(obj)
		switch {
		case err != nil:
			return err
		case found && *s.replicas != nil && **s.replicas == 0:
			count = n
			log.Info("already quiesced by an earlier restore; keeping its recorded count", "replicas", n)
			return nil
		case found:
			count = n
			log.Info("an earlier restore recorded the count; scaling to 0 again and keeping it",
				"replicas", n, "current", ptr.Deref(*s.replicas, 1))
		default:
			count = ptr.Deref(*s.replicas, 1)
			ann := obj.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[v1alpha1.AnnotationRestoreReplicas] = strconv.Itoa(int(count))
			obj.SetAnnotations(ann)
			log.Info("scaling to 0, recording the replica count", "replicas", count)
		}
		*s.replicas = ptr.To[int32](0)
		return q.patch(ctx, c, obj, before)
	})
	return obj, count, selector, err
}

// podSelector is the workload's spec.selector as a label selector. One that
// selects nothing or everything is refused: the step could not tell the
// workload's pods.
func (q *Quiesce) podSelector(ls *metav1.LabelSelector) (labels.Selector, error) {
	if ls == nil {
		return nil, fmt.Errorf("%s has no spec.selector, so its pods cannot be told; nothing changed", &q.target)
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil, fmt.Errorf("%s: spec.selector: %w; nothing changed", &q.target, err)
	}
	if sel.Empty() {
		return nil, fmt.Errorf("%s: spec.selector is empty and would select every pod of the namespace; nothing changed", &q.target)
	}
	return sel, nil
}

// waitForNoPods polls until no pod the selector matches is left, up to the
// timeout.
func (q *Quiesce) waitForNoPods(ctx context.Context, c client.Client, selector labels.Selector, count int32, log *slog.Logger) error {
	var (
		remaining []string
		listErr   error
		lastLog   time.Time
	)
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, pollInterval, q.timeout, true, func(ctx context.Context) (bool, error) {
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace(q.namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				return false, err
			}
			listErr = err // transient: try again
			return false, nil
		}
		listErr, remaining = nil, podsLeft(pods.Items)
		if len(remaining) == 0 {
			return true, nil
		}
		if time.Since(lastLog) >= logInterval {
			lastLog = time.Now()
			log.Info("waiting for the workload's pods to be gone", "remaining", len(remaining),
				"pods", namePods(remaining), "waited", time.Since(start).Round(time.Second).String())
		}
		return false, nil
	})
	switch {
	case err == nil:
		return nil
	case !wait.Interrupted(err):
		return fmt.Errorf("%s: list its pods in %s: %w (replicas is 0; the original count %d is kept in annotation %s)",
			&q.target, q.namespace, err, count, v1alpha1.AnnotationRestoreReplicas)
	}
	why := fmt.Sprintf("after %s", q.timeout)
	if ctx.Err() != nil {
		why = "when the step was cancelled"
	}
	if remaining == nil && listErr != nil {
		return fmt.Errorf("%s: could not list its pods %s: %w (replicas is 0; the original count %d is kept in annotation %s)",
			&q.target, why, listErr, count, v1alpha1.AnnotationRestoreReplicas)
	}
	return fmt.Errorf("%s: %d pod(s) still exist %s: %s (replicas is 0; the original count %d is kept in annotation %s for workload-resume)",
		&q.target, len(remaining), why, namePods(remaining), count, v1alpha1.AnnotationRestoreReplicas)
}

// createClaims creates, for each ordinal below count and each of the
// StatefulSet's volumeClaimTemplates, the claim <template>-<statefulset>-<ordinal>
// its pod would mount, when it does not exist yet: a restore into a
// StatefulSet none of whose pods ever ran writes into those claims. A claim
// is made the way the StatefulSet controller makes it (see newClaim); an
// existing one is left as it is, and one that another writer created between
// the read and the create (AlreadyExists) counts as existing. It returns how
// many claims it created.
func (q *Quiesce) createClaims(ctx context.Context, c client.Client, set *appsv1.StatefulSet, count int32, log *slog.Logger) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	created := 0
	fail := func(what string, tpl *corev1.PersistentVolumeClaim, name string, ordinal int32, err error) error {
		return fmt.Errorf("%s: %s PersistentVolumeClaim %s/%s (volumeClaimTemplate %s, ordinal %d): %w (the pods are gone and replicas is 0; the original count %d is kept in annotation %s; %d missing claim(s) were created before this one)",
			&q.target, what, set.Namespace, name, tpl.Name, ordinal, err, count, v1alpha1.AnnotationRestoreReplicas, created)
	}
	for ordinal := range count {
		for i := range set.Spec.VolumeClaimTemplates {
			tpl := &set.Spec.VolumeClaimTemplates[i]
			name := claimName(set, tpl, ordinal)
			err := c.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: name}, &corev1.PersistentVolumeClaim{})
			switch {
			case err == nil:
				log.Debug("the host's claim exists; leaving it as it is", "claim", name)
				continue
			case !apierrors.IsNotFound(err):
				return created, fail("get", tpl, name, ordinal, err)
			}
			err = c.Create(ctx, newClaim(set, tpl, name, q.session), client.FieldOwner(fieldOwner))
			switch {
			case apierrors.IsAlreadyExists(err):
				log.Info("the host's claim was created meanwhile by someone else; leaving it as it is", "claim", name)
				continue
			case err != nil:
				return created, fail("create", tpl, name, ordinal, err)
			}
			created++
			log.Info("created the host's missing claim from the StatefulSet's volumeClaimTemplate", "claim", name, "template", tpl.Name, "ordinal", ordinal)
		}
	}
	return created, nil
}

// claimName is the name the StatefulSet controller gives the claim of a
// volumeClaimTemplate for the pod of an ordinal.
func claimName(set *appsv1.StatefulSet, tpl *corev1.PersistentVolumeClaim, ordinal int32) string {
	return fmt.Sprintf("%s-%s-%d", tpl.Name, set.Name, ordinal)
}

// newClaim is the claim the StatefulSet controller would create from tpl
// (getPersistentVolumeClaims in k8s.io/kubernetes/pkg/controller/statefulset):
// a copy of the template named name in the StatefulSet's namespace, its
// labels the template's plus the StatefulSet's selector matchLabels. Like the
// controller under the default retention policy (Retain) it sets no owner
// reference; unlike it, it adds AnnotationCreatedByRestore.
func newClaim(set *appsv1.StatefulSet, tpl *corev1.PersistentVolumeClaim, name, session string) *corev1.PersistentVolumeClaim {
	claim := tpl.DeepCopy()
	claim.Name = name
	claim.Namespace = set.Namespace
	if claim.Labels == nil {
		claim.Labels = map[string]string{}
	}
	if set.Spec.Selector != nil {
		for k, v := range set.Spec.Selector.MatchLabels {
			claim.Labels[k] = v
		}
	}
	if claim.Annotations == nil {
		claim.Annotations = map[string]string{}
	}
	claim.Annotations[AnnotationCreatedByRestore] = session
	return claim
}

// podsLeft names the pods that may still run a container of the workload:
// all but those in phase Succeeded or Failed. A pod being deleted is named
// "(terminating)".
func podsLeft(pods []corev1.Pod) []string {
	var names []string
	for i := range pods {
		p := &pods[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		name := p.Name
		if p.DeletionTimestamp != nil {
			name += " (terminating)"
		}
		names = append(names, name)
	}
	return names
}

// namePods joins up to maxPodsNamed names.
func namePods(names []string) string {
	if len(names) <= maxPodsNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxPodsNamed], ", "), len(names)-maxPodsNamed)
}

// Resume is workload-resume.
type Resume struct{ target }

// NewResume returns a fresh workload-resume.
func NewResume() step.Function { return &Resume{} }

// Description implements step.Describer.
func (r *Resume) Description() string {
	return "scale a workload quiesced by workload-quiesce back to its recorded replica count"
}

// Flags implements step.Function.
func (r *Resume) Flags(fs *pflag.FlagSet) { r.flags(fs) }

// Validate implements step.Function.
func (r *Resume) Validate() error { return r.validate() }

// DeclaredOutputs implements step.OutputDeclarer.
func (r *Resume) DeclaredOutputs() []string { return []string{outputs.Replicas} }

// Run implements step.Function.
func (r *Resume) Run(ctx context.Context, env *step.Env) (step.Outputs, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c, err := newClient(env, ResumeName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", &r.target, err)
	}
	log := r.logger(env)
	var count int32
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, s, err := r.get(ctx, c)
		if err != nil {
			return err
		}
		n, found, err := r.recorded(obj)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%s was not quiesced by stashflow (no %s annotation); nothing changed", &r.target, v1alpha1.AnnotationRestoreReplicas)
		}
		count = n
		before := obj.DeepCopyObject().(client.Object)
		ann := obj.GetAnnotations()
		delete(ann, v1alpha1.AnnotationRestoreReplicas)
		obj.SetAnnotations(ann)
		*s.replicas = ptr.To(n)
		return r.patch(ctx, c, obj, before)
	})
	if err != nil {
		return nil, err
	}
	log.Info("resumed: scaled back to the recorded count (not waiting for its pods to be ready)", "replicas", count)
	return step.Outputs{outputs.Replicas: strconv.Itoa(int(count))}, nil
}

// newClient connects to the API server: $KUBECONFIG of the step's
// environment when set, otherwise the in-cluster configuration. The REST
// mapping of the few kinds the steps use is fixed, so no discovery call is
// made.
func newClient(env *step.Env, userAgent string) (client.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if v := env.Getenv(clientcmd.RecommendedConfigPathEnvVar); v != "" {
		rules.Precedence = filepath.SplitList(v)
	} else {
		rules.Precedence = []string{clientcmd.RecommendedHomeFile}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no Kubernetes configuration ($KUBECONFIG or in cluster): %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "stashflow-" + userAgent
	scheme := runtime.NewScheme()
	utilruntime.Must(appsv1.AddToScheme(scheme))
	utilruntime.Must(corev1.AddToScheme(scheme))
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{appsv1.SchemeGroupVersion, corev1.SchemeGroupVersion})
	for _, k := range []string{kindDeployment, kindStatefulSet, kindReplicaSet} {
		mapper.Add(appsv1.SchemeGroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	for _, k := range []string{"Pod", "PersistentVolumeClaim"} {
		mapper.Add(corev1.SchemeGroupVersion.WithKind(k), meta.RESTScopeNamespace)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}
