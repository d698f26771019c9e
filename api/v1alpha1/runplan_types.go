/*
Copyright 2025 The stashflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file holds the run record: the plan a session's run was submitted
// with. Like Tekton's status.pipelineSpec and Argo's storedTemplates, it is
// written once, when the run is submitted, and every reader (the status
// writer, `stashflow describe`, the UI) reads the run's node statuses
// against it, never against what the invoker, Task or Functions say today.

// MaxRunSteps is the most steps a run record holds (status.plan.steps'
// MaxItems): the translators refuse a larger run before it is submitted.
const MaxRunSteps = 1000

// RunPlan is the plan a session's run was submitted with: the steps of its
// DAG and their edges (not what each step runs, and no secret value), and
// which steps belong to which target.
type RunPlan struct {
	// steps of the DAG, in the order the translator emitted them.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Steps []PlannedStep `json:"steps"`

	// timeout bounds the whole run, if set.
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// layout says which steps belong to which target and hook.
	Layout RunLayout `json:"layout"`
}

// RunTimeout is the plan's timeout, zero if none.
func (p *RunPlan) RunTimeout() time.Duration {
	if p == nil || p.Timeout == nil {
		return 0
	}
	return p.Timeout.Duration
}

// PlannedStep is one step of a recorded plan.
type PlannedStep struct {
	// name of the step: the Argo DAG task, the local engine's step.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`

	// displayName is what a person sees, when it differs from name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DisplayName string `json:"displayName,omitempty"`

	// dependencies must all hold for the step to run.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Dependencies []PlannedDependency `json:"dependencies,omitempty"`

	// anyOf are dependencies of which at least one must hold.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	AnyOf []PlannedDependency `json:"anyOf,omitempty"`
}

// Title is the step's displayName, or its name.
func (s *PlannedStep) Title() string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return s.Name
}

// PlannedDependency is an edge of a recorded plan.
type PlannedDependency struct {
	// step waited for.
	// +kubebuilder:validation:MaxLength=63
	Step string `json:"step"`

	// when the dependency lets the step run: OnSuccess, OnFailure or OnEnd.
	// +kubebuilder:validation:Enum=OnSuccess;OnFailure;OnEnd
	When string `json:"when"`
}

// RunLayout says which steps of a plan belong to which target and hook, so
// that node statuses can be written back into the session's status.
type RunLayout struct {
	// globalPreHook is the step of the global pre hook, if any.
	// +optional
	GlobalPreHook string `json:"globalPreHook,omitempty"`

	// globalPostHook is the step of the global post hook, if any.
	// +optional
	GlobalPostHook string `json:"globalPostHook,omitempty"`

	// targets in spec order.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Targets []TargetLayout `json:"targets"`

	// verdict is the step that fails the run when any step failed, if the
	// graph has one. It belongs to no target: the status does not list it.
	// +optional
	Verdict string `json:"verdict,omitempty"`

	// repositoryInit is the step that initialises a new repository before
	// the members of a Parallel batch start, if the graph has one. The
	// status does not list it; its failure is the session's.
	// +optional
	RepositoryInit string `json:"repositoryInit,omitempty"`
}

// Unlisted reports whether a step is one the session's status does not
// list: the verdict and the repository initialisation.
func (l *RunLayout) Unlisted(step string) bool {
	return step != "" && (step == l.Verdict || step == l.RepositoryInit)
}

// TargetLayout is one target's part of the plan.
type TargetLayout struct {
	// ref is the target; unset for a member that names none (its Task
	// needs no target).
	// +optional
	Ref *TargetRef `json:"ref,omitempty"`

	// hostname under which the target's data is stored.
	// +optional
	Hostname string `json:"hostname,omitempty"`

	// preHook is the step of the target's pre hook, if any.
	// +optional
	PreHook string `json:"preHook,omitempty"`

	// postHook is the step of the target's post hook, if any.
	// +optional
	PostHook string `json:"postHook,omitempty"`

	// steps are the target's Function steps, in Task order.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Steps []StepRef `json:"steps"`
}

// StepRole is what a Function step does for its target, as the Function
// declares it through its outputs (see package outputs).
// +kubebuilder:validation:Enum=Backup;Restore;Retention;IntegrityCheck;Quiesce;Resume
type StepRole string

// The roles of a Function step. A step with none is any other work.
const (
	RoleBackup         StepRole = "Backup"
	RoleRestore        StepRole = "Restore"
	RoleRetention      StepRole = "Retention"
	RoleIntegrityCheck StepRole = "IntegrityCheck"
	// RoleQuiesce scales a workload target to zero before its volumes are
	// restored; RoleResume scales it back to the recorded replica count.
	RoleQuiesce StepRole = "Quiesce"
	RoleResume  StepRole = "Resume"
)

// StepRef names a Function step of a target.
type StepRef struct {
	// name of the step.
	Name string `json:"name"`

	// function the step runs.
	Function string `json:"function"`

	// role of the step, from the Function's declared outputs.
	// +optional
	Role StepRole `json:"role,omitempty"`

	// host the step backs up or restores, for a target of several hosts (a
	// StatefulSet's replicas, a DaemonSet's nodes). Empty means the
	// target's hostname.
	// +optional
	Host string `json:"host,omitempty"`

	// outputs the Function declares.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Outputs []string `json:"outputs,omitempty"`
}

// Declares reports whether the step's Function declares the output.
func (r *StepRef) Declares(output string) bool {
	for _, o := range r.Outputs {
		if o == output {
			return true
		}
	}
	return false
}

// StatsStep is the one rule for which step's outputs are a host's
// statistics: among the steps of that host whose role is Backup or Restore,
// the last one that succeeded (phase returns a step's phase), else the last
// one. It returns -1 when the host has no such step. host "" is the
// target's own hostname.
func (t *TargetLayout) StatsStep(host string, phase func(step string) StepPhase) int {
	last, succeeded := -1, -1
	for i := range t.Steps {
		if t.StepHost(i) != t.HostOr(host) {
			continue
		}
		switch t.Steps[i].Role {
		case RoleBackup, RoleRestore:
			last = i
			if phase(t.Steps[i].Name) == StepSucceeded {
				succeeded = i
			}
		}
	}
	if succeeded >= 0 {
		return succeeded
	}
	return last
}

// Hosts are the target's hosts in step order: those its Backup and Restore
// steps name, or the target's hostname when they name none.
func (t *TargetLayout) Hosts() []string {
	var out []string
	for i := range t.Steps {
		if r := t.Steps[i].Role; r != RoleBackup && r != RoleRestore {
			continue
		}
		if h := t.StepHost(i); !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// StepHost is the host of step i: its own, or the target's hostname.
func (t *TargetLayout) StepHost(i int) string { return t.HostOr(t.Steps[i].Host) }

// HostOr is host, or the target's hostname when host is empty.
func (t *TargetLayout) HostOr(host string) string {
	if host != "" {
		return host
	}
	return t.Hostname
}
