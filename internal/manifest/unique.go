package manifest

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// objectKey is what makes an object one object: in a cluster a second
// create of the same key fails, and a second apply replaces the first.
type objectKey struct {
	kind      schema.GroupKind
	namespace string
	name      string
}

// Unique returns objs with every object once. An object given twice with
// the same content (self-contained files that each carry the Repository
// and its Secret) is kept once, where it came first. Given twice with
// different content, one would silently win: each such repeat is an error
// naming the kind, namespace/name and both sources:
//
//	BackupConfiguration default/etcd: given twice, differently, in backup.yaml#3 and more.yaml#1
//
// Namespaces are compared as given: set the default namespace first.
func Unique(objs []Object) ([]Object, error) {
	first := map[objectKey]Object{}
	var out []Object
	var errs []error
	for _, o := range objs {
		gvk := o.GetObjectKind().GroupVersionKind()
		key := objectKey{kind: gvk.GroupKind(), namespace: o.GetNamespace(), name: o.GetName()}
		prev, seen := first[key]
		switch {
		case !seen:
			first[key] = o
			out = append(out, o)
		case !equality.Semantic.DeepEqual(prev.Object, o.Object):
			name := key.name
			if key.namespace != "" {
				name = key.namespace + "/" + name
			}
			errs = append(errs, fmt.Errorf("%s %s: given twice, differently, in %s and %s", gvk.Kind, name, prev.Source, o.Source))
		}
	}
	return out, errors.Join(errs...)
}
