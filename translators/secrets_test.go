package translators_test

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/internal/manifest"
)

// secretsOf returns every Secret's key/value pairs in the set.
func secretsOf(set *manifest.Set) []map[string]string {
	var out []map[string]string
	for _, s := range manifest.Of[*corev1.Secret](set) {
		kv := map[string]string{}
		for k, v := range s.StringData {
			kv[k] = v
		}
		for k, v := range s.Data {
			kv[k] = string(v)
		}
		out = append(out, kv)
	}
	return out
}
