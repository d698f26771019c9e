// Package appcatalog reads the AppBindings of appcatalog.appscode.com/v1alpha1
// (what KubeDB creates for every database, and what Stash reads) as
// stashflow's v1alpha1.AppBinding, which has the same shape, so that a
// KubeDB user backs up a database through the AppBinding KubeDB keeps up
// to date, without `stashflow convert`.
//
// The operator's scheme does not know the kind (its CRD may not even be
// installed), so objects arrive unstructured; ToAppBinding maps one field
// by field:
//
//   - copied: spec.type, spec.version, spec.clientConfig (url; service
//     scheme, name, port, path and query; caBundle; insecureSkipTLSVerify;
//     serverName), spec.secret and spec.parameters.
//   - read and not needed: spec.appRef (it names the object the AppBinding
//     was made for, e.g. KubeDB's database; stashflow reads how to connect,
//     not what it connects to) and clientConfig.service.namespace when it is
//     the AppBinding's own namespace.
//   - spec.tlsSecret (KubeDB's client certificate Secret) becomes the
//     secret when the AppBinding has none or names the same Secret: the
//     catalog's Functions read tls.crt, tls.key and ca.crt from that one
//     Secret.
//   - refused, with an error naming the field: spec.secretTransforms
//     (stashflow passes a Secret's keys as they are), spec.tlsSecret beside
//     a different spec.secret, a Service of another namespace, and every
//     field stashflow does not know (e.g. the older
//     clientCertificateSecret). Nothing is dropped silently.
//
// ToAppBinding is pure: no client, no files. Get (read.go) reads an
// AppBinding through the client.Reader it is given, with the one rule for
// which AppBinding a target names; the operator's resolver and the hook
// step both use it.
package appcatalog

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// Group is the API group of KubeDB's and Stash's AppBindings.
const Group = "appcatalog.appscode.com"

// GroupVersion is the version stashflow reads.
var GroupVersion = schema.GroupVersion{Group: Group, Version: "v1alpha1"}

// Kind is the AppBinding kind.
const Kind = "AppBinding"

// GVK is appcatalog.appscode.com/v1alpha1 AppBinding.
var GVK = GroupVersion.WithKind(Kind)

// CRDName is the name of the appcatalog AppBinding CRD.
const CRDName = "appbindings." + Group

// IsAppCatalog reports whether apiVersion is of the appcatalog group (any
// version).
func IsAppCatalog(apiVersion string) bool {
	return strings.HasPrefix(apiVersion, Group+"/")
}

// FieldError is a field of an appcatalog AppBinding that stashflow cannot
// honour.
type FieldError struct {
	// Object is namespace/name of the AppBinding.
	Object string
	// Field is the field's path, e.g. spec.secretTransforms.
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s of %s AppBinding %s: %s", e.Field, GroupVersion, e.Object, e.Reason)
}

// The fields of an appcatalog AppBinding's spec that stashflow knows, by
// path (the rest are refused as unknown).
var (
	specFields         = []string{"appRef", "clientConfig", "parameters", "secret", "secretTransforms", "tlsSecret", "type", "version"}
	clientConfigFields = []string{"caBundle", "insecureSkipTLSVerify", "serverName", "service", "url"}
	serviceFields      = []string{"name", "namespace", "path", "port", "query", "scheme"}
	secretFields       = []string{"name"}
)

// ToAppBinding maps an appcatalog.appscode.com/v1alpha1 AppBinding (as read
// from the API server or a file) into stashflow's AppBinding, or says which
// field it cannot honour. obj is not changed.
func ToAppBinding(obj map[string]any) (*v1alpha1.AppBinding, error) {
	u := &unstructured.Unstructured{Object: obj}
	where := u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		where = ns + "/" + where
	}
	fail := func(field, format string, args ...any) error {
		return &FieldError{Object: where, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if gvk := u.GroupVersionKind(); gvk != GVK {
		return nil, fail("apiVersion", "want %s %s, have %s %s", GroupVersion, Kind, u.GetAPIVersion(), gvk.Kind)
	}

	out := &v1alpha1.AppBinding{}
	out.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(Kind))
	if m, ok := obj["metadata"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &out.ObjectMeta); err != nil {
			return nil, fail("metadata", "%v", err)
		}
	}

	raw, found := obj["spec"]
	if !found {
		return nil, fail("spec", "not set: an AppBinding says how to connect to its application (spec.clientConfig)")
	}
	spec, ok := raw.(map[string]any)
	if !ok {
		return nil, fail("spec", "not an object")
	}
	spec = runtime.DeepCopyJSON(spec)
	if err := unknown(spec, specFields, "spec", fail); err != nil {
		return nil, err
	}

	// Read and not needed: which object the AppBinding was made for.
	delete(spec, "appRef")

	if list, _ := spec["secretTransforms"].([]any); len(list) > 0 {
		return nil, fail("spec.secretTransforms", "stashflow applies no transform to the credentials: "+
			"its Functions read the Secret's keys as they are (username, password, tls.crt, tls.key, ca.crt; see docs/catalog.md); "+
			"give the Secret the keys the Function reads and remove secretTransforms")
	}
	delete(spec, "secretTransforms") // empty: nothing to apply

	cc, _ := spec["clientConfig"].(map[string]any)
	if cc == nil {
		return nil, fail("spec.clientConfig", "not set: one of clientConfig.url or clientConfig.service must be set")
	}
	if err := unknown(cc, clientConfigFields, "spec.clientConfig", fail); err != nil {
		return nil, err
	}
	_, hasURL := cc["url"]
	_, hasService := cc["service"]
	if !hasURL && !hasService {
		return nil, fail("spec.clientConfig", "one of clientConfig.url or clientConfig.service must be set")
	}
	if svc, ok := cc["service"].(map[string]any); ok {
		if err := unknown(svc, serviceFields, "spec.clientConfig.service", fail); err != nil {
			return nil, err
		}
		if ns, _ := svc["namespace"].(string); ns != "" && ns != u.GetNamespace() {
			return nil, fail("spec.clientConfig.service.namespace", "the Service is in namespace %s: stashflow reaches a Service of the AppBinding's own namespace (%s) only; "+
				"set clientConfig.url to the Service's address instead", ns, u.GetNamespace())
		}
		delete(svc, "namespace")
		if name, _ := svc["name"].(string); name == "" {
			return nil, fail("spec.clientConfig.service.name", "not set")
		}
		if port, ok := svc["port"]; !ok || port == nil || fmt.Sprint(port) == "0" {
			return nil, fail("spec.clientConfig.service.port", "not set")
		}
	}

	for _, f := range []string{"secret", "tlsSecret"} {
		if s, ok := spec[f].(map[string]any); ok {
			if err := unknown(s, secretFields, "spec."+f, fail); err != nil {
				return nil, err
			}
		}
	}
	secret, _, _ := unstructured.NestedString(spec, "secret", "name")
	tlsSecret, _, _ := unstructured.NestedString(spec, "tlsSecret", "name")
	switch {
	case tlsSecret == "":
	case secret == "" || secret == tlsSecret:
		// The catalog's Functions read the client certificate (tls.crt,
		// tls.key, ca.crt) and the credentials from one Secret.
		spec["secret"] = map[string]any{"name": tlsSecret}
	default:
		return nil, fail("spec.tlsSecret", "the client certificate Secret %s differs from spec.secret (%s): stashflow's Functions read the credentials "+
			"and the client certificate (tls.crt, tls.key, ca.crt) from one Secret, spec.secret; put both into one Secret and name it in spec.secret", tlsSecret, secret)
	}
	delete(spec, "tlsSecret")

	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fail("spec", "%v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out.Spec); err != nil {
		return nil, fail("spec", "%v", err)
	}
	return out, nil
}

// unknown refuses the first key of m (in name order) that is not in known.
func unknown(m map[string]any, known []string, path string, fail func(field, format string, args ...any) error) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return fail(path+"."+k, "stashflow does not know this field (it knows %s); "+
				"remove it, or write a stashflow.dev/v1alpha1 AppBinding", strings.Join(known, ", "))
		}
	}
	return nil
}
