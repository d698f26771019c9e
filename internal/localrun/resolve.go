package localrun

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/internal/appcatalog"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/pipeline/local"
	"github.com/stashflow/stashflow/translators"
)

// DefaultNamespace is where objects without a namespace belong, as in kubectl.
const DefaultNamespace = manifest.DefaultNamespace

// Inputs are the objects loaded from files, indexed, with the catalog.
type Inputs struct {
	Set     *manifest.Set
	Catalog *catalog.Catalog
}

// Load reads files and directories of YAML and the built-in catalog. Every
// stashflow.dev object is decoded strictly, then defaulted and validated
// with the CRDs' schemas and CEL rules, as the apiserver would admit it
// (manifest.Admission): what a cluster would refuse is refused here too,
// every problem naming its file, document and field. The same object (kind,
// namespace and name) given twice is kept once when both are equal, and
// refused, naming both documents, when they differ.
func Load(paths ...string) (*Inputs, error) {
	admission, err := manifest.CRDAdmission()
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Options{Admission: admission}.LoadPaths(paths...)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.GetNamespace() == "" && namespaced(o.Object) {
			o.SetNamespace(DefaultNamespace)
		}
	}
	// The same object twice, differently, would silently be one of them.
	if objs, err = manifest.Unique(objs); err != nil {
		return nil, err
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	return &Inputs{Set: &manifest.Set{Objects: objs}, Catalog: cat}, nil
}

func namespaced(o client.Object) bool {
	switch o.(type) {
	case *v1alpha1.Function, *v1alpha1.Task, *v1alpha1.BackupBlueprint:
		return false
	}
	return true
}

// where names an object and the file it came from, for error messages.
func (in *Inputs) where(o client.Object) string {
	kind := o.GetObjectKind().GroupVersionKind().Kind
	name := o.GetName()
	if ns := o.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	if src := in.Set.SourceOf(o); src != "" {
		return fmt.Sprintf("%s %s (%s)", kind, name, src)
	}
	return kind + " " + name
}

// objects resolves what a session in namespace ns needs: the Repository it
// names, every AppBinding of the namespace, and Tasks and Functions (the
// files' own, then the catalog's).
func (in *Inputs) objects(owner client.Object, ns string, repo v1alpha1.ObjectRef) (*translators.Objects, error) {
	objs := &translators.Objects{
		AppBindings: map[string]*v1alpha1.AppBinding{},
		Tasks:       map[string]*v1alpha1.Task{},
		Functions:   map[string]*v1alpha1.Function{},
	}
	for name, t := range in.Catalog.Tasks {
		objs.Tasks[name] = t
	}
	for name, f := range in.Catalog.Functions {
		objs.Functions[name] = f
	}
	for _, t := range manifest.Of[*v1alpha1.Task](in.Set) {
		objs.Tasks[t.Name] = t
	}
	for _, f := range manifest.Of[*v1alpha1.Function](in.Set) {
		objs.Functions[f.Name] = f
	}
	// KubeDB's appcatalog AppBindings, read in place; stashflow's own of
	// the same name wins, as in the operator (controllers/resolve).
	for _, u := range manifest.Of[*unstructured.Unstructured](in.Set) {
		if u.GroupVersionKind() != appcatalog.GVK || u.GetNamespace() != ns {
			continue
		}
		ab, err := appcatalog.ToAppBinding(u.Object)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.where(u), err)
		}
		objs.AppBindings[ab.Name] = ab
	}
	for _, ab := range manifest.Of[*v1alpha1.AppBinding](in.Set) {
		if ab.Namespace == ns {
			objs.AppBindings[ab.Name] = ab
		}
	}
	if err := in.workloads(objs, ns); err != nil {
		return nil, err
	}
	repoNS := repo.NamespaceOr(ns)
	r, ok := manifest.Named[*v1alpha1.Repository](in.Set, repoNS, repo.Name)
	if !ok || r.Namespace != repoNS {
		return nil, fmt.Errorf("%s: spec.repository: Repository %s/%s is not in the given files", in.where(owner), repoNS, repo.Name)
	}
	if repoNS != ns && r.Spec.AllowedFrom() == v1alpha1.NamespacesFromSame {
		return nil, fmt.Errorf("%s: spec.repository: Repository %s/%s allows only its own namespace (spec.usagePolicy.allowedNamespaces)", in.where(owner), repoNS, repo.Name)
	}
	if s := r.Spec.Backend.StorageSecretName; s != "" {
		if _, ok := in.secret(repoNS, s); !ok {
			return nil, fmt.Errorf("%s: spec.backend.storageSecretName: Secret %s/%s is not in the given files", in.where(r), repoNS, s)
		}
	}
	objs.Repository = r
	return objs, nil
}

// workloads are the Deployments, StatefulSets, DaemonSets and ReplicaSets
// of the files in namespace ns, with the files' pods (usually none: on one
// machine a workload is its volumes, mapped with --volume).
func (in *Inputs) workloads(objs *translators.Objects, ns string) error {
	var pods []corev1.Pod
	for _, p := range manifest.Of[*corev1.Pod](in.Set) {
		pods = append(pods, *p)
	}
	for _, o := range in.Set.Objects {
		kind := o.Object.GetObjectKind().GroupVersionKind().Kind
		if !translators.IsWorkload(kind) || o.GetNamespace() != ns {
			continue
		}
		w, err := translators.NewWorkload(o.Object, pods)
		if err != nil {
			return fmt.Errorf("%s: %w", in.where(o.Object), err)
		}
		if objs.Workloads == nil {
			objs.Workloads = map[string]*translators.Workload{}
		}
		objs.Workloads[translators.WorkloadKey(kind, o.GetName())] = w
	}
	return nil
}

func (in *Inputs) secret(ns, name string) (*corev1.Secret, bool) {
	for _, s := range manifest.Of[*corev1.Secret](in.Set) {
		if s.Name == name && s.Namespace == ns {
			return s, true
		}
	}
	return nil, false
}

// secrets resolves secretKeyRefs from the Secrets in the files.
type secrets struct {
	in *Inputs
	ns string
}

// SecretValue implements local.SecretResolver.
func (s secrets) SecretValue(_ context.Context, name, key string) (string, error) {
	sec, ok := s.in.secret(s.ns, name)
	if !ok {
		return "", fmt.Errorf("the Secret %s/%s is not in the given files: %w", s.ns, name, local.ErrSecretNotFound)
	}
	if v, ok := sec.StringData[key]; ok {
		return v, nil
	}
	if v, ok := sec.Data[key]; ok {
		return string(v), nil
	}
	return "", fmt.Errorf("the Secret %s/%s has no key %q: %w", s.ns, name, key, local.ErrSecretNotFound)
}

var errNothingToRun = errors.New("the files hold no BackupSession, RestoreSession, RestoreBatch, BackupConfiguration or BackupBatch to run")
