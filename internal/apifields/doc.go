// Package apifields is the ledger of the project's rule "No silent field": every
// spec field of every stashflow.dev/v1alpha1 kind is either honoured, and a test
// proves it, or refused with a message that names the field (CEL at admission, a
// condition or a translation error).
//
// Fields (fields.go) holds one entry per leaf of each CRD's spec, and one per
// field of a status condition that metav1.Condition does not have (Stash's
// severity, Kept). A leaf is a
// schema node without properties (a scalar, a list of scalars, a map, a
// preserve-unknown-fields value), or a field that holds an embedded Kubernetes
// type (corev1.ResourceRequirements, corev1.EnvVar, corev1.SecurityContext,
// corev1.VolumeMount, the corev1 volume sources, metav1.LabelSelector): there the
// walk stops, and How says where the whole value goes. The boundaries are listed
// in Boundaries, by the field's name at the end of its path.
//
// fields_test.go walks config/crd/bases/*.yaml and fails when the table and the
// schemas disagree, when a field is Ignored or untested without being listed as
// a known defect, and when docs/api/fields.md is stale (go test -update rewrites
// it).
package apifields

// Status is what stashflow does with a field.
type Status string

const (
	// Honoured means some code reads the field and acts on it.
	Honoured Status = "Honoured"
	// Refused means a value is rejected with a message naming the field.
	Refused Status = "Refused"
	// Kept means a status field stashflow neither reads nor writes, accepted so
	// that objects exported from Stash apply; the API server stores it as
	// written (Stash's condition severity).
	Kept Status = "Kept"
	// Ignored means accepted and silently dropped: a defect.
	Ignored Status = "Ignored"
)

// Untested is the Proof of an Honoured field no test covers; a defect.
const Untested = "untested"

// Field is one spec field of one kind.
type Field struct {
	// Kind is the CRD kind, e.g. BackupConfiguration.
	Kind string
	// Path is the field's path from spec: ".", "[]" after a list of objects,
	// e.g. spec.members[].target.paths.
	Path string
	// Status is Honoured, Refused, Kept or Ignored.
	Status Status
	// How says, in one line, which code honours or refuses the field.
	How string
	// Proof names the test that shows it (package and test or golden case),
	// Untested, or "none" for an Ignored field.
	Proof string
}

// Boundaries are the path endings where the walk stops: the field holds an
// embedded Kubernetes type (for interimVolumeTemplate, a claim template
// whose spec goes whole to the claim). Each is matched against the end of a path, at a "."
// boundary.
var Boundaries = []string{
	"resources",                 // corev1.ResourceRequirements
	"env",                       // []corev1.EnvVar
	"securityContext",           // corev1.SecurityContext
	"volumeMounts",              // []corev1.VolumeMount
	"hostPath",                  // corev1.HostPathVolumeSource
	"persistentVolumeClaim",     // corev1.PersistentVolumeClaimVolumeSource
	"emptyDir",                  // corev1.EmptyDirVolumeSource
	"configMap",                 // corev1.ConfigMapVolumeSource
	"volumes[].secret",          // corev1.SecretVolumeSource (AppBinding's spec.secret is our own)
	"selector",                  // metav1.LabelSelector
	"envFrom",                   // []corev1.EnvFromSource
	"lifecycle",                 // corev1.Lifecycle
	"affinity",                  // corev1.Affinity
	"tolerations",               // []corev1.Toleration
	"imagePullSecrets",          // []corev1.LocalObjectReference
	"readinessGates",            // []corev1.PodReadinessGate
	"topologySpreadConstraints", // []corev1.TopologySpreadConstraint
	"interimVolumeTemplate",     // corev1.PersistentVolumeClaimSpec inside; honoured whole
}
