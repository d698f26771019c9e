package convert

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
)

// stashAnnotations are Stash's blueprint annotations and ours.
var stashAnnotations = map[string]string{
	v1alpha1.StashAnnotationBackupBlueprint: v1alpha1.AnnotationBackupBlueprint,
	v1alpha1.StashAnnotationSchedule:        v1alpha1.AnnotationSchedule,
	v1alpha1.StashAnnotationTargetPaths:     v1alpha1.AnnotationTargetPaths,
	v1alpha1.StashAnnotationVolumeMounts:    v1alpha1.AnnotationVolumeMounts,
}

// blueprintTargets are the kinds whose blueprint annotations stashflow
// reads (controllers/backupblueprint).
var blueprintTargets = []string{"AppBinding", "PersistentVolumeClaim", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

// annotations rewrites Stash's blueprint annotations to ours.
func (x *conversion) annotations() {
	a := x.u.GetAnnotations()
	keys := make([]string, 0, len(a))
	for k := range a {
		if strings.HasPrefix(k, StashGroup+"/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		field := "metadata.annotations[" + k + "]"
		ours, known := stashAnnotations[k]
		switch {
		case !known:
			x.change(field, "kept as is: stashflow does not read it")
		case !slices.Contains(blueprintTargets, x.u.GetKind()):
			x.problem(field, "stashflow reads blueprint annotations on AppBindings, PersistentVolumeClaims and workloads "+
				"(Deployment, StatefulSet, DaemonSet, ReplicaSet), not on a %s: annotate each target instead", x.u.GetKind())
		case a[ours] != "":
			if a[ours] != a[k] {
				x.change(field, "dropped: %s is set (%q) and wins over %q", ours, a[ours], a[k])
			} else {
				x.change(field, "dropped: %s is set to the same value", ours)
			}
			delete(a, k)
		default:
			a[ours] = a[k]
			delete(a, k)
			x.change(field, "renamed to %s", ours)
		}
	}
	if len(keys) > 0 {
		setAnnotations(x.u, a)
	}
}

// validate decodes u strictly into its Go type (every unknown field is a
// Problem) and admits it with the CRDs' schemas and CEL rules.
func (c *Converter) validate(name string, u *unstructured.Unstructured) []Problem {
	var out []Problem
	typed, err := manifest.Scheme().New(u.GroupVersionKind())
	if err != nil {
		return []Problem{{Object: name, Field: "kind", Reason: err.Error()}}
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return []Problem{{Object: name, Field: "", Reason: err.Error()}}
	}
	strict, err := sigsjson.UnmarshalStrict(data, typed)
	var unknown []string
	for _, e := range strict {
		field, ok := unknownField(e.Error())
		if !ok {
			out = append(out, Problem{Object: name, Field: "", Reason: e.Error()})
			continue
		}
		unknown = append(unknown, field)
		out = append(out, Problem{Object: name, Field: field, Reason: unknownReason(u.GetKind(), field)})
	}
	if err != nil && c.Admission == nil {
		// A field of the wrong type; with an Admission its error names
		// the field better.
		out = append(out, Problem{Object: name, Field: "", Reason: err.Error()})
	}
	if c.Admission == nil {
		return out
	}
	driverReported := false
	for _, fe := range c.Admission.Admit(runtime.DeepCopyJSON(u.Object)) {
		field := fe.Field
		if field == "<nil>" {
			field = ""
		}
		driverReported = driverReported || field == "spec.driver"
		if ancestorOf(field, unknown) {
			// Emptied by the pruning of an unknown field reported above.
			continue
		}
		out = append(out, Problem{Object: name, Field: field, Reason: fe.ErrorBody()})
	}
	// The CRD's rule on driver is not run when the object lacks a required
	// field (Stash's VolumeSnapshotter configurations have no repository):
	// say it here, so that fixing the rest is not in vain.
	if d, _, _ := unstructured.NestedString(u.Object, "spec", "driver"); d == "VolumeSnapshotter" && !driverReported {
		out = append(out, Problem{Object: name, Field: "spec.driver", Reason: "driver VolumeSnapshotter (CSI VolumeSnapshots) is not supported: " +
			"stashflow backs up and restores with restic; remove driver or set it to Restic"})
	}
	return out
}

// ancestorOf reports whether field is a parent of one of the paths.
func ancestorOf(field string, paths []string) bool {
	for _, p := range paths {
		if field != "" && (strings.HasPrefix(p, field+".") || strings.HasPrefix(p, field+"[")) {
			return true
		}
	}
	return false
}

var unknownFieldError = regexp.MustCompile(`^unknown field "(.+)"$`)

func unknownField(msg string) (string, bool) {
	m := unknownFieldError.FindStringSubmatch(msg)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// unknownReasons say why a field Stash has is not in stashflow's API; the
// first whose pattern matches the field path is used.
var unknownReasons = []struct {
	kinds  []string // empty: every kind
	field  *regexp.Regexp
	reason string
}{
	{[]string{"RestoreSession", "RestoreBatch"}, regexp.MustCompile(`target\.(replicas|volumeClaimTemplates)$`),
		"Stash makes new claims from target.volumeClaimTemplates (replicas sets of them) and restores into them, " +
			"with driver Restic (its clone-pvc guide) or VolumeSnapshotter; stashflow restores only into claims and workloads that exist: " +
			"create the claims (or the StatefulSet, whose own volumeClaimTemplates make them) first and restore into them with target.ref"},
	{nil, regexp.MustCompile(`target\.(replicas|volumeClaimTemplates|snapshotClassName|volumeSnapshotClassName)$`),
		"Stash uses it with driver VolumeSnapshotter (CSI VolumeSnapshots), which stashflow does not have"},
	{nil, regexp.MustCompile(`^spec\.backend\.local\.[^.]+$`),
		"stashflow's local backend is a hostPath or a persistentVolumeClaim (with mountPath and subPath)"},
	{nil, regexp.MustCompile(`^spec\.backend\.[^.]+$`),
		"stashflow's backends are local, s3, gcs, azure, b2, swift and rest"},
}

func unknownReason(kind, field string) string {
	for _, r := range unknownReasons {
		if (len(r.kinds) == 0 || slices.Contains(r.kinds, kind)) && r.field.MatchString(field) {
			return r.reason
		}
	}
	return fmt.Sprintf("stashflow's %s has no such field", kind)
}
