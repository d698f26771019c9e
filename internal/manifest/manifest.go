package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// Scheme knows the kinds a manifest may hold: ours and core/v1.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = corev1.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}

// Object is one decoded document and where it came from.
type Object struct {
	client.Object
	Source string // file:document, e.g. backup.yaml#2
}

// LoadPaths reads every .yaml, .yml and .json file named, directories
// included (not recursively), in name order.
func LoadPaths(paths ...string) ([]Object, error) {
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
		objs, err := Decode(f, data)
		errs = append(errs, err)
		out = append(out, objs...)
	}
	return out, errors.Join(errs...)
}

// Decode reads every document of data; source names it in errors.
func Decode(source string, data []byte) ([]Object, error) {
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
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", where, cleanDecodeError(err)))
			continue
		}
		co, ok := obj.(client.Object)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: %s is not an object", where, gvk.Kind))
			continue
		}
		co.GetObjectKind().SetGroupVersionKind(*gvk)
		out = append(out, Object{Object: co, Source: where})
	}
	return out, errors.Join(errs...)
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
