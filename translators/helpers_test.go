package translators_test

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
)

func configOf(in *input) *v1alpha1.BackupConfiguration {
	c := manifest.Of[*v1alpha1.BackupConfiguration](in.set)
	return c[len(c)-1]
}

func batchOf(in *input) *v1alpha1.BackupBatch {
	return manifest.Of[*v1alpha1.BackupBatch](in.set)[0]
}

func execAction(cmd ...string) *v1alpha1.ExecAction { return &v1alpha1.ExecAction{Command: cmd} }

func addFieldRefEnv(fn *v1alpha1.Function) {
	fn.Spec.Env = append([]corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
	}}}, fn.Spec.Env...)
}

// dedupe keeps the last object of each kind and name, so that a test's
// extra YAML replaces the case file's object of the same name.
func dedupe(in *input) {
	type key struct{ kind, name string }
	last := map[key]int{}
	for i, o := range in.set.Objects {
		last[key{o.GetObjectKind().GroupVersionKind().Kind, o.GetName()}] = i
	}
	var kept []manifest.Object
	for i, o := range in.set.Objects {
		if last[key{o.GetObjectKind().GroupVersionKind().Kind, o.GetName()}] == i {
			kept = append(kept, o)
		}
	}
	in.set.Objects = kept
}

// flagsWith are the args that start with one of prefixes (e.g. "--url="),
// in order.
func flagsWith(args []string, prefixes ...string) []string {
	var out []string
	for _, a := range args {
		for _, p := range prefixes {
			if strings.HasPrefix(a, p) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}
