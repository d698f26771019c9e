package pipeline

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Graph is one run: a set of steps and the edges between them.
type Graph struct {
	// Name identifies the run (a session name); engines derive their own
	// names (workflow name, run directory) from it.
	Name string
	// Namespace is where the run belongs in a cluster; empty for local runs.
	Namespace string
	// Labels and Annotations are carried onto what an engine creates.
	Labels      map[string]string
	Annotations map[string]string
	// Timeout bounds the whole run; zero means none.
	Timeout time.Duration
	// SucceededTTL is how long an engine that keeps finished runs keeps one
	// that succeeded (Argo: the Workflow's ttlStrategy.secondsAfterSuccess);
	// zero keeps it as long as any finished run (Argo:
	// Options.TTLAfterCompletion). A run that failed is kept the engine's
	// whole time, for whoever looks into it. The local engine keeps no
	// finished run and ignores it.
	SucceededTTL time.Duration
	// Volumes may be mounted by steps through Process.VolumeMounts.
	Volumes []corev1.Volume
	// VolumeClaims are claims the run makes when it starts and deletes when
	// it ends, whatever the outcome; steps mount them by name, like Volumes
	// (a claim's name must not be a volume's). Argo: volumeClaimTemplates
	// with volumeClaimGC OnWorkflowCompletion; the local engine: a fresh
	// directory of the run, removed when the run ends.
	VolumeClaims []VolumeClaim
	// ServiceAccountName runs the steps' pods in a cluster.
	ServiceAccountName string
	// NodeSelector and PriorityClassName place and rank the steps' pods in
	// a cluster. The local engine has no nodes and no pod priority: a graph
	// that sets them is refused there.
	NodeSelector      map[string]string
	PriorityClassName string
	// Pod holds the steps' other pod settings in a cluster; the local
	// engine has no pods and refuses a graph that sets any.
	Pod PodSettings
	// Steps in any order; Validate checks names and edges.
	Steps []Step
}

// VolumeClaim is a PersistentVolumeClaim a run makes for itself: Name
// (a DNS label) names the volume steps mount, and, in a cluster, the claim
// <run>-<Name>; Labels, Annotations and Spec are the claim's.
type VolumeClaim struct {
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Spec        corev1.PersistentVolumeClaimSpec
}

// PodSettings are the pod-level settings every step pod of a graph shares
// in a cluster (Stash's runtimeSettings.pod): placement, identity and
// security. The zero value sets nothing.
type PodSettings struct {
	Annotations                  map[string]string                 `json:"annotations,omitempty"`
	AutomountServiceAccountToken *bool                             `json:"automountServiceAccountToken,omitempty"`
	NodeName                     string                            `json:"nodeName,omitempty"`
	SecurityContext              *corev1.PodSecurityContext        `json:"securityContext,omitempty"`
	ImagePullSecrets             []corev1.LocalObjectReference     `json:"imagePullSecrets,omitempty"`
	Affinity                     *corev1.Affinity                  `json:"affinity,omitempty"`
	SchedulerName                string                            `json:"schedulerName,omitempty"`
	Tolerations                  []corev1.Toleration               `json:"tolerations,omitempty"`
	Priority                     *int32                            `json:"priority,omitempty"`
	ReadinessGates               []corev1.PodReadinessGate         `json:"readinessGates,omitempty"`
	RuntimeClassName             *string                           `json:"runtimeClassName,omitempty"`
	EnableServiceLinks           *bool                             `json:"enableServiceLinks,omitempty"`
	TopologySpreadConstraints    []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
}

// IsZero reports whether the settings set nothing.
func (p *PodSettings) IsZero() bool {
	return len(p.Annotations) == 0 && p.AutomountServiceAccountToken == nil && p.NodeName == "" &&
		p.SecurityContext == nil && len(p.ImagePullSecrets) == 0 && p.Affinity == nil &&
		p.SchedulerName == "" && len(p.Tolerations) == 0 && p.Priority == nil &&
		len(p.ReadinessGates) == 0 && p.RuntimeClassName == nil && p.EnableServiceLinks == nil &&
		len(p.TopologySpreadConstraints) == 0
}

// Step is one process in the graph.
type Step struct {
	// Name is unique in the graph: lower-case letters, digits and '-',
	// starting with a letter, at most 63 characters.
	Name string
	// DisplayName is what a person sees (the Argo UI, describe); defaults to Name.
	DisplayName string
	// Template is a name for what the step runs, e.g. its Function; engines
	// may name reusable units after it (Argo's templates); defaults to Name.
	Template string
	// Process is what runs.
	Process Process
	// Dependencies must all be satisfied for the step to run; a dependency
	// whose condition can no longer hold makes the step Omitted.
	Dependencies []Dependency
	// AnyOf are dependencies of which at least one must be satisfied once
	// all of them have ended (Argo: (a || b) inside depends). With both set,
	// every Dependency and at least one of AnyOf must hold. A global
	// OnFailure hook uses it: it runs if any target failed.
	AnyOf []Dependency
	// Timeout bounds one attempt; zero means none.
	Timeout time.Duration
	// Retry re-runs a failed attempt.
	Retry RetryPolicy
	// Outputs are read from files after the step succeeds.
	Outputs []Output
	// Labels classify the step for whoever built the graph; engines may
	// carry them onto what they create (Argo: the step's pod) and read none
	// of them.
	Labels map[string]string
}

// Process is a container in a cluster or a child process on one machine.
type Process struct {
	Image   string
	Command []string
	Args    []string
	Env     []EnvVar
	// EnvFrom adds every key of ConfigMaps and Secrets, in a cluster; the
	// local engine refuses a step that sets it.
	EnvFrom      []corev1.EnvFromSource
	WorkingDir   string
	VolumeMounts []corev1.VolumeMount
	Resources    corev1.ResourceRequirements
	// SecurityContext is the step's container's, in a cluster. The local
	// engine runs steps as its own user and refuses a step that sets one.
	SecurityContext *corev1.SecurityContext
	// Lifecycle hooks of the step's container, in a cluster; the local
	// engine refuses a step that sets it.
	Lifecycle *corev1.Lifecycle
	// NodeName pins the step to one node of a cluster, where the volumes it
	// mounts are (a workload's ReadWriteOnce claims are mounted by a second
	// pod only on the node of the first). The local engine runs every step
	// on its one machine and ignores it.
	NodeName string
}

// EnvVar is a literal value or a reference to a key of a Secret. Secret
// values never appear in a Graph: engines resolve references at run time.
// Source is any other value a cluster resolves (a ConfigMap key, a field
// of the pod, a resource of the container); the local engine refuses it.
type EnvVar struct {
	Name         string
	Value        string
	SecretKeyRef *SecretKeyRef
	Source       *corev1.EnvVarSource
}

// SecretKeyRef names one key of a Secret in the run's namespace.
type SecretKeyRef struct {
	Name     string
	Key      string
	Optional bool
}

// Condition says which ends of a dependency let a step run.
type Condition string

const (
	// OnSuccess runs the step only if the dependency succeeded.
	OnSuccess Condition = "OnSuccess"
	// OnFailure runs the step only if the dependency failed or errored.
	OnFailure Condition = "OnFailure"
	// OnEnd runs the step once the dependency ended in any way, including
	// being omitted or skipped: Stash's Always policy and Tekton's finally.
	OnEnd Condition = "OnEnd"
)

// Dependency is an edge: the step waits for Step to end, then runs if When holds.
type Dependency struct {
	Step string
	When Condition
}

// RetryPolicy re-runs failed attempts: Limit extra attempts, waiting Backoff,
// multiplied by Factor (default 2) after each, at most MaxBackoff.
type RetryPolicy struct {
	Limit      int
	Backoff    time.Duration
	Factor     int
	MaxBackoff time.Duration
}

// Output is an output parameter: its value is the content of Path after the
// step succeeds. Path must be under outputs.Dir.
type Output struct {
	Name string
	Path string
}

// Phase is the state of one step; the names are Argo's node phases.
type Phase string

// The phases of a step.
const (
	PhasePending   Phase = "Pending"
	PhaseRunning   Phase = "Running"
	PhaseSucceeded Phase = "Succeeded"
	PhaseFailed    Phase = "Failed"
	PhaseError     Phase = "Error"
	// PhaseOmitted means a dependency's condition could not hold, so the step never ran.
	PhaseOmitted Phase = "Omitted"
	// PhaseSkipped means the engine skipped the step by design (e.g. a disabled step).
	PhaseSkipped Phase = "Skipped"
)

// Completed reports whether the phase is final.
func (p Phase) Completed() bool {
	switch p {
	case PhaseSucceeded, PhaseFailed, PhaseError, PhaseOmitted, PhaseSkipped:
		return true
	}
	return false
}

// Satisfies reports whether a dependency that ended in phase p lets a step
// with condition c run. It must only be called with a completed phase.
func (c Condition) Satisfies(p Phase) bool {
	switch c {
	case OnSuccess:
		return p == PhaseSucceeded
	case OnFailure:
		return p == PhaseFailed || p == PhaseError
	case OnEnd:
		return p.Completed()
	}
	return false
}

// NodeStatus is what an engine reports for one step.
type NodeStatus struct {
	Step       string
	Phase      Phase
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
	Outputs    map[string]string
	// Attempts counts the attempts made, retries included; zero if none ran.
	Attempts int
}

// Step returns the step with the given name.
func (g *Graph) Step(name string) (*Step, bool) {
	for i := range g.Steps {
		if g.Steps[i].Name == name {
			return &g.Steps[i], true
		}
	}
	return nil, false
}

// Edges returns Dependencies followed by AnyOf: every step this one waits for.
func (s *Step) Edges() []Dependency {
	if len(s.AnyOf) == 0 {
		return s.Dependencies
	}
	return append(append(make([]Dependency, 0, len(s.Dependencies)+len(s.AnyOf)), s.Dependencies...), s.AnyOf...)
}

// Ready reports whether the step may run, given the final phases of the
// steps it waits for; ok is false while any of them has not ended.
func (s *Step) Ready(phaseOf func(step string) Phase) (run, ok bool) {
	run = true
	for _, d := range s.Edges() {
		if !phaseOf(d.Step).Completed() {
			return false, false
		}
	}
	for _, d := range s.Dependencies {
		run = run && d.When.Satisfies(phaseOf(d.Step))
	}
	if len(s.AnyOf) > 0 {
		anyHolds := false
		for _, d := range s.AnyOf {
			anyHolds = anyHolds || d.When.Satisfies(phaseOf(d.Step))
		}
		run = run && anyHolds
	}
	return run, true
}

// Title is the step's DisplayName, or its Name when none is set.
func (s *Step) Title() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return s.Name
}
