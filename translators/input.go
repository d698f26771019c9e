package translators

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	// Workloads are the workload targets (Deployment, StatefulSet,
	// DaemonSet, ReplicaSet) by WorkloadKey.
	Workloads map[string]*Workload
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

// Plan is a translated run. Record turns it into the run record a session
// stores with its workflow.
type Plan struct {
	Graph *pipeline.Graph
	// Layout says which graph steps belong to which target and hook.
	Layout v1alpha1.RunLayout
	// Warnings are things the user should know that do not stop the run,
	// such as a Stash update-status step that was dropped.
	Warnings []string
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
	// interim is the target's interimVolumeTemplate; claim names the
	// graph's claim made from it (nameClaim), "" without one.
	interim *v1alpha1.PersistentVolumeClaimTemplate
	claim   string
	paths   []string
	exclude []string
	rules   []v1alpha1.RestoreRule
	// rulesField is where rules are in the member's spec: "target.rules",
	// or Stash's older "rules".
	rulesField string
	// alias is the target's host name in the repository, if set.
	alias string
	// volumeMounts are the target's volumeMounts (a workload's volumes to mount).
	volumeMounts []corev1.VolumeMount
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
	// hostVolumes are the volumes of workload targets' hosts, added to the
	// graph's by the chains that mount them.
	hostVolumes []corev1.Volume
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

// Record is the run record of p: its steps and their edges (not what they
// run, so no value of any kind reaches the session's status), its timeout
// and its layout. A session stores it with its workflow; every reader of the
// run reads it against the record.
func (p *Plan) Record() *v1alpha1.RunPlan {
	rec := &v1alpha1.RunPlan{Layout: *p.Layout.DeepCopy(), Steps: make([]v1alpha1.PlannedStep, 0, len(p.Graph.Steps))}
	if p.Graph.Timeout > 0 {
		rec.Timeout = &metav1.Duration{Duration: p.Graph.Timeout}
	}
	deps := func(in []pipeline.Dependency) []v1alpha1.PlannedDependency {
		var out []v1alpha1.PlannedDependency
		for _, d := range in {
			out = append(out, v1alpha1.PlannedDependency{Step: d.Step, When: string(d.When)})
		}
		return out
	}
	for i := range p.Graph.Steps {
		s := &p.Graph.Steps[i]
		ps := v1alpha1.PlannedStep{Name: s.Name, Dependencies: deps(s.Dependencies), AnyOf: deps(s.AnyOf)}
		if s.DisplayName != s.Name {
			ps.DisplayName = s.DisplayName
		}
		rec.Steps = append(rec.Steps, ps)
	}
	return rec
}

// verb is what a run does to a target: "back up" or "restore".
func (k sessionKind) verb() string {
	if k == backupRun {
		return "back up"
	}
	return "restore"
}
