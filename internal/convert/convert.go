package convert

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
	"github.com/stashflow/stashflow/internal/manifest"
	"github.com/stashflow/stashflow/translators"
)

// The API groups convert reads.
const (
	StashGroup             = "stash.appscode.com"
	StashRepositoriesGroup = "repositories.stash.appscode.com"
	AppCatalogGroup        = "appcatalog.appscode.com"
)

// Change is one thing Convert changed in an object.
type Change struct {
	Object string // Kind/name
	Field  string // the field path, e.g. spec.task.name
	What   string // what changed
}

func (c Change) String() string { return c.Object + ": " + c.Field + ": " + c.What }

// Problem is one thing Convert could not carry: the object is not written.
type Problem struct {
	Object string // Kind/name
	Field  string // the field path
	Reason string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Object + ": cannot carry: " + p.Reason
	}
	return p.Object + ": " + p.Field + ": cannot carry: " + p.Reason
}

// Result is what became of one input object.
type Result struct {
	// Name is the object's Kind/name.
	Name string
	// Object is the converted object; nil when it is not written (it has
	// Problems, or stashflow's catalog replaces it).
	Object *unstructured.Unstructured
	// Changes made, in order; an object that passed through unchanged has
	// none.
	Changes []Change
	// Problems are what could not be carried.
	Problems []Problem
}

// Converter converts objects. Its zero value converts without validating
// against the CRDs and without knowing stashflow's catalog; New gives one
// with both.
type Converter struct {
	// Admission, when set, validates every converted stashflow.dev object
	// as the apiserver would on create.
	Admission *manifest.Admission
	// CatalogTasks and CatalogFunctions are the names in stashflow's
	// catalog: a Stash Task name that stands for one of them is rewritten,
	// and Stash's own Task or Function of that name is not written.
	CatalogTasks, CatalogFunctions map[string]bool
}

// New is a Converter with stashflow's CRDs and catalog.
func New() (*Converter, error) {
	a, err := manifest.CRDAdmission()
	if err != nil {
		return nil, err
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, err
	}
	c := &Converter{Admission: a, CatalogTasks: map[string]bool{}, CatalogFunctions: map[string]bool{}}
	for _, n := range cat.TaskNames() {
		c.CatalogTasks[n] = true
	}
	for _, n := range cat.FunctionNames() {
		c.CatalogFunctions[n] = true
	}
	return c, nil
}

// ReadDocuments reads every YAML or JSON document of data as the apiserver
// reads a request body (integers int64, other numbers float64), skipping
// empty ones.
func ReadDocuments(data []byte) ([]map[string]any, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []map[string]any
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return out, fmt.Errorf("document %d: %w", n, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue
		}
		var u map[string]any
		if err := utiljson.Unmarshal(j, &u); err != nil {
			return out, fmt.Errorf("document %d: %w", n, err)
		}
		out = append(out, u)
	}
}

// Convert converts one object; a List (what `kubectl get -o yaml` writes)
// gives one Result per item. obj is not changed.
func (c *Converter) Convert(obj map[string]any) []Result {
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	if u.IsList() {
		var out []Result
		_ = u.EachListItem(func(item runtime.Object) error {
			out = append(out, c.Convert(item.(*unstructured.Unstructured).Object)...)
			return nil
		})
		return out
	}
	return []Result{c.convert(u)}
}

// conversion is one object being converted.
type conversion struct {
	Result
	u *unstructured.Unstructured
}

func (x *conversion) change(field, format string, args ...any) {
	x.Changes = append(x.Changes, Change{Object: x.Name, Field: field, What: fmt.Sprintf(format, args...)})
}

func (x *conversion) problem(field, format string, args ...any) {
	x.Problems = append(x.Problems, Problem{Object: x.Name, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// stashKinds are the kinds that move to stashflow.dev/v1alpha1, by their
// Stash group and version.
var stashKinds = map[schema.GroupVersion][]string{
	{Group: StashGroup, Version: "v1beta1"}: {
		"BackupConfiguration", "BackupSession", "RestoreSession", "BackupBatch",
		"RestoreBatch", "Function", "Task", "BackupBlueprint",
	},
	{Group: StashGroup, Version: "v1alpha1"}:      {"Repository"},
	{Group: AppCatalogGroup, Version: "v1alpha1"}: {"AppBinding"},
}

// legacyKinds are Stash's kinds that stashflow has no counterpart for, with
// what to do instead.
var legacyKinds = map[schema.GroupKind]string{
	{Group: StashGroup, Kind: "Restic"}: "Stash's legacy v1alpha1 Restic (a sidecar backup) has no stashflow counterpart: " +
		"write a BackupConfiguration of the workload (target.ref, paths, volumeMounts) with the Restic's schedule and retentionPolicy, " +
		"as Stash's own v1beta1 does, then convert that",
	{Group: StashGroup, Kind: "Recovery"}: "Stash's legacy v1alpha1 Recovery has no stashflow counterpart: " +
		"write a RestoreSession (repository, target.ref, target.rules with the snapshot) as Stash's own v1beta1 does, then convert that",
	{Group: StashRepositoriesGroup, Kind: "Snapshot"}: "Snapshots are not written: the operator lists them from the repository " +
		"(stashflow.dev/v1alpha1 Snapshot, mirrored), so they appear once the Repository is applied",
}

func (c *Converter) convert(u *unstructured.Unstructured) Result {
	gvk := u.GroupVersionKind()
	x := &conversion{Result: Result{Name: gvk.Kind + "/" + u.GetName()}, u: u}
	switch {
	case legacyKinds[gvk.GroupKind()] != "":
		x.problem("kind", "%s", legacyKinds[gvk.GroupKind()])
	case isStashKind(gvk):
		c.stashObject(x)
	case gvk.Group == StashGroup || gvk.Group == StashRepositoriesGroup || gvk.Group == AppCatalogGroup:
		x.problem("apiVersion", "%s %s is not a Stash kind stashflow has (%s)", u.GetAPIVersion(), gvk.Kind, knownKinds())
	default:
		x.annotations()
		x.Object = u
	}
	if len(x.Problems) > 0 {
		x.Object = nil
	}
	return x.Result
}

func isStashKind(gvk schema.GroupVersionKind) bool {
	for _, k := range stashKinds[gvk.GroupVersion()] {
		if k == gvk.Kind {
			return true
		}
	}
	return false
}

func knownKinds() string {
	return "stash.appscode.com/v1beta1 BackupConfiguration, BackupSession, RestoreSession, BackupBatch, RestoreBatch, " +
		"Function, Task and BackupBlueprint; stash.appscode.com/v1alpha1 Repository; appcatalog.appscode.com/v1alpha1 AppBinding"
}

// serverMetadata are the metadata fields the apiserver sets: an exported
// object carries them, a manifest to apply must not.
var serverMetadata = []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func (c *Converter) stashObject(x *conversion) {
	u := x.u
	kind := u.GetKind()
	if c.replacedByCatalog(x) || x.ranInStash() {
		return
	}
	old := u.GetAPIVersion()
	u.SetAPIVersion(v1alpha1.GroupVersion.String())
	x.change("apiVersion", "%s → %s", old, u.GetAPIVersion())
	if _, ok := u.Object["status"]; ok {
		delete(u.Object, "status")
		x.change("status", "dropped (the operator writes it)")
	}
	meta, _ := u.Object["metadata"].(map[string]any)
	for _, f := range serverMetadata {
		if _, ok := meta[f]; ok {
			delete(meta, f)
			x.change("metadata."+f, "dropped (set by the apiserver)")
		}
	}
	if a := u.GetAnnotations(); a != nil {
		if _, ok := a[lastApplied]; ok {
			delete(a, lastApplied)
			setAnnotations(u, a)
			x.change("metadata.annotations["+lastApplied+"]", "dropped (kubectl's record of the Stash object)")
		}
	}
	x.ownerReferences()
	x.finalizers()
	x.annotations()
	x.labels()
	switch kind {
	case "Task":
		c.taskSteps(x)
	case "BackupSession":
		if g, _, _ := unstructured.NestedString(u.Object, "spec", "invoker", "apiGroup"); g == StashGroup {
			_ = unstructured.SetNestedField(u.Object, v1alpha1.GroupVersion.Group, "spec", "invoker", "apiGroup")
			x.change("spec.invoker.apiGroup", "%s → %s", g, v1alpha1.GroupVersion.Group)
		}
	case "RestoreSession":
		x.moveRules(u.Object["spec"], "spec")
	case "AppBinding":
		if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "appRef"); ok {
			unstructured.RemoveNestedField(u.Object, "spec", "appRef")
			x.change("spec.appRef", "dropped: it names the object the AppBinding was made for (e.g. KubeDB's database); "+
				"stashflow reads clientConfig, secret and parameters")
		}
	}
	spec, _ := u.Object["spec"].(map[string]any)
	c.targetAndTask(x, spec, "spec")
	members, _ := spec["members"].([]any)
	for i, m := range members {
		member, _ := m.(map[string]any)
		path := fmt.Sprintf("spec.members[%d]", i)
		if kind == "RestoreBatch" {
			x.moveRules(member, path)
		}
		c.targetAndTask(x, member, path)
	}
	x.Problems = append(x.Problems, c.validate(x.Name, u)...)
	x.Object = u
}

// replacedByCatalog reports whether x is one of Stash's catalog Tasks or
// Functions, which stashflow's catalog replaces: it is not written.
func (c *Converter) replacedByCatalog(x *conversion) bool {
	name := x.u.GetName()
	switch x.u.GetKind() {
	case "Task":
		if ours := translators.StashTaskName(name); c.CatalogTasks[ours] {
			x.change("metadata.name", "not written: Stash's catalog Task; stashflow's catalog Task %q runs in its place", ours)
			return true
		}
	case "Function":
		if name == updateStatus {
			x.change("metadata.name", "not written: the operator writes status itself, Stash's update-status step is dropped from Tasks")
			return true
		}
		if ours := translators.StashTaskName(name); c.CatalogFunctions[ours] {
			x.change("metadata.name", "not written: Stash's catalog Function; stashflow's catalog Function %q runs in its place", ours)
			return true
		}
	}
	return false
}

const updateStatus = "update-status"

// ranInStash reports whether x is a session Stash ran (its exported status
// has a phase): it is not written. Its history is Stash's, and applied
// again it would run again: a restore would overwrite its target with the
// snapshot once more.
func (x *conversion) ranInStash() bool {
	switch x.u.GetKind() {
	case "BackupSession", "RestoreSession", "RestoreBatch":
	default:
		return false
	}
	phase, _, _ := unstructured.NestedString(x.u.Object, "status", "phase")
	if phase == "" {
		return false
	}
	x.change("status.phase", "not written: the session ran in Stash (phase %s); applied, it would run again "+
		"(a restore would overwrite its target once more)", phase)
	return true
}

// taskSteps drops Stash's update-status step and renames steps that call
// Stash's catalog Functions.
func (c *Converter) taskSteps(x *conversion) {
	steps, _, _ := unstructured.NestedSlice(x.u.Object, "spec", "steps")
	var kept []any
	for i, s := range steps {
		step, _ := s.(map[string]any)
		name, _ := step["name"].(string)
		path := fmt.Sprintf("spec.steps[%d]", i)
		if name == updateStatus {
			x.change(path, "Stash's update-status step dropped (the operator writes status)")
			continue
		}
		if ours := translators.StashTaskName(name); c.CatalogFunctions[ours] {
			step["name"] = ours
			x.change(path+".name", "%s → %s (stashflow's catalog Function)", name, ours)
		}
		kept = append(kept, step)
	}
	if steps != nil {
		_ = unstructured.SetNestedSlice(x.u.Object, kept, "spec", "steps")
	}
}

// targetAndTask rewrites a task name Stash's catalog gives and an
// appcatalog AppBinding reference in one spec or batch member.
func (c *Converter) targetAndTask(x *conversion, m map[string]any, path string) {
	if m == nil {
		return
	}
	if name, _, _ := unstructured.NestedString(m, "task", "name"); name != "" {
		if ours := translators.StashTaskName(name); c.CatalogTasks[ours] {
			_ = unstructured.SetNestedField(m, ours, "task", "name")
			x.change(path+".task.name", "%s → %s (stashflow's catalog Task, see docs/catalog.md)", name, ours)
		}
	}
	ref, _, _ := unstructured.NestedMap(m, "target", "ref")
	if ref["kind"] == "AppBinding" {
		if av, _ := ref["apiVersion"].(string); strings.HasPrefix(av, AppCatalogGroup+"/") {
			_ = unstructured.SetNestedField(m, v1alpha1.GroupVersion.String(), "target", "ref", "apiVersion")
			x.change(path+".target.ref.apiVersion", "%s → %s", av, v1alpha1.GroupVersion.String())
		}
	}
}

// moveRules moves a restore's top-level rules (Stash's older place) into
// target.rules, when the target has none.
func (x *conversion) moveRules(v any, path string) {
	m, _ := v.(map[string]any)
	rules, ok := m["rules"]
	if !ok {
		return
	}
	target, _ := m["target"].(map[string]any)
	if target == nil {
		return // refused by validation: rules apply to a target
	}
	if _, both := target["rules"]; both {
		return // refused by validation: rules in both places
	}
	target["rules"] = rules
	delete(m, "rules")
	x.change(path+".rules", "moved to %s.target.rules", path)
}

// ownerReferences drops the references to Stash's objects: they name them
// by uid, and the converted objects are new ones; kept, the garbage
// collector would delete the converted object.
func (x *conversion) ownerReferences() {
	refs := x.u.GetOwnerReferences()
	kept := refs[:0]
	for i, r := range refs {
		if g := strings.SplitN(r.APIVersion, "/", 2)[0]; g == StashGroup || g == AppCatalogGroup {
			x.change(fmt.Sprintf("metadata.ownerReferences[%d]", i),
				"dropped: it names Stash's %s/%s by uid, which the converted objects do not have (the garbage collector would delete this one)", r.Kind, r.Name)
			continue
		}
		kept = append(kept, r)
	}
	if len(kept) == len(refs) {
		return
	}
	if len(kept) == 0 {
		unstructured.RemoveNestedField(x.u.Object, "metadata", "ownerReferences")
		return
	}
	x.u.SetOwnerReferences(kept)
}

// finalizers drops Stash's: nothing would remove them from the converted
// object, which could then never be deleted.
func (x *conversion) finalizers() {
	fs := x.u.GetFinalizers()
	var kept []string
	for i, f := range fs {
		if strings.HasPrefix(f, StashGroup) {
			x.change(fmt.Sprintf("metadata.finalizers[%d]", i), "dropped: Stash's finalizer %s; nothing would remove it from the converted object, which could then never be deleted", f)
			continue
		}
		kept = append(kept, f)
	}
	switch {
	case len(kept) == len(fs):
	case len(kept) == 0:
		unstructured.RemoveNestedField(x.u.Object, "metadata", "finalizers")
	default:
		x.u.SetFinalizers(kept)
	}
}

// labels says which of Stash's labels are kept as they are.
func (x *conversion) labels() {
	var keys []string
	for k := range x.u.GetLabels() {
		if strings.HasPrefix(k, StashGroup+"/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		x.change("metadata.labels["+k+"]", "kept as is: stashflow does not read it")
	}
}

func setAnnotations(u *unstructured.Unstructured, a map[string]string) {
	if len(a) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
		return
	}
	u.SetAnnotations(a)
}
