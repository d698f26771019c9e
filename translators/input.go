package translators

import (
	"time"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/pipeline"
)

// Objects is what the controllers (or `stashflow run`) resolved for a run.
// Translators read it and nothing else.
type Objects struct {
	// Repository the run reads or writes. Its storage Secret is referenced
	// by name only (Repository.Spec.Backend.StorageSecretName).
	Repository *v1alpha1.Repository
	// AppBindings by name, in the session's namespace.
	AppBindings map[string]*v1alpha1.AppBinding
	// Tasks and Functions by name (cluster-scoped).
	Tasks     map[string]*v1alpha1.Task
	Functions map[string]*v1alpha1.Function
}

// Options are the run's environment: where it runs and with what image.
type Options struct {
	// Image is the stashflow image: hook steps run it, and Functions may
	// name it as ${STASHFLOW_IMAGE}.
	Image string
	// Local is true for runs on the local engine (`stashflow run`): exec
	// hooks run as local commands rather than in the target's pod.
	Local bool
	// Hostname overrides the restic host of every target (default: the
	// target's name).
	Hostname string
}

// Plan is a translated run.
type Plan struct {
	Graph  *pipeline.Graph
	Layout Layout
	// Warnings are things the user should know that do not stop the run,
	// such as a Stash update-status step that was dropped.
	Warnings []string
}

// Layout says which graph steps belong to which target and hook, so that
// node statuses can be written back into the session's status.
type Layout struct {
	GlobalPreHook  string         `json:"globalPreHook,omitempty"`
	GlobalPostHook string         `json:"globalPostHook,omitempty"`
	Targets        []TargetLayout `json:"targets"`
	// Verdict is the step that fails the run when any step failed, if the
	// graph has one (see verdictStep). It is not part of any target: the
	// session's status does not list it.
	Verdict string `json:"verdict,omitempty"`
	// RepositoryInit is the step that initialises a new repository before
	// the members of a Parallel batch start, if the graph has one (see
	// repositoryInitStep). The session's status does not list it; its
	// failure is the session's.
	RepositoryInit string `json:"repositoryInit,omitempty"`
}

// Unlisted reports whether a graph step is one the session's status does
// not list: the verdict and the repository initialisation.
func (l Layout) Unlisted(step string) bool {
	return step != "" && (step == l.Verdict || step == l.RepositoryInit)
}

// TargetLayout is one target's part of the graph.
type TargetLayout struct {
	Ref      v1alpha1.TargetRef `json:"ref"`
	Hostname string             `json:"hostname"`
	PreHook  string             `json:"preHook,omitempty"`
	PostHook string             `json:"postHook,omitempty"`
	Steps    []StepRef          `json:"steps"`
}

// StepRef names a graph step and the Function it runs.
type StepRef struct {
	Name     string `json:"name"`
	Function string `json:"function"`
	// Outputs lists the Function's declared outputs; backup statistics
	// come from steps that declare snapshotID.
	Outputs []string `json:"outputs,omitempty"`
}

// member is one target of a run, backup or restore alike.
type member struct {
	index   int
	ref     *v1alpha1.TargetRef
	task    *v1alpha1.TaskRef
	pre     *v1alpha1.Hook
	post    *v1alpha1.PostHook
	runtime *v1alpha1.RuntimeSettings
	tempDir *v1alpha1.EmptyDirSettings
	paths   []string
	exclude []string
	rules   []v1alpha1.RestoreRule
}

// run is everything the assembly of one graph needs, backup or restore.
type run struct {
	kind       sessionKind
	name       string
	namespace  string
	invoker    v1alpha1.BackupInvokerRef
	members    []member
	globalPre  *v1alpha1.Hook
	globalPost *v1alpha1.PostHook
	order      v1alpha1.ExecutionOrder
	retention  *v1alpha1.RetentionPolicy
	timeout    time.Duration
	runtime    *v1alpha1.RuntimeSettings
}

type sessionKind int

const (
	backupRun sessionKind = iota
	restoreRun
)

func (k sessionKind) hookPhases() (pre, post string) {
	if k == backupRun {
		return "preBackup", "postBackup"
	}
	return "preRestore", "postRestore"
}
