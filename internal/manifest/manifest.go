package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/appcatalog"
)

// Scheme knows the kinds a manifest may hold: ours, core/v1 and apps/v1
// (workload targets).
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = appsv1.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

// Object is one decoded document and where it came from.
type Object struct {
	client.Object
	Source string // file:document, e.g. backup.yaml#2
}

// Options say how documents are read. The zero value decodes strictly.
type Options struct {
	// Admission, when set, defaults and validates every object of a kind
	// it has a CRD for, after the strict decoding, as the apiserver would
	// on create (see Admission); the objects returned carry the defaults.
	Admission *Admission
}

// LoadPaths reads every .yaml, .yml and .json file named, directories
// included (not recursively), in name order, strictly.
func LoadPaths(paths ...string) ([]Object, error) { return Options{}.LoadPaths(paths...) }

// Decode reads every document of data strictly; source names it in errors.
func Decode(source string, data []byte) ([]Object, error) { return Options{}.Decode(source, data) }

// LoadPaths reads every .yaml, .yml and .json file named, directories
// included (not recursively), in name order.
func (o Options) LoadPaths(paths ...string) ([]Object, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
	}
	var out []Object
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		objs, err := o.Decode(f, data)
		errs = append(errs, err)
		out = append(out, objs...)
	}
	return out, errors.Join(errs...)
}

// Decode reads every document of data, and every item of a v1 List (what
// kubectl get -o yaml and stashflow's printers write); source names it in
// errors. Every problem of a document is one error, a line of its own:
//
//	<source>#<document>: <Kind>/<name>: <field path>: <what is wrong>
func (o Options) Decode(source string, data []byte) ([]Object, error) {
	codecs := serializer.NewCodecFactory(Scheme(), serializer.EnableStrict)
	decoder := codecs.UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []Object
	var errs []error
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", source, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			n--
			continue
		}
		where := fmt.Sprintf("%s#%d", source, n)
		// A v1 List (kubectl get -o yaml) is read item by item.
		docs := []document{{where, doc}}
		if items, ok := listItems(doc); ok {
			docs = docs[:0]
			for i, item := range items {
				docs = append(docs, document{fmt.Sprintf("%s.items[%d]", where, i), item})
			}
		}
		for _, d := range docs {
			obj, problems := o.decodeDocument(decoder, d.doc)
			if len(problems) > 0 {
				label := d.at
				if name := documentName(d.doc); name != "" {
					label += ": " + name
				}
				for _, p := range problems {
					errs = append(errs, fmt.Errorf("%s: %s", label, p))
				}
				continue
			}
			out = append(out, Object{Object: obj, Source: d.at})
		}
	}
	return out, errors.Join(errs...)
}

// document is one object's YAML or JSON and where it is:
// "file.yaml#2", or "file.yaml#2.items[0]" in a List.
type document struct {
	at  string
	doc []byte
}

// listItems returns the items of a v1 List (what kubectl get -o yaml
// prints), each as a JSON document; ok is false when doc is not a List.
func listItems(doc []byte) (items []json.RawMessage, ok bool) {
	var head struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil || head.APIVersion != "v1" || head.Kind != "List" {
		return nil, false
	}
	return head.Items, true
}

// decodeDocument decodes one document strictly and, for a kind the
// Admission has a CRD for, defaults and validates it.
func (o Options) decodeDocument(decoder runtime.Decoder, doc []byte) (client.Object, []string) {
	if u, err := toUnstructured(doc); err == nil && (&unstructured.Unstructured{Object: u}).GroupVersionKind() == appcatalog.GVK {
		return o.appCatalogBinding(u)
	}
	obj, gvk, err := decoder.Decode(doc, nil, nil)
	var problems []string
	if err != nil {
		problems = append(problems, cleanDecodeError(err))
	}
	if u := o.admitted(doc); u != nil {
		fieldErrs := o.Admission.Admit(u)
		if len(fieldErrs) > 0 {
			if err != nil && !runtime.IsStrictDecodingError(err) {
				// A field of the wrong type: the schema's error says
				// it better, with the field's path.
				problems = nil
			}
			for _, fe := range fieldErrs {
				problems = append(problems, fe.Error())
			}
			return nil, problems
		}
		if err != nil {
			return nil, problems
		}
		// The object with the defaults applied, decoded strictly again.
		defaulted, merr := json.Marshal(u)
		if merr != nil {
			return nil, []string{merr.Error()}
		}
		if obj, gvk, err = decoder.Decode(defaulted, nil, nil); err != nil {
			return nil, []string{cleanDecodeError(err)}
		}
	}
	if err != nil {
		return nil, problems
	}
	co, ok := obj.(client.Object)
	if !ok {
		return nil, []string{gvk.Kind + " is not an object"}
	}
	co.GetObjectKind().SetGroupVersionKind(*gvk)
	return co, nil
}

// appCatalogBinding keeps an appcatalog.appscode.com/v1alpha1 AppBinding
// (KubeDB's) as it is, unstructured, as a cluster holds it, once it maps
// into stashflow's AppBinding (internal/appcatalog) and, with an
// Admission, that AppBinding passes stashflow's CRD: the resolvers map it
// when a target names it.
func (o Options) appCatalogBinding(u map[string]any) (client.Object, []string) {
	obj := &unstructured.Unstructured{Object: u}
	probe := obj.DeepCopy()
	if probe.GetNamespace() == "" {
		probe.SetNamespace(DefaultNamespace)
	}
	ab, err := appcatalog.ToAppBinding(probe.Object)
	var fe *appcatalog.FieldError
	switch {
	case errors.As(err, &fe):
		return nil, []string{fe.Field + ": " + fe.Reason}
	case err != nil:
		return nil, []string{err.Error()}
	}
	if o.Admission != nil {
		mapped, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ab)
		if err != nil {
			return nil, []string{err.Error()}
		}
		var problems []string
		for _, fe := range o.Admission.Admit(mapped) {
			problems = append(problems, fe.Error())
		}
		if len(problems) > 0 {
			return nil, problems
		}
	}
	return obj, nil
}

// admitted returns the document as the Admission takes it, or nil when it
// has no CRD for the document's kind (or the document is not an object: the
// decoder says why).
func (o Options) admitted(doc []byte) map[string]any {
	if o.Admission == nil {
		return nil
	}
	u, err := toUnstructured(doc)
	if err != nil {
		return nil
	}
	gvk := (&unstructured.Unstructured{Object: u}).GroupVersionKind()
	if !o.Admission.Handles(gvk.GroupKind()) {
		return nil
	}
	return u
}

// toUnstructured reads a YAML or JSON document as the apiserver reads a
// request body: integers are int64, other numbers float64.
func toUnstructured(doc []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var u map[string]any
	if err := utiljson.Unmarshal(j, &u); err != nil {
		return nil, err
	}
	return u, nil
}

// documentName is Kind/name of a document, or its kind, or "" when the
// document does not say.
func documentName(doc []byte) string {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
		return ""
	}
	if head.Metadata.Name == "" {
		return head.Kind
	}
	return head.Kind + "/" + head.Metadata.Name
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func cleanDecodeError(err error) string {
	msg := err.Error()
	// "strict decoding error: unknown field \"spec.foo\"" reads fine; drop the
	// serializer's prefix for the rest.
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	return msg
}

// Set is a loaded manifest indexed by kind, namespace and name.
type Set struct {
	Objects []Object
}

// Of returns the objects of type T, in load order.
func Of[T client.Object](s *Set) []T {
	var out []T
	for _, o := range s.Objects {
		if t, ok := o.Object.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Named returns the object of type T with the given name (and namespace,
// when the object has one and ns is not empty).
func Named[T client.Object](s *Set, ns, name string) (T, bool) {
	var zero T
	for _, o := range Of[T](s) {
		if o.GetName() == name && (ns == "" || o.GetNamespace() == "" || o.GetNamespace() == ns) {
			return o, true
		}
	}
	return zero, false
}

// SourceOf says where an object was loaded from.
func (s *Set) SourceOf(obj client.Object) string {
	i := slices.IndexFunc(s.Objects, func(o Object) bool { return o.Object == obj })
	if i < 0 {
		return ""
	}
	return s.Objects[i].Source
}
