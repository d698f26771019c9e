package main

import (
	"context"
	"fmt"
	"io"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/restoresession"
	"github.com/stashflow/stashflow/internal/localrun"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/pipeline/argo"
	"github.com/stashflow/stashflow/translators"
)

// defaultImage is the stashflow image the operator runs hook steps in (its
// --image default).
func defaultImage() string { return "ghcr.io/stashflow/stashflow:" + version }

// printArgo prints the Workflow the operator on Argo would submit for each
// session. The operator translates for Argo, not for this machine (exec
// hooks in the target's pod, workload steps on their pods' nodes, workloads
// scaled down for a restore), so each session is translated again as the
// operator does it: its resolver (controllers/resolve) reads the files as it
// would read the cluster, and argo.Render gets the options of the Argo
// engine (controllers/engine: the Workflow named after the graph, in the
// session's namespace, --image as the default image).
func (o *planOptions) printArgo(ctx context.Context, stdout, stderr io.Writer, in *localrun.Inputs, plans []planned) error {
	var out []byte
	for _, p := range plans {
		plan, err := argoPlan(ctx, in, p.session, translators.Options{Image: o.image})
		if err != nil {
			return usageError{fmt.Errorf("%s %s/%s on Argo: %w", kindOf(p.session), p.session.GetNamespace(), p.session.GetName(), err)}
		}
		printWarnings(stderr, p.session, plan.Warnings)
		wf, err := argo.Render(plan.Graph, argo.Options{
			Name: argo.WorkflowName(plan.Graph.Name), Namespace: p.session.GetNamespace(), DefaultImage: o.image,
		})
		if err != nil {
			return usageError{fmt.Errorf("%s %s/%s on Argo: %w", kindOf(p.session), p.session.GetNamespace(), p.session.GetName(), err)}
		}
		b, err := yaml.Marshal(wf)
		if err != nil {
			return err
		}
		out = append(append(out, "---\n"...), b...)
	}
	_, err := stdout.Write(out)
	return err
}

// argoPlan resolves and translates a session as the operator does.
func argoPlan(ctx context.Context, in *localrun.Inputs, session client.Object, opts translators.Options) (*translators.Plan, error) {
	files := filesReader{set: in.Set, scheme: manifest.Scheme()}
	r := &resolve.Resolver{Client: files, APIReader: files, Builtins: resolve.Builtins{Functions: in.Catalog.Functions, Tasks: in.Catalog.Tasks}}
	ns := session.GetNamespace()
	switch s := session.(type) {
	case *v1alpha1.BackupSession:
		inv, repo, members, err := backupReferences(in.Set, s)
		if err != nil {
			return nil, err
		}
		objs, err := r.Objects(ctx, resolve.Backup, ns, repo, members)
		if err != nil {
			return nil, err
		}
		return translators.Backup(s, inv, objs, opts)
	case *v1alpha1.RestoreSession, *v1alpha1.RestoreBatch:
		kind := restoresession.RestoreSessionKind
		if _, ok := s.(*v1alpha1.RestoreBatch); ok {
			kind = restoresession.RestoreBatchKind
		}
		repo, members := kind.References(s)
		objs, err := r.Objects(ctx, resolve.Restore, ns, repo, members)
		if err != nil {
			return nil, err
		}
		return kind.Translate(s, objs, opts)
	}
	return nil, fmt.Errorf("%s is not a session", kindOf(session))
}

// backupReferences are a BackupSession's invoker, its Repository and its
// members, as the BackupSession controller reads them.
func backupReferences(set *manifest.Set, s *v1alpha1.BackupSession) (translators.BackupInvoker, v1alpha1.ObjectRef, []resolve.Member, error) {
	var inv translators.BackupInvoker
	switch ref := s.Spec.Invoker; ref.Kind {
	case v1alpha1.KindBackupConfiguration:
		if c, ok := manifest.Named[*v1alpha1.BackupConfiguration](set, s.Namespace, ref.Name); ok {
			inv.Config = c
			return inv, c.Spec.Repository, []resolve.Member{resolve.BackupMember("spec", &c.Spec.BackupConfigurationTemplateSpec)}, nil
		}
	case v1alpha1.KindBackupBatch:
		if b, ok := manifest.Named[*v1alpha1.BackupBatch](set, s.Namespace, ref.Name); ok {
			inv.Batch = b
			members := make([]resolve.Member, 0, len(b.Spec.Members))
			for i := range b.Spec.Members {
				members = append(members, resolve.BackupMember(fmt.Sprintf("spec.members[%d]", i), &b.Spec.Members[i].BackupConfigurationTemplateSpec))
			}
			return inv, b.Spec.Repository, members, nil
		}
	}
	return inv, v1alpha1.ObjectRef{}, nil, fmt.Errorf("spec.invoker: %s %s/%s is not in the given files", s.Spec.Invoker.Kind, s.Namespace, s.Spec.Invoker.Name)
}

// filesReader reads the loaded files as a client reads a cluster, for the
// operator's resolver: Get finds an object by kind, namespace (none for
// cluster-scoped keys) and name; List lists the files' pods.
type filesReader struct {
	set    *manifest.Set
	scheme *runtime.Scheme
}

var _ client.Reader = filesReader{}

// Get implements client.Reader.
func (f filesReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	gvk, err := apiutil.GVKForObject(obj, f.scheme)
	if err != nil {
		return err
	}
	for _, o := range f.set.Objects {
		if o.GetName() != key.Name || (key.Namespace != "" && o.GetNamespace() != key.Namespace) {
			continue
		}
		if ogvk, err := apiutil.GVKForObject(o.Object, f.scheme); err != nil || ogvk.GroupKind() != gvk.GroupKind() {
			continue
		}
		if pm, ok := obj.(*metav1.PartialObjectMetadata); ok {
			pm.ObjectMeta = *objectMeta(o.Object)
			return nil
		}
		src, dst := reflect.ValueOf(o.DeepCopyObject()), reflect.ValueOf(obj)
		if src.Type() != dst.Type() {
			return fmt.Errorf("reading %s %s from the files: want a %s", gvk.Kind, key, src.Type())
		}
		dst.Elem().Set(src.Elem())
		return nil
	}
	return apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, key.Name)
}

// List implements client.Reader for pods, the only list the resolver reads.
func (f filesReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	pods, ok := list.(*corev1.PodList)
	if !ok {
		return fmt.Errorf("listing %T from the files is not supported", list)
	}
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	for _, p := range manifest.Of[*corev1.Pod](f.set) {
		if lo.Namespace != "" && p.Namespace != lo.Namespace {
			continue
		}
		if lo.LabelSelector != nil && !lo.LabelSelector.Matches(labels.Set(p.Labels)) {
			continue
		}
		pods.Items = append(pods.Items, *p.DeepCopy())
	}
	return nil
}

func objectMeta(o client.Object) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace(), Labels: o.GetLabels(), Annotations: o.GetAnnotations()}
}
